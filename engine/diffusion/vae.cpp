#include "diffusion/vae.h"

#include "diffusion/unet_blocks.h"

#include "diffusion/ldm_keys_clip_vae.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <string>

#include <torch/torch.h>

namespace kiln::diffusion {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

namespace {

nn::GroupNorm groupNorm(std::int64_t channels, std::int64_t groups, double eps) {
    return nn::GroupNorm(nn::GroupNormOptions(groups, channels).eps(eps));
}

nn::Conv2d makeConv(std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t stride = 1,
                    std::int64_t padding = 0) {
    return nn::Conv2d(nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding));
}

template <typename Impl>
torch::Tensor runEach(const nn::ModuleList& list, torch::Tensor x) {
    for (const auto& m : *list) x = m->as<Impl>()->forward(x);
    return x;
}

Result<torch::Tensor> guarded(const char* what, const std::function<torch::Tensor()>& body) {
    try {
        return body();
    } catch (const c10::Error& e) {
        return makeError(std::string(what) + " failed: " + e.what_without_backtrace(), "VAE",
                         "Images must be [batch, 3, H, W] with H and W multiples of 8; latents [batch, 4, h, w].");
    } catch (const std::exception& e) {
        return makeError(std::string(what) + " failed: " + e.what(), "VAE");
    }
}

// Linear ramps as diffusers' blend_v / blend_h: the first `extent` rows (columns) of b fade in from
// a's last `extent` ones, b's weight being y / extent.
torch::Tensor blend(const torch::Tensor& a, const torch::Tensor& b, std::int64_t extent, std::int64_t dim) {
    extent = std::min({a.size(dim), b.size(dim), extent});
    if (extent <= 0) return b;
    auto w = torch::arange(extent, b.options()) / static_cast<double>(extent);
    std::vector<std::int64_t> shape(static_cast<size_t>(b.dim()), 1);
    shape[static_cast<size_t>(dim)] = extent;
    w = w.view(shape);
    auto head = a.narrow(dim, a.size(dim) - extent, extent) * (1.0 - w) + b.narrow(dim, 0, extent) * w;
    return torch::cat({head, b.narrow(dim, extent, b.size(dim) - extent)}, dim);
}

}  // namespace

VaeConfig VaeConfig::tiny() {
    VaeConfig c;
    c.blockOutChannels = {8, 16};
    c.layersPerBlock = 1;
    c.normGroups = 4;
    return c;
}

VaeResnetBlockImpl::VaeResnetBlockImpl(std::int64_t in, std::int64_t out, std::int64_t groups, double eps) {
    norm1 = register_module("norm1", groupNorm(in, groups, eps));
    conv1 = register_module("conv1", makeConv(in, out, 3, 1, 1));
    norm2 = register_module("norm2", groupNorm(out, groups, eps));
    conv2 = register_module("conv2", makeConv(out, out, 3, 1, 1));
    if (in != out) conv_shortcut = register_module("conv_shortcut", makeConv(in, out, 1));
}

torch::Tensor VaeResnetBlockImpl::forward(const torch::Tensor& x) {
    // Without an autograd graph (decoding), SiLU and the residual sum go in place into tensors just made:
    // at 512x512 each is a 134 MB [1, 128, 512, 512] allocation and pass fewer. x + h == h + x exactly.
    auto h = conv1(siluFresh(norm1(x)));
    h = conv2(siluFresh(norm2(h)));
    return conv_shortcut ? addFresh(conv_shortcut(x), h) : addFresh(h, x);
}

VaeAttentionImpl::VaeAttentionImpl(std::int64_t channels, std::int64_t groups, double eps) {
    group_norm = register_module("group_norm", groupNorm(channels, groups, eps));
    to_q = register_module("to_q", nn::Linear(channels, channels));
    to_k = register_module("to_k", nn::Linear(channels, channels));
    to_v = register_module("to_v", nn::Linear(channels, channels));
    to_out = register_module("to_out", nn::ModuleList());
    to_out->push_back(nn::Linear(channels, channels));
}

