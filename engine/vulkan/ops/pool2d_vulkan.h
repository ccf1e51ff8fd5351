// 2-D pooling on NCHW fp32, with torch's meaning (floor mode; avg counts padding as torch's
// default count_include_pad=true; max ignores padding).
#pragma once

#include "vulkan/ops/op_common.h"

namespace kiln::vk {

enum class PoolKind : std::uint32_t { Max = 0, Avg = 1 };

struct Pool2dParams {
    std::uint32_t planes = 1;  // batch * channels
    std::uint32_t inH = 1, inW = 1, kernel = 1, stride = 1, pad = 0;
    std::uint32_t outH() const;
    std::uint32_t outW() const;
};

Result<void> pool2dVulkan(Recorder& rec, const Region& x, const Region& out, const Pool2dParams& p, PoolKind kind);
// torch::adaptive_avg_pool2d: window [floor(i*in/out), ceil((i+1)*in/out)).
Result<void> adaptiveAvgPool2dVulkan(Recorder& rec, const Region& x, const Region& out, std::uint32_t planes,
                                     std::uint32_t inH, std::uint32_t inW, std::uint32_t outH, std::uint32_t outW);

}  // namespace kiln::vk
