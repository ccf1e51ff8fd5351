// kiln-cli run: a designed graph's forward pass over a dataset on the CPU or on Vulkan, with
// accuracy, throughput and the difference from LibTorch.
#include "cli/run_command.h"

#include "cli/data_source.h"
#include "kiln/graph_file.h"
#include "kiln/graph_inference.h"
#include "kiln/weights.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <unistd.h>

namespace {

constexpr const char* kUsage = R"(usage: kiln-cli run GRAPH.kgraph [options]

  --device NAME        cpu (default), vulkan (the best Vulkan device), vulkan:N or vulkan:NAME-PART
  --weights FILE       a checkpoint saved by training (.safetensors); default: fresh weights (seeded)
  --data SOURCE        fashion-mnist (default: its t10k test set), an image folder, or a text file
  --batch N            (default 256)      --limit N        run only the first N items
  --no-compare         skip running the first batch on LibTorch to report the difference
  --half-weights       Vulkan: store convolution and Linear weights as fp16 where the device can
  --seed N             (default 1)
)";

int usageError(const std::string& message)
{
    std::fprintf(stderr, "kiln-cli: error: %s (see kiln-cli run --help)\n", message.c_str());
    return 2;
}

class Progress final : public kiln::JobObserver {
public:
    void jobStarted() override {}
    void jobUpdated(kiln::JobUpdate u) override
    {
        if (!isatty(2)) return;
        std::fprintf(stderr, "\r%3.0f%%  %-60s", u.progress * 100, u.message.c_str());
        std::fflush(stderr);
    }
    void jobFinished(kiln::JobState, const std::optional<kiln::Error>& e) override
    {
        if (isatty(2)) std::fprintf(stderr, "\r%70s\r", "");
        failure = e;
    }
    std::optional<kiln::Error> failure;
};

}  // namespace

int runRunCommand(int argc, char** argv)
{
    using namespace kiln::train;
    InferenceConfig cfg;
    std::string graphPath, data = "fashion-mnist";
    for (int i = 2; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
        auto count = [&](auto& target) {
            const char* v = value();
            char* end = nullptr;
            if (!v) return false;
            const long long n = std::strtoll(v, &end, 10);
            if (!end || *end || n < 1) return false;
            target = static_cast<std::remove_reference_t<decltype(target)>>(n);
            return true;
        };
        if (a == "--help" || a == "-h") {
            std::fputs(kUsage, stdout);
            return 0;
        } else if (a == "--device") {
            const char* v = value();
            const std::string d = v ? v : "";
            if (d != "cpu" && d != "vulkan" && d.rfind("vulkan:", 0) != 0)
                return usageError("--device is cpu, vulkan or vulkan:<device>");
            cfg.device = d;
        } else if (a == "--weights") {
            const char* v = value();
            if (!v) return usageError("--weights needs a file");
            cfg.weights = v;
        } else if (a == "--data") {
            const char* v = value();
            if (!v) return usageError("--data needs a value");
            data = v;
        } else if (a == "--batch") {
            if (!count(cfg.batchSize)) return usageError("--batch needs a positive number");
        } else if (a == "--limit") {
            if (!count(cfg.maxItems)) return usageError("--limit needs a positive number");
        } else if (a == "--seed") {
            if (!count(cfg.data.seed)) return usageError("--seed needs a positive number");
        } else if (a == "--no-compare") {
            cfg.compareWithCpu = false;
        } else if (a == "--half-weights") {
            cfg.halfWeights = true;
        } else if (!a.empty() && a[0] != '-' && graphPath.empty()) {
            graphPath = a;
        } else {
            return usageError("bad or unknown option '" + a + "'");
        }
    }
    if (graphPath.empty()) return usageError("run needs a graph: kiln-cli run GRAPH.kgraph");
    kiln::cli::setDataSource(cfg.data, data);
    cfg.data.validationFraction = 0.1;
    cfg.previewTiles = 0;

    auto graph = kiln::graph::loadGraph(graphPath);
    if (!graph) {
        std::fprintf(stderr, "kiln-cli: error: %s\n", graph.error().message().c_str());
        return 1;
    }
    std::optional<InferenceReport> report;
    kiln::JobQueue queue;
    auto progress = std::make_shared<Progress>();
    const auto id = queue.submit("run", makeGraphInferenceJob(std::move(*graph), cfg, [&](const InferenceReport& r) { report = r; }),
                                 progress);
    queue.wait(id);
    if (progress->failure) {
        std::fprintf(stderr, "kiln-cli: error: %s\n", progress->failure->message().c_str());
        return 1;
    }
    if (!report) return 1;
    if (!report->fallback.empty()) std::fprintf(stderr, "kiln-cli: note: %s\n", report->fallback.c_str());
    const auto& ev = report->evaluation;
    std::printf("device:      %s\n", report->device.c_str());
    std::printf("items:       %lld in %.2f s (%.0f items/s)\n", static_cast<long long>(ev.items), report->seconds,
                report->itemsPerSecond);
    std::printf("loss:        %.4f\n", ev.loss);
    if (ev.accuracy >= 0) std::printf("accuracy:    %.4f\n", ev.accuracy);
    if (report->maxDifferenceVsCpu >= 0)
        std::printf("vs LibTorch: largest difference %.3g over the first batch\n", report->maxDifferenceVsCpu);
    if (report->dispatchesPerForward)
        std::printf("Vulkan:      %zu dispatches per forward, %s of device memory\n", report->dispatchesPerForward,
                    kiln::formatBytes(report->deviceMemoryBytes).c_str());
    return 0;
}