torch::Tensor VaeAttentionImpl::forward(const torch::Tensor& x) {
    const auto b = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
    auto tokens = group_norm(x).view({b, c, h * w}).transpose(1, 2);  // [B, HW, C]
    auto q = to_q(tokens), k = to_k(tokens), v = to_v(tokens);
    const double scale = 1.0 / std::sqrt(static_cast<double>(c));
    torch::Tensor attended;
    if (q.scalar_type() == torch::kFloat) {
        // One head over every latent pixel: (HW)^2 scores would be 17 GB for img2img's whole-image encode at
        // 2048x2048; in query chunks they stay a few MiB, with the same rows' arithmetic.
        attended = headsAttention(q, k, v, 1, scale, AttentionSlicing{});
    } else {
        // diffusers upcasts the scores to float32 for the softmax (upcast_softmax) so fp16 cannot overflow.
        auto scores = torch::matmul(q, k.transpose(1, 2)) * scale;
        attended = torch::matmul(torch::softmax(scores.to(torch::kFloat), -1).to(v.scalar_type()), v);
    }
    auto out = to_out[0]->as<nn::LinearImpl>()->forward(attended);
    return x + out.transpose(1, 2).reshape({b, c, h, w});
}

VaeMidBlockImpl::VaeMidBlockImpl(std::int64_t channels, std::int64_t groups, double eps) {
    attentions = register_module("attentions", nn::ModuleList());
    attentions->push_back(VaeAttention(channels, groups, eps));
    resnets = register_module("resnets", nn::ModuleList());
    resnets->push_back(VaeResnetBlock(channels, channels, groups, eps));
    resnets->push_back(VaeResnetBlock(channels, channels, groups, eps));
}

torch::Tensor VaeMidBlockImpl::forward(const torch::Tensor& x) {
    auto h = resnets[0]->as<VaeResnetBlockImpl>()->forward(x);
    h = attentions[0]->as<VaeAttentionImpl>()->forward(h);
    return resnets[1]->as<VaeResnetBlockImpl>()->forward(h);
}

VaeResampleImpl::VaeResampleImpl(std::int64_t channels, bool down) : down_(down) {
    conv = register_module("conv", makeConv(channels, channels, 3, down ? 2 : 1, down ? 0 : 1));
}

torch::Tensor VaeResampleImpl::forward(const torch::Tensor& x) {
    if (down_) {
        // Stride 2 with the padding on the right and bottom only, so the grid aligns with the top-left
        // pixel as in LDM; a symmetric padding would shift every latent by half a pixel.
        return conv(F::pad(x, F::PadFuncOptions({0, 1, 0, 1}).mode(torch::kConstant).value(0)));
    }
    return conv(F::interpolate(
        x, F::InterpolateFuncOptions().scale_factor(std::vector<double>{2.0, 2.0}).mode(torch::kNearest)));
}

VaeBlockImpl::VaeBlockImpl(std::int64_t in, std::int64_t out, std::int64_t resnetCount, bool resample, bool down,
                           std::int64_t groups, double eps) {
    resnets = register_module("resnets", nn::ModuleList());
    for (std::int64_t i = 0; i < resnetCount; ++i) {
        resnets->push_back(VaeResnetBlock(i == 0 ? in : out, out, groups, eps));
    }
    resamplers = nn::ModuleList();
    if (resample) {
        resamplers->push_back(VaeResample(out, down));
        register_module(down ? "downsamplers" : "upsamplers", resamplers);
    }
}

torch::Tensor VaeBlockImpl::forward(const torch::Tensor& x) {
    return runEach<VaeResampleImpl>(resamplers, runEach<VaeResnetBlockImpl>(resnets, x));
}

VaeEncoderImpl::VaeEncoderImpl(const VaeConfig& config) {
    const auto& ch = config.blockOutChannels;
    TORCH_CHECK(!ch.empty(), "a VAE needs at least one block");
    const auto g = config.normGroups;
    const auto eps = config.normEps;
    conv_in = register_module("conv_in", makeConv(config.inChannels, ch.front(), 3, 1, 1));
    down_blocks = register_module("down_blocks", nn::ModuleList());
    for (size_t i = 0; i < ch.size(); ++i) {
        const bool last = i + 1 == ch.size();
        down_blocks->push_back(
            VaeBlock(i == 0 ? ch.front() : ch[i - 1], ch[i], config.layersPerBlock, !last, true, g, eps));
    }
    mid_block = register_module("mid_block", VaeMidBlock(ch.back(), g, eps));
    conv_norm_out = register_module("conv_norm_out", groupNorm(ch.back(), g, eps));
    conv_out = register_module("conv_out", makeConv(ch.back(), 2 * config.latentChannels, 3, 1, 1));
}

