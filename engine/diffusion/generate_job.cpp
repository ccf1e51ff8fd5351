#include "kiln/generate.h"

#include "diffusion/image_conditioning.h"
#include "diffusion/model_library.h"
#include "diffusion/model_loader.h"
#include "diffusion/run_parameters.h"
#include "diffusion/samplers.h"
#include "diffusion/txt2img.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <filesystem>
#include <memory>
#include <mutex>
#include <random>

namespace kiln::diffusion {

namespace {

namespace fs = std::filesystem;

// A loaded SD model is hundreds of MB to GB and seconds to read: keep the last one for the process. The key
// includes the modification time so a file replaced on disk is read again.
struct ModelCache {
    std::mutex mutex;
    std::string key;
    std::shared_ptr<const StableDiffusionModel> model;
};

ModelCache& modelCache()
{
    static ModelCache cache;
    return cache;
}

std::string cacheKey(const GenerateJobConfig& c)
{
    std::error_code ec;
    fs::path p(c.modelPath);
    // A folder's own mtime does not change when a weight file inside is replaced; the UNet's does.
    fs::path probe = fs::is_directory(p, ec) ? p / "unet" : p;
    const auto t = fs::last_write_time(probe, ec);
    const auto ticks = ec ? 0 : static_cast<long long>(t.time_since_epoch().count());
    const auto vaeTime = c.vaePath.empty() ? fs::file_time_type{} : fs::last_write_time(c.vaePath, ec);
    return c.modelPath + '\n' + c.tokenizerDir + '\n' + std::to_string(ticks) + '\n' + c.vaePath + '\n' +
           std::to_string(static_cast<long long>(vaeTime.time_since_epoch().count()));
}

Result<std::shared_ptr<const StableDiffusionModel>> cachedModel(const GenerateJobConfig& c)
{
    ModelCache& cache = modelCache();
    const std::string key = cacheKey(c);
    std::lock_guard lock(cache.mutex);
    if (cache.model && cache.key == key) return cache.model;
    cache.model.reset();  // free the old model before reading the new one: two would not fit in memory
    LoadOptions options;
    options.tokenizerDir = c.tokenizerDir;
    options.vaePath = c.vaePath;
    options.keepUNetHalf = true;  // an fp16 checkpoint stays fp16 in memory (half the RAM); layers widen per call
    auto loaded = loadStableDiffusion(c.modelPath, options);
    if (!loaded) return loaded.error();
    cache.model = std::make_shared<const StableDiffusionModel>(std::move(*loaded));
    cache.key = key;
    return cache.model;
}

// The linear SD 1.x latent -> RGB approximation A1111 uses for its cheap live preview: no VAE decode, so a
// preview costs microseconds next to a UNet step.
Preview latentPreview(const torch::Tensor& x0)
{
    static const float kFactors[4][3] = {
        {0.298f, 0.207f, 0.208f}, {0.187f, 0.286f, 0.173f}, {-0.158f, 0.189f, 0.264f}, {-0.184f, -0.271f, -0.473f}};
    Preview p;
    if (x0.dim() != 4 || x0.size(1) != 4) return p;
    const torch::Tensor factors = torch::from_blob(const_cast<float*>(&kFactors[0][0]), {4, 3}, torch::kFloat32);
    torch::Tensor latent = x0[0].detach().to(torch::kFloat32);                     // [4, h, w]
    torch::Tensor rgb = torch::einsum("chw,cr->hwr", {latent, factors});           // [h, w, 3], about -1..1
    rgb = ((rgb + 1.0) * 127.5).clamp(0, 255).to(torch::kUInt8).contiguous();
    const int h = static_cast<int>(rgb.size(0)), w = static_cast<int>(rgb.size(1));
    p.width = w;
    p.height = h;
    p.rgba.resize(static_cast<std::size_t>(w) * h * 4);
    const std::uint8_t* src = rgb.data_ptr<std::uint8_t>();
    for (std::size_t i = 0, n = static_cast<std::size_t>(w) * h; i < n; ++i) {
        p.rgba[i * 4 + 0] = src[i * 3 + 0];
        p.rgba[i * 4 + 1] = src[i * 3 + 1];
        p.rgba[i * 4 + 2] = src[i * 3 + 2];
        p.rgba[i * 4 + 3] = 255;
    }
    return p;
}

std::uint64_t randomSeed()
{
    // A1111 draws from 0..2^32-1 so the seed fits its UI; the same here keeps seeds portable both ways.
    std::random_device rd;
    return (static_cast<std::uint64_t>(rd()) ^ static_cast<std::uint64_t>(
                std::chrono::steady_clock::now().time_since_epoch().count())) & 0xffffffffULL;
}

Result<void> run(JobContext& ctx, const GenerateJobConfig& c, const std::function<void(const GenerateResult&)>& onImage)
{
    if (c.modelPath.empty())
        return makeError("No model chosen", {}, "pick a .safetensors / .ckpt file or a diffusers folder");
    ctx.report(-1, "loading the model");
    auto model = cachedModel(c);
    if (!model) return model.error();
    if (ctx.cancelled()) return success();

    GenerateRequest req;
    req.prompt = c.prompt;
    req.negative = c.negative;
    req.steps = c.steps;
    req.cfg = c.cfg;
    req.seed = c.seed < 0 ? randomSeed() : static_cast<std::uint64_t>(c.seed);
    req.sampler = c.sampler;
    req.schedule = c.schedule;
    req.width = c.width;
    req.height = c.height;
    req.batch = c.batch;
    const bool fromImage = !c.initRgb.empty();
    if (fromImage) {
        auto image = rgbFromBytes(c.initRgb.data(), c.initRgb.size(), c.initWidth, c.initHeight);
        if (!image) return image.error();
        req.initImage = image->pixels;
        req.strength = c.strength;
        req.maskBlur = c.maskBlur;
        if (!c.mask.empty()) {
            auto mask = maskFromBytes(c.mask.data(), c.mask.size(), c.initWidth, c.initHeight);
            if (!mask) return mask.error();
            req.mask = mask->pixels;
        }
    }

    // Hashing a multi-GB checkpoint takes seconds: use what the Models panel (or kiln-cli) already computed.
    const std::string modelHash = shortModelHash(cachedSha256(c.modelPath).value_or(""));
    const std::string vaeHash = c.vaePath.empty() ? "" : shortModelHash(cachedSha256(c.vaePath).value_or(""));
    // A1111's "Batch count": batches one after another, image i of batch n seeded seed + n * batch + i.
    const int count = std::max(1, c.batchCount);
    const std::uint64_t firstSeed = req.seed;
    const GenerationParameters runInfo = runParameters(req, {c.modelPath, c.vaePath, modelHash, vaeHash});
    ctx.report(0, "step 0");
    for (int n = 0; n < count; ++n) {
        req.seed = firstSeed + static_cast<std::uint64_t>(n) * static_cast<std::uint64_t>(std::max(1, c.batch));
        const std::string prefix = count > 1 ? "batch " + std::to_string(n + 1) + "/" + std::to_string(count) + " · " : "";
        auto onStep = [&](int step, int steps, const torch::Tensor& denoised) {
            if (ctx.cancelled()) return false;
            ctx.report((n + static_cast<double>(step) / steps) / count,
                       prefix + "step " + std::to_string(step) + "/" + std::to_string(steps));
            ctx.emitPreview(latentPreview(denoised));
            return !ctx.cancelled();
        };
        auto out = fromImage ? img2img(**model, req, onStep) : txt2img(**model, req, onStep);
        if (!out) {
            if (isCancelled(out.error()) && ctx.cancelled()) return success();  // the queue marks it Cancelled
            return out.error();
        }
        torch::Tensor images = out->images.contiguous();
        for (std::int64_t i = 0; i < images.size(0); ++i) {
            GenerateResult r;
            r.width = out->width;
            r.height = out->height;
            torch::Tensor img = images[i].contiguous();
            const std::uint8_t* src = img.data_ptr<std::uint8_t>();
            r.rgb.assign(src, src + img.numel());
            r.parameters = imageParameters(runInfo, out->seeds.at(static_cast<std::size_t>(i)), out->width, out->height);
            r.notices = out->notices;
            if (onImage) onImage(r);
        }
    }
    ctx.report(1, "done");
    return success();
}

}  // namespace

JobBody makeGenerateJob(GenerateJobConfig config, std::function<void(const GenerateResult&)> onImage)
{
    return [config = std::move(config), onImage = std::move(onImage)](JobContext& ctx) -> Result<void> {
        try {
            return run(ctx, config, onImage);
        } catch (const std::exception& e) {
            return makeError(std::string("Generation failed: ") + e.what(), config.modelPath);
        }
    };
}

void clearGenerateModelCache()
{
    std::lock_guard lock(modelCache().mutex);
    modelCache().model.reset();
    modelCache().key.clear();
}

}  // namespace kiln::diffusion
