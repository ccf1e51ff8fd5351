// The AutoencoderKL (VAE) of Stable Diffusion 1.x, numerically as diffusers' AutoencoderKL with its
// Encoder / Decoder / ResnetBlock2D / Attention / DiagonalGaussianDistribution.
//
// Parameter names equal the keys of a diffusers `vae/` folder:
//     encoder.conv_in, encoder.down_blocks.N.resnets.M.{norm1,conv1,norm2,conv2,conv_shortcut},
//     encoder.down_blocks.N.downsamplers.0.conv, encoder.mid_block.resnets.{0,1},
//     encoder.mid_block.attentions.0.{group_norm,to_q,to_k,to_v,to_out.0}, encoder.conv_norm_out,
//     encoder.conv_out, quant_conv, post_quant_conv, decoder.conv_in, decoder.mid_block...,
//     decoder.up_blocks.N.resnets.M..., decoder.up_blocks.N.upsamplers.0.conv, decoder.conv_norm_out,
//     decoder.conv_out
// Single-file (LDM) names map to these through ldmToDiffusersVaeKey (diffusion/ldm_keys_clip_vae.h);
// LDM stores the attention projections as 1x1 convolutions, which adaptLdmVaeTensor reshapes.
//
// Scaling: the VAE itself works on unscaled latents. The caller multiplies encode()'s result by
// VaeConfig::scalingFactor (0.18215 for SD 1.x) before diffusion, and divides the sampler's latent by
// it before decode(), as diffusers' pipelines do.
//
// Usage:
//     kiln::diffusion::AutoencoderKL vae(kiln::diffusion::VaeConfig::sd15());
//     torch::NoGradGuard noGrad;
//     auto image = vae->decodeTiled(latent / vae->config().scalingFactor);  // [B,3,8h,8w] in about [-1,1]
//     auto z = vae->encodeSample(image01 * 2 - 1, generator);                // then * scalingFactor
#pragma once

#include "kiln/result.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include <ATen/core/Generator.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

namespace kiln::diffusion {

struct VaeConfig {
    std::int64_t inChannels = 3;
    std::int64_t outChannels = 3;
    std::int64_t latentChannels = 4;
    std::vector<std::int64_t> blockOutChannels{128, 256, 512, 512};
    std::int64_t layersPerBlock = 2;  // the decoder's up blocks have one more, as in diffusers
    std::int64_t normGroups = 32;
    double normEps = 1e-6;
    // Applied by the caller, never inside encode/decode (see the top of this file).
    double scalingFactor = 0.18215;

    static VaeConfig sd15() { return {}; }
    // Two levels of 8 and 16 channels, one resnet per down block, 4 norm groups: for tests.
    static VaeConfig tiny();

    // Image pixels per latent pixel: 2^(levels - 1) (8 for SD 1.x).
    std::int64_t downscale() const { return std::int64_t{1} << (blockOutChannels.size() - 1); }
};

// diffusers' ResnetBlock2D without the time embedding:
//     x' = shortcut(x) + conv2(silu(norm2(conv1(silu(norm1(x))))))
// where shortcut is a 1x1 conv_shortcut when the channel count changes, else the identity.
class VaeResnetBlockImpl : public torch::nn::Module {
public:
    VaeResnetBlockImpl(std::int64_t in, std::int64_t out, std::int64_t groups, double eps);
    torch::Tensor forward(const torch::Tensor& x);

    torch::nn::GroupNorm norm1{nullptr}, norm2{nullptr};
    torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
    torch::nn::Conv2d conv_shortcut{nullptr};  // null when in == out
};
TORCH_MODULE(VaeResnetBlock);

// diffusers' Attention as the VAE's mid block uses it: one head over all spatial positions,
// x' = x + to_out.0(softmax(q k^T / sqrt(C)) v) with q, k, v linear in group_norm(x).
class VaeAttentionImpl : public torch::nn::Module {
public:
    VaeAttentionImpl(std::int64_t channels, std::int64_t groups, double eps);
    torch::Tensor forward(const torch::Tensor& x);

    torch::nn::GroupNorm group_norm{nullptr};
    torch::nn::Linear to_q{nullptr}, to_k{nullptr}, to_v{nullptr};
    torch::nn::ModuleList to_out{nullptr};  // [0]: Linear (diffusers' [1] is a parameterless Dropout)
};
TORCH_MODULE(VaeAttention);

// resnets.0 -> attentions.0 -> resnets.1 at constant width.
class VaeMidBlockImpl : public torch::nn::Module {
public:
    VaeMidBlockImpl(std::int64_t channels, std::int64_t groups, double eps);
    torch::Tensor forward(const torch::Tensor& x);

    torch::nn::ModuleList attentions{nullptr}, resnets{nullptr};
};
TORCH_MODULE(VaeMidBlock);

// A conv holder so the names read `downsamplers.0.conv` / `upsamplers.0.conv`.
class VaeResampleImpl : public torch::nn::Module {
public:
    // down: pad right and bottom by one, then 3x3 stride 2 (diffusers' padding (0,1,0,1)).
    // up: nearest x2, then 3x3 stride 1 padding 1.
    VaeResampleImpl(std::int64_t channels, bool down);
    torch::Tensor forward(const torch::Tensor& x);

