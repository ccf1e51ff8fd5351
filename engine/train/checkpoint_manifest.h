// checkpoint.json: which checkpoint files in a run's folder are complete and where training
// stands in them. It is written (atomically) only after the files it names are on disk, so a
// crash at any moment leaves a manifest that points at a whole checkpoint. Standard library +
// nlohmann-json only.
#pragma once

#include "kiln/result.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kiln::train {

inline constexpr const char* kManifestName = "checkpoint.json";
inline constexpr int kManifestVersion = 1;

struct CheckpointRecord {
    std::string model;      // file name in the folder: the module's parameters and buffers
    std::string optimizer;  // file name in the folder: optimizer state (empty for the best)
    std::int64_t step = 0;          // optimizer steps done
    std::int64_t epoch = 0;         // the epoch in progress (0-based)
    std::int64_t batchInEpoch = 0;  // batches of that epoch done
    double valLoss = 0;             // best only: the validation loss that made it the best
    // The epoch's running sums, so train/epoch_loss and train/accuracy stay whole across a resume.
    double epochLossSum = 0;
    std::int64_t epochBatches = 0, epochCorrect = 0, epochCount = 0;
};

struct CheckpointManifest {
    int version = kManifestVersion;
    std::string optimizerId;                 // "optimizer.adamw", ...
    std::vector<CheckpointRecord> steps;     // oldest first; back() is where a resume starts
    std::optional<CheckpointRecord> best;
    std::vector<std::string> classNames;     // classification runs
    std::string vocab;                       // character models: CharVocab::toString()

    const CheckpointRecord* last() const { return steps.empty() ? nullptr : &steps.back(); }
};

// nullopt when the folder has no manifest yet; an error when it has a broken one.
Result<std::optional<CheckpointManifest>> readManifest(const std::string& dir);
Result<void> writeManifest(const std::string& dir, const CheckpointManifest& manifest);

}  // namespace kiln::train
