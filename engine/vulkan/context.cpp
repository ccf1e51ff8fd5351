#include "vulkan/context.h"

#include "vulkan/loader.h"
#include "vulkan/pipeline.h"
#include "vulkan/pipeline_cache.h"

#include "vulkan/pipeline.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>

namespace kiln::vk {

namespace {

const char* const kValidationLayer = "VK_LAYER_KHRONOS_validation";

bool envFlag(const char* name)
{
    const char* v = std::getenv(name);
    return v && std::strcmp(v, "1") == 0;
}

std::string lower(std::string s)
{
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return s;
}

std::string trim(const std::string& s)
{
    const auto b = s.find_first_not_of(" \t\r\n");
    if (b == std::string::npos) return {};
    return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

// Lower is better.
int typeRank(VkPhysicalDeviceType t)
{
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 0;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 1;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return 3;
    default: return 4;
    }
}

std::string listDevices(const std::vector<DeviceCandidate>& devices)
{
    if (devices.empty()) return "no Vulkan devices were found";
    std::string out = "devices: ";
    for (std::size_t i = 0; i < devices.size(); ++i) {
        const auto& d = devices[i];
        if (i) out += "; ";
        out += std::to_string(d.index) + " = " + d.name + " (" + deviceTypeName(d.type);
        if (!d.unusable.empty()) out += ", unusable: " + d.unusable;
        out += ")";
    }
    return out;
}

// Resolves one override value to a device index; -1 when it matches nothing usable.
int matchDevice(const std::vector<DeviceCandidate>& devices, const std::string& value)
{
    const bool numeric = std::all_of(value.begin(), value.end(), [](unsigned char c) { return std::isdigit(c); });
    if (numeric) {
        // Index, not position: a value from the list we print must mean that device.
        const long idx = value.size() > 6 ? -1 : std::strtol(value.c_str(), nullptr, 10);
        for (const auto& d : devices)
            if (d.index == idx && d.unusable.empty()) return d.index;
        return -1;
    }
    // Several matches ("nvidia" with two cards): take the best by type, then the first.
    const std::string needle = lower(value);
    const DeviceCandidate* best = nullptr;
    for (const auto& d : devices) {
        if (!d.unusable.empty() || lower(d.name).find(needle) == std::string::npos) continue;
        if (!best || typeRank(d.type) < typeRank(best->type)) best = &d;
    }
    return best ? best->index : -1;
}

std::uint32_t loaderApiVersion()
{
    std::uint32_t v = VK_API_VERSION_1_0;
    // Exported by every 1.1+ loader; a 1.0 loader leaves v at 1.0 and is refused below.
    if (!vkEnumerateInstanceVersion || vkEnumerateInstanceVersion(&v) != VK_SUCCESS) v = VK_API_VERSION_1_0;
    return v;
}

bool hasInstanceExtension(const std::vector<VkExtensionProperties>& exts, const char* name)
{
    return std::any_of(exts.begin(), exts.end(), [&](const auto& e) { return std::strcmp(e.extensionName, name) == 0; });
}

DeviceCandidate describe(VkPhysicalDevice pd, int index)
{
    DeviceCandidate c;
    c.index = index;
    c.handle = pd;
    VkPhysicalDeviceProperties props{};
    vkGetPhysicalDeviceProperties(pd, &props);
    c.name = props.deviceName;
    c.type = props.deviceType;
    c.apiVersion = props.apiVersion;

    if (props.apiVersion >= VK_API_VERSION_1_2) {
        VkPhysicalDeviceDriverProperties driver{};
        driver.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES;
        VkPhysicalDeviceProperties2 p2{};
        p2.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2;
        p2.pNext = &driver;
        vkGetPhysicalDeviceProperties2(pd, &p2);
        c.driver = std::string(driver.driverName);
        if (driver.driverInfo[0]) c.driver += std::string(" ") + driver.driverInfo;
    }
    if (c.driver.empty()) c.driver = "driver version " + std::to_string(props.driverVersion);

    VkPhysicalDeviceMemoryProperties mem{};
    vkGetPhysicalDeviceMemoryProperties(pd, &mem);
    for (std::uint32_t h = 0; h < mem.memoryHeapCount; ++h)
        if (mem.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) c.deviceLocalBytes += mem.memoryHeaps[h].size;

    std::uint32_t nfam = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &nfam, nullptr);
    std::vector<VkQueueFamilyProperties> fams(nfam);
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &nfam, fams.data());
    // A compute-only family runs beside the display's graphics work instead of sharing its
    // queue, so prefer it when the device has one.
    for (std::uint32_t f = 0; f < nfam; ++f) {
        const auto flags = fams[f].queueFlags;
        if (!(flags & VK_QUEUE_COMPUTE_BIT) || fams[f].queueCount == 0) continue;
        if (c.computeQueueFamily < 0 || !(flags & VK_QUEUE_GRAPHICS_BIT)) c.computeQueueFamily = int(f);
        if (!(flags & VK_QUEUE_GRAPHICS_BIT)) break;
    }

