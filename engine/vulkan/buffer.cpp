#include "vulkan/buffer.h"

#include <cstring>
#include <exception>
#include <utility>

namespace kiln::vk {

Result<Buffer> Buffer::create(Context& ctx, std::size_t bytes, std::string label)
{
    try {
        if (auto usable = ctx.checkUsable(); !usable) return usable.error();
        const std::string where = label.empty() ? std::string("Vulkan buffer") : label;
        Buffer b;
        b.ctx_ = ctx.shared_from_this();
        b.bytes_ = bytes;
        b.label_ = std::move(label);
        // Storage buffers are read as whole words; round up so the last partial word exists.
        const VkDeviceSize allocBytes = bytes == 0 ? 4 : (VkDeviceSize(bytes) + 3) & ~VkDeviceSize(3);

        VkBufferCreateInfo bci{};
        bci.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO;
        bci.size = allocBytes;
        // Transfer bits now, so that the backend's staging copies need no new buffer kind.
        bci.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                    VK_BUFFER_USAGE_TRANSFER_DST_BIT;
        bci.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
        VkResult r = vkCreateBuffer(ctx.device(), &bci, nullptr, &b.buffer_);
        if (r != VK_SUCCESS) {
            b.buffer_ = VK_NULL_HANDLE;
            return vulkanError(r, "could not create a buffer of " + std::to_string(bytes) + " bytes", where);
        }

        VkMemoryRequirements req{};
        vkGetBufferMemoryRequirements(ctx.device(), b.buffer_, &req);
        // Cached memory makes download() a fast CPU read instead of an uncached one.
        const auto type = ctx.findMemoryType(req.memoryTypeBits,
                                             VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT,
                                             VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
        if (!type)
            return makeError("the Vulkan device offers no host-visible coherent memory for buffers", where,
                             "this device is not supported yet; use the CPU backend");

        VkMemoryAllocateInfo mai{};
        mai.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO;
        mai.allocationSize = req.size;
        mai.memoryTypeIndex = *type;
        r = vkAllocateMemory(ctx.device(), &mai, nullptr, &b.memory_);
        if (r != VK_SUCCESS) {
            b.memory_ = VK_NULL_HANDLE;
            return vulkanError(r, "could not allocate " + std::to_string(req.size) + " bytes", where);
        }
        r = vkBindBufferMemory(ctx.device(), b.buffer_, b.memory_, 0);
        if (r != VK_SUCCESS) return vulkanError(r, "could not bind buffer memory", where);
        r = vkMapMemory(ctx.device(), b.memory_, 0, VK_WHOLE_SIZE, 0, &b.mapped_);
        if (r != VK_SUCCESS) {
            b.mapped_ = nullptr;
            return vulkanError(r, "could not map buffer memory", where);
        }
        return b;
    } catch (const std::exception& e) {
        return makeError(std::string("could not create a Vulkan buffer: ") + e.what(), label);
    }
}

Result<Buffer> Buffer::fromFloats(Context& ctx, std::span<const float> data, std::string label)
{
    auto b = create(ctx, data.size_bytes(), std::move(label));
    if (!b) return b;
    if (auto up = b.value().upload(data); !up) return up.error();
    return b;
}

Buffer::~Buffer()
{
    release();
}

Buffer::Buffer(Buffer&& o) noexcept
    : ctx_(std::move(o.ctx_)), buffer_(std::exchange(o.buffer_, VK_NULL_HANDLE)),
      memory_(std::exchange(o.memory_, VK_NULL_HANDLE)), mapped_(std::exchange(o.mapped_, nullptr)),
      bytes_(std::exchange(o.bytes_, 0)), label_(std::move(o.label_))
{
}

Buffer& Buffer::operator=(Buffer&& o) noexcept
{
    if (this != &o) {
        release();
        ctx_ = std::move(o.ctx_);
        buffer_ = std::exchange(o.buffer_, VK_NULL_HANDLE);
        memory_ = std::exchange(o.memory_, VK_NULL_HANDLE);
        mapped_ = std::exchange(o.mapped_, nullptr);
        bytes_ = std::exchange(o.bytes_, 0);
        label_ = std::move(o.label_);
    }
    return *this;
}

void Buffer::release()
{
    if (!ctx_) return;
    const VkDevice dev = ctx_->device();
    if (mapped_) vkUnmapMemory(dev, memory_);
    if (buffer_) vkDestroyBuffer(dev, buffer_, nullptr);
    if (memory_) vkFreeMemory(dev, memory_, nullptr);
    mapped_ = nullptr;
    buffer_ = VK_NULL_HANDLE;
    memory_ = VK_NULL_HANDLE;
    ctx_.reset();
}

Result<void> Buffer::upload(std::span<const float> data, std::size_t offsetFloats)
{
    if (!mapped_) return makeError("upload to an empty buffer", label_);
    if (offsetFloats > floats() || data.size() > floats() - offsetFloats)
        return makeError("upload of " + std::to_string(data.size()) + " floats at " + std::to_string(offsetFloats) +
                             " does not fit a buffer of " + std::to_string(floats()) + " floats",
                         label_);
    // Coherent memory: the next vkQueueSubmit makes host writes visible to the device.
    if (!data.empty()) std::memcpy(static_cast<float*>(mapped_) + offsetFloats, data.data(), data.size_bytes());
    return success();
}

Result<void> Buffer::download(std::span<float> out, std::size_t offsetFloats) const
{
    if (!mapped_) return makeError("download from an empty buffer", label_);
    if (offsetFloats > floats() || out.size() > floats() - offsetFloats)
        return makeError("download of " + std::to_string(out.size()) + " floats at " + std::to_string(offsetFloats) +
                             " is outside a buffer of " + std::to_string(floats()) + " floats",
                         label_);
    if (!out.empty()) std::memcpy(out.data(), static_cast<const float*>(mapped_) + offsetFloats, out.size_bytes());
    return success();
}

}  // namespace kiln::vk
