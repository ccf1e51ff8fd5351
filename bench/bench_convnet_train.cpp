// Training throughput of the Fashion-MNIST ConvNet sample: Kiln (the compiled graph, AdamW,
// cross-entropy) against the same model exported to PyTorch code and trained with the same
// recipe in Debian's python3-torch, in the same run, with the same thread count. Kiln's side runs
// what its trainer runs: channels-last memory for the convolutions (train/memory_format.h) and the
// optimizer from makeOptimizer (the fused AdamW); PyTorch's side is the plain default (NCHW,
// torch.optim.AdamW as constructed by default).
// Usage: bench_convnet_train [--threads N] [--steps N] [--compete] [--nchw] [--torch-adamw] [--no-fuse]
//                            [--malloc-defaults] [--sample NAME]
//   --sample       another shipped sample with a 1x28x28 image input and 10 classes (resnet_small)
//   --compete      runs a busy process beside both measurements (a desktop is never idle)
//   --nchw         Kiln without channels-last (to see what it gives)
//   --torch-adamw  Kiln with torch::optim::AdamW instead of its fused AdamW
//   --no-fuse      Kiln running BatchNorm, ReLU and MaxPool as three ops (graph/norm_relu.h)
//   --malloc-defaults  Kiln without keepFreedMemoryForReuse() (glibc's own thresholds)
#include "export/python_export.h"
#include "graph/compiler.h"
#include "kiln/graph_file.h"
#include "kiln/system_info.h"
#include "train/memory_format.h"
#include "train/optim.h"

#include <chrono>
#include <csignal>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <sys/resource.h>
#include <sys/wait.h>
#include <thread>
#include <torch/torch.h>
#include <unistd.h>

namespace {

// Debian's python3-torch in a child process with pipes both ways.
struct Peer {
    pid_t pid = 0;
    FILE* in = nullptr;   // its stdin
    FILE* out = nullptr;  // its stdout

