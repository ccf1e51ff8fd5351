// Matrix multiply with a fused bias and activation: Linear on the Vulkan backend.
#pragma once

#include "vulkan/ops/op_common.h"

namespace kiln::vk {

struct GemmShape {
    std::uint32_t m = 0, n = 0, k = 0;
};

// out[m, n] = act(sum_k a[m, k] * B[k, n] + bias[n]), row-major fp32. B is `b` read as [n, k]
// (a Linear weight, torch's a @ b.T) when transB, else as [k, n]. `bias` may be null.
// Tiled with shared memory; any m, n, k (not only multiples of the tile). `bType` is how `b` (the
// weight) is stored; F16 is refused on a device without fp16 storage.
Result<void> gemmVulkan(Recorder& rec, const Region& a, const Region& b, const Region* bias, const Region& out,
                        GemmShape shape, bool transB, Activation act = Activation::None, float actParam = 0.01f,
                        WeightType bType = WeightType::F32);

}  // namespace kiln::vk
