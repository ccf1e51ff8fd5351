// Matrix multiply throughput: Kiln's Vulkan gemm (on whatever device the loader picks; lavapipe
// where there is no GPU) against torch::mm / torch::linear on LibTorch's CPU backend, in the same
// run, with the same thread count; then two convolutions against torch::conv2d the same way.
// Usage: bench_vulkan_gemm [--threads N] [--seconds S]
//
// What is timed on Vulkan: whole submits of several dispatches each, from recording the first
// dispatch to the end of the fence wait, so recording, the submit and the barriers between the
// dispatches (each one rewrites the same output) count; uploads and downloads do not, as in a
// forward pass whose weights stay on the device. One-dispatch submits are timed too: what a
// single op costs with the whole submit overhead around it.
#include "kiln/system_info.h"
#include "vulkan/context.h"
#include "vulkan/memory.h"
#include "vulkan/ops/conv2d_vulkan.h"
#include "vulkan/ops/gemm_vulkan.h"
#include "vulkan/recorder.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <torch/torch.h>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
namespace vk = kiln::vk;

double since(Clock::time_point t0)
{
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

struct Bench {
    vk::Recorder& rec;
    std::shared_ptr<vk::MemoryPool> pool;
    double budget;  // seconds per measurement, roughly

    vk::Allocation upload(const torch::Tensor& t)
    {
        auto a = pool->allocate(std::uint64_t(t.numel()) * 4, "bench");
        if (!a) fail(a.error());
        if (auto r = rec.upload(a.value().region(), std::span<const float>(t.data_ptr<float>(), t.numel())); !r)
            fail(r.error());
        return std::move(a.value());
    }

    [[noreturn]] static void fail(const kiln::Error& e)
    {
        std::fprintf(stderr, "%s\n", e.message().c_str());
        std::exit(1);
    }

    // Times `torchOp` and `record` (one Vulkan dispatch into `out`), checks the result and prints a row.
    void run(const std::string& name, double flop, const std::function<torch::Tensor()>& torchOp,
             const std::function<kiln::Result<void>()>& record, const vk::Region& out)
    {
        torch::Tensor ref = torchOp();  // warm-up
        int calls = 0;
        auto t0 = Clock::now();
        do {
            ref = torchOp();
            ++calls;
        } while (since(t0) < budget);
        const double torchGf = flop * calls / since(t0) / 1e9;

        auto submit = [&](int dispatches) {
            for (int i = 0; i < dispatches; ++i)
                if (auto r = record(); !r) fail(r.error());
            if (auto r = rec.submit(); !r) fail(r.error());
        };
        // The first submit also runs the uploads and builds the pipeline; its result is checked.
        torch::Tensor got = torch::empty_like(ref);
        if (auto r = record(); !r) fail(r.error());
        if (auto r = rec.download(out, std::span<float>(got.data_ptr<float>(), got.numel())); !r) fail(r.error());
        if (auto r = rec.submit(); !r) fail(r.error());
        const double err = (got - ref).abs().max().item<double>() / std::max(ref.abs().max().item<double>(), 1.0);

        int submits = 0;
        t0 = Clock::now();
        do {
            submit(1);
            ++submits;
        } while (since(t0) < budget / 2);
        const double single = since(t0) / submits;

        // Several dispatches per submit, so that one submit takes about a tenth of the budget.
        const int reps = std::clamp(int(budget / 10 / single), 2, 50);
        int dispatches = 0;
        t0 = Clock::now();
        do {
            submit(reps);
            dispatches += reps;
        } while (since(t0) < budget);
        const double vkGf = flop * dispatches / since(t0) / 1e9;

        std::printf("  %-34s %9.1f %12.1f %14.1f %7.3fx %9.1e\n", name.c_str(), torchGf, vkGf, flop / single / 1e9,
                    vkGf / torchGf, err);
        std::fflush(stdout);
    }
};

}  // namespace

