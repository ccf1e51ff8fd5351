// One compute dispatch, run to completion: the simplest correct way to run an op. The backend
// issue batches several dispatches into one command buffer; this stays for one-off ops and tests.
#pragma once

#include "kiln/result.h"
#include "vulkan/buffer.h"
#include "vulkan/context.h"
#include "vulkan/pipeline.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>

namespace kiln::vk {

struct Grid {
    std::uint32_t x = 0, y = 1, z = 1;
    std::uint64_t groups() const { return std::uint64_t(x) * y * z; }
};

// Lays `groups` workgroups out within the device's maxComputeWorkGroupCount: one row when it
// fits, otherwise x*y >= groups with the fewest spare groups. Shaders linearise the index as
// gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x and must bounds-check it, since
// the grid may hold a few more groups than asked for. Error when even x*y cannot hold them.
Result<Grid> gridFor(std::uint64_t groups, const std::uint32_t maxCount[3]);

inline constexpr std::chrono::milliseconds kDefaultFenceTimeout = std::chrono::seconds(60);

// Binds `buffers` to bindings 0.. in order, pushes `push` (exactly the pipeline's push-constant
// size), dispatches `grid`, submits and waits on a fence. When it returns success the results
// are visible to download(). A timeout or device loss leaves the Context unusable (it says why).
Result<void> dispatch(Context& ctx, const ComputePipeline& pipeline, std::span<const Buffer* const> buffers,
                      std::span<const std::byte> push, Grid grid,
                      std::chrono::milliseconds timeout = kDefaultFenceTimeout);

template <typename T>
std::span<const std::byte> pushBytes(const T& value)
{
    return std::as_bytes(std::span<const T, 1>(&value, 1));
}

}  // namespace kiln::vk
