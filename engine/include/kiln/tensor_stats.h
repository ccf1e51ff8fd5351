// Per-tensor statistics of a weights file: the quick health check before training or merging
// (a NaN in one LoRA layer ruins every image generated with it).
#pragma once

#include "kiln/job.h"
#include "kiln/result.h"

#include <cstdint>
#include <string>
#include <vector>

namespace kiln {

struct TensorStats {
    std::string name;
    std::string dtype;
    std::int64_t elements = 0;
    std::int64_t nonFinite = 0;  // NaN and +-Inf
    double min = 0, max = 0, mean = 0, std = 0;  // over the finite values
};

// Reads every tensor (a job: reports progress per tensor, stops when cancelled).
Result<std::vector<TensorStats>> computeTensorStats(const std::string& path, JobContext& ctx);

}  // namespace kiln