    if (props.apiVersion < kRequiredApiVersion)
        c.unusable = "supports Vulkan " + apiVersionString(props.apiVersion) + ", Kiln needs 1.2";
    else if (c.computeQueueFamily < 0)
        c.unusable = "has no compute queue";
    return c;
}

}  // namespace

std::string deviceTypeName(VkPhysicalDeviceType type)
{
    switch (type) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete GPU";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated GPU";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual GPU";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "CPU (software)";
    default: return "other";
    }
}

std::string apiVersionString(std::uint32_t v)
{
    return std::to_string(VK_API_VERSION_MAJOR(v)) + "." + std::to_string(VK_API_VERSION_MINOR(v)) + "." +
           std::to_string(VK_API_VERSION_PATCH(v));
}

Error vulkanError(VkResult r, const std::string& what, const std::string& where)
{
    switch (r) {
    case VK_ERROR_DEVICE_LOST:
        return makeError(what + ": the Vulkan device was lost (the GPU stopped responding or its driver reset)",
                         where, "restart the job; if it happens again, update the GPU driver or use the CPU backend");
    case VK_ERROR_OUT_OF_DEVICE_MEMORY:
        return makeError(what + ": out of GPU memory", where,
                         "use a smaller batch or image size, close other GPU programs, or use the CPU backend");
    case VK_ERROR_OUT_OF_HOST_MEMORY:
        return makeError(what + ": out of system memory (Vulkan driver)", where,
                         "close other programs or use smaller inputs");
    case VK_ERROR_INITIALIZATION_FAILED:
        return makeError(what + ": the Vulkan driver failed to initialise", where, "update or reinstall the GPU driver");
    case VK_ERROR_INCOMPATIBLE_DRIVER:
        return makeError(what + ": no compatible Vulkan driver is installed", where,
                         "install your GPU's Vulkan driver, or Mesa's lavapipe (mesa-vulkan-drivers) for the CPU");
    case VK_ERROR_LAYER_NOT_PRESENT:
    case VK_ERROR_EXTENSION_NOT_PRESENT:
        return makeError(what + ": a required Vulkan layer or extension is missing", where,
                         "unset KILN_VULKAN_VALIDATION or install the Vulkan validation layers");
    default:
        return makeError(what + ": Vulkan error " + std::to_string(int(r)), where);
    }
}

Result<int> selectDevice(const std::vector<DeviceCandidate>& devices, const std::string& preferred,
                         const char* envValue)
{
    const std::string env = envValue ? trim(envValue) : std::string();
    const std::string pref = trim(preferred);
    if (!env.empty() || !pref.empty()) {
        const std::string& value = env.empty() ? pref : env;
        const std::string source = env.empty() ? "Vulkan device setting" : "KILN_VULKAN_DEVICE";
        if (const int idx = matchDevice(devices, value); idx >= 0) return idx;
        return makeError("no usable Vulkan device matches \"" + value + "\"", source,
                         listDevices(devices) + "; give an index or part of a name");
    }
    const DeviceCandidate* best = nullptr;
    for (const auto& d : devices) {
        if (!d.unusable.empty()) continue;
        if (!best || typeRank(d.type) < typeRank(best->type)) best = &d;
    }
    if (!best)
        return makeError("no usable Vulkan device", "Vulkan",
                         devices.empty() ? "install your GPU's Vulkan driver, or Mesa's lavapipe (mesa-vulkan-drivers)"
                                         : listDevices(devices));
    return best->index;
}