    // Runs n steps there; their seconds, wall and CPU (0 when the peer is gone).
    std::pair<double, double> steps(int n)
    {
        std::fprintf(in, "%d\n", n);
        std::fflush(in);
        char buf[128];
        double wall = 0, cpu = 0;
        if (std::fgets(buf, sizeof buf, out)) std::sscanf(buf, "%lf %lf", &wall, &cpu);
        return {wall, cpu};
    }
    void stop()
    {
        if (in) std::fclose(in);
        if (out) std::fclose(out);
        if (pid > 0) waitpid(pid, nullptr, 0);
    }
};

Peer startPeer(const std::string& script)
{
    int toChild[2], fromChild[2];
    if (pipe(toChild) != 0 || pipe(fromChild) != 0) return {};
    const pid_t pid = fork();
    if (pid == 0) {
        dup2(toChild[0], 0);
        dup2(fromChild[1], 1);
        close(toChild[1]);
        close(fromChild[0]);
        setenv("OMP_WAIT_POLICY", "passive", 1);
        execl("/usr/bin/python3", "python3", script.c_str(), static_cast<char*>(nullptr));
        _exit(127);
    }
    close(toChild[0]);
    close(fromChild[1]);
    Peer p;
    p.pid = pid;
    p.in = fdopen(toChild[1], "w");
    p.out = fdopen(fromChild[0], "r");
    return p;
}

double cpuSeconds()
{
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

long minorFaults()
{
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_minflt;
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
    bool compete = false, nchw = false, torchAdamW = false, noFuse = false, mallocDefaults = false;
    std::string sample = "fashion_convnet";
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--threads" && i + 1 < argc) threads = std::atoi(argv[++i]);
        else if (a == "--steps" && i + 1 < argc) steps = std::atoi(argv[++i]);
        else if (a == "--compete") compete = true;
        else if (a == "--nchw") nchw = true;
        else if (a == "--torch-adamw") torchAdamW = true;
        else if (a == "--no-fuse") noFuse = true;
        else if (a == "--malloc-defaults") mallocDefaults = true;
        else if (a == "--sample" && i + 1 < argc) sample = argv[++i];
    }
    // As kiln and kiln-cli run; the PyTorch peer, a new process, keeps glibc's defaults as its users do.
    if (!mallocDefaults) kiln::keepFreedMemoryForReuse();
    const int batch = 64, warmup = 15;
    auto graph = kiln::graph::loadGraph(std::string(KILN_SAMPLES_DIR) + "/" + sample + ".kgraph");
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

    // PyTorch, on the exported module, in a process that trains `n` steps for each line "n" it
    // reads and answers with their seconds. The two sides take turns in rounds, so a change in the
    // machine's load during the run (other builds, other benchmarks) falls on both alike.
    const std::string script =
        "import sys, time, importlib.util, torch\n"
        "spec = importlib.util.spec_from_file_location('convnet', '" + py + "')\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
        "torch.manual_seed(0); torch.set_num_threads(" + std::to_string(threads) + ")\n"
        "model = m.KilnModel(); model.train()\n"
        "opt = torch.optim.AdamW(model.parameters(), lr=1e-3)\n"
        "x = torch.rand(" + std::to_string(batch) + ", 1, 28, 28); y = torch.randint(0, 10, (" + std::to_string(batch) + ",))\n"
        "lossf = torch.nn.CrossEntropyLoss()\n"
        "for line in sys.stdin:\n"
        "    total = 0.0; c0 = time.process_time()\n"
        "    for s in range(int(line)):\n"
        "        t0 = time.perf_counter(); opt.zero_grad(); loss = lossf(model(x), y); loss.backward(); opt.step()\n"
        "        total += time.perf_counter() - t0\n"
        "    print(total, time.process_time() - c0, flush=True)\n";
    const std::string scriptPath = (dir / "peer.py").string();
    if (FILE* f = std::fopen(scriptPath.c_str(), "w")) {
        std::fputs(script.c_str(), f);
        std::fclose(f);
    }
    Peer peer = startPeer(scriptPath);
    if (!peer.in || !peer.out) {
        std::fprintf(stderr, "cannot start /usr/bin/python3\n");
        return 1;
    }

    pid_t competitor = compete ? startCompetitor() : 0;

    // Kiln, as kiln::train's Run::setup() sets it up: the layout first, then the optimizer.
    torch::manual_seed(0);
    torch::set_num_threads(threads);
    auto model = *kiln::graph::compileGraph(*graph);
    model->setFusion(!noFuse);
    const auto& in = model->inputShapes();
    if (in.size() != 1 || in[0].rank() != 4 || in[0].dims[1].size != 1 || in[0].dims[2].size != 28 ||
        in[0].dims[3].size != 28 || model->lossKind() != kiln::graph::LossKind::CrossEntropy) {
        std::fprintf(stderr, "%s: the bench takes a classifier of 1x28x28 images\n", sample.c_str());
        return 1;
    }
    model->train();
    const auto x = torch::rand({batch, 1, 28, 28});
    const auto y = torch::randint(0, 10, {batch}, torch::kLong);
    std::optional<kiln::train::ChannelsLastScope> layout;
    if (!nchw && kiln::train::prefersChannelsLast(*model, torch::kCPU)) layout.emplace(*model);
    kiln::train::OptimizerConfig oc;  // AdamW, lr 1e-3, betas (0.9, 0.999), eps 1e-8
    oc.weightDecay = 1e-2;            // torch.optim.AdamW's default, which the PyTorch side uses
    std::unique_ptr<torch::optim::Optimizer> opt;
    if (torchAdamW)
        opt = std::make_unique<torch::optim::AdamW>(model->parameters(), torch::optim::AdamWOptions(1e-3));
    else if (auto made = kiln::train::makeOptimizer(oc, kiln::train::trainableParameters(*model)))
        opt = std::move(*made);
    else {
        std::fprintf(stderr, "%s\n", made.error().message().c_str());
        return 1;
    }
    long kilnFaults = 0;  // minor page faults during Kiln's steps (fresh pages the allocator asked for)
    auto kilnSteps = [&](int n) {
        const long faults0 = minorFaults();
        double seconds = 0;
        const double c0 = cpuSeconds();
        for (int s = 0; s < n; ++s) {
            const auto t0 = std::chrono::steady_clock::now();
            opt->zero_grad();
            // The trainer converts every batch it takes; so here the fixed batch, every step.
            const auto input = layout ? layout->input(x) : x;
            auto loss = model->loss(model->forward(input), y);
            loss.backward();
            opt->step();
            seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        }
        kilnFaults += minorFaults() - faults0;
        return std::make_pair(seconds, cpuSeconds() - c0);
    };

    const int rounds = 5;
    kilnSteps(warmup);
    peer.steps(warmup);
    double kilnSeconds = 0, peerSeconds = 0, kilnCpu = 0, peerCpu = 0, lo = 1e9, hi = 0;
    for (int r = 0; r < rounds; ++r) {
        const int n = steps / rounds + (r < steps % rounds ? 1 : 0);
        const auto [k, kc] = kilnSteps(n);
        const auto [p, pc] = peer.steps(n);
        kilnSeconds += k;
        peerSeconds += p;
        kilnCpu += kc;
        peerCpu += pc;
        if (k > 0 && p > 0) {
            lo = std::min(lo, p / k);
            hi = std::max(hi, p / k);
        }
    }
    const double kiln = steps * batch / kilnSeconds;
    const double peerRate = peerSeconds > 0 ? steps * batch / peerSeconds : 0.0;
    if (competitor) {  // first: it holds copies of the pipes to the peer
        kill(competitor, SIGKILL);
        waitpid(competitor, nullptr, 0);
    }
    peer.stop();
    std::printf("%s training, batch %d, %d timed steps in %d alternating rounds, %d threads, OMP_WAIT_POLICY=%s%s\n",
                sample.c_str(), batch, steps, rounds, threads, std::getenv("OMP_WAIT_POLICY") ? std::getenv("OMP_WAIT_POLICY") : "(unset)",
                compete ? ", one busy competing process" : "");
    std::printf("  %-42s %8.0f images/s\n", "PyTorch (python3-torch, exported module)", peerRate);
    std::string label = "Kiln (compiled graph";
    for (const auto& [on, name] : {std::pair{nchw, ", NCHW"}, {torchAdamW, ", torch AdamW"}, {noFuse, ", unfused"},
                                   {mallocDefaults, ", malloc defaults"}})
        if (on) label += name;
    label += ")";
    std::printf("  %-42s %8.0f images/s   ratio %.2fx (rounds %.2f-%.2fx)\n", label.c_str(), kiln,
                peerRate > 0 ? kiln / peerRate : 0.0, lo, hi);
    // Work done per CPU-second (all threads): less sensitive to other load on the machine than
    // the wall clock, but not what a user waits for.
    if (kilnCpu > 0 && peerCpu > 0)
        std::printf("  per CPU-second: PyTorch %.0f, Kiln %.0f images   ratio %.2fx\n", steps * batch / peerCpu,
                    steps * batch / kilnCpu, peerCpu / kilnCpu);
    std::printf("  Kiln page faults per step: %.0f\n", static_cast<double>(kilnFaults) / (steps + warmup));
    std::filesystem::remove_all(dir);
    return peerRate > 0 ? 0 : 1;
}
