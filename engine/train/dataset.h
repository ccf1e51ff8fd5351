// Datasets held as tensors in memory: the whole of Fashion-MNIST is 47 MB as bytes, so a batch
// is one index_select away and no loader thread is needed. Images stay uint8 until a batch is
// drawn (a quarter of the memory of float).
#pragma once

#include "kiln/result.h"
#include "kiln/train_config.h"
#include "train/char_vocab.h"

#include <functional>
#include <memory>
#include <torch/types.h>

namespace kiln::train {

struct Dataset {
    // uint8 images [N, C, H, W] (scaled to [0, 1] per batch), int64 tokens [N, T], or float features.
    torch::Tensor inputs;
    // int64 classes [N], int64 next tokens [N, T], or float values [N, ...].
    torch::Tensor targets;

    std::int64_t size() const { return inputs.defined() ? inputs.size(0) : 0; }
    Dataset subset(const torch::Tensor& indices) const;
    bool imageInputs() const { return inputs.defined() && inputs.scalar_type() == torch::kUInt8 && inputs.dim() == 4; }
};

struct DataInfo {
    DatasetKind kind = DatasetKind::Custom;
    std::vector<std::string> classNames;       // classification: index -> name
    std::shared_ptr<const CharVocab> vocab;    // text: token -> character
    std::int64_t skippedFiles = 0;             // image folder: files that do not decode
    std::vector<std::string> skippedExamples;  // the first few of them, for the message
    std::string description;                   // one line for the log and the UI
};

struct TrainData {
    Dataset train;
    Dataset validation;
    DataInfo info;
};

// A seeded permutation of 0..n-1 (Fisher-Yates on mt19937_64, the same on every platform).
std::vector<std::int64_t> seededPermutation(std::int64_t n, std::uint64_t seed);
// Splits off round(fraction * size) random items for validation (at least one of each side
// when the data has two or more items and fraction > 0).
std::pair<Dataset, Dataset> splitDataset(const Dataset& all, double validationFraction, std::uint64_t seed);
// A random subset of at most n items (n <= 0: all of them).
Dataset takeRandom(const Dataset& d, std::int64_t n, std::uint64_t seed);

Result<TrainData> loadFashionMnist(const DataConfig& config);
// `cancelled` is polled between files; a cancelled load returns an error saying so.
Result<TrainData> loadImageFolder(const DataConfig& config, const std::function<bool()>& cancelled = {});
Result<TrainData> loadTextDataset(const DataConfig& config);
// Dispatches on config.kind (Custom is an error: such data is passed to the trainer directly).
Result<TrainData> loadData(const DataConfig& config, const std::function<bool()>& cancelled = {});

}  // namespace kiln::train
