// The facts the About dialog and `kiln-cli devices` show: versions, threads, BLAS, Vulkan.
#pragma once

#include "kiln/vulkan_devices.h"

#include <string>
#include <vector>

namespace kiln {

struct BlasInfo {
    std::string library;  // resolved path of the libblas.so.3 that LibTorch calls
    std::string name;     // "OpenBLAS 0.3.21 ...", "reference BLAS", ...
    bool slowReference = false;
};

struct SystemReport {
    std::string kilnVersion;
    std::string torchVersion;
    std::string opencvVersion;
    std::string vulkanHeaderVersion;
    unsigned hardwareThreads = 0;
    int torchThreads = 0;
    int torchInteropThreads = 0;
    std::string ompWaitPolicy;  // empty when unset (libgomp then spins)
    BlasInfo blas;
    VulkanReport vulkan;
};

// Probes Vulkan (tens of milliseconds on lavapipe): call it from a job, not the UI thread.
SystemReport probeSystem(const std::string& preferredVulkanDevice = {});
BlasInfo probeBlas();
// Human-readable lines, shared by the CLI and the About dialog.
std::vector<std::string> describeSystem(const SystemReport& r);

// libgomp reads OMP_WAIT_POLICY when the process loads it, before main(); a busy-waiting
// OpenMP pool runs 2-10x slower next to another busy process. When the variable is unset,
// this sets it to "passive" and re-executes the program (argv unchanged); it returns only if
// nothing needed doing or the re-exec failed.
void ensurePassiveOpenMP(char** argv);

// glibc hands big freed blocks back to the kernel (mapped chunks, and a heap top above its trim
// threshold), so every training step maps its activations afresh: ~5,000 page faults (20 MB of new
// pages) per step of the small ResNet, about a fifth of its time. This keeps blocks up to 32 MiB
// (glibc's largest mmap threshold) in the heap and trims its top only beyond 256 MiB; larger
// allocations (model weights) are still mapped and returned. Call once at startup.
void keepFreedMemoryForReuse();

}  // namespace kiln
