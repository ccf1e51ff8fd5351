// volk's implementation lives here, once for the whole program.
#define VOLK_IMPLEMENTATION
#include <volk.h>

#include "vulkan/loader.h"

#include <cstdlib>
#include <dlfcn.h>
#include <mutex>
#include <string>

namespace kiln::vk {

Result<void> openVulkanLoader()
{
    static std::once_flag once;
    static Result<void> result;
    std::call_once(once, [] {
        const char* custom = std::getenv("KILN_VULKAN_LOADER");
        if (custom && *custom) {
            void* lib = dlopen(custom, RTLD_NOW | RTLD_LOCAL);
            auto getProc = lib ? reinterpret_cast<PFN_vkGetInstanceProcAddr>(dlsym(lib, "vkGetInstanceProcAddr")) : nullptr;
            if (!getProc) {
                result = makeError(std::string("no Vulkan loader at ") + custom + " (KILN_VULKAN_LOADER)", "Vulkan",
                                   "unset KILN_VULKAN_LOADER to use the system's libvulkan.so.1");
                return;
            }
            volkInitializeCustom(getProc);
            return;
        }
        if (volkInitialize() != VK_SUCCESS)
            result = makeError("no Vulkan loader (libvulkan.so.1) is installed", "Vulkan",
                               "install libvulkan1 and a driver (mesa-vulkan-drivers, or your GPU vendor's)");
    });
    return result;
}

}  // namespace kiln::vk
