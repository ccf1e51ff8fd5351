#include "kiln/vulkan_devices.h"

#include "vulkan/context.h"
#include "vulkan/loader.h"

#include <cstdlib>
#include <exception>

namespace kiln {

VulkanReport probeVulkan(const std::string& preferred)
{
    VulkanReport report;
    try {
        // Opened at run time: without it Kiln runs on the CPU and says why.
        if (auto loader = vk::openVulkanLoader(); !loader) {
            report.message = loader.error().message();
            return report;
        }
        report.loaderFound = true;
        auto inst = vk::Instance::create();
        if (!inst) {
            report.message = inst.error().message();
            return report;
        }
        report.loaderVersion = vk::apiVersionString(inst.value()->loaderVersion());
        auto devices = inst.value()->enumerateDevices();
        if (!devices) {
            report.message = devices.error().message();
            return report;
        }
        for (const auto& d : devices.value()) {
            VulkanDeviceInfo info;
            info.index = d.index;
            info.name = d.name;
            info.type = vk::deviceTypeName(d.type);
            info.apiVersion = vk::apiVersionString(d.apiVersion);
            info.driver = d.driver;
            info.deviceLocalBytes = d.deviceLocalBytes;
            info.software = d.type == VK_PHYSICAL_DEVICE_TYPE_CPU;
            info.unusable = d.unusable;
            report.devices.push_back(std::move(info));
        }
        auto chosen = vk::selectDevice(devices.value(), preferred, std::getenv("KILN_VULKAN_DEVICE"));
        if (chosen)
            report.selected = chosen.value();
        else
            report.message = chosen.error().message();
    } catch (const std::exception& e) {
        report.message = std::string("Vulkan probe failed: ") + e.what();
    } catch (...) {
        report.message = "Vulkan probe failed";
    }
    return report;
}

}  // namespace kiln
