#include "diffusion/run_parameters.h"

#include "diffusion/samplers.h"

#include <filesystem>

namespace kiln::diffusion {

namespace fs = std::filesystem;

std::string checkpointName(const std::string& path)
{
    fs::path p(path);
    while (!p.empty() && p.filename().empty()) p = p.parent_path();  // "folder/" has an empty filename
    std::error_code ec;
    return fs::is_directory(p, ec) ? p.filename().string() : p.stem().string();
}

GenerationParameters runParameters(const GenerateRequest& req, const RunFiles& files)
{
    GenerationParameters p;
    p.prompt = req.prompt;
    p.negativePrompt = req.negative;
    p.steps = req.steps;
    p.sampler = req.sampler;
    p.scheduleType = req.schedule;
    if (auto choice = resolveSampler(req.sampler, req.schedule)) {
        p.sampler = std::string(samplerLabel(choice->sampler));
        p.scheduleType = std::string(scheduleLabel(choice->schedule));
    }
    p.cfgScale = req.cfg;
    p.model = checkpointName(files.modelPath);
    p.modelHash = files.modelHash;
    if (req.clipSkip > 1) p.set("Clip skip", std::to_string(req.clipSkip));
    if (req.initImage.defined()) p.set("Denoising strength", formatParameterNumber(req.strength));
    if (req.initImage.defined() && req.mask.defined()) p.set("Mask blur", std::to_string(req.maskBlur));
    if (!files.vaePath.empty()) p.set("VAE", fs::path(files.vaePath).filename().string());
    if (!files.vaeHash.empty()) p.set("VAE hash", files.vaeHash);
    return p;
}

GenerationParameters imageParameters(GenerationParameters run, std::uint64_t seed, int width, int height)
{
    run.seed = seed;
    run.width = width;
    run.height = height;
    return run;
}

}  // namespace kiln::diffusion
