// Kiln's Vulkan context: one instance, one logical device, one compute queue.
//
// The EngineThread owns the Context (DESIGN.md, "Threads"), so it is not thread-safe: the
// command pool, the queue and the pipeline cache are used from that one thread only.
// Buffers keep the Context alive through a shared_ptr, so device memory is never freed
// after the device it belongs to.
#pragma once

#include "kiln/result.h"

#include <volk.h>  // Vulkan through function pointers: the loader is opened at run time

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kiln::vk {

class ComputePipeline;
class PipelineCacheFile;

// Kiln's shaders are compiled with --target-env=vulkan1.2, so older devices cannot run them.
inline constexpr std::uint32_t kRequiredApiVersion = VK_API_VERSION_1_2;

// What Kiln knows about one physical device, independent of whether it was chosen.
struct DeviceCandidate {
    int index = 0;                 // position in vkEnumeratePhysicalDevices order
    std::string name;
    VkPhysicalDeviceType type = VK_PHYSICAL_DEVICE_TYPE_OTHER;
    std::uint32_t apiVersion = 0;
    std::string driver;            // "llvmpipe Mesa 22.3.6 (LLVM 15.0.6)"
    std::uint64_t deviceLocalBytes = 0;
    int computeQueueFamily = -1;   // -1: no queue family can run compute
    std::string unusable;          // why Kiln cannot use it; empty when it can
    VkPhysicalDevice handle = VK_NULL_HANDLE;
};

// "discrete GPU", "integrated GPU", "virtual GPU", "CPU (software)" or "other".
std::string deviceTypeName(VkPhysicalDeviceType type);
std::string apiVersionString(std::uint32_t version);

// Turns a failed VkResult into an Error a person can act on. Device loss and the two
// out-of-memory codes get their own words because they mean different things to do.
Error vulkanError(VkResult result, const std::string& what, const std::string& where = {});

// Picks a device: KILN_VULKAN_DEVICE (envValue) wins over `preferred` (from the settings);
// each is a device index or a case-insensitive substring of the name. Without either, the
// best usable device by type: discrete > integrated > virtual > CPU > other. A value that
// matches no usable device is an Error that lists the devices, so a person can correct it.
// Pure, so that the order and the override rules are testable without hardware.
Result<int> selectDevice(const std::vector<DeviceCandidate>& devices, const std::string& preferred,
                         const char* envValue);

// The instance alone; enough to enumerate devices for probeVulkan().
class Instance {
public:
    static Result<std::shared_ptr<Instance>> create();
    ~Instance();
    Instance(const Instance&) = delete;
    Instance& operator=(const Instance&) = delete;

    VkInstance handle() const { return instance_; }
    std::uint32_t loaderVersion() const { return loaderVersion_; }
    bool validationEnabled() const { return validation_; }
    // Errors the validation layer reported so far (printed to stderr as they come); tests
    // run with KILN_VULKAN_VALIDATION=1 require none.
    int validationErrors() const { return validation_errors_.load(); }
    Result<std::vector<DeviceCandidate>> enumerateDevices() const;

private:
    Instance() = default;
    static VKAPI_ATTR VkBool32 VKAPI_CALL onValidationMessage(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                              VkDebugUtilsMessageTypeFlagsEXT types,
                                                              const VkDebugUtilsMessengerCallbackDataEXT* data,
                                                              void* self);

    VkInstance instance_ = VK_NULL_HANDLE;
    VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
    std::uint32_t loaderVersion_ = 0;
    bool validation_ = false;
    std::atomic<int> validation_errors_{0};
};

class Context : public std::enable_shared_from_this<Context> {
public:
    // `preferred` is the device the settings name (index or name substring); may be empty.
    static Result<std::shared_ptr<Context>> create(const std::string& preferred = {});
    ~Context();
    Context(const Context&) = delete;
    Context& operator=(const Context&) = delete;

    VkDevice device() const { return device_; }
    VkPhysicalDevice physicalDevice() const { return device_info_.handle; }
    VkQueue queue() const { return queue_; }
    std::uint32_t queueFamily() const { return static_cast<std::uint32_t>(device_info_.computeQueueFamily); }
    VkCommandPool commandPool() const { return command_pool_; }
    const DeviceCandidate& deviceInfo() const { return device_info_; }
    const VkPhysicalDeviceLimits& limits() const { return properties_.limits; }
    const std::vector<DeviceCandidate>& allDevices() const { return all_devices_; }
    const Instance& instance() const { return *instance_; }

    // A memory type allowed by `typeBits` that has all `required` flags, preferring one that
    // also has the `preferred` flags.
    std::optional<std::uint32_t> findMemoryType(std::uint32_t typeBits, VkMemoryPropertyFlags required,
                                                VkMemoryPropertyFlags preferred = 0) const;

    VkMemoryPropertyFlags memoryTypeFlags(std::uint32_t type) const { return memory_.memoryTypes[type].propertyFlags; }
    // Whether vkCmdWriteTimestamp works on the compute queue (profiling), and ns per tick.
    bool timestampsSupported() const { return timestamp_bits_ > 0 && properties_.limits.timestampPeriod > 0; }
    double timestampPeriodNs() const { return properties_.limits.timestampPeriod; }
    // Whether shaders may read fp16 storage buffers (storageBuffer16BitAccess, enabled when the
    // device has it): the *_f16w weight variants. KILN_VULKAN_NO_FP16=1 turns it off, so the
    // fp32 fallback can be tried on any device.
    bool supportsFp16Storage() const { return fp16_storage_; }

    // After a device loss or a fence timeout nothing more may be submitted: the GPU may still
    // run the old work. Every entry point checks this first and refuses with the reason.
    bool lost() const { return !lost_reason_.empty(); }
    Result<void> checkUsable() const;
    void markLost(std::string reason) { if (lost_reason_.empty()) lost_reason_ = std::move(reason); }
    // Handles the GPU may still use after a timeout; freed only once the device is idle.
    void deferDestroy(std::function<void()> destroy) { deferred_.push_back(std::move(destroy)); }

    // Pipelines are costly to build (the driver compiles the shader), so each op builds its
    // own once per context. The cache owns them; they never outlive the device.
    // The on-disk VkPipelineCache the pipelines are compiled through (VK_NULL_HANDLE: none).
    VkPipelineCache pipelineCache() const;
    const PipelineCacheFile* pipelineCacheFile() const { return pipeline_cache_.get(); }

    Result<ComputePipeline*> pipeline(const std::string& key,
                                      const std::function<Result<std::unique_ptr<ComputePipeline>>()>& build);

private:
    Context() = default;

    std::shared_ptr<Instance> instance_;
    std::vector<DeviceCandidate> all_devices_;
    DeviceCandidate device_info_;
    VkPhysicalDeviceProperties properties_{};
    VkPhysicalDeviceMemoryProperties memory_{};
    VkDevice device_ = VK_NULL_HANDLE;
    VkQueue queue_ = VK_NULL_HANDLE;
    VkCommandPool command_pool_ = VK_NULL_HANDLE;
    std::unique_ptr<PipelineCacheFile> pipeline_cache_;
    std::map<std::string, std::unique_ptr<ComputePipeline>> pipelines_;
    std::vector<std::function<void()>> deferred_;
    std::string lost_reason_;
    std::uint32_t timestamp_bits_ = 0;
    bool fp16_storage_ = false;
};

}  // namespace kiln::vk
