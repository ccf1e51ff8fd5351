// Text-to-image with a loaded SD 1.x model, numerically as A1111 does it:
//   - prompt and negative go through tokenizePrompt (A1111's syntax and 75-token chunks); each 77-token chunk
//     is encoded on its own and the chunks are concatenated along the sequence; attention weights are applied
//     as A1111 does: z *= weight per token, then z is rescaled so its mean equals the unweighted mean;
//     when prompt and negative have different chunk counts the shorter one is padded with the encoding of the
//     empty prompt (A1111's "pad prompt/negative prompt to be same length");
//   - classifier-free guidance with uncond and cond in one UNet batch of 2B, through k-diffusion's
//     CompVisDenoiser: eps = unet(x / sqrt(sigma^2 + 1), sigmaToT(sigma)), x0 = x - sigma * eps,
//     x0 = uncond + cfg * (cond - uncond);
//   - samplers.h's sample() with per-image CPU generators seeded seed + i (A1111's RNG source "CPU");
//   - VAE decode of latent / scalingFactor, then clamp((x + 1) / 2, 0, 1) * 255 truncated to uint8, as A1111.
// img2img and inpainting are not here.
//
// Usage:
//     auto model = loadStableDiffusion(path);
//     GenerateRequest req;  req.prompt = "a (red:1.2) cat";  req.seed = 42;
//     auto out = txt2img(*model, req, [&](int step, int steps, const torch::Tensor&) { return !ctx.cancelled(); });
//     if (!out) return out.error();            // isCancelled(out.error()) after a stop
//     out->images;                             // uint8 [B, H, W, 3]
#pragma once

#include "diffusion/model_loader.h"
#include "kiln/result.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <torch/types.h>

namespace kiln::diffusion {

struct GenerateRequest {
    std::string prompt;
    std::string negative;
    int steps = 20;
    double cfg = 7.0;
    std::uint64_t seed = 0;  // image i of the batch uses seed + i
    std::string sampler = "Euler a";     // A1111's names, see resolveSampler
    std::string schedule = "Automatic";  // "Automatic", "Karras", ...
    int width = 512;   // rounded to a multiple of 8 (and of the VAE's scale), with a notice
    int height = 512;
    int batch = 1;
    int clipSkip = 1;  // A1111's "Clip skip"
};

struct GeneratedImages {
    torch::Tensor images;  // uint8 [B, H, W, 3], RGB
    int width = 0;         // after rounding
    int height = 0;
    std::vector<std::uint64_t> seeds;  // per image
    std::vector<std::string> notices;  // adjustments made to the request, for the UI to show
};

// Called after each sampler step with the step (1-based), the step count and the x0 prediction (a latent,
// [B, 4, h, w]; decode it for a preview). Return false to stop: txt2img then returns cancelledError().
using GenerateCallback = std::function<bool(int step, int steps, const torch::Tensor& denoised)>;

// For inspecting a run (kiln-cli generate --save-latents): step 0 with the initial noise as drawn (unit variance,
// before the sampler scales it), then each step (1-based) with the latent after it.
using LatentCallback = std::function<void(int step, const torch::Tensor& latent)>;

// The text encoder's conditioning for one prompt: [1, 77 * chunks, hidden], A1111's weighting applied.
Result<torch::Tensor> encodePrompt(const StableDiffusionModel& model, const std::string& prompt, int clipSkip = 1);

Result<GeneratedImages> txt2img(const StableDiffusionModel& model, const GenerateRequest& request,
                                const GenerateCallback& onStep = {}, const LatentCallback& onLatent = {});

}  // namespace kiln::diffusion
