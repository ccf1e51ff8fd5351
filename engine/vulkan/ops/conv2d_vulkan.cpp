#include "vulkan/ops/conv2d_vulkan.h"

#include <algorithm>
#include <cstdint>
#include <exception>
#include <span>
#include <string>
#include <utility>

namespace kiln::vk {

namespace {

const std::uint32_t kConv2dSpv[] = {
#include "conv2d.spv.inc"
};
const std::uint32_t kConv2dDirectSpv[] = {
#include "conv2d_direct.spv.inc"
};
const std::uint32_t kConvTranspose2dSpv[] = {
#include "conv_transpose2d.spv.inc"
};
const std::uint32_t kConv2dF16wSpv[] = {
#include "conv2d_f16w.spv.inc"
};
const std::uint32_t kConv2dDirectF16wSpv[] = {
#include "conv2d_direct_f16w.spv.inc"
};
const std::uint32_t kConvTranspose2dF16wSpv[] = {
#include "conv_transpose2d_f16w.spv.inc"
};

// One shader's two builds: fp32 weights and fp16 weights (shaders/weights.glsl).
struct Variants {
    const char* key;
    std::span<const std::uint32_t> f32, f16;
};
const Variants kConv2d{"conv2d", kConv2dSpv, kConv2dF16wSpv};
const Variants kConv2dDirect{"conv2d_direct", kConv2dDirectSpv, kConv2dDirectF16wSpv};
const Variants kConvTranspose2d{"conv_transpose2d", kConvTranspose2dSpv, kConvTranspose2dF16wSpv};

constexpr std::uint32_t kTile = 64;          // TM = TN in conv2d.comp
constexpr std::uint32_t kDirectLocal = 256;  // local_size_x of conv2d_direct.comp and conv_transpose2d.comp
// conv2d.comp computes 64 output channels of a group per tile whether they exist or not; with
// this few per group (depthwise: 1) one output per invocation wastes far less.
constexpr std::uint32_t kDirectMaxChannelsPerGroup = 8;

// Laid out as shaders/conv_push.glsl (std430, 26 four-byte members).
struct ConvPush {
    std::uint32_t batch, inC, inH, inW;
    std::uint32_t outC, outH, outW, groups;
    std::uint32_t kH, kW, strideH, strideW;
    std::uint32_t padH, padW, dilH, dilW;
    std::uint32_t icg, ocg, K, N;
    std::uint32_t tilesN, tiles;
    std::uint32_t total;
    std::uint32_t hasBias, act;
    float actParam;
};
static_assert(sizeof(ConvPush) == 104);

std::uint32_t clampSize(std::int64_t v)
{
    return v <= 0 || v > std::int64_t(UINT32_MAX) ? 0 : std::uint32_t(v);
}

std::uint32_t convOut(std::uint32_t in, std::uint32_t k, std::uint32_t stride, std::uint32_t pad, std::uint32_t dil)
{
    if (in == 0 || k == 0 || stride == 0 || dil == 0) return 0;
    const std::int64_t room = std::int64_t(in) + 2 * std::int64_t(pad) - (std::int64_t(dil) * (k - 1) + 1);
    return room < 0 ? 0 : clampSize(room / stride + 1);
}

std::uint32_t convTransposedOut(std::uint32_t in, std::uint32_t k, std::uint32_t stride, std::uint32_t pad,
                                std::uint32_t dil, std::uint32_t outPad)
{
    if (in == 0 || k == 0 || stride == 0 || dil == 0) return 0;
    return clampSize((std::int64_t(in) - 1) * stride - 2 * std::int64_t(pad) + std::int64_t(dil) * (k - 1) + outPad +
                     1);
}

std::string dims(std::uint32_t h, std::uint32_t w)
{
    return std::to_string(h) + "x" + std::to_string(w);
}

// Checks the parameters and regions shared by both convolutions and fills the push constants.
Result<ConvPush> prepare(Recorder& rec, const std::string& op, const Region& x, const Region& weight,
                         const Region* bias, const Region& out, const Conv2dParams& p, bool transposed,
                         Activation act, float actParam, WeightType wType)
{
    const std::string where = "Vulkan op " + op;
    if (auto usable = rec.context().checkUsable(); !usable) return usable.error();
    const std::pair<const char*, std::uint32_t> positive[] = {
        {"batch", p.batch},         {"inChannels", p.inChannels}, {"inH", p.inH},
        {"inW", p.inW},             {"outChannels", p.outChannels}, {"kernelH", p.kernelH},
        {"kernelW", p.kernelW},     {"strideH", p.strideH},       {"strideW", p.strideW},
        {"dilationH", p.dilationH}, {"dilationW", p.dilationW},   {"groups", p.groups}};
    for (const auto& [name, value] : positive)
        if (value == 0) return makeError(std::string(name) + " is 0", where);
    if (p.inChannels % p.groups || p.outChannels % p.groups)
        return makeError(std::to_string(p.groups) + " groups do not divide " + std::to_string(p.inChannels) +
                             " input and " + std::to_string(p.outChannels) + " output channels",
                         where);
    if (std::uint32_t(act) > std::uint32_t(Activation::LeakyReLU))
        return makeError("unknown activation code " + std::to_string(std::uint32_t(act)), where);
    if (transposed && (p.outputPadH >= std::max(p.strideH, p.dilationH) ||
                       p.outputPadW >= std::max(p.strideW, p.dilationW)))
        return makeError("output padding " + dims(p.outputPadH, p.outputPadW) +
                             " must be smaller than the stride or the dilation",
                         where);

    const std::uint32_t oh = transposed ? p.transposedOutH() : p.outH();
    const std::uint32_t ow = transposed ? p.transposedOutW() : p.outW();
    if (oh == 0 || ow == 0)
        return makeError("input " + dims(p.inH, p.inW) + " with padding " + dims(p.padH, p.padW) +
                             " gives no output for kernel " + dims(p.kernelH, p.kernelW) + " at dilation " +
                             dims(p.dilationH, p.dilationW) + " and stride " + dims(p.strideH, p.strideW),
                         where);
    // The shaders locate windows with signed 32-bit arithmetic.
    const auto span = [](std::uint32_t in, std::uint32_t outSize, std::uint32_t stride, std::uint32_t pad,
                         std::uint32_t k, std::uint32_t dil) {
        return std::uint64_t(std::max(in, outSize)) * stride + pad + std::uint64_t(k) * dil;
    };
    if (span(p.inH, oh, p.strideH, p.padH, p.kernelH, p.dilationH) >= (1ull << 31) ||
        span(p.inW, ow, p.strideW, p.padW, p.kernelW, p.dilationW) >= (1ull << 31))
        return makeError("the spatial sizes, strides, padding or dilations are too large for the device's indices",
                         where);

    const std::uint64_t icg = p.inChannels / p.groups, ocg = p.outChannels / p.groups;
    const std::uint64_t khw = std::uint64_t(p.kernelH) * p.kernelW;
    const std::uint64_t xFloats = std::uint64_t(p.batch) * p.inChannels * p.inH * p.inW;
    const std::uint64_t wFloats = (transposed ? p.inChannels * ocg : p.outChannels * icg) * khw;
    const std::uint64_t outFloats = std::uint64_t(p.batch) * p.outChannels * oh * ow;
    if (auto r = checkRegion(x, xFloats, "x", op); !r) return r.error();
    if (auto r = checkWeights(rec, weight, wFloats, wType, "weight", op); !r) return r.error();
    if (bias)
        if (auto r = checkRegion(*bias, p.outChannels, "bias", op); !r) return r.error();
    if (auto r = checkRegion(out, outFloats, "out", op); !r) return r.error();
    if (out.overlaps(x) || out.overlaps(weight) || (bias && out.overlaps(*bias)))
        return makeError("out overlaps an input", where, "write the result to a tensor of its own");
    // Only the bytes used are bound, and below this the shaders' 32-bit indices cannot wrap.
    const std::uint64_t maxFloats = rec.context().limits().maxStorageBufferRange / 4;
    for (std::uint64_t floats : {xFloats, wFloats, outFloats})
        if (floats > maxFloats)
            return makeError("a tensor of " + std::to_string(floats) +
                                 " floats exceeds the device's largest storage buffer (" + std::to_string(maxFloats) +
                                 " floats)",
                             where, "use a smaller batch");

    ConvPush push{};
    push.batch = p.batch;
    push.inC = p.inChannels;
    push.inH = p.inH;
    push.inW = p.inW;
    push.outC = p.outChannels;
    push.outH = oh;
    push.outW = ow;
    push.groups = p.groups;
    push.kH = p.kernelH;
    push.kW = p.kernelW;
    push.strideH = p.strideH;
    push.strideW = p.strideW;
    push.padH = p.padH;
    push.padW = p.padW;
    push.dilH = p.dilationH;
    push.dilW = p.dilationW;
    push.icg = std::uint32_t(icg);
    push.ocg = std::uint32_t(ocg);
    push.K = std::uint32_t(icg * khw);  // below wFloats
    push.N = std::uint32_t(std::uint64_t(p.batch) * oh * ow);  // below outFloats
    push.total = std::uint32_t(outFloats);
    push.hasBias = bias ? 1u : 0u;
    push.act = std::uint32_t(act);
    push.actParam = actParam;
    return push;
}

Result<void> record(Recorder& rec, const Variants& shader, WeightType wType, const Region& x, const Region& weight,
                    const Region* bias, const Region& out, const ConvPush& push, Grid grid)
{
    const bool f16 = wType == WeightType::F16;
    const std::string op = std::string(shader.key) + (f16 ? "_f16w" : "");
    auto pipe = rec.pipeline(op, f16 ? shader.f16 : shader.f32, PipelineLayoutSpec{4, sizeof(ConvPush)});
    if (!pipe) return pipe.error();
    const std::uint64_t xFloats = std::uint64_t(push.batch) * push.inC * push.inH * push.inW;
    const std::uint64_t wFloats = std::uint64_t(push.outC) * push.icg * push.kH * push.kW;  // both layouts
    // Without a bias the shaders never read binding 2, but it must hold a valid buffer.
    const Region biasRegion = bias ? bias->slice(0, push.outC) : x.slice(0, 1);
    return rec.dispatch(*pipe.value(),
                        {in(x.slice(0, xFloats)), in(weightSlice(weight, wFloats, wType)), in(biasRegion),
                         vk::out(out.slice(0, push.total))},
                        pushBytes(push), grid, op);
}

// One output per invocation: conv2d_direct.comp and conv_transpose2d.comp.
Result<void> recordPerOutput(Recorder& rec, const Variants& shader, WeightType wType, const Region& x,
                             const Region& weight, const Region* bias, const Region& out, const ConvPush& push)
{
    auto grid = linearGrid(rec, push.total, kDirectLocal);
    if (!grid) return makeError(grid.error().what, std::string("Vulkan op ") + shader.key, grid.error().hint);
    return record(rec, shader, wType, x, weight, bias, out, push, grid.value());
}

}  // namespace

std::uint32_t Conv2dParams::outH() const { return convOut(inH, kernelH, strideH, padH, dilationH); }
std::uint32_t Conv2dParams::outW() const { return convOut(inW, kernelW, strideW, padW, dilationW); }
std::uint32_t Conv2dParams::transposedOutH() const
{
    return convTransposedOut(inH, kernelH, strideH, padH, dilationH, outputPadH);
}
std::uint32_t Conv2dParams::transposedOutW() const
{
    return convTransposedOut(inW, kernelW, strideW, padW, dilationW, outputPadW);
}

Result<void> conv2dVulkan(Recorder& rec, const Region& x, const Region& weight, const Region* bias, const Region& out,
                          const Conv2dParams& p, Activation act, float actParam, WeightType wType)
{
    const std::string op = "conv2d";
    try {
        auto push = prepare(rec, op, x, weight, bias, out, p, false, act, actParam, wType);
        if (!push) return push.error();
        ConvPush& pc = push.value();
        if (pc.ocg <= kDirectMaxChannelsPerGroup)
            return recordPerOutput(rec, kConv2dDirect, wType, x, weight, bias, out, pc);

        const auto& lim = rec.context().limits();
        if (p.groups > lim.maxComputeWorkGroupCount[2])
            return makeError(std::to_string(p.groups) + " groups exceed the device's " +
                                 std::to_string(lim.maxComputeWorkGroupCount[2]) + " workgroups along z",
                             "Vulkan op " + op);
        pc.tilesN = ceilDiv(pc.N, kTile);
        const std::uint64_t tiles = std::uint64_t(ceilDiv(pc.ocg, kTile)) * pc.tilesN;
        pc.tiles = std::uint32_t(tiles);
        auto grid = gridFor(tiles, lim.maxComputeWorkGroupCount);
        if (!grid) return makeError(grid.error().what, "Vulkan op " + op, grid.error().hint);
        Grid g = grid.value();
        g.z = p.groups;
        return record(rec, kConv2d, wType, x, weight, bias, out, pc, g);
    } catch (const std::exception& e) {
        return makeError(std::string("recording failed: ") + e.what(), "Vulkan op " + op);
    }
}

Result<void> convTranspose2dVulkan(Recorder& rec, const Region& x, const Region& weight, const Region* bias,
                                   const Region& out, const Conv2dParams& p, WeightType wType)
{
    const std::string op = "conv_transpose2d";
    try {
        auto push = prepare(rec, op, x, weight, bias, out, p, true, Activation::None, 0.0f, wType);
        if (!push) return push.error();
        return recordPerOutput(rec, kConvTranspose2d, wType, x, weight, bias, out, push.value());
    } catch (const std::exception& e) {
        return makeError(std::string("recording failed: ") + e.what(), "Vulkan op " + op);
    }
}

}  // namespace kiln::vk
