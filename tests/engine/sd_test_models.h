// Tiny seeded Stable Diffusion 1.x models for tests, written as people have them on disk (a diffusers folder),
// so tests and test helpers (make_tiny_sd for kiln-cli generate) load them through the public loader.
// No Qt: plain executables include this too.
#pragma once

#include "diffusion/clip_text_model.h"
#include "diffusion/unet.h"
#include "diffusion/vae.h"
#include "io/safetensors_torch.h"
#include "kiln/result.h"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace kiln::sdtest {

// The shapes the loader infers its config from, with the values it assumes for what shapes do not tell
// (8 UNet heads, 32 norm groups, CLIP head width 64 -> 1 head).
inline diffusion::ClipTextConfig clipConfig()
{
    diffusion::ClipTextConfig c = diffusion::ClipTextConfig::tiny();
    c.vocabSize = 64;
    c.hidden = 32;
    c.layers = 2;
    c.heads = 1;
    c.intermediate = 64;
    c.maxPositions = 77;
    return c;
}

inline diffusion::UNetConfig unetConfig()
{
    diffusion::UNetConfig c = diffusion::UNetConfig::tiny();
    c.attentionHeads = 8;
    c.normGroups = 32;
    c.crossAttentionDim = 32;
    return c;
}

inline diffusion::VaeConfig vaeConfig()
{
    diffusion::VaeConfig c = diffusion::VaeConfig::tiny();
    c.blockOutChannels = {32, 32, 32};
    c.layersPerBlock = 1;
    c.normGroups = 32;
    return c;
}

inline void writeText(const std::filesystem::path& path, const std::string& text)
{
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << text;
}

inline io::NamedTensors namedParameters(torch::nn::Module& module)
{
    io::NamedTensors out;
    for (auto& item : module.named_parameters(true)) out.emplace_back(item.key(), item.value().detach().clone());
    return out;
}

struct TinySd {
    diffusion::ClipTextModel clip{nullptr};
    diffusion::UNet2DConditionModel unet{nullptr};
    diffusion::AutoencoderKL vae{nullptr};
};

// Seeded modules of the configs above.
inline Result<TinySd> makeTinySd(std::uint64_t seed = 1234)
{
    TinySd m;
    torch::manual_seed(seed);
    m.clip = diffusion::ClipTextModel(clipConfig());
    auto unet = diffusion::createUNet(unetConfig());
    if (!unet) return unet.error();
    m.unet = *unet;
    m.vae = diffusion::AutoencoderKL(vaeConfig());
    // Norms start at weight 1 / bias 0; perturbing them makes a wrong mapping of any norm visible.
    torch::NoGradGuard noGrad;
    for (torch::nn::Module* module : {static_cast<torch::nn::Module*>(m.clip.get()),
                                      static_cast<torch::nn::Module*>(m.unet.get()),
                                      static_cast<torch::nn::Module*>(m.vae.get())})
        for (auto& p : module->parameters()) p.add_(torch::randn_like(p) * 0.05);
    return m;
}

// A diffusers folder: model_index.json, tokenizer/ (a 13-token vocabulary), unet/, vae/, text_encoder/.
// By value: the modules are shared handles, and named_parameters() is not const.
inline Result<void> writeTinySdDiffusers(const std::filesystem::path& folder, TinySd m)
{
    namespace fs = std::filesystem;
    writeText(folder / "model_index.json", R"({"_class_name": "StableDiffusionPipeline"})");
    writeText(folder / "tokenizer/vocab.json",
              R"({"a": 0, "b": 1, "c": 2, "a</w>": 3, "b</w>": 4, "c</w>": 5, "bc</w>": 6, "ab": 7, "aa": 8,)"
              R"( "aa</w>": 9, "<|startoftext|>": 10, "<|endoftext|>": 11, ",</w>": 12})");
    writeText(folder / "tokenizer/merges.txt", "#version: 0.2\nb c</w>\na b\na a\na a</w>\n");
    for (const char* sub : {"unet", "vae", "text_encoder"}) fs::create_directories(folder / sub);
    if (auto r = io::saveSafetensors((folder / "unet/diffusion_pytorch_model.safetensors").string(),
                                     namedParameters(*m.unet));
        !r)
        return r;
    if (auto r = io::saveSafetensors((folder / "vae/diffusion_pytorch_model.safetensors").string(),
                                     namedParameters(*m.vae));
        !r)
        return r;
    return io::saveSafetensors((folder / "text_encoder/model.safetensors").string(), namedParameters(*m.clip));
}

}  // namespace kiln::sdtest
