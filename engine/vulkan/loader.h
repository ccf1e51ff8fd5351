// The Vulkan loader (libvulkan.so.1) is opened at run time, not linked: on a machine without it
// Kiln still starts, and every Vulkan entry point says what is missing so that runs fall back to
// the CPU. volk provides the function pointers.
#pragma once

#include "kiln/result.h"

namespace kiln::vk {

// Opens the loader once per process (thread-safe) and returns the same answer afterwards.
// KILN_VULKAN_LOADER names another library file to open instead (a custom loader, and tests).
Result<void> openVulkanLoader();

}  // namespace kiln::vk