int main(int argc, char** argv)
{
    kiln::ensurePassiveOpenMP(argv);  // as kiln and kiln-cli run
    int threads = static_cast<int>(std::thread::hardware_concurrency());
    double budget = 1.0;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--threads" && i + 1 < argc) threads = std::atoi(argv[++i]);
        else if (a == "--seconds" && i + 1 < argc) budget = std::atof(argv[++i]);
    }
    torch::set_num_threads(threads);
    torch::manual_seed(0);

    auto ctx = vk::Context::create();
    if (!ctx) {
        std::fprintf(stderr, "no Vulkan device: %s\n", ctx.error().message().c_str());
        return 1;
    }
    auto recorder = vk::Recorder::create(*ctx.value());
    if (!recorder) Bench::fail(recorder.error());
    Bench bench{*recorder.value(), vk::MemoryPool::create(*ctx.value(), vk::MemoryKind::Device), budget};

    std::printf("fp32 on Vulkan (%s) vs LibTorch CPU (%d threads), OMP_WAIT_POLICY=%s\n",
                ctx.value()->deviceInfo().name.c_str(), threads,
                std::getenv("OMP_WAIT_POLICY") ? std::getenv("OMP_WAIT_POLICY") : "(unset)");
    std::printf("  %-34s %9s %12s %14s %8s %9s\n", "GFLOP/s", "torch", "Vulkan", "Vulkan 1/submit", "ratio",
                "rel.err");

    struct GemmCase {
        std::string name;
        std::uint32_t m, n, k;
        bool linear;  // b is a Linear weight [n, k] and there is a bias
    };
    const std::vector<GemmCase> gemms{
        {"mm 256x256x256", 256, 256, 256, false},
        {"mm 512x512x512", 512, 512, 512, false},
        {"mm 1024x1024x1024", 1024, 1024, 1024, false},
        {"linear 64x1024 -> 4096", 64, 4096, 1024, true},
        {"linear 1x4096 -> 1024 (gemv)", 1, 1024, 4096, true},
    };
    for (const GemmCase& c : gemms) {
        const auto a = torch::randn({c.m, c.k});
        const auto b = c.linear ? torch::randn({c.n, c.k}) : torch::randn({c.k, c.n});
        const auto bias = torch::randn({c.n});
        auto da = bench.upload(a), db = bench.upload(b), dbias = bench.upload(bias);
        auto dout = bench.upload(torch::zeros({c.m, c.n}));
        const vk::Region biasRegion = dbias.region();
        bench.run(
            c.name, 2.0 * c.m * c.n * c.k, [&] { return c.linear ? torch::linear(a, b, bias) : torch::mm(a, b); },
            [&] {
                return vk::gemmVulkan(bench.rec, da.region(), db.region(), c.linear ? &biasRegion : nullptr,
                                      dout.region(), {c.m, c.n, c.k}, c.linear);
            },
            dout.region());
    }

    struct ConvCase {
        std::string name;
        std::uint32_t batch, channels, size, outChannels, groups;
    };
    const std::vector<ConvCase> convs{
        {"conv 3x3 64->64 @56x56 b1", 1, 64, 56, 64, 1},
        {"conv 3x3 dw 128 @56x56 b1 (direct)", 1, 128, 56, 128, 128},
    };
    for (const ConvCase& c : convs) {
        vk::Conv2dParams p;
        p.batch = c.batch;
        p.inChannels = c.channels;
        p.inH = p.inW = c.size;
        p.outChannels = c.outChannels;
        p.kernelH = p.kernelW = 3;
        p.padH = p.padW = 1;
        p.groups = c.groups;
        const auto x = torch::randn({c.batch, c.channels, c.size, c.size});
        const auto w = torch::randn({c.outChannels, c.channels / c.groups, 3, 3});
        const auto bias = torch::randn({c.outChannels});
        auto dx = bench.upload(x), dw = bench.upload(w), dbias = bench.upload(bias);
        auto dout = bench.upload(torch::zeros({c.batch, c.outChannels, p.outH(), p.outW()}));
        const vk::Region biasRegion = dbias.region();
        const double flop = 2.0 * c.batch * c.outChannels * p.outH() * p.outW() * (c.channels / c.groups) * 9;
        bench.run(
            c.name, flop,
            [&] { return torch::relu(torch::conv2d(x, w, bias, 1, 1, 1, c.groups)); },
            [&] {
                return vk::conv2dVulkan(bench.rec, dx.region(), dw.region(), &biasRegion, dout.region(), p,
                                        vk::Activation::ReLU);
            },
            dout.region());
    }
    std::printf("  ratio = Vulkan (several dispatches per submit) / torch; above 1 Vulkan is faster\n");
    return 0;
}
