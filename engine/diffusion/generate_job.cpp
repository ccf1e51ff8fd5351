#include "kiln/generate.h"

#include "diffusion/model_loader.h"
#include "diffusion/samplers.h"
#include "diffusion/txt2img.h"

#include <torch/torch.h>

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
    return c.modelPath + '\n' + c.tokenizerDir + '\n' + std::to_string(ticks);
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

std::string modelName(const std::string& path)
{
    fs::path p(path);
    while (!p.empty() && p.filename().empty()) p = p.parent_path();  // "folder/" has an empty filename
    return fs::is_directory(p) ? p.filename().string() : p.stem().string();
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

    ctx.report(0, "step 0/" + std::to_string(req.steps));
    auto out = txt2img(**model, req, [&](int step, int steps, const torch::Tensor& denoised) {
        if (ctx.cancelled()) return false;
        ctx.report(static_cast<double>(step) / steps, "step " + std::to_string(step) + "/" + std::to_string(steps));
        ctx.emitPreview(latentPreview(denoised));
        return !ctx.cancelled();
    });
    if (!out) {
        if (isCancelled(out.error()) && ctx.cancelled()) return success();  // the queue marks it Cancelled
        return out.error();
    }

    // A1111 writes the schedule in effect ("DPM++ 2M" + Automatic is Karras), so a PNG reproduces in either tool.
    std::string samplerName = req.sampler, scheduleName = req.schedule;
    if (auto choice = resolveSampler(req.sampler, req.schedule)) {
        samplerName = std::string(samplerLabel(choice->sampler));
        scheduleName = std::string(scheduleLabel(choice->schedule));
    }
    torch::Tensor images = out->images.contiguous();
    const auto batch = images.size(0);
    for (std::int64_t i = 0; i < batch; ++i) {
        GenerateResult r;
        r.width = out->width;
        r.height = out->height;
        torch::Tensor img = images[i].contiguous();
        const std::uint8_t* src = img.data_ptr<std::uint8_t>();
        r.rgb.assign(src, src + img.numel());
        GenerationParameters& p = r.parameters;
        p.prompt = c.prompt;
        p.negativePrompt = c.negative;
        p.steps = req.steps;
        p.sampler = samplerName;
        p.scheduleType = scheduleName;
        p.cfgScale = req.cfg;
        p.seed = i < static_cast<std::int64_t>(out->seeds.size()) ? out->seeds[static_cast<std::size_t>(i)]
                                                                  : req.seed + static_cast<std::uint64_t>(i);
        p.width = out->width;
        p.height = out->height;
        p.model = modelName(c.modelPath);
        r.notices = out->notices;
        if (onImage) onImage(r);
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
