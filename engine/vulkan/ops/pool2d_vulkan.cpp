#include "vulkan/ops/pool2d_vulkan.h"

#include <exception>
#include <string>

namespace kiln::vk {

namespace {

const std::uint32_t kPoolSpv[] = {
#include "pool2d.spv.inc"
};
const std::uint32_t kAdaptiveSpv[] = {
#include "adaptive_avg_pool2d.spv.inc"
};

constexpr std::uint32_t kLocalSize = 256;  // local_size_x of both shaders

struct PoolPush {
    std::uint32_t total;
    std::uint32_t inH, inW, outH, outW;
    std::uint32_t kernel, stride, pad;
    std::uint32_t kind;
};
static_assert(sizeof(PoolPush) == 36);

struct AdaptivePush {
    std::uint32_t total;
    std::uint32_t inH, inW, outH, outW;
};
static_assert(sizeof(AdaptivePush) == 20);

// Floor mode, as torch's default; 0 where no window fits (or the stride is 0), which the op refuses.
std::uint32_t pooledSize(std::uint32_t in, std::uint32_t kernel, std::uint32_t stride, std::uint32_t pad)
{
    const std::uint64_t padded = std::uint64_t(in) + 2 * std::uint64_t(pad);
    if (stride == 0 || kernel == 0 || padded < kernel) return 0;
    return std::uint32_t((padded - kernel) / stride + 1);
}

}  // namespace

std::uint32_t Pool2dParams::outH() const { return pooledSize(inH, kernel, stride, pad); }
std::uint32_t Pool2dParams::outW() const { return pooledSize(inW, kernel, stride, pad); }

Result<void> pool2dVulkan(Recorder& rec, const Region& x, const Region& y, const Pool2dParams& p, PoolKind kind)
{
    const std::string op = kind == PoolKind::Max ? "max_pool2d" : "avg_pool2d";
    const std::string where = "Vulkan op " + op;
    try {
        if (kind != PoolKind::Max && kind != PoolKind::Avg) return makeError("unknown pooling kind", where);
        if (p.kernel == 0 || p.stride == 0)
            return makeError("kernel " + std::to_string(p.kernel) + " and stride " + std::to_string(p.stride) +
                                 " must both be at least 1",
                             where);
        if (p.inH == 0 || p.inW == 0)
            return makeError("the input plane is " + std::to_string(p.inH) + "x" + std::to_string(p.inW) +
                                 "; pooling needs at least one pixel",
                             where);
        // torch refuses wider padding too: a window could then lie wholly in the padding.
        if (std::uint64_t(p.pad) * 2 > p.kernel)
            return makeError("padding " + std::to_string(p.pad) + " is more than half the kernel " +
                                 std::to_string(p.kernel),
                             where, "use a padding of at most kernel / 2");
        // The shader works in signed 32-bit coordinates.
        if (std::uint64_t(p.inH) + 2 * std::uint64_t(p.pad) >= (1ull << 31) ||
            std::uint64_t(p.inW) + 2 * std::uint64_t(p.pad) >= (1ull << 31))
            return makeError("the padded plane is too large", where);
        const std::uint32_t oh = p.outH(), ow = p.outW();
        if (oh == 0 || ow == 0)
            return makeError("kernel " + std::to_string(p.kernel) + " is larger than the padded " +
                                 std::to_string(p.inH) + "x" + std::to_string(p.inW) + " input",
                             where);
        const std::uint64_t inFloats = std::uint64_t(p.planes) * p.inH * p.inW;
        const std::uint64_t outFloats = std::uint64_t(p.planes) * oh * ow;
        if (auto ok = checkRegion(x, inFloats, "x", op); !ok) return ok;
        if (auto ok = checkRegion(y, outFloats, "out", op); !ok) return ok;
        if (outFloats == 0) return success();
        if (x.overlaps(y)) return makeError("out overlaps x; pooling cannot run in place", where);

        auto pipe = rec.pipeline("pool2d", kPoolSpv, PipelineLayoutSpec{2, sizeof(PoolPush)});
        if (!pipe) return pipe.error();
        auto grid = linearGrid(rec, outFloats, kLocalSize);
        if (!grid) return makeError(grid.error().what, where, grid.error().hint);
        const PoolPush push{std::uint32_t(outFloats), p.inH, p.inW, oh, ow, p.kernel, p.stride, p.pad,
                            static_cast<std::uint32_t>(kind)};
        return rec.dispatch(*pipe.value(), {in(x), out(y)}, pushBytes(push), grid.value(), op);
    } catch (const std::exception& e) {
        return makeError(std::string("recording failed: ") + e.what(), where);
    }
}

Result<void> adaptiveAvgPool2dVulkan(Recorder& rec, const Region& x, const Region& y, std::uint32_t planes,
                                     std::uint32_t inH, std::uint32_t inW, std::uint32_t outH, std::uint32_t outW)
{
    const std::string op = "adaptive_avg_pool2d";
    const std::string where = "Vulkan op " + op;
    try {
        if (inH == 0 || inW == 0 || outH == 0 || outW == 0)
            return makeError("pooling " + std::to_string(inH) + "x" + std::to_string(inW) + " to " +
                                 std::to_string(outH) + "x" + std::to_string(outW) + ": no size may be 0",
                             where);
        // The shader's window bounds multiply an output index by the input size in 32 bits.
        if (std::uint64_t(outH + 1ull) * inH >= (1ull << 32) || std::uint64_t(outW + 1ull) * inW >= (1ull << 32))
            return makeError("input and output sizes are too large together", where);
        const std::uint64_t inFloats = std::uint64_t(planes) * inH * inW;
        const std::uint64_t outFloats = std::uint64_t(planes) * outH * outW;
        if (auto ok = checkRegion(x, inFloats, "x", op); !ok) return ok;
        if (auto ok = checkRegion(y, outFloats, "out", op); !ok) return ok;
        if (outFloats == 0) return success();
        if (x.overlaps(y)) return makeError("out overlaps x; pooling cannot run in place", where);

        auto pipe = rec.pipeline(op, kAdaptiveSpv, PipelineLayoutSpec{2, sizeof(AdaptivePush)});
        if (!pipe) return pipe.error();
        auto grid = linearGrid(rec, outFloats, kLocalSize);
        if (!grid) return makeError(grid.error().what, where, grid.error().hint);
        const AdaptivePush push{std::uint32_t(outFloats), inH, inW, outH, outW};
        return rec.dispatch(*pipe.value(), {in(x), out(y)}, pushBytes(push), grid.value(), op);
    } catch (const std::exception& e) {
        return makeError(std::string("recording failed: ") + e.what(), where);
    }
}

}  // namespace kiln::vk