torch::Tensor VaeEncoderImpl::forward(const torch::Tensor& image) {
    auto h = runEach<VaeBlockImpl>(down_blocks, conv_in(image));
    h = mid_block(h);
    return conv_out(torch::silu(conv_norm_out(h)));
}

VaeDecoderImpl::VaeDecoderImpl(const VaeConfig& config) {
    std::vector<std::int64_t> ch(config.blockOutChannels.rbegin(), config.blockOutChannels.rend());
    TORCH_CHECK(!ch.empty(), "a VAE needs at least one block");
    const auto g = config.normGroups;
    const auto eps = config.normEps;
    conv_in = register_module("conv_in", makeConv(config.latentChannels, ch.front(), 3, 1, 1));
    mid_block = register_module("mid_block", VaeMidBlock(ch.front(), g, eps));
    up_blocks = register_module("up_blocks", nn::ModuleList());
    for (size_t i = 0; i < ch.size(); ++i) {
        const bool last = i + 1 == ch.size();
        up_blocks->push_back(
            VaeBlock(i == 0 ? ch.front() : ch[i - 1], ch[i], config.layersPerBlock + 1, !last, false, g, eps));
    }
    conv_norm_out = register_module("conv_norm_out", groupNorm(ch.back(), g, eps));
    conv_out = register_module("conv_out", makeConv(ch.back(), config.outChannels, 3, 1, 1));
}

torch::Tensor VaeDecoderImpl::forward(const torch::Tensor& z) {
    auto h = mid_block(conv_in(z));
    h = runEach<VaeBlockImpl>(up_blocks, h);
    return conv_out(torch::silu(conv_norm_out(h)));
}

torch::Tensor tiledDecode(const torch::Tensor& z, std::int64_t scale, const VaeTiling& tiling,
                          const TileDecoder& decodeTile) {
    TORCH_CHECK(z.dim() == 4, "a latent must be [batch, channels, h, w], got ", z.sizes());
    TORCH_CHECK(tiling.tileLatent > 0 && tiling.overlap >= 0.0 && tiling.overlap < 1.0,
                "VAE tiles need a positive size and an overlap in [0, 1)");
    // The same integer truncations as diffusers, so tile borders fall on the same pixels.
    const auto tileImage = tiling.tileLatent * scale;
    const auto tileLatent = static_cast<double>(tiling.tileLatent);
    const auto stride = std::max<std::int64_t>(1, static_cast<std::int64_t>(tileLatent * (1.0 - tiling.overlap)));
    const auto extent = static_cast<std::int64_t>(static_cast<double>(tileImage) * tiling.overlap);
    const auto limit = tileImage - extent;
    const auto height = z.size(2), width = z.size(3);

    std::vector<std::vector<torch::Tensor>> rows;
    for (std::int64_t i = 0; i < height; i += stride) {
        std::vector<torch::Tensor> row;
        for (std::int64_t j = 0; j < width; j += stride) {
            auto tile = z.narrow(2, i, std::min(tiling.tileLatent, height - i))
                            .narrow(3, j, std::min(tiling.tileLatent, width - j));
            row.push_back(decodeTile(tile));
        }
        rows.push_back(std::move(row));
    }
    // Each tile blends with neighbours that were already blended, as diffusers' in-place version does.
    std::vector<torch::Tensor> outRows;
    for (size_t i = 0; i < rows.size(); ++i) {
        std::vector<torch::Tensor> outRow;
        for (size_t j = 0; j < rows[i].size(); ++j) {
            auto tile = rows[i][j];
            if (i > 0) tile = blend(rows[i - 1][j], tile, extent, 2);
            if (j > 0) tile = blend(rows[i][j - 1], tile, extent, 3);
            rows[i][j] = tile;
            outRow.push_back(
                tile.narrow(2, 0, std::min(limit, tile.size(2))).narrow(3, 0, std::min(limit, tile.size(3))));
        }
        outRows.push_back(torch::cat(outRow, 3));
        if (i > 0) rows[i - 1].clear();  // no longer a neighbour of anything
    }
    auto out = torch::cat(outRows, 2);
    TORCH_CHECK(out.size(2) == height * scale && out.size(3) == width * scale,
                "VAE tiling of ", tiling.tileLatent, " with overlap ", tiling.overlap, " does not cover the latent ",
                z.sizes(), "; use an overlap that makes tileLatent * overlap whole");
    return out;
}

