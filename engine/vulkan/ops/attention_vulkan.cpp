#include "vulkan/ops/attention_vulkan.h"

#include <array>
#include <cmath>
#include <exception>
#include <numbers>
#include <string>
#include <utility>

namespace kiln::vk {

namespace {

const std::uint32_t kRopeSpv[] = {
#include "rope.spv.inc"
};
const std::uint32_t kAttentionSpv[] = {
#include "attention.spv.inc"
};

constexpr std::uint32_t kRopeLocalSize = 256;  // local_size_x in rope.comp
constexpr std::uint32_t kRopeFactors = 9;      // frequencies i < 2^9, so headDim <= 1024
constexpr std::uint32_t kMaxHeadDim = 256;     // kMaxDim in attention.comp

struct RopePush {
    std::uint32_t total;
    std::uint32_t seq;
    std::uint32_t heads;
    std::uint32_t halfDim;
    std::array<float, 2> start;
    std::array<float, 2 * kRopeFactors> factor;
};
static_assert(sizeof(RopePush) == 96);

struct AttentionPush {
    std::uint32_t rows;
    std::uint32_t seq;
    std::uint32_t heads;
    std::uint32_t headDim;
    float scale;
    std::uint32_t causal;
};
static_assert(sizeof(AttentionPush) == 24);

// A double as the sum of two floats: 48 of its bits survive, which the shader's float-float
// arithmetic keeps.
std::array<float, 2> splitDouble(double v)
{
    const float hi = float(v);
    return {hi, float(v - double(hi))};
}

std::string shapeText(const AttentionShape& s)
{
    return "[" + std::to_string(s.batch) + ", " + std::to_string(s.seq) + ", " + std::to_string(s.heads) + ", " +
           std::to_string(s.headDim) + "]";
}

}  // namespace

Result<void> ropeVulkan(Recorder& rec, const Region& x, const Region& y, AttentionShape s, float base)
{
    const std::string op = "rope";
    const std::string where = "Vulkan op " + op;
    try {
        if (s.headDim == 0 || s.headDim % 2 != 0)
            return makeError("headDim " + std::to_string(s.headDim) + " must be even: rotary turns pairs of values",
                             where);
        if (s.headDim > 2 * (1u << kRopeFactors))
            return makeError("headDim " + std::to_string(s.headDim) + " is above the supported 1024", where);
        if (!(base > 0.0f) || !std::isfinite(base))
            return makeError("the rotary base " + std::to_string(base) + " must be a positive number", where);
        // Positions are exact in float up to 2^24.
        if (s.seq > (1u << 24)) return makeError("sequences longer than 2^24 are not supported", where);
        const std::uint64_t total = std::uint64_t(s.batch) * s.seq * s.heads * s.headDim;
        if (auto ok = checkRegion(x, total, "x", op); !ok) return ok;
        if (auto ok = checkRegion(y, total, "out", op); !ok) return ok;
        if (total == 0) return success();
        // Each invocation reads its pair before writing it, so exact aliasing is fine; a shifted one is not.
        if (x.overlaps(y) && (x.buffer != y.buffer || x.offset != y.offset))
            return makeError("out partly overlaps x; it must be x itself or separate", where);

        RopePush push{};
        push.total = std::uint32_t(total / 2);
        push.seq = s.seq;
        push.heads = s.heads;
        push.halfDim = s.headDim / 2;
        // torch computes base^(-2i/d) in double per frequency; the shader multiplies the factors
        // for i's bits together, each exact to double precision here.
        push.start = splitDouble(0.5 / std::numbers::pi);
        for (std::uint32_t k = 0; k < kRopeFactors; ++k) {
            const auto f = splitDouble(std::pow(double(base), -2.0 * double(1u << k) / double(s.headDim)));
            push.factor[2 * k] = f[0];
            push.factor[2 * k + 1] = f[1];
        }
        auto pipe = rec.pipeline(op, kRopeSpv, PipelineLayoutSpec{2, sizeof(RopePush)});
        if (!pipe) return pipe.error();
        auto grid = linearGrid(rec, push.total, kRopeLocalSize);
        if (!grid) return makeError(grid.error().what, where, grid.error().hint);
        return rec.dispatch(*pipe.value(), {in(x), out(y)}, pushBytes(push), grid.value(), op);
    } catch (const std::exception& e) {
        return makeError(std::string("recording failed: ") + e.what(), where);
    }
}

Result<void> attentionVulkan(Recorder& rec, const Region& q, const Region& k, const Region& v, const Region& y,
                             AttentionShape s, float scale, bool causal)
{
    const std::string op = "attention";
    const std::string where = "Vulkan op " + op;
    try {
        if (s.headDim == 0 || s.headDim > kMaxHeadDim)
            return makeError("headDim " + std::to_string(s.headDim) + " is outside the supported 1.." +
                                 std::to_string(kMaxHeadDim),
                             where, "use more heads of a smaller size");
        if (!std::isfinite(scale)) return makeError("the score scale is not a finite number", where);
        const std::uint64_t rows = std::uint64_t(s.batch) * s.seq * s.heads;
        const std::uint64_t total = rows * s.headDim;
        for (auto [region, name] : {std::pair{&q, "q"}, std::pair{&k, "k"}, std::pair{&v, "v"}, std::pair{&y, "out"}})
            if (auto ok = checkRegion(*region, total, name, op); !ok) return ok;
        if (total == 0) return success();
        if (y.overlaps(q) || y.overlaps(k) || y.overlaps(v))
            return makeError("out overlaps q, k or v of shape " + shapeText(s) + "; attention cannot run in place",
                             where);

        auto pipe = rec.pipeline(op, kAttentionSpv, PipelineLayoutSpec{4, sizeof(AttentionPush)});
        if (!pipe) return pipe.error();
        // One workgroup per (batch, position, head).
        auto grid = gridFor(rows, rec.context().limits().maxComputeWorkGroupCount);
        if (!grid) return makeError(grid.error().what, where, grid.error().hint);
        const AttentionPush push{std::uint32_t(rows), s.seq, s.heads, s.headDim, scale, causal ? 1u : 0u};
        return rec.dispatch(*pipe.value(), {in(q), in(k), in(v), out(y)}, pushBytes(push), grid.value(), op);
    } catch (const std::exception& e) {
        return makeError(std::string("recording failed: ") + e.what(), where);
    }
}

}  // namespace kiln::vk
