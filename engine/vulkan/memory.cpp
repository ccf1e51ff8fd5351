#include "vulkan/memory.h"

#include "kiln/weights.h"

#include <algorithm>
#include <cassert>
#include <exception>
#include <optional>
#include <utility>

namespace kiln::vk {

Region Region::slice(std::size_t offsetFloats, std::size_t countFloats) const
{
    assert((offsetFloats + countFloats) * 4 <= bytes);
    Region r = *this;
    r.offset += VkDeviceSize(offsetFloats) * 4;
    r.bytes = VkDeviceSize(countFloats) * 4;
    if (mapped) r.mapped = static_cast<char*>(mapped) + offsetFloats * 4;
    return r;
}

// ---- Allocation ----

Allocation::~Allocation()
{
    release();
}

Allocation::Allocation(Allocation&& o) noexcept
    : pool_(std::move(o.pool_)), block_(o.block_), region_(std::exchange(o.region_, Region{})),
      label_(std::move(o.label_))
{
}

Allocation& Allocation::operator=(Allocation&& o) noexcept
{
    if (this != &o) {
        release();
        pool_ = std::move(o.pool_);
        block_ = o.block_;
        region_ = std::exchange(o.region_, Region{});
        label_ = std::move(o.label_);
    }
    return *this;
}

void Allocation::release()
{
    if (pool_ && region_.valid()) pool_->free(block_, region_.offset, region_.bytes);
    pool_.reset();
    region_ = Region{};
}

// ---- MemoryPool ----

std::shared_ptr<MemoryPool> MemoryPool::create(Context& ctx, MemoryKind kind, VkDeviceSize blockBytes)
{
    std::shared_ptr<MemoryPool> p(new MemoryPool());
    p->ctx_ = ctx.shared_from_this();
    p->kind_ = kind;
    p->blockBytes_ = blockBytes;
    // Every binding offset must be a multiple of this; 4 keeps float indexing whole.
    p->alignment_ = std::max<VkDeviceSize>(4, ctx.limits().minStorageBufferOffsetAlignment);
    return p;
}

MemoryPool::~MemoryPool()
{
    const VkDevice dev = ctx_->device();
    for (auto& b : blocks_) {
        if (b.mapped) vkUnmapMemory(dev, b.memory);
        if (b.buffer) vkDestroyBuffer(dev, b.buffer, nullptr);
        if (b.memory) vkFreeMemory(dev, b.memory, nullptr);
    }
}

Result<std::size_t> MemoryPool::addBlock(VkDeviceSize bytes, const std::string& label)
{
    const std::string where = label.empty() ? std::string("Vulkan memory") : label;
    if (limit_ && stats_.reservedBytes + bytes > limit_)
        return makeError("device memory exhausted: " + formatBytes(bytes) + " more would pass the limit of " +
                             formatBytes(limit_) + " (" + formatBytes(stats_.reservedBytes) + " held)",
                         where, "use a smaller batch or model, or the CPU backend");
    const VkDevice dev = ctx_->device();
    Block b;
    b.size = bytes;
    VkBufferCreateInfo bci{};
    bci.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO;
    bci.size = bytes;
    bci.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    bci.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
    if (VkResult r = vkCreateBuffer(dev, &bci, nullptr, &b.buffer); r != VK_SUCCESS)
        return vulkanError(r, "could not create a buffer of " + formatBytes(bytes), where);
    VkMemoryRequirements req{};
    vkGetBufferMemoryRequirements(dev, b.buffer, &req);
    const auto type = kind_ == MemoryKind::Device
                          ? ctx_->findMemoryType(req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT)
                          : ctx_->findMemoryType(req.memoryTypeBits,
                                                 VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT,
                                                 VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
    auto fail = [&](Error e) {
        vkDestroyBuffer(dev, b.buffer, nullptr);
        if (b.memory) vkFreeMemory(dev, b.memory, nullptr);
        return e;
    };
    if (!type) return fail(makeError("the device offers no suitable memory type", where));
    VkMemoryAllocateInfo mai{};
    mai.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO;
    mai.allocationSize = req.size;
    mai.memoryTypeIndex = *type;
    if (VkResult r = vkAllocateMemory(dev, &mai, nullptr, &b.memory); r != VK_SUCCESS) {
        b.memory = VK_NULL_HANDLE;
        return fail(vulkanError(r, "device memory exhausted: could not allocate " + formatBytes(req.size) + " with " +
                                       formatBytes(stats_.reservedBytes) + " already held",
                                where));
    }
    if (VkResult r = vkBindBufferMemory(dev, b.buffer, b.memory, 0); r != VK_SUCCESS)
        return fail(vulkanError(r, "could not bind buffer memory", where));
    // Device-local memory is mapped too where it is host-visible (lavapipe, integrated GPUs):
    // then uploads are plain copies.
    const auto flags = ctx_->memoryTypeFlags(*type);
    if (flags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT && flags & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT) {
        if (VkResult r = vkMapMemory(dev, b.memory, 0, VK_WHOLE_SIZE, 0, &b.mapped); r != VK_SUCCESS)
            return fail(vulkanError(r, "could not map memory", where));
    } else if (kind_ == MemoryKind::Staging) {
        return fail(makeError("staging memory is not host-visible", where));
    }
    b.free.push_back({0, bytes});
    blocks_.push_back(std::move(b));
    stats_.reservedBytes += bytes;
    stats_.blocks = blocks_.size();
    return blocks_.size() - 1;
}

Result<Allocation> MemoryPool::allocate(VkDeviceSize bytes, std::string label)
{
    try {
        if (auto usable = ctx_->checkUsable(); !usable) return usable.error();
        const VkDeviceSize maxRange = ctx_->limits().maxStorageBufferRange;
        if (bytes > maxRange)
            return makeError("a tensor of " + formatBytes(bytes) + " is larger than the device binds at once (" +
                                 formatBytes(maxRange) + ")",
                             label, "use a smaller batch or image size");
        const VkDeviceSize size = std::max<VkDeviceSize>(alignment_, (bytes + alignment_ - 1) / alignment_ * alignment_);
        auto take = [&](std::size_t bi) -> std::optional<Allocation> {
            auto& fl = blocks_[bi].free;
            for (auto it = fl.begin(); it != fl.end(); ++it) {
                if (it->second < size) continue;
                Allocation a;
                a.pool_ = shared_from_this();
                a.block_ = bi;
                a.region_.buffer = blocks_[bi].buffer;
                a.region_.offset = it->first;
                a.region_.bytes = bytes == 0 ? 4 : bytes;
                if (blocks_[bi].mapped) a.region_.mapped = static_cast<char*>(blocks_[bi].mapped) + it->first;
                a.label_ = label;
                it->first += size;
                it->second -= size;
                if (it->second == 0) fl.erase(it);
                stats_.usedBytes += size;
                stats_.peakUsedBytes = std::max(stats_.peakUsedBytes, stats_.usedBytes);
                return a;
            }
            return std::nullopt;
        };
        for (std::size_t bi = 0; bi < blocks_.size(); ++bi)
            if (auto a = take(bi)) return std::move(*a);
        auto added = addBlock(std::max(size, blockBytes_), label);
        if (!added) return added.error();
        if (auto a = take(added.value())) return std::move(*a);
        return makeError("internal: a new block could not hold the allocation", label);
    } catch (const std::exception& e) {
        return makeError(std::string("allocation failed: ") + e.what(), label);
    }
}

void MemoryPool::free(std::size_t block, VkDeviceSize offset, VkDeviceSize bytes)
{
    const VkDeviceSize size = std::max<VkDeviceSize>(alignment_, (bytes + alignment_ - 1) / alignment_ * alignment_);
    auto& fl = blocks_.at(block).free;
    auto it = std::lower_bound(fl.begin(), fl.end(), std::make_pair(offset, VkDeviceSize(0)));
    it = fl.insert(it, {offset, size});
    if (auto next = it + 1; next != fl.end() && it->first + it->second == next->first) {
        it->second += next->second;
        fl.erase(next);
    }
    if (it != fl.begin()) {
        auto prev = it - 1;
        if (prev->first + prev->second == it->first) {
            prev->second += it->second;
            fl.erase(it);
        }
    }
    stats_.usedBytes -= size;
}

}  // namespace kiln::vk
