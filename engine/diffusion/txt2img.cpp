#include "diffusion/txt2img.h"

#include "diffusion/prompt_parser.h"
#include "diffusion/samplers.h"
#include "diffusion/schedule.h"

#include <cmath>

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

Result<GeneratedImages> txt2img(const StableDiffusionModel& model, const GenerateRequest& request,
                                const GenerateCallback& onStep, const LatentCallback& onLatent)
{
    if (request.steps < 1) return makeError("the step count must be at least 1");
    if (request.batch < 1) return makeError("the batch size must be at least 1");
    if (!std::isfinite(request.cfg)) return makeError("the CFG scale is not a number");
    const UNetConfig& unetConfig = model.unet->config();
    const VaeConfig& vaeConfig = model.vae->config();
    if (unetConfig.inChannels != vaeConfig.latentChannels)
        return makeError("this model takes " + std::to_string(unetConfig.inChannels) +
                         " input channels (an inpainting model); text-to-image needs a plain SD 1.x model");
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

        Denoiser denoise = [&](const torch::Tensor& x, double sigma) {
            torch::Tensor xIn = torch::cat({x, x}, 0);
            const double cIn = 1.0 / std::sqrt(sigma * sigma + 1.0);
            auto t = torch::full({2 * b}, schedule.sigmaToT(sigma), x.options());
            torch::Tensor eps = unet->forward(xIn * cIn, t, context.to(x.scalar_type()));
            torch::Tensor x0 = xIn - sigma * eps;
            auto halves = x0.chunk(2, 0);
            return halves[0] + cfg * (halves[1] - halves[0]);
        };

        for (int64_t i = 0; i < b; ++i) out.seeds.push_back(request.seed + static_cast<std::uint64_t>(i));
        const int64_t scale = vaeConfig.downscale();
        LatentNoise noise({vaeConfig.latentChannels, out.height / scale, out.width / scale}, out.seeds);
        if (onLatent) {
            // sample() draws from its own generators; the same seeds give the same first draw.
            LatentNoise initial({vaeConfig.latentChannels, out.height / scale, out.width / scale}, out.seeds);
            onLatent(0, initial.next());
        }
        StepCallback step;
        if (onStep || onLatent)
            step = [&](int i, const torch::Tensor& x, const torch::Tensor& denoised) {
                if (onLatent) onLatent(i + 1, x);
                return onStep ? onStep(i + 1, request.steps, denoised) : true;
            };
        auto latent = sample(*choice, request.steps, denoise, noise, step, schedule);
        if (!latent) return latent.error();

        auto decoded = vae->decodeTiled(*latent / vaeConfig.scalingFactor);
        if (!decoded) return decoded.error();
        torch::Tensor img = ((decoded->to(torch::kFloat) + 1.0) / 2.0).clamp(0.0, 1.0) * 255.0;
        out.images = img.permute({0, 2, 3, 1}).to(torch::kUInt8).contiguous();
        return out;
    } catch (const std::exception& e) {
        return makeError(std::string("image generation failed: ") + e.what());
    }
}

}  // namespace kiln::diffusion