// ---- Instance ----

Result<std::shared_ptr<Instance>> Instance::create()
{
    if (auto loader = openVulkanLoader(); !loader) return loader.error();
    std::shared_ptr<Instance> inst(new Instance());
    inst->loaderVersion_ = loaderApiVersion();
    if (inst->loaderVersion_ < VK_API_VERSION_1_1)
        return makeError("the Vulkan loader is too old (" + apiVersionString(inst->loaderVersion_) + ")", "Vulkan",
                         "install a Vulkan 1.2 or newer loader (libvulkan1)");

    std::uint32_t next = 0;
    vkEnumerateInstanceExtensionProperties(nullptr, &next, nullptr);
    std::vector<VkExtensionProperties> exts(next);
    vkEnumerateInstanceExtensionProperties(nullptr, &next, exts.data());

    std::vector<const char*> extensions;
    VkInstanceCreateFlags flags = 0;
    // Without it, MoltenVK (macOS) devices are hidden from enumeration.
    if (hasInstanceExtension(exts, VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME)) {
        extensions.push_back(VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME);
        flags |= VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR;
    }

    // Validation is slow and often not installed, so only on request and only if present.
    std::vector<const char*> layers;
    if (envFlag("KILN_VULKAN_VALIDATION")) {
        std::uint32_t nl = 0;
        vkEnumerateInstanceLayerProperties(&nl, nullptr);
        std::vector<VkLayerProperties> props(nl);
        vkEnumerateInstanceLayerProperties(&nl, props.data());
        for (const auto& l : props)
            if (std::strcmp(l.layerName, kValidationLayer) == 0) inst->validation_ = true;
        if (inst->validation_) layers.push_back(kValidationLayer);
        else std::fprintf(stderr, "kiln: KILN_VULKAN_VALIDATION=1 but %s is not installed\n", kValidationLayer);
    }
    // The layer's messages go through our callback so they can be counted, not just printed.
    VkDebugUtilsMessengerCreateInfoEXT messenger{};
    messenger.sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT;
    messenger.messageSeverity =
        VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
    messenger.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                            VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                            VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
    messenger.pfnUserCallback = &Instance::onValidationMessage;
    messenger.pUserData = inst.get();
    const bool debugUtils = inst->validation_ && hasInstanceExtension(exts, VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
    if (debugUtils) extensions.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);

    VkApplicationInfo app{};
    app.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO;
    app.pApplicationName = "Kiln";
    app.pEngineName = "Kiln";
    app.apiVersion = kRequiredApiVersion;

    VkInstanceCreateInfo ci{};
    ci.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO;
    ci.pNext = debugUtils ? &messenger : nullptr;  // also covers vkCreateInstance itself
    ci.flags = flags;
    ci.pApplicationInfo = &app;
    ci.enabledLayerCount = std::uint32_t(layers.size());
    ci.ppEnabledLayerNames = layers.data();
    ci.enabledExtensionCount = std::uint32_t(extensions.size());
    ci.ppEnabledExtensionNames = extensions.data();
    const VkResult r = vkCreateInstance(&ci, nullptr, &inst->instance_);
    if (r != VK_SUCCESS) {
        inst->instance_ = VK_NULL_HANDLE;
        return vulkanError(r, "could not create a Vulkan instance", "Vulkan");
    }
    // One instance at a time in Kiln's use, and all devices' functions go through it.
    volkLoadInstance(inst->instance_);
    if (debugUtils) {
        auto create = reinterpret_cast<PFN_vkCreateDebugUtilsMessengerEXT>(
            vkGetInstanceProcAddr(inst->instance_, "vkCreateDebugUtilsMessengerEXT"));
        if (create && create(inst->instance_, &messenger, nullptr, &inst->messenger_) != VK_SUCCESS)
            inst->messenger_ = VK_NULL_HANDLE;
    }
    return inst;
}

