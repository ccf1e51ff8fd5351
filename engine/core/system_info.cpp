#include "kiln/system_info.h"

#include <ATen/Parallel.h>
#include <climits>
#include <cstdlib>
#include <dlfcn.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <opencv2/core/version.hpp>
#include <thread>
#include <torch/version.h>
#include <unistd.h>
#ifdef KILN_WITH_VULKAN
#include <vulkan/vulkan_core.h>
#endif

namespace kiln {

BlasInfo probeBlas()
{
    BlasInfo info;
    void* sym = dlsym(RTLD_DEFAULT, "dgemm_");
    Dl_info dl{};
    if (sym && dladdr(sym, &dl) && dl.dli_fname) {
        char resolved[PATH_MAX];
        info.library = realpath(dl.dli_fname, resolved) ? resolved : dl.dli_fname;
    }
    using ConfigFn = char* (*)();
    if (auto cfg = reinterpret_cast<ConfigFn>(dlsym(RTLD_DEFAULT, "openblas_get_config"))) {
        info.name = cfg();
    } else if (info.library.find("blis") != std::string::npos) {
        info.name = "BLIS";
    } else if (info.library.find("atlas") != std::string::npos) {
        info.name = "ATLAS";
    } else if (info.library.find("/blas/") != std::string::npos) {
        info.name = "reference BLAS (Netlib)";
        info.slowReference = true;
    } else {
        info.name = info.library.empty() ? "no BLAS found in the process" : "unknown BLAS";
    }
    return info;
}

SystemReport probeSystem(const std::string& preferredVulkanDevice)
{
    SystemReport r;
    r.kilnVersion = KILN_VERSION;
    r.torchVersion = TORCH_VERSION;
    r.opencvVersion = CV_VERSION;
#ifdef KILN_WITH_VULKAN
    r.vulkanHeaderVersion = std::to_string(VK_API_VERSION_MAJOR(VK_HEADER_VERSION_COMPLETE)) + "." +
                            std::to_string(VK_API_VERSION_MINOR(VK_HEADER_VERSION_COMPLETE)) + "." +
                            std::to_string(VK_HEADER_VERSION);
    r.vulkan = probeVulkan(preferredVulkanDevice);
#else
    r.vulkanHeaderVersion = "built without Vulkan";
    r.vulkan.message = "Kiln was built without its Vulkan backend";
#endif
    r.hardwareThreads = std::thread::hardware_concurrency();
    // GNU OpenMP keeps the count per thread, and LibTorch starts every thread at 1 here; training and
    // generation set every hardware thread on the thread they run on, so that is what this thread (the
    // engine thread, for the studio's probe) is given too, and what the report shows.
    if (r.hardwareThreads > 0 && at::get_num_threads() < static_cast<int>(r.hardwareThreads))
        at::set_num_threads(static_cast<int>(r.hardwareThreads));
    r.torchThreads = at::get_num_threads();
    r.torchInteropThreads = at::get_num_interop_threads();
    if (const char* p = std::getenv("OMP_WAIT_POLICY")) r.ompWaitPolicy = p;
    r.blas = probeBlas();
    return r;
}

std::vector<std::string> describeSystem(const SystemReport& r)
{
    std::vector<std::string> out;
    out.push_back("Kiln " + r.kilnVersion);
    out.push_back("LibTorch " + r.torchVersion + " (CPU)");
    out.push_back("OpenCV " + r.opencvVersion);
    out.push_back("Vulkan headers " + r.vulkanHeaderVersion +
                  (r.vulkan.loaderFound ? ", loader " + r.vulkan.loaderVersion : ", no Vulkan loader"));
    out.push_back("CPU: " + std::to_string(r.hardwareThreads) + " hardware threads; LibTorch uses " +
                  std::to_string(r.torchThreads) + " intra-op and " + std::to_string(r.torchInteropThreads) +
                  " inter-op threads; OMP_WAIT_POLICY=" + (r.ompWaitPolicy.empty() ? "(unset)" : r.ompWaitPolicy));
    out.push_back("BLAS: " + r.blas.name + (r.blas.library.empty() ? "" : " (" + r.blas.library + ")"));
    if (r.blas.slowReference)
        out.push_back("  warning: the reference BLAS is ~13x slower at matrix multiply; install libopenblas0-openmp");
    if (r.vulkan.devices.empty()) {
        out.push_back("Vulkan devices: none (" + r.vulkan.message + ")");
        return out;
    }
    for (const auto& d : r.vulkan.devices) {
        std::string line = d.index == r.vulkan.selected ? "* " : "  ";
        line += "Vulkan device ";
        line += std::to_string(d.index);
        line += ": ";
        line += d.name;
        line += " (";
        line += d.type;
        line += ", Vulkan ";
        line += d.apiVersion;
        line += ", ";
        line += d.driver;
        line += ")";
        if (!d.unusable.empty()) {
            line += " unusable: ";
            line += d.unusable;
        }
        out.push_back(std::move(line));
    }
    if (r.vulkan.selected < 0) out.push_back("  no Vulkan device selected: " + r.vulkan.message);
    return out;
}

void ensurePassiveOpenMP(char** argv)
{
    if (std::getenv("OMP_WAIT_POLICY") || std::getenv("KILN_NO_REEXEC")) return;
    ::setenv("OMP_WAIT_POLICY", "passive", 1);
    ::setenv("KILN_NO_REEXEC", "1", 1);  // never loop, whatever happens
    ::execv("/proc/self/exe", argv);
}

void keepFreedMemoryForReuse()
{
#if defined(__GLIBC__)
    mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);
#endif
}

}  // namespace kiln
