#include "train/checkpoint.h"

#include <cstdio>
#include <filesystem>

namespace kiln::train {

namespace fs = std::filesystem;

io::NamedTensors moduleState(const torch::nn::Module& module)
{
    io::NamedTensors out;
    for (const auto& p : module.named_parameters(true)) out.emplace_back(p.key(), p.value());
    for (const auto& b : module.named_buffers(true))
        if (b.value().defined()) out.emplace_back(b.key(), b.value());
    return out;
}

Result<void> saveModuleState(const std::string& path, const torch::nn::Module& module,
                             const std::map<std::string, std::string>& metadata)
{
    auto meta = metadata;
    meta.emplace("format", "pt");  // what other safetensors tools expect of a state_dict
    return io::saveSafetensors(path, moduleState(module), meta);
}

Result<void> loadModuleState(const std::string& path, torch::nn::Module& module)
{
    auto file = io::SafetensorsFile::open(path);
    if (!file) return file.error();
    std::vector<std::string> missing, mismatched;
    std::vector<std::pair<torch::Tensor, torch::Tensor>> copies;
    for (auto& [name, target] : moduleState(module)) {
        const auto* e = file->index().find(name);
        if (!e) { missing.push_back(name); continue; }
        auto t = io::loadTensor(*file, *e, target.scalar_type());
        if (!t) return t.error();
        if (t->sizes() != target.sizes()) { mismatched.push_back(name); continue; }
        copies.emplace_back(target, std::move(*t));
    }
    auto list = [](const std::vector<std::string>& v) {
        std::string s;
        for (std::size_t i = 0; i < v.size() && i < 3; ++i) s += (i ? ", " : "") + v[i];
        return v.size() > 3 ? s + " and " + std::to_string(v.size() - 3) + " more" : s;
    };
    if (!missing.empty())
        return makeError("the checkpoint lacks " + list(missing), path, "it was saved from a different model");
    if (!mismatched.empty())
        return makeError("the checkpoint's shapes differ for " + list(mismatched), path, "it was saved from a different model");
    // Only now, so a refused file leaves the model as it was.
    torch::NoGradGuard noGrad;
    for (auto& [target, value] : copies) target.copy_(value);
    return success();
}

Result<CheckpointFolder> CheckpointFolder::open(const std::string& dir, bool resume)
{
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return makeError("cannot create the checkpoint folder: " + ec.message(), dir);
    CheckpointFolder f;
    f.dir_ = dir;
    if (resume) {
        auto m = readManifest(dir);
        if (!m) return m.error();
        if (*m) f.manifest_ = std::move(**m);
    }
    return f;
}

std::string CheckpointFolder::pathOf(const std::string& file) const { return (fs::path(dir_) / file).string(); }

std::string CheckpointFolder::lastPath() const
{
    return manifest_.last() ? pathOf(manifest_.last()->model) : std::string();
}

std::string CheckpointFolder::bestPath() const { return manifest_.best ? pathOf(manifest_.best->model) : std::string(); }

Result<std::string> CheckpointFolder::saveStep(const torch::nn::Module& module, const io::NamedTensors& optimizerState,
                                               const CheckpointRecord& recordIn, int keepLast)
{
    char stem[32];
    std::snprintf(stem, sizeof stem, "step-%08lld", static_cast<long long>(recordIn.step));
    CheckpointRecord record = recordIn;
    record.model = std::string(stem) + ".safetensors";
    record.optimizer = std::string(stem) + ".optim.safetensors";
    const std::map<std::string, std::string> meta = {{"kiln.step", std::to_string(record.step)},
                                                     {"kiln.epoch", std::to_string(record.epoch)}};
    if (auto r = saveModuleState(pathOf(record.model), module, meta); !r) return r.error();
    auto optMeta = meta;
    optMeta["kiln.optimizer"] = manifest_.optimizerId;
    if (auto r = io::saveSafetensors(pathOf(record.optimizer), optimizerState, optMeta); !r) return r.error();

    auto& steps = manifest_.steps;
    std::erase_if(steps, [&](const CheckpointRecord& r) { return r.step == record.step; });
    steps.push_back(record);
    std::vector<CheckpointRecord> dropped;
    while (static_cast<int>(steps.size()) > std::max(keepLast, 1)) {
        dropped.push_back(steps.front());
        steps.erase(steps.begin());
    }
    if (auto r = writeManifest(dir_, manifest_); !r) return r.error();
    // After the manifest stops naming them; a crash before this only leaves stray files.
    for (const auto& d : dropped) {
        std::error_code ec;
        fs::remove(pathOf(d.model), ec);
        fs::remove(pathOf(d.optimizer), ec);
    }
    return pathOf(record.model);
}

Result<std::string> CheckpointFolder::saveBest(const torch::nn::Module& module, const CheckpointRecord& recordIn)
{
    CheckpointRecord record = recordIn;
    record.model = "best.safetensors";
    record.optimizer.clear();
    const std::map<std::string, std::string> meta = {{"kiln.step", std::to_string(record.step)},
                                                     {"kiln.epoch", std::to_string(record.epoch)},
                                                     {"kiln.val_loss", std::to_string(record.valLoss)}};
    if (auto r = saveModuleState(pathOf(record.model), module, meta); !r) return r.error();
    manifest_.best = record;
    if (auto r = writeManifest(dir_, manifest_); !r) return r.error();
    return pathOf(record.model);
}

}  // namespace kiln::train
