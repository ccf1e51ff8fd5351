// ConvNet inference (the Fashion-MNIST sample, eval mode) on Kiln's Vulkan executor against the
// same model on LibTorch's CPU backend, in the same run: images/s for each and the ratio, plus
// where the Vulkan time goes (GPU timestamps per dispatch).
// Usage: bench_vulkan_convnet [--batch N] [--iters N] [--threads N]
#include "graph/compiler.h"
#include "kiln/graph_file.h"
#include "kiln/system_info.h"
#include "vulkan/executor/graph_executor.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>
#include <torch/torch.h>

namespace {

double seconds(std::chrono::steady_clock::time_point since)
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace

int main(int argc, char** argv)
{
    kiln::ensurePassiveOpenMP(argv);
    int batch = 64, iters = 10, threads = static_cast<int>(std::thread::hardware_concurrency());
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--batch" && i + 1 < argc) batch = std::atoi(argv[++i]);
        else if (a == "--iters" && i + 1 < argc) iters = std::atoi(argv[++i]);
        else if (a == "--threads" && i + 1 < argc) threads = std::atoi(argv[++i]);
        else {
            std::fprintf(stderr, "usage: bench_vulkan_convnet [--batch N] [--iters N] [--threads N]\n");
            return 2;
        }
    }
    torch::set_num_threads(threads);
    auto graph = kiln::graph::loadGraph(std::string(KILN_SAMPLES_DIR) + "/fashion_convnet.kgraph");
    if (!graph) return std::fprintf(stderr, "%s\n", graph.error().message().c_str()), 1;
    auto model = kiln::graph::compileGraph(*graph);
    if (!model) return std::fprintf(stderr, "%s\n", model.error().message().c_str()), 1;
    (*model)->eval();
    torch::manual_seed(1);
    const torch::Tensor x = torch::rand({batch, 1, 28, 28});

    auto ctx = kiln::vk::Context::create();
    if (!ctx) return std::fprintf(stderr, "no Vulkan device: %s\n", ctx.error().message().c_str()), 1;
    auto exec = kiln::vk::GraphExecutor::create(ctx.value(), *graph, **model);
    if (!exec) return std::fprintf(stderr, "%s\n", exec.error().message().c_str()), 1;

    torch::NoGradGuard noGrad;
    const torch::Tensor ref = (*model)->forward(x);
    auto first = (*exec)->forward({x});  // plans memory and builds the pipelines
    if (!first) return std::fprintf(stderr, "%s\n", first.error().message().c_str()), 1;
    const double diff = (first.value() - ref).abs().max().item<double>();

    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < iters; ++i) (void)(*model)->forward(x);
    const double cpu = double(batch) * iters / seconds(t0);
    t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < iters; ++i)
        if (auto r = (*exec)->forward({x}); !r) return std::fprintf(stderr, "%s\n", r.error().message().c_str()), 1;
    const double gpu = double(batch) * iters / seconds(t0);

    std::printf("device: %s\n", ctx.value()->deviceInfo().name.c_str());
    std::printf("ConvNet inference, batch %d, %d iterations, LibTorch threads %d\n", batch, iters, threads);
    std::printf("  LibTorch CPU  %9.0f images/s\n", cpu);
    std::printf("  Kiln Vulkan   %9.0f images/s  (%zu dispatches, one submit per forward; max |diff| %.2g)\n", gpu,
                (*exec)->dispatchesPerForward(), diff);
    std::printf("  ratio Vulkan/LibTorch: %.2fx\n", gpu / cpu);

    // Where the GPU time goes: one profiled forward.
    auto prof = kiln::vk::GraphExecutor::create(ctx.value(), *graph, **model, kiln::vk::ExecutorOptions{.profile = true});
    if (prof && (*prof)->forward({x}).ok() && !(*prof)->timings().empty()) {
        std::printf("  GPU time per dispatch (one forward):\n");
        for (const auto& t : (*prof)->timings()) std::printf("    %-28s %8.2f ms\n", t.label.c_str(), t.ms);
    }
    return 0;
}
