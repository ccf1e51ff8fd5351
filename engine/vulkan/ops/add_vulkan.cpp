#include "vulkan/ops/add_vulkan.h"

#include "vulkan/dispatch.h"
#include "vulkan/pipeline.h"

#include <exception>

namespace kiln::vk {

namespace {

const std::uint32_t kAddSpv[] = {
#include "add.spv.inc"
};

constexpr std::uint32_t kLocalSize = 256;  // must match local_size_x in add.comp

// Laid out as the shader's push_constant block (std430: two 4-byte members).
struct AddPush {
    std::uint32_t n;
    float alpha;
};
static_assert(sizeof(AddPush) == 8);

}  // namespace

Result<void> addVulkan(Context& ctx, const Buffer& a, const Buffer& b, Buffer& out, float alpha, std::uint32_t n)
{
    const std::string where = "Vulkan op add";
    try {
        if (auto usable = ctx.checkUsable(); !usable) return usable.error();
        for (const Buffer* buf : {&a, &b, static_cast<const Buffer*>(&out)})
            if (buf->valid() && buf->floats() < n)
                return makeError("buffer " + buf->label() + " holds " + std::to_string(buf->floats()) +
                                     " floats, fewer than n = " + std::to_string(n),
                                 where);
        if (n == 0) return success();
        // Also what keeps the shader's 32-bit index arithmetic from wrapping (n < 2^30).
        if (std::uint64_t(n) * sizeof(float) > ctx.limits().maxStorageBufferRange)
            return makeError(std::to_string(n) + " elements exceed the device's largest storage buffer (" +
                                 std::to_string(ctx.limits().maxStorageBufferRange) + " bytes)",
                             where, "split the tensor into smaller pieces");

        auto pipe = ctx.pipeline("add", [&]() {
            return ComputePipeline::create(ctx, "add", kAddSpv, PipelineLayoutSpec{3, sizeof(AddPush)});
        });
        if (!pipe) return pipe.error();

        auto grid = gridFor((std::uint64_t(n) + kLocalSize - 1) / kLocalSize, ctx.limits().maxComputeWorkGroupCount);
        if (!grid) return makeError(grid.error().what, where, grid.error().hint);

        const AddPush push{n, alpha};
        const Buffer* bindings[] = {&a, &b, &out};
        return dispatch(ctx, *pipe.value(), bindings, pushBytes(push), grid.value());
    } catch (const std::exception& e) {
        return makeError(std::string("add failed: ") + e.what(), where);
    }
}

}  // namespace kiln::vk
