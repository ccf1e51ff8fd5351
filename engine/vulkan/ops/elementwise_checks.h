// Argument checks shared by the element-wise and normalization op files (not a public header).
#pragma once

#include "vulkan/ops/op_common.h"

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>

namespace kiln::vk {

// The product of sizes, or nullopt when it does not fit 64 bits (no device could hold it).
inline std::optional<std::uint64_t> checkedProduct(std::initializer_list<std::uint64_t> sizes)
{
    std::uint64_t p = 1;
    for (std::uint64_t s : sizes)
        if (__builtin_mul_overflow(p, s, &p)) return std::nullopt;
    return p;
}
template <typename... T>
std::optional<std::uint64_t> checkedProduct(T... sizes)
{
    return checkedProduct({std::uint64_t(sizes)...});
}

// The shaders index with 32-bit integers; the largest bindable buffer (at most 4 GiB, so
// under 2^30 floats) keeps every index in range. Checked before any region arithmetic.
inline Result<void> checkBindable(Recorder& rec, std::uint64_t floats, const char* name, const std::string& op)
{
    const std::uint64_t range = rec.context().limits().maxStorageBufferRange;
    if (floats > range / 4)
        return makeError(std::string(name) + " has " + std::to_string(floats) + " floats; the device binds at most " +
                             std::to_string(range / 4) + " in one buffer",
                         "Vulkan op " + op, "split the tensor into smaller pieces");
    return success();
}

// `in` and `out` may be the same range (in place) when `inPlaceOk`, but must not overlap
// otherwise: an invocation would read what another one already overwrote.
inline Result<void> checkAlias(const Region& in, const Region& out, const char* name, const std::string& op,
                               bool inPlaceOk = true)
{
    if (!in.overlaps(out)) return success();
    if (inPlaceOk && in.offset == out.offset && in.bytes == out.bytes) return success();
    const char* why = inPlaceOk ? " without being the same range" : ", which is broadcast";
    return makeError(std::string("out overlaps ") + name + why, "Vulkan op " + op, "write to a separate tensor");
}

inline Result<void> checkActivation(Activation act, const std::string& op)
{
    if (std::uint32_t(act) > std::uint32_t(Activation::LeakyReLU))
        return makeError("unknown activation code " + std::to_string(std::uint32_t(act)), "Vulkan op " + op);
    return success();
}

}  // namespace kiln::vk
