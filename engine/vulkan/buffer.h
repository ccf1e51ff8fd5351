// A storage buffer the CPU can read and write directly.
//
// Memory is host-visible and coherent for now: simple, and on lavapipe and integrated GPUs it
// is the device's own memory anyway. On a discrete GPU shaders read it across PCIe, so the
// backend issue replaces it with device-local buffers plus staging copies for upload/download.
#pragma once

#include "kiln/result.h"
#include "vulkan/context.h"
#include "vulkan/memory.h"

#include <cstddef>
#include <memory>
#include <span>
#include <string>

namespace kiln::vk {

class Buffer {
public:
    // `label` names the buffer in errors ("add: out"). Zero bytes is allowed (an empty tensor);
    // Vulkan forbids empty buffers, so a minimal one is allocated behind it.
    static Result<Buffer> create(Context& ctx, std::size_t bytes, std::string label = {});
    static Result<Buffer> fromFloats(Context& ctx, std::span<const float> data, std::string label = {});

    Buffer() = default;
    ~Buffer();
    Buffer(Buffer&& other) noexcept;
    Buffer& operator=(Buffer&& other) noexcept;
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;

    // Copy floats in or out at a float offset. Fails, touching nothing, when out of range.
    Result<void> upload(std::span<const float> data, std::size_t offsetFloats = 0);
    Result<void> download(std::span<float> out, std::size_t offsetFloats = 0) const;

    VkBuffer handle() const { return buffer_; }
    Region region() const { return Region{buffer_, 0, VkDeviceSize(bytes_ == 0 ? 4 : bytes_), mapped_}; }
    std::size_t bytes() const { return bytes_; }
    std::size_t floats() const { return bytes_ / sizeof(float); }
    const std::string& label() const { return label_; }
    bool valid() const { return buffer_ != VK_NULL_HANDLE; }

private:
    void release();

    std::shared_ptr<Context> ctx_;  // keeps the device alive while this memory exists
    VkBuffer buffer_ = VK_NULL_HANDLE;
    VkDeviceMemory memory_ = VK_NULL_HANDLE;
    void* mapped_ = nullptr;        // persistently mapped: coherent memory needs no flush
    std::size_t bytes_ = 0;
    std::string label_;
};

}  // namespace kiln::vk