Instance::~Instance()
{
    if (!instance_) return;
    if (messenger_) {
        auto destroy = reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(
            vkGetInstanceProcAddr(instance_, "vkDestroyDebugUtilsMessengerEXT"));
        if (destroy) destroy(instance_, messenger_, nullptr);
    }
    vkDestroyInstance(instance_, nullptr);
}

VKAPI_ATTR VkBool32 VKAPI_CALL Instance::onValidationMessage(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                             VkDebugUtilsMessageTypeFlagsEXT,
                                                             const VkDebugUtilsMessengerCallbackDataEXT* data,
                                                             void* self)
{
    const bool error = severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
    if (error) ++static_cast<Instance*>(self)->validation_errors_;
    std::fprintf(stderr, "kiln: Vulkan validation %s: %s\n", error ? "error" : "warning",
                 data && data->pMessage ? data->pMessage : "(no message)");
    return VK_FALSE;  // the spec requires false: never abort the call
}

Result<std::vector<DeviceCandidate>> Instance::enumerateDevices() const
{
    std::uint32_t n = 0;
    VkResult r = vkEnumeratePhysicalDevices(instance_, &n, nullptr);
    if (r != VK_SUCCESS) return vulkanError(r, "could not list Vulkan devices", "Vulkan");
    std::vector<VkPhysicalDevice> pds(n);
    r = vkEnumeratePhysicalDevices(instance_, &n, pds.data());
    if (r != VK_SUCCESS && r != VK_INCOMPLETE) return vulkanError(r, "could not list Vulkan devices", "Vulkan");
    std::vector<DeviceCandidate> out;
    for (std::uint32_t i = 0; i < n; ++i) out.push_back(describe(pds[i], int(i)));
    return out;
}

// ---- Context ----

Result<std::shared_ptr<Context>> Context::create(const std::string& preferred)
{
    try {
        auto inst = Instance::create();
        if (!inst) return inst.error();
        auto devices = inst.value()->enumerateDevices();
        if (!devices) return devices.error();
        auto chosen = selectDevice(devices.value(), preferred, std::getenv("KILN_VULKAN_DEVICE"));
        if (!chosen) return chosen.error();

        std::shared_ptr<Context> ctx(new Context());
        ctx->instance_ = std::move(inst.value());
        ctx->all_devices_ = std::move(devices.value());
        ctx->device_info_ = ctx->all_devices_.at(std::size_t(chosen.value()));  // index == position
        const auto& info = ctx->device_info_;
        vkGetPhysicalDeviceProperties(info.handle, &ctx->properties_);
        vkGetPhysicalDeviceMemoryProperties(info.handle, &ctx->memory_);

        const float priority = 1.0f;
        VkDeviceQueueCreateInfo qci{};
        qci.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO;
        qci.queueFamilyIndex = std::uint32_t(info.computeQueueFamily);
        qci.queueCount = 1;
        qci.pQueuePriorities = &priority;
        // 16-bit storage is core in 1.1 but optional; only fp16 weights need it.
        VkPhysicalDeviceVulkan11Features supported11{};
        supported11.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES;
        VkPhysicalDeviceFeatures2 supported{};
        supported.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2;
        supported.pNext = &supported11;
        vkGetPhysicalDeviceFeatures2(info.handle, &supported);
        const char* noFp16 = std::getenv("KILN_VULKAN_NO_FP16");
        ctx->fp16_storage_ =
            supported11.storageBuffer16BitAccess == VK_TRUE && !(noFp16 && *noFp16 && std::string(noFp16) != "0");
        VkPhysicalDeviceVulkan11Features enabled11{};
        enabled11.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES;
        enabled11.storageBuffer16BitAccess = ctx->fp16_storage_ ? VK_TRUE : VK_FALSE;

        VkDeviceCreateInfo dci{};
        dci.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO;
        dci.pNext = &enabled11;
        dci.queueCreateInfoCount = 1;
        dci.pQueueCreateInfos = &qci;
        VkResult r = vkCreateDevice(info.handle, &dci, nullptr, &ctx->device_);
        if (r != VK_SUCCESS) {
            ctx->device_ = VK_NULL_HANDLE;
            return vulkanError(r, "could not open the Vulkan device", info.name);
        }
        vkGetDeviceQueue(ctx->device_, qci.queueFamilyIndex, 0, &ctx->queue_);
        {
            std::uint32_t families = 0;
            vkGetPhysicalDeviceQueueFamilyProperties(info.handle, &families, nullptr);
            std::vector<VkQueueFamilyProperties> props(families);
            vkGetPhysicalDeviceQueueFamilyProperties(info.handle, &families, props.data());
            if (qci.queueFamilyIndex < families) ctx->timestamp_bits_ = props[qci.queueFamilyIndex].timestampValidBits;
        }

        VkCommandPoolCreateInfo pci{};
        pci.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO;
        // Recorders reset and reuse their command buffer for every forward pass.
        pci.flags = VK_COMMAND_POOL_CREATE_TRANSIENT_BIT | VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
        pci.queueFamilyIndex = qci.queueFamilyIndex;
        r = vkCreateCommandPool(ctx->device_, &pci, nullptr, &ctx->command_pool_);
        if (r != VK_SUCCESS) {
            ctx->command_pool_ = VK_NULL_HANDLE;
            return vulkanError(r, "could not create a Vulkan command pool", info.name);
        }
        ctx->pipeline_cache_ = std::make_unique<PipelineCacheFile>(ctx->device_, ctx->properties_);
        return ctx;
    } catch (const std::exception& e) {
        return makeError(std::string("Vulkan initialisation failed: ") + e.what(), "Vulkan");
    }
}

