#include "vulkan/dispatch.h"

#include <exception>
#include <vector>

namespace kiln::vk {

namespace {

// The per-dispatch objects. Destroyed on every return path, except after a fence timeout,
// when the GPU may still use them: then Context frees them once the device is idle.
struct Transient {
    Context& ctx;
    VkDescriptorPool pool = VK_NULL_HANDLE;
    VkCommandBuffer cmd = VK_NULL_HANDLE;
    VkFence fence = VK_NULL_HANDLE;

    explicit Transient(Context& c) : ctx(c) {}
    Transient(const Transient&) = delete;
    Transient& operator=(const Transient&) = delete;
    ~Transient() { destroy(ctx.device(), ctx.commandPool(), pool, cmd, fence); }

    static void destroy(VkDevice dev, VkCommandPool cmdPool, VkDescriptorPool pool, VkCommandBuffer cmd,
                        VkFence fence)
    {
        if (fence) vkDestroyFence(dev, fence, nullptr);
        if (cmd) vkFreeCommandBuffers(dev, cmdPool, 1, &cmd);
        if (pool) vkDestroyDescriptorPool(dev, pool, nullptr);  // frees its set too
    }

    void deferToContext()
    {
        ctx.deferDestroy([dev = ctx.device(), cp = ctx.commandPool(), p = pool, c = cmd, f = fence] {
            destroy(dev, cp, p, c, f);
        });
        pool = VK_NULL_HANDLE;
        cmd = VK_NULL_HANDLE;
        fence = VK_NULL_HANDLE;
    }
};

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
        if (buffers.size() != pipeline.bindings())
            return makeError("got " + std::to_string(buffers.size()) + " buffers for " +
                                 std::to_string(pipeline.bindings()) + " bindings",
                             where);
        if (push.size() != pipeline.pushConstantBytes())
            return makeError("got " + std::to_string(push.size()) + " push-constant bytes for " +
                                 std::to_string(pipeline.pushConstantBytes()),
                             where);
        const auto& lim = ctx.limits();
        if (grid.x > lim.maxComputeWorkGroupCount[0] || grid.y > lim.maxComputeWorkGroupCount[1] ||
            grid.z > lim.maxComputeWorkGroupCount[2])
            return makeError("the dispatch grid is larger than the device allows", where);
        for (const Buffer* b : buffers) {
            if (!b || !b->valid()) return makeError("a buffer is missing or was moved from", where);
            if (b->bytes() > lim.maxStorageBufferRange)
                return makeError("buffer " + b->label() + " has " + std::to_string(b->bytes()) +
                                     " bytes; the device binds at most " + std::to_string(lim.maxStorageBufferRange),
                                 where, "split the tensor");
        }
        if (grid.groups() == 0) return success();

        const VkDevice dev = ctx.device();
        Transient t(ctx);

