// What every op file needs: size checks that name the op, and grid arithmetic.
#pragma once

#include "kiln/result.h"
#include "vulkan/dispatch.h"
#include "vulkan/memory.h"
#include "vulkan/recorder.h"

#include <cstdint>
#include <string>

namespace kiln::vk {

// Activations that ops can fuse into their epilogue (and the unary op applies alone).
// The numbers are the shaders' codes; keep them in step with shaders/activation.glsl.
enum class Activation : std::uint32_t {
    None = 0,
    ReLU = 1,
    GELU = 2,      // exact, with erf (torch's default)
    GELUTanh = 3,  // torch's approximate="tanh"
    SiLU = 4,
    Sigmoid = 5,
    Tanh = 6,
    LeakyReLU = 7,  // slope in the op's activation parameter
};

inline std::uint32_t ceilDiv(std::uint64_t a, std::uint64_t b)
{
    return std::uint32_t((a + b - 1) / b);
}

// Error when `region` holds fewer than `floats` floats: "conv2d: weight holds 10 floats, needs 12".
inline Result<void> checkRegion(const Region& region, std::uint64_t floats, const char* name, const std::string& op)
{
    if (!region.valid()) return makeError(std::string(name) + " is missing", "Vulkan op " + op);
    if (region.floats() < floats)
        return makeError(std::string(name) + " holds " + std::to_string(region.floats()) + " floats, needs " +
                             std::to_string(floats),
                         "Vulkan op " + op);
    return success();
}

// A 1-D launch of `items` invocations in groups of `local`, laid out by gridFor (shaders
// linearise with gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x and bounds-check).
inline Result<Grid> linearGrid(Recorder& rec, std::uint64_t items, std::uint32_t local)
{
    return gridFor((items + local - 1) / local, rec.context().limits().maxComputeWorkGroupCount);
}

}  // namespace kiln::vk
