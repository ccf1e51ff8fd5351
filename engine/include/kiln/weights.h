// What a weights file holds, for `kiln-cli inspect` and the studio's Weights panel.
#pragma once

#include "kiln/result.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace kiln {

struct TensorSummary {
    std::string name;
    std::string dtype;  // safetensors names: F32, F16, BF16, I64, ...
    std::vector<std::int64_t> shape;
    std::uint64_t bytes = 0;
};

struct WeightsSummary {
    std::string path;
    std::string format;  // "safetensors", "PyTorch zip checkpoint", ...
    std::uint64_t fileBytes = 0;
    std::vector<TensorSummary> tensors;
    // safetensors __metadata__, or a checkpoint's non-tensor entries (epoch, inert objects, ...)
    std::vector<std::pair<std::string, std::string>> metadata;

    std::uint64_t totalBytes() const;
    std::uint64_t totalElements() const;
};

// Reads only headers and pickles, never the tensor data, so it is fast on multi-GB files.
Result<WeightsSummary> inspectWeights(const std::string& path);

std::string formatShape(const std::vector<std::int64_t>& shape);  // [320, 4, 3, 3]
std::string formatBytes(std::uint64_t bytes);                     // 1.6 GiB
std::string formatCount(std::uint64_t n);                         // 859.5 M

}  // namespace kiln