    torch::nn::Conv2d conv{nullptr};

private:
    bool down_;
};
TORCH_MODULE(VaeResample);

// DownEncoderBlock2D / UpDecoderBlock2D: resnets, then an optional resampler.
class VaeBlockImpl : public torch::nn::Module {
public:
    VaeBlockImpl(std::int64_t in, std::int64_t out, std::int64_t resnetCount, bool resample, bool down,
                 std::int64_t groups, double eps);
    torch::Tensor forward(const torch::Tensor& x);

    torch::nn::ModuleList resnets{nullptr};
    torch::nn::ModuleList resamplers{nullptr};  // registered as downsamplers or upsamplers; empty when none
};
TORCH_MODULE(VaeBlock);

class VaeEncoderImpl : public torch::nn::Module {
public:
    explicit VaeEncoderImpl(const VaeConfig& config);
    torch::Tensor forward(const torch::Tensor& image);  // [B,3,H,W] -> [B, 2*latent, H/8, W/8] (mean, logvar)

    torch::nn::Conv2d conv_in{nullptr}, conv_out{nullptr};
    torch::nn::ModuleList down_blocks{nullptr};
    VaeMidBlock mid_block{nullptr};
    torch::nn::GroupNorm conv_norm_out{nullptr};
};
TORCH_MODULE(VaeEncoder);

class VaeDecoderImpl : public torch::nn::Module {
public:
    explicit VaeDecoderImpl(const VaeConfig& config);
    torch::Tensor forward(const torch::Tensor& z);  // [B, latent, h, w] -> [B, 3, 8h, 8w]

    torch::nn::Conv2d conv_in{nullptr}, conv_out{nullptr};
    VaeMidBlock mid_block{nullptr};
    torch::nn::ModuleList up_blocks{nullptr};
    torch::nn::GroupNorm conv_norm_out{nullptr};
};
TORCH_MODULE(VaeDecoder);

// Tiles as diffusers' tiled_decode: latent tiles of `tileLatent` pixels starting every
// tileLatent * (1 - overlap) pixels; each decoded tile is blended linearly into its upper and left
// neighbours over tileImage * overlap pixels and cropped to tileImage * (1 - overlap).
// diffusers' SD 1.x numbers: tileLatent 64 (tile_sample_min_size 512), overlap 0.25.
struct VaeTiling {
    std::int64_t tileLatent = 64;
    double overlap = 0.25;
};

// The tiling and blending on their own, for any per-tile decoder that scales space by `scale`
// (tested with a pointwise one, where tiling must change nothing).
using TileDecoder = std::function<torch::Tensor(const torch::Tensor& latentTile)>;
torch::Tensor tiledDecode(const torch::Tensor& z, std::int64_t scale, const VaeTiling& tiling,
                          const TileDecoder& decodeTile);

class AutoencoderKLImpl : public torch::nn::Module {
public:
    explicit AutoencoderKLImpl(const VaeConfig& config = VaeConfig::sd15());

    // Throwing forms (c10::Error), for code that already sits inside a try.
    // image in [-1, 1], [B,3,H,W] with H, W multiples of 8 -> [B, 2*latent, H/8, W/8]: the Gaussian's
    // parameters (mean, logvar) after quant_conv.
    torch::Tensor encodeMoments(const torch::Tensor& image);
    torch::Tensor decodeRaw(const torch::Tensor& z);                      // post_quant_conv + decoder
    torch::Tensor decodeTiledRaw(const torch::Tensor& z, const VaeTiling& tiling);

    // The latent distribution's mean (diffusers' latent_dist.mode()), unscaled.
    Result<torch::Tensor> encodeMean(const torch::Tensor& image);
    // mean + std * randn(generator), with logvar clamped to [-30, 20] as diffusers does, unscaled.
    Result<torch::Tensor> encodeSample(const torch::Tensor& image, std::optional<at::Generator> generator);
    // Unscaled latent [B, 4, h, w] -> image [B, 3, 8h, 8w], about [-1, 1] (not clamped).
    Result<torch::Tensor> decode(const torch::Tensor& z);
    // decode() through tiles when the latent is larger than one tile in either direction, so a
    // 768x768 or larger image fits in memory; smaller latents decode in one piece.
    Result<torch::Tensor> decodeTiled(const torch::Tensor& z, const VaeTiling& tiling = {});

    const VaeConfig& config() const { return config_; }

    VaeEncoder encoder{nullptr};
    VaeDecoder decoder{nullptr};
    torch::nn::Conv2d quant_conv{nullptr}, post_quant_conv{nullptr};

private:
    VaeConfig config_;
};
TORCH_MODULE(AutoencoderKL);

// diffusers' DiagonalGaussianDistribution on the moments [B, 2C, h, w]: the mean, and a sample.
torch::Tensor gaussianMean(const torch::Tensor& moments);
torch::Tensor gaussianSample(const torch::Tensor& moments, std::optional<at::Generator> generator);

// A single-file VAE tensor reshaped to the diffusers parameter it maps to: LDM's mid-block attention
// q/k/v/proj_out are 1x1 convolutions [C,C,1,1], diffusers' to_q/to_k/to_v/to_out.0 are linear [C,C].
// `diffusersKey` is the name ldmToDiffusersVaeKey gave; every other tensor comes back unchanged.
torch::Tensor adaptLdmVaeTensor(const std::string& diffusersKey, const torch::Tensor& tensor);

}  // namespace kiln::diffusion
