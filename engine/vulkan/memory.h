// Device memory for tensors: a few large VkBuffers ("blocks") carved into suballocations, since
// drivers allow only a few thousand vkAllocateMemory calls and each one is slow.
//
// Tensors live in device-local memory; staging memory (host-visible) carries uploads and
// downloads (see Recorder). On lavapipe and integrated GPUs the two kinds are the same memory,
// on a discrete GPU device-local memory is the card's own.
#pragma once

#include "kiln/result.h"
#include "vulkan/context.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace kiln::vk {

// A byte range of one VkBuffer: what a shader binding sees. Not owning.
struct Region {
    VkBuffer buffer = VK_NULL_HANDLE;
    VkDeviceSize offset = 0;
    VkDeviceSize bytes = 0;
    void* mapped = nullptr;  // host pointer to the first byte when the memory is host-visible

    std::size_t floats() const { return std::size_t(bytes / 4); }
    bool valid() const { return buffer != VK_NULL_HANDLE; }
    // A sub-range, in floats. Callers keep it within the region (asserted in debug builds).
    Region slice(std::size_t offsetFloats, std::size_t countFloats) const;
    bool overlaps(const Region& o) const
    {
        return buffer == o.buffer && offset < o.offset + o.bytes && o.offset < offset + bytes;
    }
};

enum class MemoryKind { Device, Staging };

class MemoryPool;

// One suballocation; returns its range to the pool when destroyed. Movable, not copyable.
class Allocation {
public:
    Allocation() = default;
    ~Allocation();
    Allocation(Allocation&& o) noexcept;
    Allocation& operator=(Allocation&& o) noexcept;
    Allocation(const Allocation&) = delete;
    Allocation& operator=(const Allocation&) = delete;

    const Region& region() const { return region_; }
    std::size_t floats() const { return region_.floats(); }
    bool valid() const { return region_.valid(); }
    const std::string& label() const { return label_; }

private:
    friend class MemoryPool;
    void release();

    std::shared_ptr<MemoryPool> pool_;
    std::size_t block_ = 0;
    Region region_;
    std::string label_;
};

struct MemoryStats {
    std::uint64_t reservedBytes = 0;  // all blocks together
    std::uint64_t usedBytes = 0;      // live suballocations
    std::uint64_t peakUsedBytes = 0;
    std::size_t blocks = 0;
};

class MemoryPool : public std::enable_shared_from_this<MemoryPool> {
public:
    static constexpr VkDeviceSize kDefaultBlockBytes = VkDeviceSize(64) << 20;

    static std::shared_ptr<MemoryPool> create(Context& ctx, MemoryKind kind,
                                              VkDeviceSize blockBytes = kDefaultBlockBytes);
    ~MemoryPool();
    MemoryPool(const MemoryPool&) = delete;
    MemoryPool& operator=(const MemoryPool&) = delete;

    // `bytes` rounded up to the device's binding alignment; 0 bytes gives a minimal range.
    // A request larger than the device can bind in one descriptor is refused (the tensor must
    // be split), and exhausted memory is an Error that says how much was asked and held.
    Result<Allocation> allocate(VkDeviceSize bytes, std::string label);

    // Refuses allocations that would take reserved memory past `bytes` (0: no cap). Lets the
    // settings keep Kiln below the card's size, and lets tests exhaust memory on purpose.
    void setCapacityLimit(std::uint64_t bytes) { limit_ = bytes; }
    MemoryStats stats() const { return stats_; }
    MemoryKind kind() const { return kind_; }
    Context& context() { return *ctx_; }

private:
    friend class Allocation;
    struct Block {
        VkBuffer buffer = VK_NULL_HANDLE;
        VkDeviceMemory memory = VK_NULL_HANDLE;
        VkDeviceSize size = 0;
        void* mapped = nullptr;
        std::vector<std::pair<VkDeviceSize, VkDeviceSize>> free;  // (offset, size), sorted, coalesced
    };
    MemoryPool() = default;
    Result<std::size_t> addBlock(VkDeviceSize bytes, const std::string& label);
    void free(std::size_t block, VkDeviceSize offset, VkDeviceSize bytes);

    std::shared_ptr<Context> ctx_;
    MemoryKind kind_ = MemoryKind::Device;
    VkDeviceSize blockBytes_ = kDefaultBlockBytes;
    VkDeviceSize alignment_ = 256;
    std::uint64_t limit_ = 0;
    std::vector<Block> blocks_;
    MemoryStats stats_;
};

}  // namespace kiln::vk
