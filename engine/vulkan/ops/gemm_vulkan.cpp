#include "vulkan/ops/gemm_vulkan.h"

#include <exception>
#include <span>
#include <string>

namespace kiln::vk {

namespace {

const std::uint32_t kGemmSpv[] = {
#include "gemm.spv.inc"
};
const std::uint32_t kGemvSpv[] = {
#include "gemv.spv.inc"
};
const std::uint32_t kGemmF16wSpv[] = {
#include "gemm_f16w.spv.inc"
};
const std::uint32_t kGemvF16wSpv[] = {
#include "gemv_f16w.spv.inc"
};

constexpr std::uint32_t kTile = 64;        // TM = TN in gemm.comp
constexpr std::uint32_t kGemvRows = 4;     // ROWS in gemv.comp: the largest m it takes
constexpr std::uint32_t kGemvColumns = 4;  // COLS in gemv.comp: columns per workgroup

// Laid out as the push_constant block of gemm.comp and gemv.comp (std430, nine 4-byte members).
struct GemmPush {
    std::uint32_t m, n, k;
    std::uint32_t transB;
    std::uint32_t hasBias;
    std::uint32_t act;
    float actParam;
    std::uint32_t tilesN;
    std::uint32_t tiles;
};
static_assert(sizeof(GemmPush) == 36);

}  // namespace

Result<void> gemmVulkan(Recorder& rec, const Region& a, const Region& b, const Region* bias, const Region& out,
                        GemmShape shape, bool transB, Activation act, float actParam, WeightType bType)
{
    const std::string op = "gemm";
    const std::string where = "Vulkan op " + op;
    try {
        if (auto usable = rec.context().checkUsable(); !usable) return usable.error();
        const std::uint64_t m = shape.m, n = shape.n, k = shape.k;
        if (m == 0 || n == 0 || k == 0)
            return makeError("shape " + std::to_string(m) + "x" + std::to_string(k) + " @ " + std::to_string(k) + "x" +
                                 std::to_string(n) + " has a zero size",
                             where);
        if (std::uint32_t(act) > std::uint32_t(Activation::LeakyReLU))
            return makeError("unknown activation code " + std::to_string(std::uint32_t(act)), where);

        if (auto r = checkRegion(a, m * k, "a", op); !r) return r;
        if (auto r = checkWeights(rec, b, k * n, bType, "b", op); !r) return r;
        if (bias)
            if (auto r = checkRegion(*bias, n, "bias", op); !r) return r;
        if (auto r = checkRegion(out, m * n, "out", op); !r) return r;
        // Tiles of `out` are written while other workgroups still read the inputs.
        if (out.overlaps(a) || out.overlaps(b) || (bias && out.overlaps(*bias)))
            return makeError("out overlaps an input", where, "write the product to a tensor of its own");

        // Binding only the bytes used lets a large buffer hold the operands, and keeps the
        // shader's 32-bit indices (below 2^30 floats on every device) from wrapping.
        const std::uint64_t maxFloats = rec.context().limits().maxStorageBufferRange / 4;
        for (std::uint64_t floats : {m * k, k * n, m * n})
            if (floats > maxFloats)
                return makeError("an operand of " + std::to_string(floats) +
                                     " floats exceeds the device's largest storage buffer (" +
                                     std::to_string(maxFloats) + " floats)",
                                 where, "split the matrix multiply into smaller pieces");

        // A Linear layer at batch sizes of a few would fill 64-row tiles with rows that do not
        // exist; gemv.comp splits k instead. A plain B has no such path: it is matmul, not Linear.
        const bool gemv = transB && m <= kGemvRows;
        const std::uint32_t tilesN = gemv ? ceilDiv(n, kGemvColumns) : ceilDiv(n, kTile);
        const std::uint64_t tiles = gemv ? tilesN : std::uint64_t(ceilDiv(m, kTile)) * tilesN;
        auto grid = gridFor(tiles, rec.context().limits().maxComputeWorkGroupCount);
        if (!grid) return makeError(grid.error().what, where, grid.error().hint);

        const bool f16 = bType == WeightType::F16;
        const std::string key = std::string(gemv ? "gemm_gemv" : "gemm") + (f16 ? "_f16w" : "");
        using Spirv = std::span<const std::uint32_t>;
        const Spirv spirv = gemv ? (f16 ? Spirv(kGemvF16wSpv) : Spirv(kGemvSpv))
                                 : (f16 ? Spirv(kGemmF16wSpv) : Spirv(kGemmSpv));
        auto pipe = rec.pipeline(key, spirv, PipelineLayoutSpec{4, sizeof(GemmPush)});
        if (!pipe) return pipe.error();

        const GemmPush push{shape.m,  shape.n, shape.k, transB ? 1u : 0u,    bias ? 1u : 0u, std::uint32_t(act),
                            actParam, tilesN,  std::uint32_t(tiles)};
        // Without a bias the shader never reads binding 2, but it must hold a valid buffer.
        const Region biasRegion = bias ? bias->slice(0, n) : a.slice(0, 1);
        const Binding bindings[] = {in(a.slice(0, m * k)), in(weightSlice(b, k * n, bType)), in(biasRegion),
                                    vk::out(out.slice(0, m * n))};
        return rec.dispatch(*pipe.value(), bindings, pushBytes(push), grid.value(), key);
    } catch (const std::exception& e) {
        return makeError(std::string("recording failed: ") + e.what(), where);
    }
}

}  // namespace kiln::vk
