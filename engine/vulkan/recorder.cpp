#include "vulkan/recorder.h"

#include <algorithm>
#include <cstring>
#include <exception>

namespace kiln::vk {

namespace {

constexpr std::uint32_t kSetsPerPool = 256;
constexpr std::uint32_t kBuffersPerSet = 8;  // a pool's budget per set on average, not a cap per set
constexpr std::uint32_t kMaxQueries = 8192;

// Every compute and transfer access before the barrier completes before any after it starts.
void fullBarrier(VkCommandBuffer cmd)
{
    VkMemoryBarrier b{};
    b.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER;
    b.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    b.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT |
                      VK_ACCESS_TRANSFER_WRITE_BIT;
    const VkPipelineStageFlags stages = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
    vkCmdPipelineBarrier(cmd, stages, stages, 0, 1, &b, 0, nullptr, 0, nullptr);
}

}  // namespace

Result<std::unique_ptr<Recorder>> Recorder::create(Context& ctx, bool profile)
{
    try {
        if (auto usable = ctx.checkUsable(); !usable) return usable.error();
        std::unique_ptr<Recorder> r(new Recorder());
        r->ctx_ = ctx.shared_from_this();
        r->profile_ = profile && ctx.timestampsSupported();
        const VkDevice dev = ctx.device();

        VkCommandBufferAllocateInfo cai{};
        cai.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO;
        cai.commandPool = ctx.commandPool();
        cai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
        cai.commandBufferCount = 1;
        if (VkResult res = vkAllocateCommandBuffers(dev, &cai, &r->cmd_); res != VK_SUCCESS) {
            r->cmd_ = VK_NULL_HANDLE;
            return vulkanError(res, "could not allocate a command buffer", "Vulkan recorder");
        }
        VkFenceCreateInfo fi{};
        fi.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO;
        if (VkResult res = vkCreateFence(dev, &fi, nullptr, &r->fence_); res != VK_SUCCESS) {
            r->fence_ = VK_NULL_HANDLE;
            return vulkanError(res, "could not create a fence", "Vulkan recorder");
        }
        if (r->profile_) {
            VkQueryPoolCreateInfo qi{};
            qi.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO;
            qi.queryType = VK_QUERY_TYPE_TIMESTAMP;
            qi.queryCount = kMaxQueries;
            if (vkCreateQueryPool(dev, &qi, nullptr, &r->queries_) == VK_SUCCESS) r->queryCapacity_ = kMaxQueries;
            else r->profile_ = false;  // profiling is a nicety; the work runs without it
        }
        return r;
    } catch (const std::exception& e) {
        return makeError(std::string("could not create a Vulkan recorder: ") + e.what(), "Vulkan recorder");
    }
}

Recorder::~Recorder()
{
    if (!ctx_) return;
    const VkDevice dev = ctx_->device();
    if (ctx_->lost()) {
        // The GPU may still be running this command buffer: free its objects once idle.
        ctx_->deferDestroy([dev, cp = ctx_->commandPool(), cmd = cmd_, fence = fence_, q = queries_, pools = pools_,
                            staging = staging_] {
            if (cmd) vkFreeCommandBuffers(dev, cp, 1, &cmd);
            if (fence) vkDestroyFence(dev, fence, nullptr);
            if (q) vkDestroyQueryPool(dev, q, nullptr);
            for (VkDescriptorPool p : pools) vkDestroyDescriptorPool(dev, p, nullptr);
        });
        return;
    }
    if (recording_) {
        vkEndCommandBuffer(cmd_);
    }
    if (cmd_) vkFreeCommandBuffers(dev, ctx_->commandPool(), 1, &cmd_);
    if (fence_) vkDestroyFence(dev, fence_, nullptr);
    if (queries_) vkDestroyQueryPool(dev, queries_, nullptr);
    for (VkDescriptorPool p : pools_) vkDestroyDescriptorPool(dev, p, nullptr);
}

Result<ComputePipeline*> Recorder::pipeline(const std::string& op, std::span<const std::uint32_t> spirv,
                                            PipelineLayoutSpec spec)
{
    return ctx_->pipeline(op, [&]() { return ComputePipeline::create(*ctx_, op, spirv, spec); });
}

Result<void> Recorder::begin()
{
    if (recording_) return success();
    if (auto usable = ctx_->checkUsable(); !usable) return usable.error();
    VkCommandBufferBeginInfo bi{};
    bi.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO;
    bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    if (VkResult r = vkBeginCommandBuffer(cmd_, &bi); r != VK_SUCCESS)
        return vulkanError(r, "could not record commands", "Vulkan recorder");
    if (profile_) vkCmdResetQueryPool(cmd_, queries_, 0, queryCapacity_);
    recording_ = true;
    return success();
}

void Recorder::track(std::span<const Binding> bindings)
{
    bool hazard = false;
    for (const Binding& b : bindings) {
        for (const Region& w : writtenSinceBarrier_) hazard = hazard || w.overlaps(b.region);
        if (b.written)
            for (const Region& r : readSinceBarrier_) hazard = hazard || r.overlaps(b.region);
    }
    if (hazard) {
        fullBarrier(cmd_);
        ++stats_.barriers;
        readSinceBarrier_.clear();
        writtenSinceBarrier_.clear();
    }
    for (const Binding& b : bindings) (b.written ? writtenSinceBarrier_ : readSinceBarrier_).push_back(b.region);
}

Result<VkDescriptorSet> Recorder::allocateSet(const ComputePipeline& pipeline)
{
    const VkDevice dev = ctx_->device();
    const VkDescriptorSetLayout layout = pipeline.setLayout();
    VkDescriptorSetAllocateInfo ai{};
    ai.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO;
    ai.descriptorSetCount = 1;
    ai.pSetLayouts = &layout;
    for (;; ++pool_) {
        if (pool_ == pools_.size()) {
            VkDescriptorPoolSize size{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, kSetsPerPool * kBuffersPerSet};
            VkDescriptorPoolCreateInfo dp{};
            dp.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO;
            dp.maxSets = kSetsPerPool;
            dp.poolSizeCount = 1;
            dp.pPoolSizes = &size;
            VkDescriptorPool p = VK_NULL_HANDLE;
            if (VkResult r = vkCreateDescriptorPool(dev, &dp, nullptr, &p); r != VK_SUCCESS)
                return vulkanError(r, "could not create a descriptor pool", "Vulkan op " + pipeline.op());
            pools_.push_back(p);
        }
        ai.descriptorPool = pools_[pool_];
        VkDescriptorSet set = VK_NULL_HANDLE;
        const VkResult r = vkAllocateDescriptorSets(dev, &ai, &set);
        if (r == VK_SUCCESS) return set;
        if (r != VK_ERROR_OUT_OF_POOL_MEMORY && r != VK_ERROR_FRAGMENTED_POOL)
            return vulkanError(r, "could not allocate a descriptor set", "Vulkan op " + pipeline.op());
    }
}

Result<void> Recorder::dispatch(const ComputePipeline& pipeline, std::span<const Binding> bindings,
                                std::span<const std::byte> push, Grid grid, std::string_view label)
{
    const std::string where = "Vulkan op " + pipeline.op();
    try {
        if (bindings.size() != pipeline.bindings())
            return makeError("got " + std::to_string(bindings.size()) + " buffers for " +
                                 std::to_string(pipeline.bindings()) + " bindings",
                             where);
        if (push.size() != pipeline.pushConstantBytes())
            return makeError("got " + std::to_string(push.size()) + " push-constant bytes for " +
                                 std::to_string(pipeline.pushConstantBytes()),
                             where);
        const auto& lim = ctx_->limits();
        if (grid.x > lim.maxComputeWorkGroupCount[0] || grid.y > lim.maxComputeWorkGroupCount[1] ||
            grid.z > lim.maxComputeWorkGroupCount[2])
            return makeError("the dispatch grid is larger than the device allows", where);
        for (const Binding& b : bindings) {
            if (!b.region.valid()) return makeError("a buffer is missing or was freed", where);
            if (b.region.bytes > lim.maxStorageBufferRange)
                return makeError("a tensor of " + std::to_string(b.region.bytes) + " bytes is bound; the device binds at most " +
                                     std::to_string(lim.maxStorageBufferRange),
                                 where, "split the tensor");
        }
        if (grid.groups() == 0) return success();
        if (auto ok = begin(); !ok) return ok;

        auto set = allocateSet(pipeline);
        if (!set) return set.error();
        std::vector<VkDescriptorBufferInfo> infos(bindings.size());
        std::vector<VkWriteDescriptorSet> writes(bindings.size());
        for (std::size_t i = 0; i < bindings.size(); ++i) {
            infos[i] = {bindings[i].region.buffer, bindings[i].region.offset, bindings[i].region.bytes};
            writes[i].sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET;
            writes[i].dstSet = set.value();
            writes[i].dstBinding = std::uint32_t(i);
            writes[i].descriptorCount = 1;
            writes[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
            writes[i].pBufferInfo = &infos[i];
        }
        if (!writes.empty()) vkUpdateDescriptorSets(ctx_->device(), std::uint32_t(writes.size()), writes.data(), 0, nullptr);

        track(bindings);
        const bool timed = profile_ && 2 * (labels_.size() + 1) <= queryCapacity_;
        if (timed)
            vkCmdWriteTimestamp(cmd_, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, queries_, std::uint32_t(2 * labels_.size()));
        vkCmdBindPipeline(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline.handle());
        if (!writes.empty())
            vkCmdBindDescriptorSets(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline.layout(), 0, 1, &set.value(), 0,
                                    nullptr);
        if (!push.empty())
            vkCmdPushConstants(cmd_, pipeline.layout(), VK_SHADER_STAGE_COMPUTE_BIT, 0, std::uint32_t(push.size()),
                               push.data());
        vkCmdDispatch(cmd_, grid.x, grid.y, grid.z);
        if (timed) {
            vkCmdWriteTimestamp(cmd_, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, queries_,
                                std::uint32_t(2 * labels_.size() + 1));
            labels_.emplace_back(label.empty() ? pipeline.op() : std::string(label));
        }
        ++stats_.dispatches;
        return success();
    } catch (const std::exception& e) {
        return makeError(std::string("recording failed: ") + e.what(), where);
    }
}

Result<Allocation> Recorder::staging(VkDeviceSize bytes, const std::string& label)
{
    if (!staging_) staging_ = MemoryPool::create(*ctx_, MemoryKind::Staging);
    return staging_->allocate(bytes, label);
}

Result<void> Recorder::upload(const Region& dst, std::span<const std::byte> data)
{
    try {
        if (data.size_bytes() > dst.bytes)
            return makeError("an upload of " + std::to_string(data.size()) + " bytes does not fit a tensor of " +
                                 std::to_string(dst.bytes) + " bytes",
                             "Vulkan upload");
        if (data.empty()) return success();
        if (auto ok = begin(); !ok) return ok;
        auto s = staging(data.size_bytes(), "upload");
        if (!s) return s.error();
        std::memcpy(s.value().region().mapped, data.data(), data.size_bytes());
        Region src = s.value().region();
        src.bytes = data.size_bytes();
        Region to = dst;
        to.bytes = data.size_bytes();
        if (auto ok = copy(src, to); !ok) return ok;
        uploads_.push_back(std::move(s.value()));
        return success();
    } catch (const std::exception& e) {
        return makeError(std::string("upload failed: ") + e.what(), "Vulkan upload");
    }
}

Result<void> Recorder::download(const Region& src, std::span<float> dst)
{
    try {
        if (dst.size_bytes() > src.bytes)
            return makeError("a download of " + std::to_string(dst.size()) + " floats reads past a tensor of " +
                                 std::to_string(src.floats()),
                             "Vulkan download");
        if (dst.empty()) return success();
        if (auto ok = begin(); !ok) return ok;
        auto s = staging(dst.size_bytes(), "download");
        if (!s) return s.error();
        Region from = src;
        from.bytes = dst.size_bytes();
        Region to = s.value().region();
        to.bytes = dst.size_bytes();
        if (auto ok = copy(from, to); !ok) return ok;
        downloads_.push_back({std::move(s.value()), dst});
        return success();
    } catch (const std::exception& e) {
        return makeError(std::string("download failed: ") + e.what(), "Vulkan download");
    }
}

Result<void> Recorder::copy(const Region& src, const Region& dst)
{
    if (src.bytes > dst.bytes) return makeError("a copy does not fit its destination", "Vulkan copy");
    if (src.bytes == 0) return success();
    if (auto ok = begin(); !ok) return ok;
    const Binding touched[] = {in(src), out(Region{dst.buffer, dst.offset, src.bytes, nullptr})};
    track(touched);
    VkBufferCopy c{src.offset, dst.offset, src.bytes};
    vkCmdCopyBuffer(cmd_, src.buffer, dst.buffer, 1, &c);
    ++transfers_;
    return success();
}

void Recorder::reset()
{
    if (recording_) vkEndCommandBuffer(cmd_);
    recording_ = false;
    if (!ctx_->lost()) {
        vkResetCommandBuffer(cmd_, 0);
        for (VkDescriptorPool p : pools_) vkResetDescriptorPool(ctx_->device(), p, 0);
    }
    pool_ = 0;
    readSinceBarrier_.clear();
    writtenSinceBarrier_.clear();
    uploads_.clear();
    downloads_.clear();
    labels_.clear();
    transfers_ = 0;
    stats_.dispatches = 0;
    stats_.barriers = 0;
}

Result<void> Recorder::submit(std::chrono::milliseconds timeout)
{
    const std::string where = "Vulkan submit";
    try {
        if (!recording_) return success();
        if (auto usable = ctx_->checkUsable(); !usable) {
            reset();
            return usable.error();
        }
        // The shaders' and copies' writes must be visible to the host before downloads read them.
        VkMemoryBarrier barrier{};
        barrier.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER;
        barrier.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
        barrier.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
        vkCmdPipelineBarrier(cmd_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                             VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &barrier, 0, nullptr, 0, nullptr);
        recording_ = false;
        if (VkResult r = vkEndCommandBuffer(cmd_); r != VK_SUCCESS) {
            reset();
            return vulkanError(r, "could not record commands", where);
        }
        vkResetFences(ctx_->device(), 1, &fence_);
        VkSubmitInfo si{};
        si.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO;
        si.commandBufferCount = 1;
        si.pCommandBuffers = &cmd_;
        if (VkResult r = vkQueueSubmit(ctx_->queue(), 1, &si, fence_); r != VK_SUCCESS) {
            if (r == VK_ERROR_DEVICE_LOST) ctx_->markLost("the device was lost on submit");
            reset();
            return vulkanError(r, "could not submit work to the GPU", where);
        }
        ++stats_.submits;
        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count();
        const VkResult w = vkWaitForFences(ctx_->device(), 1, &fence_, VK_TRUE, std::uint64_t(ns > 0 ? ns : 0));
        if (w == VK_TIMEOUT) {
            const std::string span = std::to_string(timeout.count()) + " ms";
            ctx_->markLost("a submit of " + std::to_string(stats_.dispatches) + " dispatches did not finish within " + span);
            // The GPU may still use the staging memory: leak it rather than free memory in use.
            for (auto& d : downloads_) ctx_->deferDestroy([a = std::make_shared<Allocation>(std::move(d.staging))] {});
            for (auto& u : uploads_) ctx_->deferDestroy([a = std::make_shared<Allocation>(std::move(u))] {});
            reset();
            return makeError("the GPU did not finish within " + span, where,
                             "the GPU may be hung or far too slow for this size; use the CPU backend");
        }
        if (w != VK_SUCCESS) {
            if (w == VK_ERROR_DEVICE_LOST) ctx_->markLost("the device was lost while running a forward pass");
            reset();
            return vulkanError(w, "waiting for the GPU failed", where);
        }
        for (auto& d : downloads_) std::memcpy(d.dst.data(), d.staging.region().mapped, d.dst.size_bytes());
        timings_.clear();
        if (profile_ && !labels_.empty()) {
            std::vector<std::uint64_t> ticks(2 * labels_.size());
            if (vkGetQueryPoolResults(ctx_->device(), queries_, 0, std::uint32_t(ticks.size()),
                                      ticks.size() * sizeof(std::uint64_t), ticks.data(), sizeof(std::uint64_t),
                                      VK_QUERY_RESULT_64_BIT) == VK_SUCCESS)
                for (std::size_t i = 0; i < labels_.size(); ++i)
                    timings_.push_back({labels_[i], double(ticks[2 * i + 1] - ticks[2 * i]) *
                                                        ctx_->timestampPeriodNs() / 1e6});
        }
        reset();
        return success();
    } catch (const std::exception& e) {
        reset();
        return makeError(std::string("submit failed: ") + e.what(), where);
    }
}

}  // namespace kiln::vk
