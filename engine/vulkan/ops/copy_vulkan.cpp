#include "vulkan/ops/copy_vulkan.h"

#include <array>
#include <exception>
#include <limits>
#include <string>

namespace kiln::vk {

namespace {

const std::uint32_t kPermuteSpv[] = {
#include "permute.spv.inc"
};
const std::uint32_t kConcatSpv[] = {
#include "concat.spv.inc"
};
const std::uint32_t kEmbeddingSpv[] = {
#include "embedding.spv.inc"
};

constexpr std::uint32_t kLocalSize = 256;  // local_size_x of the three shaders
constexpr std::size_t kMaxRank = 8;

struct PermutePush {
    std::uint32_t total;
    std::uint32_t rank;
    std::array<std::uint32_t, kMaxRank> outSizes;
    std::array<std::uint32_t, kMaxRank> inStrides;
};
static_assert(sizeof(PermutePush) == 72);

struct ConcatPush {
    std::uint32_t total;
    std::uint32_t inner;
    std::uint32_t outInner;
    std::uint32_t offset;
};
static_assert(sizeof(ConcatPush) == 16);

struct EmbeddingPush {
    std::uint32_t total;
    std::uint32_t dim;
    std::uint32_t vocab;
    std::uint32_t countBad;
};
static_assert(sizeof(EmbeddingPush) == 16);

// a * b, or the largest value when it would wrap: a size that large fails checkRegion anyway.
std::uint64_t mulSat(std::uint64_t a, std::uint64_t b)
{
    if (a != 0 && b > std::numeric_limits<std::uint64_t>::max() / a) return std::numeric_limits<std::uint64_t>::max();
    return a * b;
}

}  // namespace

Result<void> permuteVulkan(Recorder& rec, const Region& x, const std::vector<std::int64_t>& sizes,
                           const std::vector<std::int64_t>& dims, const Region& y)
{
    const std::string op = "permute";
    const std::string where = "Vulkan op " + op;
    try {
        const std::size_t rank = sizes.size();
        if (rank > kMaxRank)
            return makeError("a tensor of " + std::to_string(rank) + " dimensions; at most 8 are supported", where);
        if (dims.size() != rank)
            return makeError(std::to_string(dims.size()) + " permutation entries for a tensor of " +
                                 std::to_string(rank) + " dimensions",
                             where);
        std::array<std::size_t, kMaxRank> order{};
        std::array<bool, kMaxRank> seen{};
        for (std::size_t k = 0; k < rank; ++k) {
            // Negative entries count from the end, as in torch.
            const std::int64_t r = std::int64_t(rank);
            const std::int64_t d = dims[k] < 0 ? dims[k] + r : dims[k];
            if (d < 0 || d >= r || seen[std::size_t(d)])
                return makeError("dims is not a permutation of 0.." + std::to_string(rank - 1) + " (entry " +
                                     std::to_string(k) + " is " + std::to_string(dims[k]) + ")",
                                 where);
            seen[std::size_t(d)] = true;
            order[k] = std::size_t(d);
        }
        std::uint64_t total = 1;
        for (std::int64_t s : sizes) {
            if (s < 0) return makeError("negative size " + std::to_string(s), where);
            total = mulSat(total, std::uint64_t(s));
        }
        if (auto ok = checkRegion(x, total, "x", op); !ok) return ok;
        if (auto ok = checkRegion(y, total, "out", op); !ok) return ok;
        if (total == 0) return success();
        if (x.overlaps(y)) return makeError("out overlaps x; a permute cannot run in place", where);

        bool identity = true;
        for (std::size_t k = 0; k < rank; ++k) identity = identity && order[k] == k;
        if (identity) return rec.copy(x.slice(0, std::size_t(total)), y);

        // Each size and stride is below the element count, which checkRegion kept under 2^30.
        std::array<std::uint32_t, kMaxRank> inStrides{};
        std::uint64_t stride = 1;
        for (std::size_t d = rank; d-- > 0;) {
            inStrides[d] = std::uint32_t(stride);
            stride *= std::uint64_t(sizes[d]);
        }
        PermutePush push{std::uint32_t(total), std::uint32_t(rank), {}, {}};
        for (std::size_t k = 0; k < rank; ++k) {
            push.outSizes[k] = std::uint32_t(sizes[order[k]]);
            push.inStrides[k] = inStrides[order[k]];
        }
        auto pipe = rec.pipeline(op, kPermuteSpv, PipelineLayoutSpec{2, sizeof(PermutePush)});
        if (!pipe) return pipe.error();
        auto grid = linearGrid(rec, total, kLocalSize);
        if (!grid) return makeError(grid.error().what, where, grid.error().hint);
        return rec.dispatch(*pipe.value(), {in(x), out(y)}, pushBytes(push), grid.value(), op);
    } catch (const std::exception& e) {
        return makeError(std::string("recording failed: ") + e.what(), where);
    }
}

Result<void> concatPartVulkan(Recorder& rec, const Region& x, const Region& y, std::uint64_t outer,
                              std::uint64_t inner, std::uint64_t outInner, std::uint64_t offset)
{
    const std::string op = "concat";
    const std::string where = "Vulkan op " + op;
    try {
        if (offset > outInner || inner > outInner - offset)
            return makeError("a part of " + std::to_string(inner) + " columns at column " + std::to_string(offset) +
                                 " does not fit an output row of " + std::to_string(outInner),
                             where);
        const std::uint64_t total = mulSat(outer, inner);
        if (auto ok = checkRegion(x, total, "x", op); !ok) return ok;
        if (auto ok = checkRegion(y, mulSat(outer, outInner), "out", op); !ok) return ok;
        if (total == 0) return success();
        if (x.overlaps(y)) return makeError("out overlaps the part being copied", where);

        auto pipe = rec.pipeline(op, kConcatSpv, PipelineLayoutSpec{2, sizeof(ConcatPush)});
        if (!pipe) return pipe.error();
        auto grid = linearGrid(rec, total, kLocalSize);
        if (!grid) return makeError(grid.error().what, where, grid.error().hint);
        // All below out's element count (checked), so below 2^30.
        const ConcatPush push{std::uint32_t(total), std::uint32_t(inner), std::uint32_t(outInner),
                              std::uint32_t(offset)};
        return rec.dispatch(*pipe.value(), {in(x), out(y)}, pushBytes(push), grid.value(), op);
    } catch (const std::exception& e) {
        return makeError(std::string("recording failed: ") + e.what(), where);
    }
}

Result<void> embeddingVulkan(Recorder& rec, const Region& ids, const Region& table, const Region& y,
                             std::uint64_t count, std::uint32_t dim, std::uint32_t vocab, const Region* badIds)
{
    const std::string op = "embedding";
    const std::string where = "Vulkan op " + op;
    try {
        if (dim == 0 || vocab == 0)
            return makeError("a table of " + std::to_string(vocab) + " rows of " + std::to_string(dim) +
                                 " values; both must be at least 1",
                             where);
        const std::uint64_t total = mulSat(count, dim);
        if (auto ok = checkRegion(ids, count, "ids", op); !ok) return ok;  // uint32 ids: one float's worth each
        if (auto ok = checkRegion(table, std::uint64_t(vocab) * dim, "table", op); !ok) return ok;
        if (auto ok = checkRegion(y, total, "out", op); !ok) return ok;
        if (y.overlaps(ids) || y.overlaps(table)) return makeError("out overlaps ids or the table", where);
        // The count is added to, not set: one counter serves every embedding of a forward pass,
        // and the caller clears it.
        if (badIds) {
            if (auto ok = checkRegion(*badIds, 1, "badIds", op); !ok) return ok;
            if (badIds->overlaps(y) || badIds->overlaps(ids) || badIds->overlaps(table))
                return makeError("badIds overlaps another tensor", where);
        }
        if (total == 0) return success();

        auto pipe = rec.pipeline(op, kEmbeddingSpv, PipelineLayoutSpec{4, sizeof(EmbeddingPush)});
        if (!pipe) return pipe.error();
        auto grid = linearGrid(rec, total, kLocalSize);
        if (!grid) return makeError(grid.error().what, where, grid.error().hint);
        const EmbeddingPush push{std::uint32_t(total), dim, vocab, badIds ? 1u : 0u};
        // Without a counter the shader's counter binding gets `ids`, which it then never touches.
        const Binding counter = badIds ? out(badIds->slice(0, 1)) : in(ids);
        return rec.dispatch(*pipe.value(), {in(ids), in(table), out(y), counter}, pushBytes(push), grid.value(), op);
    } catch (const std::exception& e) {
        return makeError(std::string("recording failed: ") + e.what(), where);
    }
}

}  // namespace kiln::vk