Context::~Context()
{
    if (device_) {
        // After a timeout the GPU may still be running old work: free what it uses only once
        // it is idle; if it never gets idle, leaking beats freeing memory in use.
        if (vkDeviceWaitIdle(device_) == VK_SUCCESS)
            for (auto& destroy : deferred_) destroy();
        pipelines_.clear();
        pipeline_cache_.reset();  // saves the compiled shaders for the next run
        if (command_pool_) vkDestroyCommandPool(device_, command_pool_, nullptr);
        vkDestroyDevice(device_, nullptr);
    }
}

std::optional<std::uint32_t> Context::findMemoryType(std::uint32_t typeBits, VkMemoryPropertyFlags required,
                                                     VkMemoryPropertyFlags preferred) const
{
    std::optional<std::uint32_t> fallback;
    for (std::uint32_t i = 0; i < memory_.memoryTypeCount; ++i) {
        if (!(typeBits & (1u << i))) continue;
        const auto flags = memory_.memoryTypes[i].propertyFlags;
        if ((flags & required) != required) continue;
        if ((flags & preferred) == preferred) return i;
        if (!fallback) fallback = i;
    }
    return fallback;
}

Result<void> Context::checkUsable() const
{
    if (lost_reason_.empty()) return success();
    return makeError("the Vulkan device cannot be used any more: " + lost_reason_, device_info_.name,
                     "restart the job so that Kiln opens the device again, or use the CPU backend");
}

VkPipelineCache Context::pipelineCache() const
{
    return pipeline_cache_ ? pipeline_cache_->handle() : VK_NULL_HANDLE;
}

Result<ComputePipeline*> Context::pipeline(const std::string& key,
                                           const std::function<Result<std::unique_ptr<ComputePipeline>>()>& build)
{
    if (auto it = pipelines_.find(key); it != pipelines_.end()) return it->second.get();
    auto built = build();
    if (!built) return built.error();
    ComputePipeline* raw = built.value().get();
    pipelines_.emplace(key, std::move(built.value()));
    return raw;
}

}  // namespace kiln::vk