        const auto n = std::uint32_t(buffers.size());
        if (n > 0) {
            VkDescriptorPoolSize size{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, n};
            VkDescriptorPoolCreateInfo dp{};
            dp.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO;
            dp.maxSets = 1;
            dp.poolSizeCount = 1;
            dp.pPoolSizes = &size;
            if (VkResult r = vkCreateDescriptorPool(dev, &dp, nullptr, &t.pool); r != VK_SUCCESS) {
                t.pool = VK_NULL_HANDLE;
                return vulkanError(r, "could not create a descriptor pool", where);
            }
        }
        VkDescriptorSet set = VK_NULL_HANDLE;
        if (t.pool) {
            const VkDescriptorSetLayout layout = pipeline.setLayout();
            VkDescriptorSetAllocateInfo ai{};
            ai.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO;
            ai.descriptorPool = t.pool;
            ai.descriptorSetCount = 1;
            ai.pSetLayouts = &layout;
            if (VkResult r = vkAllocateDescriptorSets(dev, &ai, &set); r != VK_SUCCESS)
                return vulkanError(r, "could not allocate a descriptor set", where);
            std::vector<VkDescriptorBufferInfo> infos(n);
            std::vector<VkWriteDescriptorSet> writes(n);
            for (std::uint32_t i = 0; i < n; ++i) {
                infos[i] = {buffers[i]->handle(), 0, VK_WHOLE_SIZE};
                writes[i].sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET;
                writes[i].dstSet = set;
                writes[i].dstBinding = i;
                writes[i].descriptorCount = 1;
                writes[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
                writes[i].pBufferInfo = &infos[i];
            }
            vkUpdateDescriptorSets(dev, n, writes.data(), 0, nullptr);
        }

        VkCommandBufferAllocateInfo cai{};
        cai.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO;
        cai.commandPool = ctx.commandPool();
        cai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
        cai.commandBufferCount = 1;
        if (VkResult r = vkAllocateCommandBuffers(dev, &cai, &t.cmd); r != VK_SUCCESS) {
            t.cmd = VK_NULL_HANDLE;
            return vulkanError(r, "could not allocate a command buffer", where);
        }
        VkCommandBufferBeginInfo bi{};
        bi.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO;
        bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
        if (VkResult r = vkBeginCommandBuffer(t.cmd, &bi); r != VK_SUCCESS)
            return vulkanError(r, "could not record commands", where);
        vkCmdBindPipeline(t.cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline.handle());
        if (set)
            vkCmdBindDescriptorSets(t.cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline.layout(), 0, 1, &set, 0, nullptr);
        if (!push.empty())
            vkCmdPushConstants(t.cmd, pipeline.layout(), VK_SHADER_STAGE_COMPUTE_BIT, 0, std::uint32_t(push.size()),
                               push.data());
        vkCmdDispatch(t.cmd, grid.x, grid.y, grid.z);
        // Host writes before the submit need no barrier (vkQueueSubmit makes them visible), but
        // the shader's writes must be made available to the host before download() reads them.
        VkMemoryBarrier barrier{};
        barrier.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER;
        barrier.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT;
        barrier.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
        vkCmdPipelineBarrier(t.cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &barrier,
                             0, nullptr, 0, nullptr);
        if (VkResult r = vkEndCommandBuffer(t.cmd); r != VK_SUCCESS)
            return vulkanError(r, "could not record commands", where);

        VkFenceCreateInfo fi{};
        fi.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO;
        if (VkResult r = vkCreateFence(dev, &fi, nullptr, &t.fence); r != VK_SUCCESS) {
            t.fence = VK_NULL_HANDLE;
            return vulkanError(r, "could not create a fence", where);
        }
        VkSubmitInfo si{};
        si.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO;
        si.commandBufferCount = 1;
        si.pCommandBuffers = &t.cmd;
        if (VkResult r = vkQueueSubmit(ctx.queue(), 1, &si, t.fence); r != VK_SUCCESS) {
            if (r == VK_ERROR_DEVICE_LOST) ctx.markLost("the device was lost while running " + pipeline.op());
            return vulkanError(r, "could not submit work to the GPU", where);
        }

        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count();
        const VkResult w = vkWaitForFences(dev, 1, &t.fence, VK_TRUE, std::uint64_t(ns > 0 ? ns : 0));
        if (w == VK_TIMEOUT) {
            t.deferToContext();
            const std::string span = timeout.count() % 1000 == 0 ? std::to_string(timeout.count() / 1000) + " s"
                                                                 : std::to_string(timeout.count()) + " ms";
            ctx.markLost(pipeline.op() + " did not finish within " + span);
            return makeError("the GPU did not finish within " + span, where,
                             "the GPU may be hung or far too slow for this size; restart the job or use the CPU backend");
        }
        if (w != VK_SUCCESS) {
            if (w == VK_ERROR_DEVICE_LOST) ctx.markLost("the device was lost while running " + pipeline.op());
            return vulkanError(w, "waiting for the GPU failed", where);
        }
        return success();
    } catch (const std::exception& e) {
        return makeError(std::string("dispatch failed: ") + e.what(), where);
    }
}

}  // namespace kiln::vk
