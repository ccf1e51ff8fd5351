#include "vulkan/dispatch.h"

#include "vulkan/recorder.h"

#include <exception>
#include <vector>

namespace kiln::vk {

namespace {

std::uint32_t ceilDiv(std::uint64_t a, std::uint64_t b)
{
    return std::uint32_t((a + b - 1) / b);
}

}  // namespace

Result<Grid> gridFor(std::uint64_t groups, const std::uint32_t maxCount[3])
{
    if (groups == 0) return Grid{0, 1, 1};
    if (groups <= maxCount[0]) return Grid{std::uint32_t(groups), 1, 1};
    const std::uint64_t rows = (groups + maxCount[0] - 1) / maxCount[0];
    if (rows > maxCount[1])
        return makeError("a dispatch of " + std::to_string(groups) + " workgroups exceeds the device's grid of " +
                             std::to_string(maxCount[0]) + " x " + std::to_string(maxCount[1]),
                         "Vulkan dispatch", "split the work into smaller pieces");
    // Spread evenly over the rows, so that at most rows-1 groups are spare.
    return Grid{ceilDiv(groups, rows), std::uint32_t(rows), 1};
}

Result<void> dispatch(Context& ctx, const ComputePipeline& pipeline, std::span<const Buffer* const> buffers,
                      std::span<const std::byte> push, Grid grid, std::chrono::milliseconds timeout)
{
    const std::string where = "Vulkan op " + pipeline.op();
    try {
        if (auto usable = ctx.checkUsable(); !usable) return usable.error();
        std::vector<Binding> bindings;
        for (const Buffer* b : buffers) {
            if (!b || !b->valid()) return makeError("a buffer is missing or was moved from", where);
            // Without knowing which bindings the shader writes, every one counts as written.
            bindings.push_back(out(b->region()));
        }
        auto rec = Recorder::create(ctx);
        if (!rec) return rec.error();
        if (auto ok = rec.value()->dispatch(pipeline, bindings, push, grid); !ok) return ok;
        return rec.value()->submit(timeout);
    } catch (const std::exception& e) {
        return makeError(std::string("dispatch failed: ") + e.what(), where);
    }
}

}  // namespace kiln::vk
