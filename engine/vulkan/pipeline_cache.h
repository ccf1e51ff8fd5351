// The driver's compiled shaders kept on disk between runs (a VkPipelineCache), so the first
// forward pass of a session does not wait for every shader to compile again. One file per
// device model and driver build, in $KILN_CACHE_DIR, else $XDG_CACHE_HOME/kiln, else ~/.cache/kiln.
#pragma once

#include <volk.h>

#include <cstdint>
#include <string>

namespace kiln::vk {

class PipelineCacheFile {
public:
    // Loads the file when its header matches this device and driver; otherwise starts empty.
    // Never fails: without a cache Kiln only compiles more.
    PipelineCacheFile(VkDevice device, const VkPhysicalDeviceProperties& properties);
    ~PipelineCacheFile();  // saves (atomically) what the driver holds now
    PipelineCacheFile(const PipelineCacheFile&) = delete;
    PipelineCacheFile& operator=(const PipelineCacheFile&) = delete;

    VkPipelineCache handle() const { return cache_; }
    const std::string& path() const { return path_; }
    std::size_t loadedBytes() const { return loaded_; }

private:
    VkDevice device_ = VK_NULL_HANDLE;
    VkPipelineCache cache_ = VK_NULL_HANDLE;
    std::string path_;
    std::size_t loaded_ = 0;
};

}  // namespace kiln::vk
