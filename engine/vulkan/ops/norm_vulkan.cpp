#include "vulkan/ops/norm_vulkan.h"

#include "vulkan/ops/elementwise_checks.h"

#include <cmath>
#include <exception>

namespace kiln::vk {

namespace {

const std::uint32_t kSoftmaxSpv[] = {
#include "softmax.spv.inc"
};
const std::uint32_t kSoftmaxColumnsSpv[] = {
#include "softmax_columns.spv.inc"
};
const std::uint32_t kNormalizeSpv[] = {
#include "normalize.spv.inc"
};

constexpr std::uint32_t kLocalSize = 256;  // local_size_x of all three shaders

// With this many columns one invocation per column fills a GPU; with fewer, a long strided row
// per workgroup spreads better. Short rows go to a column each regardless: a workgroup of 256
// for 64 floats would idle most of its invocations.
constexpr std::uint64_t kColumnsEnough = 2048;
constexpr std::uint32_t kShortRow = 64;

// softmax.comp and softmax_columns.comp share this block.
struct SoftmaxPush {
    std::uint32_t rows;
    std::uint32_t dim;
    std::uint32_t inner;
};
static_assert(sizeof(SoftmaxPush) == 12);

struct NormalizePush {
    std::uint32_t rows;
    std::uint32_t cols;
    std::uint32_t groupsPerSample;
    std::uint32_t spatial;
    float eps;
    std::uint32_t flags;
};
static_assert(sizeof(NormalizePush) == 24);

constexpr std::uint32_t kHasWeight = 1, kHasBias = 2, kRms = 4;

// One workgroup per group of `cols` contiguous floats; layer norm, RMS norm and group norm
// differ only in the push constants.
Result<void> normalize(Recorder& rec, const std::string& op, const Region& x, const Region* weight,
                       const Region* bias, const Region& out, std::uint64_t rows, std::uint64_t cols,
                       std::uint32_t groupsPerSample, std::uint64_t spatial, std::uint64_t channels, float eps,
                       bool rms)
{
    const std::string where = "Vulkan op " + op;
    try {
        if (auto usable = rec.context().checkUsable(); !usable) return usable.error();
        if (!std::isfinite(eps) || eps < 0)
            return makeError("eps is " + std::to_string(eps) + "; it must be a finite number >= 0", where);
        auto n = checkedProduct(rows, cols);
        if (!n) return makeError("x has too many elements", where);
        if (*n == 0) return success();
        if (auto ok = checkBindable(rec, *n, "x", op); !ok) return ok;
        if (auto ok = checkRegion(x, *n, "x", op); !ok) return ok;
        if (auto ok = checkRegion(out, *n, "out", op); !ok) return ok;
        if (weight)
            if (auto ok = checkRegion(*weight, channels, "weight", op); !ok) return ok;
        if (bias)
            if (auto ok = checkRegion(*bias, channels, "bias", op); !ok) return ok;
        const Region xs = x.slice(0, *n), os = out.slice(0, *n);
        if (auto ok = checkAlias(xs, os, "x", op); !ok) return ok;
        // An absent operand binds a float of x; the flags keep the shader from reading it.
        const Region dummy = x.slice(0, 1);
        const Region ws = weight ? weight->slice(0, channels) : dummy;
        const Region bs = bias ? bias->slice(0, channels) : dummy;

        auto pipe = rec.pipeline("normalize", kNormalizeSpv, PipelineLayoutSpec{4, sizeof(NormalizePush)});
        if (!pipe) return pipe.error();
        auto grid = gridFor(rows, rec.context().limits().maxComputeWorkGroupCount);
        if (!grid) return makeError(grid.error().what, where, grid.error().hint);
        const NormalizePush push{std::uint32_t(rows),
                                 std::uint32_t(cols),
                                 groupsPerSample,
                                 std::uint32_t(spatial),
                                 eps,
                                 (weight ? kHasWeight : 0) | (bias ? kHasBias : 0) | (rms ? kRms : 0)};
        return rec.dispatch(*pipe.value(), {in(xs), in(ws), in(bs), vk::out(os)}, pushBytes(push), grid.value(), op);
    } catch (const std::exception& e) {
        return makeError(std::string("recording failed: ") + e.what(), where);
    }
}

}  // namespace

Result<void> softmaxVulkan(Recorder& rec, const Region& x, const Region& out, std::uint64_t outer, std::uint32_t dim,
                           std::uint64_t inner)
{
    const std::string op = "softmax";
    const std::string where = "Vulkan op " + op;
    try {
        if (auto usable = rec.context().checkUsable(); !usable) return usable.error();
        auto n = checkedProduct(outer, dim, inner);
        if (!n) return makeError("x has too many elements", where);
        if (*n == 0) return success();
        if (auto ok = checkBindable(rec, *n, "x", op); !ok) return ok;
        if (auto ok = checkRegion(x, *n, "x", op); !ok) return ok;
        if (auto ok = checkRegion(out, *n, "out", op); !ok) return ok;
        const Region xs = x.slice(0, *n), os = out.slice(0, *n);
        if (auto ok = checkAlias(xs, os, "x", op); !ok) return ok;

        const std::uint64_t rows = outer * inner;
        const SoftmaxPush push{std::uint32_t(rows), dim, std::uint32_t(inner)};
        const bool columns = inner > 1 && (rows >= kColumnsEnough || dim <= kShortRow);
        const PipelineLayoutSpec spec{2, sizeof(SoftmaxPush)};
        auto pipe = columns ? rec.pipeline("softmax_columns", kSoftmaxColumnsSpv, spec)
                            : rec.pipeline(op, kSoftmaxSpv, spec);
        if (!pipe) return pipe.error();
        auto grid = columns ? linearGrid(rec, rows, kLocalSize)
                            : gridFor(rows, rec.context().limits().maxComputeWorkGroupCount);
        if (!grid) return makeError(grid.error().what, where, grid.error().hint);
        return rec.dispatch(*pipe.value(), {in(xs), vk::out(os)}, pushBytes(push), grid.value(), op);
    } catch (const std::exception& e) {
        return makeError(std::string("recording failed: ") + e.what(), where);
    }
}

Result<void> layerNormVulkan(Recorder& rec, const Region& x, const Region* weight, const Region* bias,
                             const Region& out, std::uint64_t rows, std::uint32_t cols, float eps)
{
    return normalize(rec, "layer_norm", x, weight, bias, out, rows, cols, 1, 1, cols, eps, false);
}

Result<void> rmsNormVulkan(Recorder& rec, const Region& x, const Region* weight, const Region& out, std::uint64_t rows,
                           std::uint32_t cols, float eps)
{
    return normalize(rec, "rms_norm", x, weight, nullptr, out, rows, cols, 1, 1, cols, eps, true);
}

Result<void> groupNormVulkan(Recorder& rec, const Region& x, const Region* weight, const Region* bias,
                             const Region& out, std::uint32_t batch, std::uint32_t channels, std::uint64_t spatial,
                             std::uint32_t groups, float eps)
{
    if (groups == 0 || channels % groups != 0)
        return makeError(std::to_string(channels) + " channels do not split into " + std::to_string(groups) + " groups",
                         "Vulkan op group_norm", "the channel count must be a multiple of the group count");
    auto cols = checkedProduct(channels / groups, spatial);
    if (!cols) return makeError("x has too many elements", "Vulkan op group_norm");
    return normalize(rec, "group_norm", x, weight, bias, out, std::uint64_t(batch) * groups, *cols, groups, spatial,
                     channels, eps, false);
}

}  // namespace kiln::vk
