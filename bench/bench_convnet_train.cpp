// Training throughput of the Fashion-MNIST ConvNet sample: Kiln (the compiled graph, AdamW,
// cross-entropy) against the same model exported to PyTorch code and trained with the same
// recipe in Debian's python3-torch, in the same run, with the same thread count.
// Usage: bench_convnet_train [--threads N] [--steps N] [--compete]
//   --compete  runs a busy process beside both measurements (a desktop is never idle)
#include "export/python_export.h"
#include "graph/compiler.h"
#include "kiln/graph_file.h"
#include "kiln/system_info.h"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <torch/torch.h>
#include <unistd.h>

namespace {

std::string capture(const std::string& cmd)
{
    std::string out;
    if (FILE* p = popen(cmd.c_str(), "r")) {
        char buf[512];
        while (fgets(buf, sizeof buf, p)) out += buf;
        pclose(p);
    }
    return out;
}

pid_t startCompetitor()
{
    const pid_t pid = fork();
    if (pid == 0) {
        volatile unsigned long x = 0;
        for (;;) x = x + 1;  // one busy core, like a browser tab or a compiler
    }
    return pid;
}

}  // namespace

int main(int argc, char** argv)
{
    kiln::ensurePassiveOpenMP(argv);  // as kiln and kiln-cli run
    int threads = static_cast<int>(std::thread::hardware_concurrency());
    int steps = 150;
    bool compete = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--threads" && i + 1 < argc) threads = std::atoi(argv[++i]);
        else if (a == "--steps" && i + 1 < argc) steps = std::atoi(argv[++i]);
        else if (a == "--compete") compete = true;
    }
    const int batch = 64, warmup = 15;
    auto graph = kiln::graph::loadGraph(KILN_SAMPLES_DIR "/fashion_convnet.kgraph");
    if (!graph) {
        std::fprintf(stderr, "%s\n", graph.error().message().c_str());
        return 1;
    }
    const auto dir = std::filesystem::temp_directory_path() / "kiln-bench-convnet";
    std::filesystem::create_directories(dir);
    const std::string py = (dir / "convnet.py").string();
    if (auto r = kiln::exporting::writePython(*graph, py); !r) {
        std::fprintf(stderr, "%s\n", r.error().message().c_str());
        return 1;
    }

    pid_t competitor = compete ? startCompetitor() : 0;

    // Kiln
    torch::manual_seed(0);
    torch::set_num_threads(threads);
    auto model = *kiln::graph::compileGraph(*graph);
    model->train();
    torch::optim::AdamW opt(model->parameters(), torch::optim::AdamWOptions(1e-3));
    const auto x = torch::rand({batch, 1, 28, 28});
    const auto y = torch::randint(0, 10, {batch}, torch::kLong);
    double kilnSeconds = 0;
    for (int s = 0; s < warmup + steps; ++s) {
        const auto t0 = std::chrono::steady_clock::now();
        opt.zero_grad();
        auto loss = model->loss(model->forward(x), y);
        loss.backward();
        opt.step();
        if (s >= warmup) kilnSeconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    const double kiln = steps * batch / kilnSeconds;

    // PyTorch, on the exported module
    const std::string script =
        "import sys, time, importlib.util, torch\n"
        "spec = importlib.util.spec_from_file_location('convnet', '" + py + "')\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
        "torch.manual_seed(0); torch.set_num_threads(" + std::to_string(threads) + ")\n"
        "model = m.KilnModel(); model.train()\n"
        "opt = torch.optim.AdamW(model.parameters(), lr=1e-3)\n"
        "x = torch.rand(" + std::to_string(batch) + ", 1, 28, 28); y = torch.randint(0, 10, (" + std::to_string(batch) + ",))\n"
        "lossf = torch.nn.CrossEntropyLoss(); total = 0.0\n"
        "for s in range(" + std::to_string(warmup + steps) + "):\n"
        "    t0 = time.perf_counter(); opt.zero_grad(); loss = lossf(model(x), y); loss.backward(); opt.step()\n"
        "    total += (time.perf_counter() - t0) if s >= " + std::to_string(warmup) + " else 0.0\n"
        "print(" + std::to_string(steps * batch) + " / total)\n";
    const std::string scriptPath = (dir / "peer.py").string();
    if (FILE* f = std::fopen(scriptPath.c_str(), "w")) {
        std::fputs(script.c_str(), f);
        std::fclose(f);
    }
    const double peer = std::atof(capture("OMP_WAIT_POLICY=passive /usr/bin/python3 " + scriptPath).c_str());
    if (competitor) {
        kill(competitor, SIGKILL);
        waitpid(competitor, nullptr, 0);
    }
    std::printf("ConvNet training, batch %d, %d timed steps, %d threads, OMP_WAIT_POLICY=%s%s\n", batch, steps, threads,
                std::getenv("OMP_WAIT_POLICY") ? std::getenv("OMP_WAIT_POLICY") : "(unset)",
                compete ? ", one busy competing process" : "");
    std::printf("  PyTorch (python3-torch, exported module)  %8.0f images/s\n", peer);
    std::printf("  Kiln (compiled graph)                      %8.0f images/s   ratio %.2fx\n", kiln,
                peer > 0 ? kiln / peer : 0.0);
    std::filesystem::remove_all(dir);
    return peer > 0 ? 0 : 1;
}
