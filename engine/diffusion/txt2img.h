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
// img2img() starts from an init image instead of pure noise, as A1111's img2img does:
//   - the image is scaled to the output size and encoded (the latent distribution's mean, times the
//     scaling factor: deterministic where A1111 samples it with the global RNG);
//   - "Denoising strength" s runs t = int(min(s, 0.999) * steps) of the schedule's steps: the k-diffusion
//     samplers take sigmas[steps - t - 1 :] (so t + 1 steps) and start from init + noise * that first sigma;
//     DDIM noises to alphas_cumprod of timestep t and walks timesteps[: t] (t - 1 steps), as A1111 does;
//   - with a mask (inpainting, fill "original") the x0 prediction and the final latent keep the init
//     latent outside the latent mask, and the init image is laid back over the decoded result
//     (diffusion/image_conditioning.h);
//   - 9-channel inpainting models get cat(mask, masked-image latent) beside the latent for every
//     model call; txt2img with such a model uses an all-ones mask and a grey image, as A1111 does.
// Both refuse a run whose estimated working memory does not fit what the system has available
// (diffusion/memory_estimate.h).
//
// Usage:
//     auto model = loadStableDiffusion(path);
//     GenerateRequest req;  req.prompt = "a (red:1.2) cat";  req.seed = 42;
//     auto out = txt2img(*model, req, [&](int step, int steps, const torch::Tensor&) { return !ctx.cancelled(); });
//     if (!out) return out.error();            // isCancelled(out.error()) after a stop
//     out->images;                             // uint8 [B, H, W, 3]
#pragma once

#include "diffusion/model_loader.h"
#include "diffusion/samplers.h"
#include "kiln/result.h"

#include <cstdint>
#include <functional>
#include <optional>
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

    // img2img and inpainting (img2img() only)
    torch::Tensor initImage;  // uint8 [H, W, 3] RGB, any size: scaled to width x height ("Just resize")
    double strength = 0.75;   // A1111's "Denoising strength", 0..1
    torch::Tensor mask;       // uint8 [H, W] of the init image's size, 255 = repaint; undefined: img2img
    int maskBlur = 4;         // A1111's "Mask blur", in the init image's pixels

    // LibTorch intra-op threads for the run, set on the calling thread (GNU OpenMP keeps the count per
    // thread); 0: every hardware thread.
    int threads = 0;

    // The memory the run may use, in bytes; nullopt: what the system has available (MemAvailable).
    std::optional<std::uint64_t> memoryAvailable;
};

struct GeneratedImages {
    torch::Tensor images;  // uint8 [B, H, W, 3], RGB
    int width = 0;         // after rounding
    int height = 0;
    std::vector<std::uint64_t> seeds;  // per image
    std::vector<std::string> notices;  // adjustments made to the request, for the UI to show
    int stepsRun = 0;                  // sampler steps taken (fewer than requested for img2img)
};

// Called after each sampler step with the step (1-based), the steps this run takes and the x0 prediction (a latent,
// [B, 4, h, w]; decode it for a preview). Return false to stop: txt2img then returns cancelledError().
using GenerateCallback = std::function<bool(int step, int steps, const torch::Tensor& denoised)>;

// For inspecting a run (kiln-cli generate --save-latents): step 0 with the initial noise as drawn (unit variance,
// before the sampler scales it), then each step (1-based) with the latent after it.
using LatentCallback = std::function<void(int step, const torch::Tensor& latent)>;

// The part of the schedule an img2img run walks, A1111's setup_img2img_steps ("fix steps" off) with
// t = int(min(strength, 0.999) * steps): the k-diffusion samplers take sigmas[steps - t - 1 :] (t + 1
// steps, from sigmas.front()); DDIM walks timesteps[: t] (t - 1 steps, t clamped to 2..steps-1) after
// noising the init latent to timestep `noiseTimestep`.
struct Img2ImgSteps {
    std::vector<double> sigmas;
    std::vector<int> timesteps;
    int noiseTimestep = -1;
    int steps = 0;
};
Result<Img2ImgSteps> img2imgSteps(const SamplerChoice& choice, int steps, double strength,
                                  const NoiseSchedule& schedule = NoiseSchedule::sd1());

// The text encoder's conditioning for one prompt: [1, 77 * chunks, hidden], A1111's weighting applied.
Result<torch::Tensor> encodePrompt(const StableDiffusionModel& model, const std::string& prompt, int clipSkip = 1);

Result<GeneratedImages> txt2img(const StableDiffusionModel& model, const GenerateRequest& request,
                                const GenerateCallback& onStep = {}, const LatentCallback& onLatent = {});
// Needs request.initImage; request.mask makes it inpainting.
Result<GeneratedImages> img2img(const StableDiffusionModel& model, const GenerateRequest& request,
                                const GenerateCallback& onStep = {}, const LatentCallback& onLatent = {});

}  // namespace kiln::diffusion
