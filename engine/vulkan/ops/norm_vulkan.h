// Softmax and the normalizations, each over contiguous groups of a row-major tensor.
#pragma once

#include "vulkan/ops/op_common.h"

namespace kiln::vk {

// Softmax over the middle dimension of x viewed as [outer, dim, inner] (torch::softmax(x, d)).
Result<void> softmaxVulkan(Recorder& rec, const Region& x, const Region& out, std::uint64_t outer, std::uint32_t dim,
                           std::uint64_t inner);

// Over the last `cols` of each of `rows` rows; weight/bias [cols] or null.
Result<void> layerNormVulkan(Recorder& rec, const Region& x, const Region* weight, const Region* bias,
                             const Region& out, std::uint64_t rows, std::uint32_t cols, float eps);
// x / sqrt(mean(x^2) + eps) * weight over the last `cols`; weight [cols] or null.
Result<void> rmsNormVulkan(Recorder& rec, const Region& x, const Region* weight, const Region& out, std::uint64_t rows,
                           std::uint32_t cols, float eps);
// torch::group_norm on x [batch, channels, spatial...] with `spatial` the product of the rest;
// weight/bias [channels] or null.
Result<void> groupNormVulkan(Recorder& rec, const Region& x, const Region* weight, const Region* bias,
                             const Region& out, std::uint32_t batch, std::uint32_t channels, std::uint64_t spatial,
                             std::uint32_t groups, float eps);

}  // namespace kiln::vk
