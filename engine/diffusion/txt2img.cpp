#include "diffusion/txt2img.h"

#include "diffusion/image_conditioning.h"
#include "diffusion/memory_estimate.h"
#include "diffusion/prompt_parser.h"
#include "diffusion/samplers.h"
#include "diffusion/schedule.h"

#include <torch/nn/functional/upsampling.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <thread>

#include <malloc.h>

namespace kiln::diffusion {
namespace {

// A1111's FrozenCLIPEmbedderWithCustomWords.process_tokens for one chunk.
torch::Tensor encodeChunk(const StableDiffusionModel& model, const PromptChunk& chunk, int clipSkip)
{
    auto ids = torch::tensor(std::vector<int64_t>(chunk.ids.begin(), chunk.ids.end()), torch::kLong).unsqueeze(0);
    ClipTextModel encoder = model.textEncoder;  // the holder is const, the shared weights are not touched
    torch::Tensor z = encoder->forward(ids, clipSkip);
    auto weights = torch::tensor(chunk.weights, torch::kFloat).to(z.scalar_type()).view({1, -1, 1});
    torch::Tensor originalMean = z.mean();
    z = z * weights.expand(z.sizes());
    torch::Tensor newMean = z.mean();
    return z * (originalMean / newMean);
}

// Beyond these a run is a typo: 1000 is the schedule's timestep count, 8192 px a side is 16x SD 1.x's size.
constexpr int kMaxSteps = 1000;
constexpr int kMaxBatch = 64;
constexpr int kMaxSide = 8192;

int roundTo(int v, int multiple) { return std::max(multiple, (v + multiple / 2) / multiple * multiple); }

}  // namespace

Result<torch::Tensor> encodePrompt(const StableDiffusionModel& model, const std::string& prompt, int clipSkip)
{
    auto tokens = tokenizePrompt(model.tokenizer, prompt);
    if (!tokens) return tokens.error();
    if (clipSkip < 1 || clipSkip > model.textEncoder->config().layers)
        return makeError("Clip skip " + std::to_string(clipSkip) + " is out of range; the text encoder has " +
                         std::to_string(model.textEncoder->config().layers) + " layers");
    try {
        torch::NoGradGuard noGrad;
        std::vector<torch::Tensor> parts;
        for (const auto& chunk : tokens->chunks) parts.push_back(encodeChunk(model, chunk, clipSkip));
        return torch::cat(parts, 1);
    } catch (const std::exception& e) {
        return makeError(std::string("could not encode the prompt: ") + e.what());
    }
}

Result<Img2ImgSteps> img2imgSteps(const SamplerChoice& choice, int steps, double strength,
                                  const NoiseSchedule& schedule)
{
    if (steps < 1 || steps > kMaxSteps) return makeError("the step count must be 1 to " + std::to_string(kMaxSteps));
    if (!std::isfinite(strength) || strength < 0.0 || strength > 1.0)
        return makeError("the denoising strength must be between 0 and 1");
    int t = static_cast<int>(std::min(strength, 0.999) * steps);
    Img2ImgSteps out;
    if (choice.sampler == SamplerKind::Ddim) {
        if (steps < 3) return makeError("DDIM img2img needs at least 3 steps");
        t = std::clamp(t, 2, steps - 1);
        const auto all = schedule.ddimTimesteps(steps);
        out.timesteps.assign(all.begin(), all.begin() + t);
        out.noiseTimestep = all[static_cast<std::size_t>(t)];
        out.steps = t - 1;
    } else {
        const auto all = schedule.sigmas(choice.schedule, steps);
        out.sigmas.assign(all.begin() + (steps - t - 1), all.end());
        out.steps = static_cast<int>(out.sigmas.size()) - 1;
    }
    return out;
}

namespace {

// The init image, mask and conditioning an img2img / inpainting run starts from, at the output size.
struct InitState {
    torch::Tensor image255;     // [1, 3, H, W] in 0..255; undefined for txt2img
    torch::Tensor image;        // the same in [-1, 1]
    torch::Tensor mask;         // [1, 1, H, W] in [0, 1], blurred; undefined without a mask
    torch::Tensor latent;       // [B, 4, h, w], scaled
    std::optional<LatentBlend> blend;
    torch::Tensor concat;       // [2B, 5, h, w] for 9-channel models: cat(mask, masked-image latent)
};

Result<void> checkInit(const GenerateRequest& r)
{
    const torch::Tensor& img = r.initImage;
    if (!img.defined()) return makeError("img2img needs an init image");
    if (img.dim() != 3 || img.size(2) != 3 || img.scalar_type() != torch::kUInt8 || img.numel() == 0)
        return makeError("the init image must be uint8 [H, W, 3] RGB");
    if (!std::isfinite(r.strength) || r.strength < 0.0 || r.strength > 1.0)
        return makeError("the denoising strength must be between 0 and 1");
    if (r.maskBlur < 0 || r.maskBlur > 256) return makeError("the mask blur must be between 0 and 256 pixels");
    if (r.mask.defined() && (r.mask.dim() != 2 || r.mask.scalar_type() != torch::kUInt8 ||
                             r.mask.size(0) != img.size(0) || r.mask.size(1) != img.size(1)))
        return makeError("the mask must be uint8 [H, W] of the init image's size (" + std::to_string(img.size(1)) +
                         "x" + std::to_string(img.size(0)) + ")");
    return success();
}

torch::Tensor encodeScaled(AutoencoderKL& vae, const torch::Tensor& image)
{
    return vae->encodeMoments(image).chunk(2, 1)[0] * vae->config().scalingFactor;
}

InitState prepareInit(const StableDiffusionModel& model, const GenerateRequest& r, bool fromImage, int width,
                      int height, int64_t latentH, int64_t latentW)
{
    AutoencoderKL vae = model.vae;
    const int64_t b = r.batch;
    InitState s;
    if (fromImage) {
        s.image255 = resizeImage(r.initImage, width, height);
        s.image = imageToModel(s.image255);
        s.latent = encodeScaled(vae, s.image).expand({b, -1, -1, -1});
        if (r.mask.defined()) {
            s.mask = maskToModel(blurMask(r.mask, r.maskBlur), width, height);
            s.blend = LatentBlend{s.latent, latentMask(s.mask, latentH, latentW).expand({b, -1, -1, -1})};
        }
    }
    const VaeConfig& vc = vae->config();
    if (model.unet->config().inChannels == 2 * vc.latentChannels + 1) {
        // A1111's inpainting_image_conditioning / txt2img_image_conditioning
        const torch::Tensor m = s.mask.defined() ? s.mask.round() : torch::ones({1, 1, height, width});
        const torch::Tensor masked = s.image.defined() ? s.image * (1.0 - m) : torch::zeros({1, 3, height, width});
        namespace F = torch::nn::functional;
        const torch::Tensor small = F::interpolate(m, F::InterpolateFuncOptions()
                                                          .size(std::vector<int64_t>{latentH, latentW})
                                                          .mode(torch::kNearest));
        s.concat = torch::cat({small, encodeScaled(vae, masked)}, 1).expand({2 * b, -1, -1, -1});
    }
    return s;
}

Result<GeneratedImages> generate(const StableDiffusionModel& model, const GenerateRequest& request, bool fromImage,
                                 const GenerateCallback& onStep, const LatentCallback& onLatent)
{
    if (request.steps < 1 || request.steps > kMaxSteps)
        return makeError("the step count must be 1 to " + std::to_string(kMaxSteps));
    if (request.batch < 1 || request.batch > kMaxBatch)
        return makeError("the batch size must be 1 to " + std::to_string(kMaxBatch));
    if (request.width < 1 || request.height < 1 || request.width > kMaxSide || request.height > kMaxSide)
        return makeError("the size must be 1 to " + std::to_string(kMaxSide) + " pixels a side; " +
                         std::to_string(request.width) + "x" + std::to_string(request.height) + " was asked for");
    if (!std::isfinite(request.cfg)) return makeError("the CFG scale is not a number");
    if (fromImage)
        if (auto ok = checkInit(request); !ok) return ok.error();
    const UNetConfig& unetConfig = model.unet->config();
    const VaeConfig& vaeConfig = model.vae->config();
    if (unetConfig.inChannels != vaeConfig.latentChannels && unetConfig.inChannels != 2 * vaeConfig.latentChannels + 1)
        return makeError("this UNet takes " + std::to_string(unetConfig.inChannels) + " input channels; SD 1.x "
                         "models take " + std::to_string(vaeConfig.latentChannels) + ", inpainting models " +
                         std::to_string(2 * vaeConfig.latentChannels + 1));
    auto choice = resolveSampler(request.sampler, request.schedule);
    if (!choice) return choice.error();

    GeneratedImages out;
    const int multiple = static_cast<int>(std::max<int64_t>(8, vaeConfig.downscale()));
    out.width = roundTo(request.width, multiple);
    out.height = roundTo(request.height, multiple);
    if (out.width != request.width || out.height != request.height)
        out.notices.push_back("size " + std::to_string(request.width) + "x" + std::to_string(request.height) +
                              " rounded to " + std::to_string(out.width) + "x" + std::to_string(out.height) +
                              " (a multiple of " + std::to_string(multiple) + ")");
    const auto available = request.memoryAvailable ? request.memoryAvailable : availableMemoryBytes();
    if (available)
        if (auto fits = checkFitsInMemory(estimateGenerationMemory(model, out.width, out.height, request.batch, fromImage),
                                          *available, out.width, out.height, request.batch);
            !fits)
            return fits.error();

    Img2ImgSteps partial;
    if (fromImage) {
        auto steps = img2imgSteps(*choice, request.steps, request.strength);
        if (!steps) return steps.error();
        partial = std::move(*steps);
    }
    const bool ddim = choice->sampler == SamplerKind::Ddim;

    const int threads = request.threads > 0 ? request.threads
                                            : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
    if (at::get_num_threads() != threads) at::set_num_threads(threads);

    auto cond = encodePrompt(model, request.prompt, request.clipSkip);
    if (!cond) return cond.error();
    auto uncond = encodePrompt(model, request.negative, request.clipSkip);
    if (!uncond) return uncond.error();

    try {
        torch::NoGradGuard noGrad;
        torch::Tensor c = *cond, u = *uncond;
        if (c.size(1) != u.size(1)) {
            auto empty = encodePrompt(model, "", request.clipSkip);
            if (!empty) return empty.error();
            torch::Tensor& shorter = c.size(1) < u.size(1) ? c : u;
            const int64_t repeats = (std::max(c.size(1), u.size(1)) - shorter.size(1)) / empty->size(1);
            shorter = torch::cat({shorter, empty->repeat({1, repeats, 1})}, 1);
        }
        const int64_t b = request.batch;
        const torch::Tensor context = torch::cat({u.expand({b, -1, -1}), c.expand({b, -1, -1})}, 0);
        const double cfg = request.cfg;
        const NoiseSchedule& schedule = NoiseSchedule::sd1();
        // Non-const handles on the shared modules: forward() is not const, but nothing here changes a weight.
        UNet2DConditionModel unet = model.unet;
        AutoencoderKL vae = model.vae;
        const int64_t scale = vaeConfig.downscale();
        const int64_t latentH = out.height / scale, latentW = out.width / scale;
        const InitState init = prepareInit(model, request, fromImage, out.width, out.height, latentH, latentW);

        Denoiser denoise = [&](const torch::Tensor& x, double sigma) {
            torch::Tensor xIn = torch::cat({x, x}, 0);
            const double cIn = 1.0 / std::sqrt(sigma * sigma + 1.0);
            auto t = torch::full({2 * b}, schedule.sigmaToT(sigma), x.options());
            torch::Tensor input = xIn * cIn;
            if (init.concat.defined()) input = torch::cat({input, init.concat.to(x.scalar_type())}, 1);
            torch::Tensor eps = unet->forward(input, t, context.to(x.scalar_type()));
            torch::Tensor x0 = xIn - sigma * eps;
            auto halves = x0.chunk(2, 0);
            torch::Tensor guided = halves[0] + cfg * (halves[1] - halves[0]);
            return init.blend ? init.blend->apply(guided) : guided;
        };

        for (int64_t i = 0; i < b; ++i) out.seeds.push_back(request.seed + static_cast<std::uint64_t>(i));
        const std::vector<int64_t> latentShape{vaeConfig.latentChannels, latentH, latentW};
        LatentNoise noise(latentShape, out.seeds);
        if (onLatent) {
            // The samplers draw from their own generators; the same seeds give the same first draw.
            LatentNoise initial(latentShape, out.seeds);
            onLatent(0, initial.next());
        }
        const int stepsRun = fromImage ? partial.steps : request.steps;
        out.stepsRun = stepsRun;
        StepCallback step;
        if (onStep || onLatent)
            step = [&](int i, const torch::Tensor& x, const torch::Tensor& denoised) {
                if (onLatent) onLatent(i + 1, x);
                return onStep ? onStep(i + 1, stepsRun, denoised) : true;
            };

        Result<torch::Tensor> latent = makeError("no sampler ran");
        if (!fromImage) {
            latent = sample(*choice, request.steps, denoise, noise, step, schedule);
        } else if (ddim) {
            const double a = schedule.alphasCumprod()[static_cast<std::size_t>(partial.noiseTimestep)];
            torch::Tensor x = std::sqrt(a) * init.latent + std::sqrt(1.0 - a) * noise.next();
            latent = sampleDdim(denoise, x, partial.timesteps, step, schedule);
        } else {
            torch::Tensor x = init.latent + noise.next() * partial.sigmas.front();
            latent = sampleSigmas(choice->sampler, denoise, x, partial.sigmas, &noise, step);
        }
        if (!latent) return latent.error();
        torch::Tensor finished = init.blend ? init.blend->apply(*latent) : *latent;
        // The UNet's freed activations (hundreds of MB) stay in glibc's heap unless handed back; the VAE
        // decode would then peak on top of them.
        ::malloc_trim(0);

        auto decoded = vae->decodeTiled(finished / vaeConfig.scalingFactor);
        if (!decoded) return decoded.error();
        torch::Tensor img = ((decoded->to(torch::kFloat) + 1.0) / 2.0).clamp(0.0, 1.0) * 255.0;
        if (init.mask.defined()) img = overlayInit(img, init.image255, init.mask);
        out.images = img.permute({0, 2, 3, 1}).to(torch::kUInt8).contiguous();
        return out;
    } catch (const std::exception& e) {
        return makeError(std::string("image generation failed: ") + e.what());
    }
}

}  // namespace

Result<GeneratedImages> txt2img(const StableDiffusionModel& model, const GenerateRequest& request,
                                const GenerateCallback& onStep, const LatentCallback& onLatent)
{
    return generate(model, request, false, onStep, onLatent);
}

Result<GeneratedImages> img2img(const StableDiffusionModel& model, const GenerateRequest& request,
                                const GenerateCallback& onStep, const LatentCallback& onLatent)
{
    return generate(model, request, true, onStep, onLatent);
}

}  // namespace kiln::diffusion
