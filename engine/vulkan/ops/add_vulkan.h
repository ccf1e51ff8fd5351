// Element-wise add on the Vulkan backend, with torch::add's meaning.
#pragma once

#include "kiln/result.h"
#include "vulkan/buffer.h"
#include "vulkan/context.h"

#include <cstdint>

namespace kiln::vk {

// out[i] = a[i] + alpha * b[i] for i < n, as torch::add(a, b, alpha) on contiguous fp32.
// `out` may be `a` or `b` (in place). n = 0 does nothing. Each buffer must hold n floats;
// n is limited by the device's maxStorageBufferRange (128 MiB = 32 Mi floats on lavapipe).
Result<void> addVulkan(Context& ctx, const Buffer& a, const Buffer& b, Buffer& out, float alpha, std::uint32_t n);

}  // namespace kiln::vk
