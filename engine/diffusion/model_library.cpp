#include "diffusion/model_library.h"

#include "io/safetensors_file.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sys/stat.h>
#include <utility>

namespace kiln::diffusion {

namespace fs = std::filesystem;

namespace {

// A library several folders deep is normal (models/Lora/characters/x); deeper is a loop that
// inode tracking missed (e.g. a bind mount) or a tree nobody means to scan.
constexpr int kMaxDepth = 32;
constexpr std::uintmax_t kMaxModelIndexBytes = 1 << 20;

std::string lower(std::string s)
{
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

bool isModelFile(const fs::path& p)
{
    const std::string ext = lower(p.extension().string());
    return ext == ".safetensors" || ext == ".ckpt" || ext == ".pt" || ext == ".pth" || ext == ".bin";
}

std::string kindLabel(ModelKind k)
{
    switch (k) {
    case ModelKind::Checkpoint: return "Checkpoints";
    case ModelKind::Vae: return "VAE";
    case ModelKind::Lora: return "LoRA";
    case ModelKind::Embedding: return "Embeddings";
    }
    return {};
}

std::string rangeText(std::size_t lo, std::size_t hi)
{
    return lo == hi ? std::to_string(lo) : std::to_string(lo) + "–" + std::to_string(hi);
}

ModelInfo diffusersInfo(const fs::path& dir)
{
    ModelInfo info;
    info.format = "diffusers folder";
    const fs::path index = dir / "model_index.json";
    std::error_code ec;
    const auto bytes = fs::file_size(index, ec);
    if (ec || bytes > kMaxModelIndexBytes) {
        info.problem = "model_index.json cannot be read" + (ec ? ": " + ec.message() : " (larger than 1 MiB)");
        return info;
    }
    std::ifstream in(index, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (json.is_discarded() || !json.is_object()) {
        info.problem = "model_index.json is not a JSON object";
        return info;
    }
    for (const auto& [k, v] : json.items())
        info.metadata[k] = v.is_string() ? v.get<std::string>() : v.dump();
    const std::string cls = json.value("_class_name", std::string());
    if (cls.find("XL") != std::string::npos) info.detectedType = "SDXL checkpoint (not supported)";
    else if (cls.find("Inpaint") != std::string::npos) info.detectedType = "SD 1.x inpainting checkpoint";
    else if (cls == "StableDiffusionPipeline") info.detectedType = "SD 1.x checkpoint";
    else info.detectedType = cls.empty() ? "diffusers pipeline" : "diffusers " + cls;
    info.details = "diffusers folder";
    return info;
}

struct Walker {
    const ScanCallbacks& cb;
    ScanResult& out;
    std::size_t found = 0;
    bool stopped = false;

    bool cancelled()
    {
        if (!stopped && cb.cancelled && cb.cancelled()) stopped = true;
        return stopped;
    }

    void add(ModelEntry e)
    {
        if (cb.readInfo) e.info = e.diffusersFolder ? diffusersInfo(e.path) : readModelInfo(e.path);
        out.entries.push_back(std::move(e));
        ++found;
        if (cb.progress) cb.progress(found, out.entries.back().path);
    }

    // A whole pipeline is a checkpoint, whichever folder it was found in.
    ModelEntry diffusersEntry(const fs::path& dir, const fs::path& root)
    {
        ModelEntry e;
        e.name = dir.filename().string();
        e.path = dir.string();
        e.relativePath = dir.lexically_relative(root).string();
        e.kind = ModelKind::Checkpoint;
        e.diffusersFolder = true;
        std::error_code ec;
        // Not through directory symlinks: the Hugging Face cache links files, never folders, into snapshots.
        for (fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end;
             !ec && it != end; it.increment(ec)) {
            if (it.depth() > kMaxDepth) it.disable_recursion_pending();
            std::error_code fe;
            if (!it->is_regular_file(fe)) continue;
            const auto bytes = it->file_size(fe);
            if (fe) continue;
            e.size += bytes;
            const auto t = it->last_write_time(fe);
            if (!fe) e.mtimeNs = std::max(e.mtimeNs, unixNanoseconds(t));
        }
        return e;
    }

    void walk(const ModelFolder& folder)
    {
        if (folder.path.empty()) return;
        const fs::path root = fs::absolute(fs::path(folder.path)).lexically_normal();
        std::error_code ec;
        if (!fs::is_directory(root, ec)) {
            out.problems.push_back(kindLabel(folder.kind) + " folder " + root.string() + " does not exist");
            return;
        }
        std::set<std::pair<dev_t, ino_t>> seen;  // each directory once, however many links lead to it
        std::vector<std::pair<fs::path, int>> stack{{root, 0}};
        while (!stack.empty() && !cancelled()) {
            auto [dir, depth] = stack.back();
            stack.pop_back();
            struct stat st {};
            if (::stat(dir.c_str(), &st) != 0) continue;
            if (!seen.insert({st.st_dev, st.st_ino}).second) {
                out.problems.push_back(dir.string() + ": leads back to a folder already scanned (a symlink loop?); skipped");
                continue;
            }
            if (depth > kMaxDepth) {
                out.problems.push_back(dir.string() + ": more than " + std::to_string(kMaxDepth) + " folders deep; skipped");
                continue;
            }
            fs::directory_iterator it(dir, ec);
            if (ec) {
                out.problems.push_back("cannot read folder " + dir.string() + ": " + ec.message());
                ec.clear();
                continue;
            }
            std::vector<fs::path> subdirs;
            for (fs::directory_iterator end; it != end && !cancelled(); it.increment(ec)) {
                const fs::path p = it->path();
                std::error_code se;
                const auto status = it->status(se);  // follows symlinks; a dangling one fails and is skipped
                if (se) continue;
                if (fs::is_directory(status)) {
                    // Hidden folders are tool state (.git, .cache, .ipynb_checkpoints), never a model someone picks.
                    if (p.filename().string().starts_with('.')) continue;
                    if (fs::exists(p / "model_index.json", se)) add(diffusersEntry(p, root));
                    else subdirs.push_back(p);
                } else if (fs::is_regular_file(status) && isModelFile(p)) {
                    ModelEntry e;
                    e.name = p.stem().string();
                    e.path = p.string();
                    e.relativePath = p.lexically_relative(root).string();
                    e.kind = folder.kind;
                    const auto bytes = it->file_size(se);
                    e.size = se ? 0 : bytes;  // the error value is uintmax_t(-1)
                    const auto time = it->last_write_time(se);
                    if (!se) e.mtimeNs = unixNanoseconds(time);
                    add(std::move(e));
                }
            }
            if (ec) {
                out.problems.push_back("stopped reading folder " + dir.string() + ": " + ec.message());
                ec.clear();
            }
            // Reverse, so the stack yields subfolders in the order the directory listed them.
            for (auto s = subdirs.rbegin(); s != subdirs.rend(); ++s) stack.push_back({*s, depth + 1});
        }
    }
};

}  // namespace

std::string_view modelKindId(ModelKind kind)
{
    switch (kind) {
    case ModelKind::Checkpoint: return "checkpoints";
    case ModelKind::Vae: return "vae";
    case ModelKind::Lora: return "loras";
    case ModelKind::Embedding: return "embeddings";
    }
    return {};
}

std::optional<ModelKind> modelKindFromId(std::string_view id)
{
    for (auto k : kModelKinds)
        if (modelKindId(k) == id) return k;
    return std::nullopt;
}

Result<ScanResult> scanModelFolders(const std::vector<ModelFolder>& folders, const ScanCallbacks& callbacks)
{
    ScanResult out;
    Walker walker{callbacks, out};
    try {
        for (const auto& f : folders) {
            walker.walk(f);
            if (walker.cancelled()) return makeError("the scan was cancelled");
        }
    } catch (const std::exception& e) {
        return makeError(std::string("the model folders could not be scanned: ") + e.what());
    }
    std::stable_sort(out.entries.begin(), out.entries.end(), [](const ModelEntry& a, const ModelEntry& b) {
        if (a.kind != b.kind) return a.kind < b.kind;
        return lower(a.relativePath) < lower(b.relativePath);
    });
    return out;
}

void detectModelType(const std::vector<TensorShape>& tensors, ModelInfo& info)
{
    auto any = [&](std::string_view prefix) {
        return std::any_of(tensors.begin(), tensors.end(), [&](const TensorShape& t) { return t.name.starts_with(prefix); });
    };
    auto find = [&](std::string_view name) -> const TensorShape* {
        for (const auto& t : tensors)
            if (t.name == name) return &t;
        return nullptr;
    };

    if (any("conditioner.embedders.")) {
        info.detectedType = "SDXL checkpoint (not supported)";
        return;
    }

    // kohya / A1111 LoRA: lora_unet_* and lora_te_* (SDXL: lora_te1_, lora_te2_), rank = lora_down rows.
    std::size_t modules = 0, lo = SIZE_MAX, hi = 0;
    bool kohya = false, xl = false;
    for (const auto& t : tensors) {
        const bool k = t.name.starts_with("lora_unet_") || t.name.starts_with("lora_te");
        const bool down = t.name.ends_with(".lora_down.weight") || t.name.ends_with(".lora_A.weight") ||
                          t.name.ends_with(".lora.down.weight");
        if (!down) continue;
        kohya = kohya || k;
        xl = xl || t.name.starts_with("lora_te2_");
        ++modules;
        if (!t.shape.empty() && t.shape[0] > 0) {
            lo = std::min(lo, static_cast<std::size_t>(t.shape[0]));
            hi = std::max(hi, static_cast<std::size_t>(t.shape[0]));
        }
    }
    if (modules > 0) {
        auto base = info.metadata.find("ss_base_model_version");
        xl = xl || (base != info.metadata.end() && base->second.find("sdxl") != std::string::npos);
        info.detectedType = xl ? "LoRA (SDXL, not supported)" : "LoRA";
        info.details = (hi ? "rank " + rangeText(lo, hi) + ", " : std::string()) + std::to_string(modules) + " modules" +
                       (kohya ? "" : " (diffusers keys)");
        return;
    }

    const TensorShape* emb = find("emb_params");
    if (!emb)
        for (const auto& t : tensors)
            if (t.name.starts_with("string_to_param")) emb = &t;
    if (emb) {
        const auto& s = emb->shape;
        const std::int64_t vectors = s.size() >= 2 ? s[0] : 1, width = s.empty() ? 0 : s.back();
        info.detectedType = "Textual inversion embedding";
        info.details = std::to_string(vectors) + (vectors == 1 ? " vector × " : " vectors × ") + std::to_string(width);
        return;
    }
    if (find("clip_l") && find("clip_g")) {
        info.detectedType = "Textual inversion embedding (SDXL, not supported)";
        return;
    }

    if (const TensorShape* conv = find("model.diffusion_model.input_blocks.0.0.weight")) {
        const std::int64_t in = conv->shape.size() == 4 ? conv->shape[1] : 0;
        const bool sd2 = any("cond_stage_model.model.");
        const std::string family = sd2 ? "SD 2.x" : "SD 1.x";
        const std::string unsupported = sd2 ? " (not supported)" : "";
        if (in == 4) info.detectedType = family + " checkpoint" + unsupported;
        else if (in == 9) info.detectedType = family + " inpainting checkpoint" + unsupported;
        else info.detectedType = family + " checkpoint with " + std::to_string(in) + " input channels (not supported)";
        std::string parts = "UNet";
        if (any("cond_stage_model.")) parts += ", text encoder";
        if (any("first_stage_model.")) parts += ", VAE";
        info.details = parts + ", " + std::to_string(in) + " input channels";
        return;
    }

    // A VAE alone: the LDM layout (encoder./decoder./quant_conv./post_quant_conv.) or the same under
    // first_stage_model., and nothing else.
    bool vae = !tensors.empty(), coder = false;
    for (const auto& t : tensors) {
        std::string_view n = t.name;
        if (n.starts_with("first_stage_model.")) n.remove_prefix(18);
        if (n.starts_with("encoder.") || n.starts_with("decoder.")) coder = true;
        else if (!n.starts_with("quant_conv.") && !n.starts_with("post_quant_conv.")) vae = false;
    }
    if (vae && coder) {
        info.detectedType = "VAE";
        return;
    }
    info.detectedType = "";
    info.details = "unknown layout";
}

ModelInfo readModelInfo(const std::string& path)
{
    ModelInfo info;
    try {
        std::error_code ec;
        if (fs::is_directory(path, ec)) {
            if (fs::exists(fs::path(path) / "model_index.json", ec)) return diffusersInfo(path);
            info.format = "folder";
            info.problem = "a folder without model_index.json is not a diffusers model";
            return info;
        }
        if (lower(fs::path(path).extension().string()) != ".safetensors") {
            info.format = "pickle";
            info.details = "pickle file: metadata not read";
            return info;
        }
        info.format = "safetensors";
        // The map is only paged in where parsing touches it: the header, at most kMaxSafetensorsHeader
        // bytes; tensor data is never read, so a 7 GB checkpoint costs its header.
        auto file = io::SafetensorsFile::open(path);
        if (!file) {
            info.problem = file.error().what;
            return info;
        }
        const auto& index = file->index();
        info.metadata = index.metadata;
        info.tensorCount = index.tensors.size();
        std::vector<TensorShape> shapes;
        shapes.reserve(index.tensors.size());
        for (const auto& t : index.tensors) {
            ++info.dtypes[std::string(io::dtypeName(t.dtype))];
            info.parameterCount += static_cast<std::uint64_t>(t.numel());
            shapes.push_back({t.name, t.shape});
        }
        detectModelType(shapes, info);
    } catch (const std::exception& e) {
        info.problem = std::string("the header could not be read: ") + e.what();
    }
    return info;
}

}  // namespace kiln::diffusion
