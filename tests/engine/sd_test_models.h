// Tiny seeded Stable Diffusion 1.x models for tests, written as people have them on disk (a diffusers folder),
// so tests and test helpers (make_tiny_sd for kiln-cli generate) load them through the public loader.
// No Qt: plain executables include this too.
#pragma once

#include "diffusion/clip_text_model.h"
#include "diffusion/ldm_keys_clip_vae.h"
#include "diffusion/ldm_keys_unet.h"
#include "diffusion/unet.h"
#include "diffusion/vae.h"
#include "io/safetensors_torch.h"
#include "kiln/result.h"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

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

// The inverse of ldmToDiffusersVaeKey, from the rules in ldm_keys_clip_vae.h.
inline std::string vaeToLdm(const std::string& key, int levels)
{
    std::vector<std::string> p;
    for (size_t start = 0;;) {
        size_t dot = key.find('.', start);
        p.push_back(key.substr(start, dot - start));
        if (dot == std::string::npos) break;
        start = dot + 1;
    }
    std::vector<std::string> out;
    for (size_t i = 0; i < p.size(); ++i) {
        const std::string& s = p[i];
        if (s == "down_blocks") {
            out.insert(out.end(), {"down", p[i + 1]});
            ++i;
        } else if (s == "up_blocks") {
            out.insert(out.end(), {"up", std::to_string(levels - 1 - std::stoi(p[i + 1]))});
            ++i;
        } else if (s == "resnets" && i > 0 && p[i - 1] == "mid_block") {
            out.back() = "mid";
            out.push_back(p[i + 1] == "0" ? "block_1" : "block_2");
            ++i;
        } else if (s == "resnets") {
            out.insert(out.end(), {"block", p[i + 1]});
            ++i;
        } else if (s == "downsamplers" || s == "upsamplers") {
            out.push_back(s == "downsamplers" ? "downsample" : "upsample");
            ++i;  // the ".0"
        } else if (s == "attentions") {
            out.back() = "mid";
            out.push_back("attn_1");
            ++i;
        } else if (s == "to_out") {
            out.push_back("proj_out");
            ++i;
        } else if (s == "group_norm") {
            out.push_back("norm");
        } else if (s == "to_q" || s == "to_k" || s == "to_v") {
            out.push_back(s.substr(3));
        } else if (s == "conv_shortcut") {
            out.push_back("nin_shortcut");
        } else if (s == "conv_norm_out") {
            out.push_back("norm_out");
        } else {
            out.push_back(s);
        }
    }
    std::string joined = "first_stage_model";
    for (const auto& s : out) joined += "." + s;
    return joined;
}

// The three modules under the keys of an SD 1.x single-file checkpoint as A1111 saves it
// (model.diffusion_model.*, first_stage_model.*, cond_stage_model.transformer.text_model.*), every
// floating tensor in `dtype`. Tensors already in `dtype` are shared with the modules, not copied, so a
// full-size model converted with module->to(dtype) first costs no second copy. Checks that every VAE key
// maps back to its diffusers name.
inline Result<io::NamedTensors> sdSingleFileTensors(diffusion::ClipTextModel clip, diffusion::UNet2DConditionModel unet,
                                                    diffusion::AutoencoderKL vae,
                                                    torch::ScalarType dtype = torch::kFloat32)
{
    io::NamedTensors ldm;
    auto as = [dtype](const torch::Tensor& t) { return t.detach().to(dtype); };
    auto unetKeys = diffusion::ldmToDiffusersUnetKeys(unet->config());
    if (!unetKeys) return unetKeys.error();
    for (auto& item : unet->named_parameters(true)) {
        auto it = unetKeys->find(item.key());
        if (it == unetKeys->end()) return makeError("no LDM key for UNet parameter " + item.key());
        ldm.emplace_back(it->second, as(item.value()));
    }
    const int levels = static_cast<int>(vae->config().blockOutChannels.size());
    for (auto& item : vae->named_parameters(true)) {
        const std::string& name = item.key();
        const std::string key = vaeToLdm(name, levels);
        auto back = diffusion::ldmToDiffusersVaeKey(key, levels);
        if (!back || *back != name) return makeError("VAE key does not map back: " + name + " -> " + key);
        const torch::Tensor& t = item.value();
        const bool conv = diffusion::isVaeAttentionProjection(name) && t.dim() == 2;
        ldm.emplace_back(key, as(conv ? t.unsqueeze(-1).unsqueeze(-1) : t));
    }
    // The older layout without `text_model.` for half the keys would be odd; the newer one is what A1111 saves.
    for (auto& item : clip->named_parameters(true))
        ldm.emplace_back("cond_stage_model.transformer." + item.key(), as(item.value()));
    ldm.emplace_back("cond_stage_model.transformer.text_model.embeddings.position_ids",
                     torch::arange(clip->config().maxPositions, torch::kLong).unsqueeze(0));
    return ldm;
}

// sdSingleFileTensors written to one .safetensors file.
inline Result<void> writeSdSingleFile(const std::filesystem::path& path, diffusion::ClipTextModel clip,
                                      diffusion::UNet2DConditionModel unet, diffusion::AutoencoderKL vae,
                                      torch::ScalarType dtype = torch::kFloat32)
{
    auto tensors = sdSingleFileTensors(clip, unet, vae, dtype);
    if (!tensors) return tensors.error();
    return io::saveSafetensors(path.string(), *tensors);
}

}  // namespace kiln::sdtest
