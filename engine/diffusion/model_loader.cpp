#include "diffusion/model_loader.h"

#include "diffusion/ldm_keys_clip_vae.h"
#include "diffusion/ldm_keys_unet.h"
#include "diffusion/memory_estimate.h"
#include "diffusion/unet_load.h"
#include "io/checkpoint_torch.h"
#include "io/safetensors_torch.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <numeric>
#include <optional>
#include <random>
#include <set>
#include <type_traits>

namespace kiln::diffusion {
namespace {

namespace fs = std::filesystem;

constexpr const char* kClipPrefix = "cond_stage_model.";
constexpr const char* kVaePrefix = "first_stage_model.";

bool startsWith(const std::string& s, std::string_view prefix) { return s.rfind(prefix, 0) == 0; }

std::string shapeText(const std::vector<int64_t>& shape)
{
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

// One model's tensors under their diffusers names, wherever they sit in the file(s).
struct Source {
    const io::SafetensorsFile* file = nullptr;
    const io::SafetensorsEntry* entry = nullptr;
};
using SourceMap = std::map<std::string, Source>;

std::optional<std::vector<int64_t>> shapeOf(const SourceMap& m, const std::string& name)
{
    auto it = m.find(name);
    if (it == m.end()) return std::nullopt;
    return it->second.entry->shape;
}

// The largest divisor of every width that is at most SD's 32, so a narrow model still has valid GroupNorms.
int64_t normGroupsFor(const std::vector<int64_t>& widths)
{
    int64_t g = 0;
    for (int64_t w : widths) g = std::gcd(g, w);
    for (int64_t d = std::min<int64_t>(32, g); d > 1; --d)
        if (g % d == 0) return d;
    return 1;
}

// Gathers the keys of one model (`prefix` in a single file; every key in a diffusers part file) under their
// diffusers names. Keys the renamer rejects go to `unused`.
void collect(const io::SafetensorsFile& file, const std::string& prefix,
             const std::function<Result<std::string>(const std::string&)>& rename, SourceMap& out,
             std::vector<std::string>& unused)
{
    for (const auto& e : file.index().tensors) {
        if (!prefix.empty() && !startsWith(e.name, prefix)) continue;
        auto name = rename(e.name);
        if (!name) {
            unused.push_back(e.name);
            continue;
        }
        if (name->empty()) continue;  // carries no weight here (CLIP's position_ids)
        out[*name] = {&file, &e};
    }
}

int countIndexed(const SourceMap& m, const std::function<std::string(int)>& nameAt)
{
    int n = 0;
    while (m.count(nameAt(n))) ++n;
    return n;
}

Result<ClipTextConfig> inferClipConfig(const SourceMap& m, const std::string& where)
{
    auto tok = shapeOf(m, "text_model.embeddings.token_embedding.weight");
    auto pos = shapeOf(m, "text_model.embeddings.position_embedding.weight");
    auto fc1 = shapeOf(m, "text_model.encoder.layers.0.mlp.fc1.weight");
    if (!tok || !pos || !fc1 || tok->size() != 2 || pos->size() != 2 || fc1->size() != 2)
        return makeError("no CLIP text encoder found (token/position embeddings and encoder layers)", where,
                         "a SD 1.x checkpoint has cond_stage_model.transformer.* (single file) or text_encoder/");
    ClipTextConfig c;
    c.vocabSize = (*tok)[0];
    c.hidden = (*tok)[1];
    c.maxPositions = (*pos)[0];
    c.intermediate = (*fc1)[0];
    c.layers = countIndexed(m, [](int i) {
        return "text_model.encoder.layers." + std::to_string(i) + ".self_attn.q_proj.weight";
    });
    c.heads = std::max<int64_t>(1, c.hidden / 64);
    if (c.hidden % c.heads != 0) c.heads = 1;
    if (c.maxPositions < ClipTokenizer::kContextLength)
        return makeError("the text encoder has " + std::to_string(c.maxPositions) + " positions; expected 77", where);
    return c;
}

Result<VaeConfig> inferVaeConfig(const SourceMap& m, const std::string& where)
{
    VaeConfig c;
    c.blockOutChannels.clear();
    for (int i = 0;; ++i) {
        auto s = shapeOf(m, "encoder.down_blocks." + std::to_string(i) + ".resnets.0.conv2.weight");
        if (!s) break;
        c.blockOutChannels.push_back((*s)[0]);
    }
    auto encIn = shapeOf(m, "encoder.conv_in.weight");
    auto decIn = shapeOf(m, "decoder.conv_in.weight");
    auto decOut = shapeOf(m, "decoder.conv_out.weight");
    if (c.blockOutChannels.empty() || !encIn || !decIn || !decOut)
        return makeError("no VAE found (encoder / decoder weights)", where,
                         "a SD 1.x checkpoint has first_stage_model.* (single file) or vae/");
    c.inChannels = (*encIn)[1];
    c.latentChannels = (*decIn)[1];
    c.outChannels = (*decOut)[0];
    c.layersPerBlock = countIndexed(m, [](int j) {
        return "encoder.down_blocks.0.resnets." + std::to_string(j) + ".conv1.weight";
    });
    c.normGroups = normGroupsFor(c.blockOutChannels);
    return c;
}

// The VAE's level count decides how LDM's decoder levels are renumbered, so it is read from the raw keys first.
int vaeLevels(const io::SafetensorsFile& file, const std::string& prefix)
{
    int levels = 0;
    for (const auto& e : file.index().tensors) {
        if (!startsWith(e.name, prefix)) continue;
        std::string rest = e.name.substr(prefix.size());
        for (std::string_view head : {"encoder.down.", "encoder.down_blocks."}) {
            if (!startsWith(rest, head)) continue;
            int n = std::atoi(rest.c_str() + head.size());
            levels = std::max(levels, n + 1);
        }
    }
    return levels == 0 ? 4 : levels;
}

UNetConfig unetConfigFrom(std::vector<int64_t> widths, std::vector<bool> attention, int64_t layers, int64_t in,
                          int64_t out, int64_t cross)
{
    UNetConfig c;
    c.inChannels = in;
    c.outChannels = out;
    c.blockOutChannels = std::move(widths);
    c.layersPerBlock = layers;
    c.crossAttentionDim = cross;
    c.downBlockTypes.clear();
    c.upBlockTypes.clear();
    for (bool a : attention) c.downBlockTypes.push_back(a ? "CrossAttnDownBlock2D" : "DownBlock2D");
    for (auto it = attention.rbegin(); it != attention.rend(); ++it)
        c.upBlockTypes.push_back(*it ? "CrossAttnUpBlock2D" : "UpBlock2D");
    c.normGroups = normGroupsFor(c.blockOutChannels);
    return c;
}

Result<UNetConfig> inferUNetConfig(const io::SafetensorsFile& file, UNetLayout layout)
{
    const auto& idx = file.index();
    auto shape = [&](const std::string& name) -> std::optional<std::vector<int64_t>> {
        const auto* e = idx.find(name);
        if (!e) return std::nullopt;
        return e->shape;
    };
    const std::string p = kLdmUnetPrefix;
    std::vector<int64_t> widths;
    std::vector<bool> attention;
    int64_t layers = 0;
    std::optional<std::vector<int64_t>> convIn, convOut, toK;
    if (layout == UNetLayout::Diffusers) {
        convIn = shape("conv_in.weight");
        convOut = shape("conv_out.weight");
        for (int i = 0;; ++i) {
            const std::string b = "down_blocks." + std::to_string(i);
            auto s = shape(b + ".resnets.0.conv1.weight");
            if (!s) break;
            widths.push_back((*s)[0]);
            auto k = shape(b + ".attentions.0.transformer_blocks.0.attn2.to_k.weight");
            attention.push_back(k.has_value());
            if (k && !toK) toK = k;
        }
        while (shape("down_blocks.0.resnets." + std::to_string(layers) + ".conv1.weight")) ++layers;
    } else {
        convIn = shape(p + "input_blocks.0.0.weight");
        convOut = shape(p + "out.2.weight");
        // input_blocks.(L+1).0.op is the first downsampler; SD-style UNets have one after every level but the last.
        for (int k = 1; k < 64 && layers == 0; ++k)
            if (shape(p + "input_blocks." + std::to_string(k) + ".0.op.weight")) layers = k - 1;
        if (layers > 0) {
            for (int i = 0;; ++i) {
                const std::string b = p + "input_blocks." + std::to_string(1 + i * (layers + 1));
                auto s = shape(b + ".0.in_layers.2.weight");
                if (!s) break;
                widths.push_back((*s)[0]);
                auto k = shape(b + ".1.transformer_blocks.0.attn2.to_k.weight");
                attention.push_back(k.has_value());
                if (k && !toK) toK = k;
            }
        }
    }
    if (!convIn || !convOut || widths.empty() || layers == 0 || convIn->size() != 4 || convOut->size() != 4)
        return makeError("the UNet's layout is not SD 1.x (could not find conv_in, conv_out and the down blocks)",
                         file.path());
    auto in = unetInChannelsFromConvIn(*convIn);
    if (!in) return in.error();
    int64_t cross = toK && toK->size() == 2 ? (*toK)[1] : 768;
    auto c = unetConfigFrom(widths, attention, layers, *in, (*convOut)[0], cross);
    if (auto ok = validateUNetConfig(c); !ok) return ok.error();
    return c;
}

// Copies every parameter of `module` from `sources` (converted to the parameter's dtype). `adapt` reshapes a
// file tensor where the layouts differ.
Result<void> loadInto(torch::nn::Module& module, const SourceMap& sources,
                      const std::function<torch::Tensor(const std::string&, const torch::Tensor&)>& adapt,
                      LoadReport& report)
{
    torch::NoGradGuard noGrad;
    std::set<std::string> used;
    for (auto& item : module.named_parameters(true)) {
        torch::Tensor param = item.value();
        auto it = sources.find(item.key());
        if (it == sources.end()) {
            report.missing.push_back(item.key());
            continue;
        }
        used.insert(item.key());
        auto t = io::loadTensor(*it->second.file, *it->second.entry, param.scalar_type());
        if (!t) return t.error();
        torch::Tensor v = adapt ? adapt(item.key(), *t) : *t;
        if (v.sizes() != param.sizes()) {
            report.mismatched.push_back(item.key() + ": file " + shapeText(v.sizes().vec()) + " vs module " +
                                        shapeText(param.sizes().vec()));
            continue;
        }
        param.copy_(v);
        ++report.tensorsLoaded;
    }
    for (const auto& [name, src] : sources)
        if (!used.count(name)) report.unused.push_back(src.entry->name);
    return success();
}

// What a diffusers folder's config.json files say that shapes cannot: heads, norm groups, activation, scaling.
struct JsonConfigs {
    nlohmann::json unet, vae, clip;  // null where the file is absent or unreadable
};

nlohmann::json readJson(const fs::path& path)
{
    std::ifstream in(path);
    if (!in) return nullptr;
    auto j = nlohmann::json::parse(in, nullptr, false);
    return j.is_discarded() || !j.is_object() ? nlohmann::json(nullptr) : j;
}

template <typename T>
void readField(const nlohmann::json& j, const char* key, T& out)
{
    if (!j.is_object()) return;
    auto it = j.find(key);
    if (it == j.end()) return;
    if constexpr (std::is_same_v<T, bool>) {
        if (it->is_boolean()) out = it->get<bool>();
    } else if constexpr (std::is_same_v<T, std::string>) {
        if (it->is_string()) out = it->get<std::string>();
    } else {
        if (it->is_number()) out = it->get<T>();
    }
}

Result<void> applyJson(const JsonConfigs& json, UNetConfig& unet, VaeConfig& vae, ClipTextConfig& clip,
                       const std::string& where)
{
    // attention_head_dim may be one number or one per level; SD 1.x-style UNets take one for all levels.
    if (json.unet.is_object() && json.unet.contains("attention_head_dim")) {
        const auto& heads = json.unet["attention_head_dim"];
        if (heads.is_number_integer()) {
            unet.attentionHeads = heads.get<int64_t>();
        } else if (heads.is_array() && !heads.empty() && heads[0].is_number_integer()) {
            for (const auto& h : heads)
                if (h != heads[0])
                    return makeError("per-level attention head counts are not supported", where,
                                     "SD 2.x and SDXL models are not supported yet");
            unet.attentionHeads = heads[0].get<int64_t>();
        }
    }
    readField(json.unet, "norm_num_groups", unet.normGroups);
    readField(json.unet, "norm_eps", unet.normEps);
    readField(json.vae, "norm_num_groups", vae.normGroups);
    readField(json.vae, "scaling_factor", vae.scalingFactor);
    readField(json.clip, "num_attention_heads", clip.heads);
    readField(json.clip, "layer_norm_eps", clip.layerNormEps);
    std::string act = clip.quickGelu ? "quick_gelu" : "gelu";
    readField(json.clip, "hidden_act", act);
    clip.quickGelu = act == "quick_gelu";
    if (auto ok = validateUNetConfig(unet); !ok) return ok.error();
    if (clip.heads < 1 || clip.hidden % clip.heads != 0 || vae.normGroups < 1)
        return makeError("the config.json files do not fit the weights' shapes", where);
    for (int64_t w : vae.blockOutChannels)
        if (w % vae.normGroups != 0) return makeError("vae/config.json: norm_num_groups does not divide " +
                                                      std::to_string(w) + " channels", where);
    return success();
}

// Everything but the tokenizer, from the files of either layout.
struct Parts {
    const io::SafetensorsFile* unet = nullptr;
    const io::SafetensorsFile* vae = nullptr;
    std::string vaePrefix;  // first_stage_model. in a single file
    const io::SafetensorsFile* clip = nullptr;
    std::string clipPrefix;
    JsonConfigs json;
};

// The modules hold every tensor in float32 (the UNet in its file's half type when kept half); safetensors
// files are mapped, so their pages do not count. Refuses before the modules are allocated what would push
// the desktop into swap or the OOM killer (a .ckpt has been converted by then: see convertCheckpoint).
Result<void> checkLoadFits(const Parts& parts, const LoadOptions& options, io::DType unetDtype)
{
    const auto available = options.memoryAvailable ? options.memoryAvailable : availableMemoryBytes();
    if (!available) return success();
    auto bytesOf = [](const io::SafetensorsFile& file, const std::string& prefix, std::uint64_t perValue) {
        std::uint64_t sum = 0;
        for (const auto& e : file.index().tensors)
            if (startsWith(e.name, prefix)) sum += static_cast<std::uint64_t>(e.numel()) * perValue;
        return sum;
    };
    const bool half = options.keepUNetHalf && (unetDtype == io::DType::F16 || unetDtype == io::DType::BF16);
    const bool single = parts.unet == parts.clip;  // one file holds all three
    const std::uint64_t need = bytesOf(*parts.unet, single ? kLdmUnetPrefix : "", half ? 2 : 4) +
                               bytesOf(*parts.vae, parts.vaePrefix, 4) + bytesOf(*parts.clip, parts.clipPrefix, 4);
    if (need <= usableMemory(*available)) return success();
    return makeError("not enough memory to load the model: its weights need about " + formatBytes(need) +
                         (half ? "" : " in float32") + " and " + formatBytes(*available) + " is available",
                     parts.unet->path(), "close other programs" + std::string(half ? "" : ", or keep the UNet in half precision"));
}

Result<StableDiffusionModel> buildModel(const Parts& parts, ClipTokenizer tokenizer, const LoadOptions& options,
                                        LoadReport report)
{
    auto layout = detectUNetLayout(*parts.unet);
    if (!layout) return layout.error();
    auto unetConfig = inferUNetConfig(*parts.unet, *layout);
    if (!unetConfig) return unetConfig.error();

    const int levels = vaeLevels(*parts.vae, parts.vaePrefix);
    SourceMap vaeSources, clipSources;
    collect(*parts.vae, parts.vaePrefix, [&](const std::string& k) { return ldmToDiffusersVaeKey(k, levels); },
            vaeSources, report.unused);
    collect(*parts.clip, parts.clipPrefix, [](const std::string& k) { return ldmToDiffusersClipKey(k); },
            clipSources, report.unused);
    auto vaeConfig = inferVaeConfig(vaeSources, parts.vae->path());
    if (!vaeConfig) return vaeConfig.error();
    auto clipConfig = inferClipConfig(clipSources, parts.clip->path());
    if (!clipConfig) return clipConfig.error();
    if (clipConfig->hidden != unetConfig->crossAttentionDim)
        return makeError("the text encoder's width (" + std::to_string(clipConfig->hidden) +
                         ") differs from the UNet's cross-attention width (" +
                         std::to_string(unetConfig->crossAttentionDim) + ")", parts.clip->path(),
                         "SD 2.x and SDXL checkpoints are not supported yet");
    if (auto ok = applyJson(parts.json, *unetConfig, *vaeConfig, *clipConfig, parts.unet->path()); !ok)
        return ok.error();

    const auto* convIn = parts.unet->index().find(*layout == UNetLayout::Ldm
        ? std::string(kLdmUnetPrefix) + "input_blocks.0.0.weight" : std::string("conv_in.weight"));
    const io::DType fileDtype = convIn ? convIn->dtype : io::DType::F32;
    report.dtype = std::string(io::dtypeName(fileDtype));
    report.variant = unetConfig->inChannels == 9 ? "SD 1.x inpainting" : "SD 1.x";
    report.unetConfig = *unetConfig;
    report.vaeConfig = *vaeConfig;
    report.clipConfig = *clipConfig;

    if (auto fits = checkLoadFits(parts, options, fileDtype); !fits) return fits.error();
    try {
        auto unet = createUNet(*unetConfig);
        if (!unet) return unet.error();
        if (options.keepUNetHalf && (fileDtype == io::DType::F16 || fileDtype == io::DType::BF16))
            (*unet)->to(fileDtype == io::DType::F16 ? torch::kHalf : torch::kBFloat16);
        auto unetReport = loadUNetWeights(*unet, *parts.unet);
        if (!unetReport) return unetReport.error();
        report.tensorsLoaded += unetReport->applied;
        report.missing.insert(report.missing.end(), unetReport->missing.begin(), unetReport->missing.end());
        report.unused.insert(report.unused.end(), unetReport->unused.begin(), unetReport->unused.end());
        report.mismatched.insert(report.mismatched.end(), unetReport->mismatched.begin(),
                                 unetReport->mismatched.end());
        report.unetDtype = std::string(c10::toString((*unet)->conv_in->weight.scalar_type()));

        AutoencoderKL vae(*vaeConfig);
        if (auto ok = loadInto(*vae, vaeSources, adaptLdmVaeTensor, report); !ok) return ok.error();
        ClipTextModel clip(*clipConfig);
        if (auto ok = loadInto(*clip, clipSources, {}, report); !ok) return ok.error();

        (*unet)->eval();
        vae->eval();
        clip->eval();
        return StableDiffusionModel{std::move(tokenizer), clip, *unet, vae, std::move(report)};
    } catch (const std::exception& e) {
        return makeError(std::string("could not build the model: ") + e.what(), parts.unet->path());
    }
}

Result<ClipTokenizer> findTokenizer(const std::vector<fs::path>& candidates)
{
    std::string looked;
    std::error_code ec;
    for (const auto& dir : candidates) {
        if (dir.empty()) continue;
        looked += (looked.empty() ? "" : ", ") + dir.string();
        if (fs::is_regular_file(dir / "vocab.json", ec) && fs::is_regular_file(dir / "merges.txt", ec))
            return ClipTokenizer::fromFolder(dir);
    }
    return makeError("no CLIP tokenizer (vocab.json + merges.txt) found; looked in " +
                     (looked.empty() ? std::string("no folder") : looked), {},
                     "put the SD 1.x tokenizer/ folder beside the checkpoint or choose a tokenizer folder");
}

Result<io::SafetensorsFile> openPart(const fs::path& dir, std::initializer_list<const char*> names)
{
    std::error_code ec;
    std::string tried;
    for (const char* n : names) {
        const fs::path p = dir / n;
        if (fs::is_regular_file(p, ec)) return io::SafetensorsFile::open(p.string());
        tried += (tried.empty() ? "" : ", ") + p.string();
    }
    return makeError("a diffusers model part is missing; expected one of " + tried, dir.string(),
                     ".bin parts are not read: convert the folder to safetensors");
}

Result<io::SafetensorsFile> openVaeFile(const fs::path& path, std::string& prefix);

// Points `parts` at options.vaePath's VAE instead of the model's own; `holder` keeps the file mapped.
Result<void> useSeparateVae(const LoadOptions& options, Parts& parts, std::optional<io::SafetensorsFile>& holder,
                            LoadReport& report)
{
    if (options.vaePath.empty()) return success();
    std::string prefix;
    auto file = openVaeFile(options.vaePath, prefix);
    if (!file) return file.error();
    holder.emplace(std::move(*file));
    parts.vae = &*holder;
    parts.vaePrefix = prefix;
    parts.json.vae = nlohmann::json();  // the folder's vae/config.json describes the VAE replaced
    report.files.push_back(options.vaePath);  // a .pt's holder is a temporary conversion
    report.separateVae = options.vaePath;
    return success();
}

Result<StableDiffusionModel> loadFolder(const fs::path& root, const LoadOptions& options)
{
    std::error_code ec;
    if (!fs::is_regular_file(root / "model_index.json", ec) && !fs::is_directory(root / "unet", ec))
        return makeError("not a diffusers model folder: no model_index.json or unet/", root.string(),
                         "choose a .safetensors file or a folder with model_index.json");
    auto unet = openPart(root / "unet", {"diffusion_pytorch_model.safetensors",
                                         "diffusion_pytorch_model.fp16.safetensors"});
    if (!unet) return unet.error();
    auto vae = openPart(root / "vae", {"diffusion_pytorch_model.safetensors",
                                       "diffusion_pytorch_model.fp16.safetensors"});
    if (!vae) return vae.error();
    auto clip = openPart(root / "text_encoder", {"model.safetensors", "model.fp16.safetensors"});
    if (!clip) return clip.error();
    auto tokenizer = findTokenizer({root / "tokenizer", fs::path(options.tokenizerDir)});
    if (!tokenizer) return tokenizer.error();

    LoadReport report;
    report.layout = "diffusers folder";
    report.files = {unet->path(), vae->path(), clip->path()};
    Parts parts{&*unet, &*vae, "", &*clip, "", {}};
    parts.json = {readJson(root / "unet" / "config.json"), readJson(root / "vae" / "config.json"),
                  readJson(root / "text_encoder" / "config.json")};
    std::optional<io::SafetensorsFile> separateVae;
    if (auto ok = useSeparateVae(options, parts, separateVae, report); !ok) return ok.error();
    // The modules copy the tensors, so the maps may close when this returns.
    return buildModel(parts, std::move(*tokenizer), options, std::move(report));
}

bool isSdKey(const std::string& name)
{
    return startsWith(name, kLdmUnetPrefix) || startsWith(name, kVaePrefix) || startsWith(name, kClipPrefix);
}

// A .ckpt's SD tensors, written to a temporary safetensors file that is opened (mapped) and unlinked at once,
// so the one loader serves both formats. Costs one temporary copy of the weights on disk and in memory.
Result<io::SafetensorsFile> convertCheckpoint(const fs::path& path,
                                              std::initializer_list<const char*> prefixes = {kLdmUnetPrefix, kVaePrefix,
                                                                                             kClipPrefix})
{
    auto ckpt = io::TorchCheckpoint::open(path.string());
    if (!ckpt) return ckpt.error();
    io::NamedTensors tensors;
    for (const auto& t : ckpt->tensors()) {
        // torch.save({"state_dict": sd}) (CompVis, A1111) names them state_dict.model.diffusion_model.*, a bare
        // state dict model.diffusion_model.*, other writers nest them deeper: the SD key starts at its prefix.
        std::string name;
        for (const char* prefix : prefixes) {
            for (size_t at = t.name.find(prefix); at != std::string::npos; at = t.name.find(prefix, at + 1)) {
                if (at == 0 || t.name[at - 1] == '.') {
                    name = t.name.substr(at);
                    break;
                }
            }
            if (!name.empty()) break;
        }
        if (name.empty()) continue;
        auto tensor = io::toTorch(*ckpt, t);
        if (!tensor) return tensor.error();
        tensors.emplace_back(std::move(name), std::move(*tensor));
    }
    if (tensors.empty())
        return makeError("the checkpoint has no Stable Diffusion weights (no model.diffusion_model.* keys" +
                         (ckpt->tensors().empty() ? std::string(")") : "; its first tensor is " +
                          ckpt->tensors().front().name + ")"), path.string(),
                         "this looks like a VAE, LoRA or text-encoder file; choose a full SD 1.x checkpoint");
    std::error_code ec;
    const fs::path tmp = fs::temp_directory_path(ec) /
        ("kiln-ckpt-" + std::to_string(std::random_device{}()) + std::to_string(std::random_device{}()) +
         ".safetensors");
    if (auto ok = io::saveSafetensors(tmp.string(), tensors); !ok) return ok.error();
    tensors.clear();
    auto file = io::SafetensorsFile::open(tmp.string());
    fs::remove(tmp, ec);  // the map keeps the data alive
    return file;
}

// A separate VAE as people have them: A1111's *.vae.pt / *.vae.safetensors (LDM names, bare or under
// first_stage_model.) or a diffusers vae/ file. `prefix` receives what precedes encoder./decoder. in its keys.
Result<io::SafetensorsFile> openVaeFile(const fs::path& path, std::string& prefix)
{
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) return makeError("the VAE file does not exist", path.string());
    const std::string ext = path.extension().string();
    const bool pickled = ext == ".ckpt" || ext == ".pt" || ext == ".pth";
    auto file = pickled ? convertCheckpoint(path, {kVaePrefix, "encoder.", "decoder.", "quant_conv.", "post_quant_conv."})
                        : io::SafetensorsFile::open(path.string());
    auto notAVae = [&] {
        return makeError("not a VAE: no decoder.* or first_stage_model.decoder.* weights", path.string(),
                         "choose an SD 1.x VAE file (for example vae-ft-mse-840000-ema-pruned.safetensors)");
    };
    if (!file && pickled && file.error().message().find("no Stable Diffusion weights") != std::string::npos)
        return notAVae();
    if (!file) return file.error();
    prefix.clear();
    bool found = false;
    for (const auto& e : file->index().tensors) {
        if (startsWith(e.name, kVaePrefix)) {
            prefix = kVaePrefix;
            found = true;
            break;
        }
        found = found || startsWith(e.name, "decoder.");
    }
    if (!found) return notAVae();
    return file;
}

Result<StableDiffusionModel> loadSingleFile(const fs::path& path, const LoadOptions& options)
{
    const std::string ext = path.extension().string();
    const bool pickled = ext == ".ckpt" || ext == ".pt" || ext == ".pth";
    auto file = pickled ? convertCheckpoint(path) : io::SafetensorsFile::open(path.string());
    if (!file) return file.error();
    const auto& tensors = file->index().tensors;
    auto has = [&](std::string_view prefix) {
        return std::any_of(tensors.begin(), tensors.end(), [&](const auto& e) { return startsWith(e.name, prefix); });
    };
    if (!has(kLdmUnetPrefix))
        return makeError("the checkpoint has no UNet weights (no model.diffusion_model.* keys)", path.string(),
                         "this looks like a VAE, LoRA or text-encoder file; choose a full SD 1.x checkpoint");
    if (!has(kVaePrefix))
        return makeError("the checkpoint has no VAE weights (no first_stage_model.* keys)", path.string());
    if (!has(kClipPrefix))
        return makeError("the checkpoint has no text encoder weights (no cond_stage_model.* keys)", path.string(),
                         "SD 2.x checkpoints (cond_stage_model.model.*) are not supported yet");
    auto tokenizer = findTokenizer({fs::path(options.tokenizerDir), path.parent_path() / "tokenizer"});
    if (!tokenizer) return tokenizer.error();

    LoadReport report;
    report.layout = "single file";
    report.files = {path.string()};
    // Keys outside the three models (alphas_cumprod, model_ema.*, ...) are the schedule's or training's.
    for (const auto& e : tensors)
        if (!isSdKey(e.name)) report.unused.push_back(e.name);
    Parts parts{&*file, &*file, kVaePrefix, &*file, kClipPrefix, {}};
    std::optional<io::SafetensorsFile> vae;
    if (auto ok = useSeparateVae(options, parts, vae, report); !ok) return ok.error();
    return buildModel(parts, std::move(*tokenizer), options, std::move(report));
}

}  // namespace

Result<StableDiffusionModel> loadStableDiffusion(const std::string& path, const LoadOptions& options)
{
    std::error_code ec;
    const fs::path p(path);
    if (!fs::exists(p, ec)) return makeError("the model does not exist", path, "check the path");
    try {
        if (fs::is_directory(p, ec)) return loadFolder(p, options);
        return loadSingleFile(p, options);
    } catch (const std::exception& e) {
        return makeError(std::string("could not load the model: ") + e.what(), path);
    }
}

}  // namespace kiln::diffusion
