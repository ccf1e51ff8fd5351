// The SD 1.x UNet (diffusers' UNet2DConditionModel), in LibTorch, with diffusers' parameter names so
// that a diffusers `unet/` folder loads by name and a single-file LDM checkpoint loads through
// ldmToDiffusersUnetKeys (ldm_keys_unet.h).
//
// Precision: every layer computes in the dtype of the latent it is given, widening (or narrowing) its
// weights for that call. So `unet->to(torch::kHalf)` (or kBFloat16) stores SD 1.5 in ~1.7 GB instead
// of ~3.4 GB while float32 latents still compute in float32, at the cost of one weight conversion per
// layer per step; loadUNetWeights (unet_load.h) reads a file into whatever dtype the parameters have.
//
// Usage:
//     auto unet = kiln::diffusion::createUNet(kiln::diffusion::UNetConfig::sd15());
//     if (!unet) return unet.error();
//     // ... load weights by name into (*unet)->named_parameters() ...
//     (*unet)->setAttentionSlicing({});   // automatic (the default): per head, ~4 MiB of scores at a time
//     auto eps = (*unet)->forward(latent, timesteps, textEmbeddings);   // may throw c10::Error
// or predictNoise(), which returns a Result.
#pragma once

#include "diffusion/unet_blocks.h"
#include "kiln/result.h"

#include <cstdint>
#include <string>
#include <vector>

namespace kiln::diffusion {

// The fields of a diffusers unet/config.json that SD 1.x uses, with its names.
struct UNetConfig {
    int64_t inChannels = 4;  // 9 for the inpainting model (latent + mask + masked-image latent)
    int64_t outChannels = 4;
    std::vector<int64_t> blockOutChannels{320, 640, 1280, 1280};
    std::vector<std::string> downBlockTypes{"CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D",
        "DownBlock2D"};
    std::vector<std::string> upBlockTypes{"UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D",
        "CrossAttnUpBlock2D"};
    int64_t layersPerBlock = 2;
    // diffusers' `attention_head_dim`, which for SD 1.x is in fact the number of heads (8 everywhere).
    int64_t attentionHeads = 8;
    int64_t crossAttentionDim = 768;
    int64_t normGroups = 32;
    double normEps = 1e-5;

    static UNetConfig sd15(int64_t inChannels = 4);
    // Two levels (32, 64 channels), one layer per block, 8 groups, 2 heads, context width 32: for tests.
    static UNetConfig tiny(int64_t inChannels = 4);

    int64_t timeEmbedDim() const { return blockOutChannels.front() * 4; }
};

// Checks the config describes a UNet this module builds (SD 1.x block types, divisible widths).
Result<void> validateUNetConfig(const UNetConfig& config);

// The UNet's in_channels from the shape of `conv_in.weight` (LDM: `input_blocks.0.0.weight`),
// [out, in, 3, 3]: 4 for text-to-image models, 9 for inpainting models.
Result<int64_t> unetInChannelsFromConvIn(const std::vector<int64_t>& convInWeightShape);

class UNet2DConditionModelImpl : public torch::nn::Module {
public:
    // Throws on an invalid config; createUNet() returns the Error instead.
    explicit UNet2DConditionModelImpl(const UNetConfig& config);

    // latent [B, inChannels, H, W] (any H, W >= 1), timesteps [B] or a scalar (DDPM timesteps, may be
    // fractional), encoderHiddenStates [B, 77, crossAttentionDim] -> noise prediction [B, outChannels, H, W].
    torch::Tensor forward(const torch::Tensor& latent, const torch::Tensor& timesteps,
        const torch::Tensor& encoderHiddenStates);

    // Applies to every attention layer; see AttentionSlicing. AttentionSlicing::none() lifts the memory
    // budget (each head still goes in cache-sized row chunks, which changes no row's arithmetic).
    void setAttentionSlicing(const AttentionSlicing& slicing);

    const UNetConfig& config() const { return config_; }

    torch::nn::Conv2d conv_in{nullptr};
    TimestepEmbedding time_embedding{nullptr};
    torch::nn::ModuleList down_blocks{nullptr};
    MidBlock mid_block{nullptr};
    torch::nn::ModuleList up_blocks{nullptr};
    torch::nn::GroupNorm conv_norm_out{nullptr};
    torch::nn::Conv2d conv_out{nullptr};

private:
    UNetConfig config_;
};
TORCH_MODULE(UNet2DConditionModel);

// A UNet with freshly initialised weights, or the Error that says what is wrong with the config.
Result<UNet2DConditionModel> createUNet(const UNetConfig& config);

// forward() with its exceptions turned into an Error (shape mismatches, out of memory).
Result<torch::Tensor> predictNoise(UNet2DConditionModel& unet, const torch::Tensor& latent,
    const torch::Tensor& timesteps, const torch::Tensor& encoderHiddenStates);

}  // namespace kiln::diffusion
