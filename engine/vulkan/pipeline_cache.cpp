#include "vulkan/pipeline_cache.h"

#include "core/atomic_file.h"
#include "core/cache_dir.h"

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

namespace kiln::vk {

namespace {

constexpr std::uintmax_t kMaxCacheBytes = std::uintmax_t(256) << 20;

// The header every driver writes first (Vulkan spec, "Pipeline Cache"): length, version,
// vendor, device, cache UUID. A file from another GPU or driver build is not handed over.
bool headerMatches(const std::vector<char>& data, const VkPhysicalDeviceProperties& p)
{
    if (data.size() < 16 + VK_UUID_SIZE) return false;
    std::uint32_t length = 0, version = 0, vendor = 0, device = 0;
    std::memcpy(&length, data.data(), 4);
    std::memcpy(&version, data.data() + 4, 4);
    std::memcpy(&vendor, data.data() + 8, 4);
    std::memcpy(&device, data.data() + 12, 4);
    return length >= 16 + VK_UUID_SIZE && version == VK_PIPELINE_CACHE_HEADER_VERSION_ONE && vendor == p.vendorID &&
           device == p.deviceID && std::memcmp(data.data() + 16, p.pipelineCacheUUID, VK_UUID_SIZE) == 0;
}

}  // namespace

PipelineCacheFile::PipelineCacheFile(VkDevice device, const VkPhysicalDeviceProperties& properties) : device_(device)
{
    const auto dir = cacheDir();
    if (!dir.empty()) {
        char name[64];
        std::snprintf(name, sizeof name, "vulkan-pipelines-%08x-%08x.bin", properties.vendorID, properties.deviceID);
        path_ = (dir / name).string();
    }
    std::vector<char> data;
    std::error_code ec;
    if (!path_.empty() && std::filesystem::is_regular_file(path_, ec) &&
        std::filesystem::file_size(path_, ec) <= kMaxCacheBytes) {
        std::ifstream in(path_, std::ios::binary);
        data.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        if (!headerMatches(data, properties)) data.clear();
    }
    VkPipelineCacheCreateInfo ci{};
    ci.sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO;
    ci.initialDataSize = data.size();
    ci.pInitialData = data.empty() ? nullptr : data.data();
    if (vkCreatePipelineCache(device_, &ci, nullptr, &cache_) != VK_SUCCESS) {
        // A driver that rejects the data: start empty rather than without a cache.
        ci.initialDataSize = 0;
        ci.pInitialData = nullptr;
        data.clear();
        if (vkCreatePipelineCache(device_, &ci, nullptr, &cache_) != VK_SUCCESS) cache_ = VK_NULL_HANDLE;
    }
    loaded_ = data.size();
}

PipelineCacheFile::~PipelineCacheFile()
{
    if (!cache_) return;
    std::size_t size = 0;
    std::vector<char> data;
    if (!path_.empty() && vkGetPipelineCacheData(device_, cache_, &size, nullptr) == VK_SUCCESS && size > 0 &&
        size <= kMaxCacheBytes) {
        data.resize(size);
        if (vkGetPipelineCacheData(device_, cache_, &size, data.data()) != VK_SUCCESS) data.clear();
        data.resize(size);
    }
    vkDestroyPipelineCache(device_, cache_, nullptr);
    if (data.empty()) return;
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path_).parent_path(), ec);
    // Best effort: a read-only home only costs compile time next run.
    if (auto f = AtomicFile::create(path_); f.ok())
        if (f.value().write(data.data(), data.size()).ok()) (void)f.value().commit();
}

}  // namespace kiln::vk