AutoencoderKLImpl::AutoencoderKLImpl(const VaeConfig& config) : config_(config) {
    encoder = register_module("encoder", VaeEncoder(config));
    decoder = register_module("decoder", VaeDecoder(config));
    const auto latent = config.latentChannels;
    quant_conv = register_module("quant_conv", makeConv(2 * latent, 2 * latent, 1));
    post_quant_conv = register_module("post_quant_conv", makeConv(latent, latent, 1));
}

torch::Tensor AutoencoderKLImpl::encodeMoments(const torch::Tensor& image) {
    TORCH_CHECK(image.dim() == 4 && image.size(1) == config_.inChannels, "the VAE encodes [batch, ",
                config_.inChannels, ", H, W] images, got ", image.sizes());
    const auto d = config_.downscale();
    TORCH_CHECK(image.size(2) % d == 0 && image.size(3) % d == 0, "image sides must be multiples of ", d, ", got ",
                image.size(2), "x", image.size(3));
    return quant_conv(encoder(image));
}

torch::Tensor AutoencoderKLImpl::decodeRaw(const torch::Tensor& z) {
    TORCH_CHECK(z.dim() == 4 && z.size(1) == config_.latentChannels, "the VAE decodes [batch, ",
                config_.latentChannels, ", h, w] latents, got ", z.sizes());
    return decoder(post_quant_conv(z));
}

torch::Tensor AutoencoderKLImpl::decodeTiledRaw(const torch::Tensor& z, const VaeTiling& tiling) {
    TORCH_CHECK(z.dim() == 4, "a latent must be [batch, channels, h, w], got ", z.sizes());
    if (z.size(2) <= tiling.tileLatent && z.size(3) <= tiling.tileLatent) return decodeRaw(z);
    return tiledDecode(z, config_.downscale(), tiling,
                       [this](const torch::Tensor& tile) { return decodeRaw(tile); });
}

Result<torch::Tensor> AutoencoderKLImpl::encodeMean(const torch::Tensor& image) {
    return guarded("VAE encode", [&] { return gaussianMean(encodeMoments(image)); });
}

Result<torch::Tensor> AutoencoderKLImpl::encodeSample(const torch::Tensor& image,
                                                      std::optional<at::Generator> generator) {
    return guarded("VAE encode", [&] { return gaussianSample(encodeMoments(image), std::move(generator)); });
}

Result<torch::Tensor> AutoencoderKLImpl::decode(const torch::Tensor& z) {
    return guarded("VAE decode", [&] { return decodeRaw(z); });
}

Result<torch::Tensor> AutoencoderKLImpl::decodeTiled(const torch::Tensor& z, const VaeTiling& tiling) {
    return guarded("VAE tiled decode", [&] { return decodeTiledRaw(z, tiling); });
}

torch::Tensor gaussianMean(const torch::Tensor& moments) {
    return moments.chunk(2, 1)[0];
}

torch::Tensor gaussianSample(const torch::Tensor& moments, std::optional<at::Generator> generator) {
    auto parts = moments.chunk(2, 1);
    auto sigma = torch::exp(0.5 * parts[1].clamp(-30.0, 20.0));
    c10::optional<at::Generator> gen;
    if (generator) gen = *generator;
    auto noise = at::randn(parts[0].sizes(), gen, parts[0].options());
    return parts[0] + sigma * noise;
}

torch::Tensor adaptLdmVaeTensor(const std::string& diffusersKey, const torch::Tensor& tensor) {
    if (isVaeAttentionProjection(diffusersKey) && tensor.dim() == 4 && tensor.size(2) == 1 && tensor.size(3) == 1) {
        return tensor.flatten(1);
    }
    return tensor;
}

}  // namespace kiln::diffusion
