// What every op file needs: size checks that name the op, and grid arithmetic.
#pragma once

#include "kiln/result.h"
#include "vulkan/dispatch.h"
#include "vulkan/memory.h"
#include "vulkan/recorder.h"

#include <algorithm>
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

// Its name in dispatch labels (profiles) and test rows.
inline const char* activationName(Activation act)
{
    switch (act) {
    case Activation::None: return "identity";
    case Activation::ReLU: return "relu";
    case Activation::GELU: return "gelu";
    case Activation::GELUTanh: return "gelu_tanh";
    case Activation::SiLU: return "silu";
    case Activation::Sigmoid: return "sigmoid";
    case Activation::Tanh: return "tanh";
    case Activation::LeakyReLU: return "leaky_relu";
    }
    return "unknown";
}

// How a weight-heavy op (GEMM, convolution) stores its weight operand. F16 is IEEE half, read
// through 16-bit storage (Context::supportsFp16Storage) and widened on load: half the memory,
// the same fp32 arithmetic. Activations, biases and outputs are always fp32.
enum class WeightType { F32, F16 };

inline const char* weightTypeName(WeightType t) { return t == WeightType::F16 ? "fp16" : "fp32"; }
inline std::uint64_t weightBytes(std::uint64_t count, WeightType t) { return count * (t == WeightType::F16 ? 2 : 4); }

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

// Like checkRegion for a weight operand of `count` elements of `type`; refuses F16 on a device
// whose shaders cannot read 16-bit storage.
inline Result<void> checkWeights(Recorder& rec, const Region& region, std::uint64_t count, WeightType type,
                                 const char* name, const std::string& op)
{
    if (type == WeightType::F32) return checkRegion(region, count, name, op);
    if (!rec.context().supportsFp16Storage())
        return makeError(std::string("fp16 ") + name + " needs 16-bit storage buffers, which " +
                             rec.context().deviceInfo().name + " does not support",
                         "Vulkan op " + op, "store the weights as fp32");
    if (!region.valid()) return makeError(std::string(name) + " is missing", "Vulkan op " + op);
    if (region.bytes < weightBytes(count, type))
        return makeError(std::string(name) + " holds " + std::to_string(region.bytes / 2) + " halves, needs " +
                             std::to_string(count),
                         "Vulkan op " + op);
    return success();
}

// The first `count` weights of `region`, which checkWeights accepted. An fp16 range is rounded
// up to whole 4-byte words where the region has them.
inline Region weightSlice(const Region& region, std::uint64_t count, WeightType type)
{
    if (type == WeightType::F32) return region.slice(0, std::size_t(count));
    Region r = region;
    r.bytes = std::min<VkDeviceSize>(region.bytes, (weightBytes(count, type) + 3) / 4 * 4);
    return r;
}

// A 1-D launch of `items` invocations in groups of `local`, laid out by gridFor (shaders
// linearise with gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x and bounds-check).
inline Result<Grid> linearGrid(Recorder& rec, std::uint64_t items, std::uint32_t local)
{
    return gridFor((items + local - 1) / local, rec.context().limits().maxComputeWorkGroupCount);
}

}  // namespace kiln::vk
