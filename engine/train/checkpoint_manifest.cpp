#include "train/checkpoint_manifest.h"

#include "core/atomic_file.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace kiln::train {

namespace {

using nlohmann::json;

json toJson(const CheckpointRecord& r)
{
    return json{{"model", r.model},
                {"optimizer", r.optimizer},
                {"step", r.step},
                {"epoch", r.epoch},
                {"batch_in_epoch", r.batchInEpoch},
                {"val_loss", r.valLoss},
                {"epoch_loss_sum", r.epochLossSum},
                {"epoch_batches", r.epochBatches},
                {"epoch_correct", r.epochCorrect},
                {"epoch_count", r.epochCount}};
}

CheckpointRecord recordFrom(const json& j)
{
    CheckpointRecord r;
    r.model = j.at("model").get<std::string>();
    r.optimizer = j.value("optimizer", std::string());
    r.step = j.at("step").get<std::int64_t>();
    r.epoch = j.at("epoch").get<std::int64_t>();
    r.batchInEpoch = j.value("batch_in_epoch", std::int64_t{0});
    r.valLoss = j.value("val_loss", 0.0);
    r.epochLossSum = j.value("epoch_loss_sum", 0.0);
    r.epochBatches = j.value("epoch_batches", std::int64_t{0});
    r.epochCorrect = j.value("epoch_correct", std::int64_t{0});
    r.epochCount = j.value("epoch_count", std::int64_t{0});
    // File names only: a manifest must not point outside its folder.
    for (const auto* name : {&r.model, &r.optimizer})
        if (name->find('/') != std::string::npos || *name == "..")
            throw std::runtime_error("a file name with a path in it: " + *name);
    if (r.step < 0 || r.epoch < 0 || r.batchInEpoch < 0) throw std::runtime_error("a negative step or epoch");
    return r;
}

}  // namespace

Result<std::optional<CheckpointManifest>> readManifest(const std::string& dir)
{
    const auto path = (std::filesystem::path(dir) / kManifestName).string();
    if (!std::filesystem::exists(path)) return std::optional<CheckpointManifest>{};
    try {
        std::ifstream f(path);
        const json j = json::parse(f);
        CheckpointManifest m;
        m.version = j.at("version").get<int>();
        if (m.version > kManifestVersion)
            return makeError("written by a newer Kiln (manifest version " + std::to_string(m.version) + ")", path,
                             "update Kiln to resume this run");
        m.optimizerId = j.value("optimizer", std::string());
        for (const auto& s : j.value("steps", json::array())) m.steps.push_back(recordFrom(s));
        if (j.contains("best") && !j["best"].is_null()) m.best = recordFrom(j["best"]);
        m.classNames = j.value("class_names", std::vector<std::string>{});
        m.vocab = j.value("vocab", std::string());
        return std::optional<CheckpointManifest>{std::move(m)};
    } catch (const std::exception& ex) {
        return makeError(std::string("the checkpoint manifest is damaged: ") + ex.what(), path,
                         "delete the folder's checkpoint.json to start over");
    }
}

Result<void> writeManifest(const std::string& dir, const CheckpointManifest& m)
{
    json j{{"version", m.version}, {"format", "kiln.train.checkpoints"}, {"optimizer", m.optimizerId}};
    j["steps"] = json::array();
    for (const auto& s : m.steps) j["steps"].push_back(toJson(s));
    j["best"] = m.best ? toJson(*m.best) : json(nullptr);
    j["class_names"] = m.classNames;
    j["vocab"] = m.vocab;
    const std::string text = j.dump(2) + "\n";
    return writeFileAtomically((std::filesystem::path(dir) / kManifestName).string(),
                               {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
}

}  // namespace kiln::train
