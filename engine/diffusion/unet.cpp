#include "diffusion/unet.h"

#include <torch/torch.h>

#include <algorithm>
#include <exception>
#include <optional>

namespace kiln::diffusion {

namespace nn = torch::nn;

namespace {

bool isDownType(const std::string& t) { return t == "CrossAttnDownBlock2D" || t == "DownBlock2D"; }
bool isUpType(const std::string& t) { return t == "CrossAttnUpBlock2D" || t == "UpBlock2D"; }

Error configError(std::string what)
{
    return makeError(std::move(what), "UNet config",
        "only SD 1.x UNets (CrossAttnDownBlock2D/DownBlock2D, CrossAttnUpBlock2D/UpBlock2D) are supported");
}

}  // namespace

UNetConfig UNetConfig::sd15(int64_t inChannels)
{
    UNetConfig c;
    c.inChannels = inChannels;
    return c;
}

UNetConfig UNetConfig::tiny(int64_t inChannels)
{
    UNetConfig c;
    c.inChannels = inChannels;
    c.blockOutChannels = {32, 64};
    c.downBlockTypes = {"CrossAttnDownBlock2D", "DownBlock2D"};
    c.upBlockTypes = {"UpBlock2D", "CrossAttnUpBlock2D"};
    c.layersPerBlock = 1;
    c.attentionHeads = 2;
    c.crossAttentionDim = 32;
    c.normGroups = 8;
    return c;
}

Result<void> validateUNetConfig(const UNetConfig& c)
{
    const auto n = c.blockOutChannels.size();
    if (n == 0 || c.downBlockTypes.size() != n || c.upBlockTypes.size() != n)
        return configError(
            "block_out_channels, down_block_types and up_block_types must have the same, non-zero length");
    if (c.inChannels < 1 || c.outChannels < 1 || c.layersPerBlock < 1 || c.attentionHeads < 1 || c.crossAttentionDim < 1
        || c.normGroups < 1)
        return configError("in/out channels, layers_per_block, attention heads, cross_attention_dim and norm groups "
                           "must be positive");
    for (size_t i = 0; i < n; ++i) {
        if (!isDownType(c.downBlockTypes[i]))
            return configError("unsupported down block type '" + c.downBlockTypes[i] + "'");
        if (!isUpType(c.upBlockTypes[i]))
            return configError("unsupported up block type '" + c.upBlockTypes[i] + "'");
        const auto ch = c.blockOutChannels[i];
        if (ch < 1 || ch % c.normGroups != 0)
            return configError("block width " + std::to_string(ch) + " is not a positive multiple of "
                + std::to_string(c.normGroups) + " norm groups");
        if (ch % c.attentionHeads != 0)
            return configError("block width " + std::to_string(ch) + " does not divide into "
                + std::to_string(c.attentionHeads) + " attention heads");
    }
    return success();
}

Result<int64_t> unetInChannelsFromConvIn(const std::vector<int64_t>& shape)
{
    if (shape.size() != 4 || shape[2] != 3 || shape[3] != 3)
        return makeError("conv_in.weight is not a 3x3 convolution weight [out, in, 3, 3]", "conv_in.weight",
            "the file may not hold a Stable Diffusion UNet");
    if (shape[1] != 4 && shape[1] != 9)
        return makeError("conv_in takes " + std::to_string(shape[1]) + " channels; SD 1.x UNets take 4 (text to "
            "image) or 9 (inpainting)", "conv_in.weight", "this kind of model is not supported");
    return shape[1];
}

UNet2DConditionModelImpl::UNet2DConditionModelImpl(const UNetConfig& config) : config_(config)
{
    if (auto ok = validateUNetConfig(config); !ok)
        throw std::invalid_argument(ok.error().message());
    const auto& ch = config.blockOutChannels;
    const auto n = static_cast<int64_t>(ch.size());
    UNetBlockParams p;
    p.tembChannels = config.timeEmbedDim();
    p.groups = config.normGroups;
    p.eps = config.normEps;
    p.heads = config.attentionHeads;
    p.contextDim = config.crossAttentionDim;

    conv_in = register_module("conv_in", nn::Conv2d(nn::Conv2dOptions(config.inChannels, ch[0], 3).padding(1)));
    time_embedding = register_module("time_embedding", TimestepEmbedding(ch[0], p.tembChannels));

    down_blocks = register_module("down_blocks", nn::ModuleList());
    int64_t out = ch[0];
    for (int64_t i = 0; i < n; ++i) {
        const int64_t in = out;
        out = ch[static_cast<size_t>(i)];
        down_blocks->push_back(DownBlock(in, out, config.layersPerBlock,
            config.downBlockTypes[static_cast<size_t>(i)] == "CrossAttnDownBlock2D", i < n - 1, p));
    }

    mid_block = register_module("mid_block", MidBlock(ch.back(), p));

    up_blocks = register_module("up_blocks", nn::ModuleList());
    std::vector<int64_t> reversed(ch.rbegin(), ch.rend());
    out = reversed[0];
    for (int64_t i = 0; i < n; ++i) {
        const int64_t prev = out;
        out = reversed[static_cast<size_t>(i)];
        const int64_t in = reversed[static_cast<size_t>(std::min(i + 1, n - 1))];
        up_blocks->push_back(UpBlock(in, prev, out, config.layersPerBlock + 1,
            config.upBlockTypes[static_cast<size_t>(i)] == "CrossAttnUpBlock2D", i < n - 1, p));
    }

    conv_norm_out = register_module("conv_norm_out",
        nn::GroupNorm(nn::GroupNormOptions(config.normGroups, ch[0]).eps(config.normEps)));
    conv_out = register_module("conv_out", nn::Conv2d(nn::Conv2dOptions(ch[0], config.outChannels, 3).padding(1)));
}

torch::Tensor UNet2DConditionModelImpl::forward(const torch::Tensor& latent, const torch::Tensor& timesteps,
    const torch::Tensor& encoderHiddenStates)
{
    TORCH_CHECK(latent.dim() == 4 && latent.size(1) == config_.inChannels, "the UNet expects a latent [B, ",
        config_.inChannels, ", H, W], got ", latent.sizes());
    TORCH_CHECK(encoderHiddenStates.dim() == 3 && encoderHiddenStates.size(0) == latent.size(0)
            && encoderHiddenStates.size(2) == config_.crossAttentionDim,
        "the UNet expects text embeddings [B, tokens, ", config_.crossAttentionDim, "], got ",
        encoderHiddenStates.sizes());
    const auto batch = latent.size(0);
    auto t = timesteps.to(latent.device()).reshape({-1});
    if (t.numel() == 1)
        t = t.expand({batch});
    TORCH_CHECK(t.numel() == batch, "the UNet expects one timestep or one per batch item, got ", timesteps.sizes());

    // Half weights widen into two buffers reused by every layer of this call (see WideningScratch).
    std::optional<WideningScratch> scratch;
    if (!torch::GradMode::is_enabled()) {
        int64_t largest = 0;
        for (const auto& p : parameters())
            if (p.scalar_type() != latent.scalar_type()) largest = std::max(largest, p.numel());
        if (largest > 0) scratch.emplace(largest);
    }

    // As diffusers: the sinusoids in float32, then the model's dtype.
    auto temb = time_embedding(timestepEmbedding(t, config_.blockOutChannels[0]).to(latent.scalar_type()));

    auto x = applyConv(conv_in, latent);
    std::vector<torch::Tensor> skips{x};
    for (const auto& block : *down_blocks)
        x = block->as<DownBlockImpl>()->forward(x, temb, encoderHiddenStates, skips);
    x = mid_block(x, temb, encoderHiddenStates);
    for (const auto& block : *up_blocks)
        x = block->as<UpBlockImpl>()->forward(x, temb, encoderHiddenStates, skips);
    return applyConv(conv_out, torch::silu(applyGroupNorm(conv_norm_out, x)));
}

void UNet2DConditionModelImpl::setAttentionSlicing(const AttentionSlicing& slicing)
{
    for (const auto& m : modules(/*include_self=*/false))
        if (auto* attention = m->as<AttentionImpl>())
            attention->slicing = slicing;
}

Result<UNet2DConditionModel> createUNet(const UNetConfig& config)
{
    if (auto ok = validateUNetConfig(config); !ok)
        return ok.error();
    try {
        return UNet2DConditionModel(config);
    } catch (const std::exception& e) {
        return makeError(std::string("could not build the UNet: ") + e.what(), "UNet",
            "the machine may be out of memory");
    }
}

Result<torch::Tensor> predictNoise(UNet2DConditionModel& unet, const torch::Tensor& latent,
    const torch::Tensor& timesteps, const torch::Tensor& encoderHiddenStates)
{
    try {
        return unet->forward(latent, timesteps, encoderHiddenStates);
    } catch (const c10::Error& e) {
        return makeError(e.what_without_backtrace(), "UNet forward");
    } catch (const std::exception& e) {
        return makeError(e.what(), "UNet forward");
    }
}

}  // namespace kiln::diffusion
