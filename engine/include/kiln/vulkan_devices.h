// What Vulkan sees on this machine, for the About dialog, the settings' device list and
// `kiln-cli devices`. Std types only: callers never include vulkan.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kiln {

struct VulkanDeviceInfo {
    int index = -1;                  // what KILN_VULKAN_DEVICE and the setting accept
    std::string name;                // "llvmpipe (LLVM 15.0.6, 256 bits)"
    std::string type;                // "discrete GPU", "integrated GPU", "virtual GPU", "CPU (software)", "other"
    std::string apiVersion;          // "1.3.230"
    std::string driver;              // "llvmpipe Mesa 22.3.6 (LLVM 15.0.6)"
    std::uint64_t deviceLocalBytes = 0;
    bool software = false;           // runs on the CPU (lavapipe, SwiftShader): correct but slow
    std::string unusable;            // why Kiln cannot use it (too old, no compute queue); empty if usable
};

struct VulkanReport {
    bool loaderFound = false;        // false also when this build has no Vulkan support
    std::string loaderVersion;       // "1.3.239"
    std::vector<VulkanDeviceInfo> devices;
    int selected = -1;               // index of the device Kiln would use, -1 if none
    std::string message;             // why none is selected, or why Vulkan is unavailable
};

// Lists the devices and says which one Kiln would pick given `preferred` (the setting) and
// KILN_VULKAN_DEVICE, with the same rules as the Vulkan context. Opens no device; never throws.
#if defined(KILN_WITH_VULKAN)
VulkanReport probeVulkan(const std::string& preferred = {});
#else
// A build without Vulkan still answers, so that callers need no #if of their own.
inline VulkanReport probeVulkan(const std::string& = {})
{
    VulkanReport report;
    report.message = "this build of Kiln has no Vulkan support (built with KILN_WITH_VULKAN=OFF)";
    return report;
}
#endif

}  // namespace kiln
