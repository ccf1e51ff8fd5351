// kiln-cli train: a designed graph trained from the terminal, with a live progress line and the
// same checkpoints as the studio.
#include "cli/train_command.h"

#include "cli/data_source.h"
#include "kiln/graph_file.h"
#include "kiln/graph_training.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <unistd.h>

namespace {

constexpr const char* kUsage = R"(usage: kiln-cli train GRAPH.kgraph [options]

  --data SOURCE        fashion-mnist (default), an image folder (one subfolder per class),
                       or a text file (characters as tokens)
  --epochs N           (default 5)        --batch N        (default 64)
  --optimizer NAME     sgd, adam, adamw (default adamw)
  --lr X               (default 0.001)    --weight-decay X (default 0)
  --schedule NAME      constant, step, cosine (default cosine)   --warmup STEPS (default 0)
  --clip X             clip the global gradient norm (default off)
  --augment            random flips and 2-pixel crops for images
  --max-train N        use N training samples (default all)      --max-val N
  --out DIR            checkpoints (every --save-every steps, the best, and on stop)
  --save-every STEPS   (default 500)      --resume         continue from DIR's last checkpoint
  --threads N          LibTorch threads (default: every hardware thread)
  --seed N             (default 1)        --device cpu     (Vulkan runs inference: kiln-cli run)
  --min-accuracy X     exit with 3 when the final validation accuracy is below X
)";

std::atomic<kiln::JobQueue*> gQueue{nullptr};
std::atomic<kiln::JobId> gJob{0};

void onInterrupt(int)
{
    if (auto* q = gQueue.load()) q->cancel(gJob.load());  // stops within one batch; a checkpoint is saved
}

std::string clock(double seconds)
{
    if (seconds < 0 || !std::isfinite(seconds)) return "--:--";
    const long s = static_cast<long>(seconds + 0.5);
    char buf[32];
    if (s >= 3600) std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
    return buf;
}

// Prints one progress line that rewrites itself, and a full line per epoch.
class TerminalProgress final : public kiln::JobObserver {
public:
    void jobStarted() override { start_ = std::chrono::steady_clock::now(); }
    void jobUpdated(kiln::JobUpdate u) override
    {
        std::lock_guard lock(mutex_);
        for (const auto& m : u.metrics) last_[m.name] = m.value, step_ = m.step;
        if (u.progress >= 0) progress_ = u.progress;
        const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
        const double eta = progress_ > 0.005 ? elapsed * (1 - progress_) / progress_ : -1;
        constexpr int width = 28;
        // In a log (not a terminal) a line every few seconds, not a redraw 30 times a second.
        if (!tty_) {
            const bool last = progress_ >= 1.0 && !loggedEnd_;
            if (elapsed - lastLogged_ < 5.0 && !last) return;
            loggedEnd_ = loggedEnd_ || last;
            lastLogged_ = elapsed;
        }
        const int filled = static_cast<int>(progress_ * width);
        std::string bar(static_cast<std::size_t>(filled), '#');
        bar.resize(width, '-');
        std::fprintf(stderr, tty_ ? "\r[%s] %3.0f%%  step %lld  loss %.4f  lr %.2e  %5.0f samples/s  ETA %s   "
                                  : "[%s] %3.0f%%  step %lld  loss %.4f  lr %.2e  %5.0f samples/s  ETA %s\n",
                     bar.c_str(),
                     progress_ * 100, static_cast<long long>(step_), get(kiln::train::metric::kTrainLoss),
                     get(kiln::train::metric::kLearningRate), get(kiln::train::metric::kThroughput), clock(eta).c_str());
        std::fflush(stderr);
    }
    void jobFinished(kiln::JobState, const std::optional<kiln::Error>&) override
    {
        if (tty_) std::fprintf(stderr, "\n");
    }

    void epoch(const kiln::train::EpochReport& r)
    {
        std::lock_guard lock(mutex_);
        if (tty_) std::fprintf(stderr, "\r%100s\r", "");
        std::printf("epoch %lld  step %lld  train loss %.4f", static_cast<long long>(r.epoch),
                    static_cast<long long>(r.step), r.trainLoss);
        if (r.trainAccuracy >= 0) std::printf("  acc %.4f", r.trainAccuracy);
        std::printf("  |  val loss %.4f", r.validation.loss);
        if (r.validation.accuracy >= 0) std::printf("  acc %.4f", r.validation.accuracy);
        std::printf("%s\n", r.best ? "  (best)" : "");
        if (!r.textSample.empty()) std::printf("  sample: %s\n", r.textSample.c_str());
        std::fflush(stdout);
    }

private:
    double get(const char* name) const
    {
        auto it = last_.find(name);
        return it == last_.end() ? 0.0 : it->second;
    }
    std::mutex mutex_;
    std::map<std::string, double> last_;
    std::int64_t step_ = 0;
    double progress_ = 0;
    double lastLogged_ = -1e9;
    bool loggedEnd_ = false;
    const bool tty_ = isatty(2) != 0;
    std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

int usageError(const std::string& message)
{
    std::fprintf(stderr, "kiln-cli: error: %s (see kiln-cli train --help)\n", message.c_str());
    return 2;
}

}  // namespace

int runTrainCommand(int argc, char** argv)
{
    using namespace kiln::train;
    std::string graphPath, data = "fashion-mnist", out;
    double minAccuracy = -1;
    TrainConfig cfg;
    cfg.epochs = 5;
    cfg.optimizer.kind = OptimizerKind::AdamW;
    cfg.schedule.kind = ScheduleKind::Cosine;
    cfg.checkpoint.everySteps = 500;

    for (int i = 2; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
        auto number = [&](double& target) {
            const char* v = value();
            char* end = nullptr;
            if (!v) return false;
            target = std::strtod(v, &end);
            return end && *end == '\0';
        };
        double n = 0;
        if (a == "--help" || a == "-h") {
            std::fputs(kUsage, stdout);
            return 0;
        } else if (a == "--data") {
            const char* v = value();
            if (!v) return usageError("--data needs a value");
            data = v;
        } else if (a == "--out") {
            const char* v = value();
            if (!v) return usageError("--out needs a folder");
            out = v;
        } else if (a == "--optimizer") {
            const char* v = value();
            auto k = v ? optimizerKindFromId(std::string("optimizer.") + v) : std::nullopt;
            if (!k) return usageError("--optimizer is sgd, adam or adamw");
            cfg.optimizer.kind = *k;
        } else if (a == "--schedule") {
            const char* v = value();
            auto k = v ? scheduleKindFromId(std::string("schedule.") + v) : std::nullopt;
            if (!k) return usageError("--schedule is constant, step or cosine");
            cfg.schedule.kind = *k;
        } else if (a == "--device") {
            const char* v = value();
            if (v && std::string(v).rfind("vulkan", 0) == 0)
                return usageError("training runs on the CPU; Vulkan runs trained graphs: kiln-cli run GRAPH --device vulkan");
            if (!v || std::string(v) != "cpu") return usageError("--device is cpu for training");
        } else if (a == "--augment") {
            cfg.data.augment.horizontalFlip = true;
            cfg.data.augment.cropPadding = 2;
        } else if (a == "--resume") {
            cfg.checkpoint.resume = true;
        } else if (a == "--epochs" && number(n) && n >= 1) cfg.epochs = static_cast<int>(n);
        else if (a == "--batch" && number(n) && n >= 1) cfg.batchSize = static_cast<int>(n);
        else if (a == "--lr" && number(n) && n > 0) cfg.optimizer.learningRate = n;
        else if (a == "--weight-decay" && number(n) && n >= 0) cfg.optimizer.weightDecay = n;
        else if (a == "--warmup" && number(n) && n >= 0) cfg.schedule.warmupSteps = static_cast<std::int64_t>(n);
        else if (a == "--clip" && number(n) && n >= 0) cfg.clipGradNorm = n;
        else if (a == "--max-train" && number(n) && n >= 1) cfg.data.maxTrainSamples = static_cast<std::int64_t>(n);
        else if (a == "--max-val" && number(n) && n >= 1) cfg.data.maxValidationSamples = static_cast<std::int64_t>(n);
        else if (a == "--save-every" && number(n) && n >= 0) cfg.checkpoint.everySteps = static_cast<std::int64_t>(n);
        else if (a == "--threads" && number(n) && n >= 0) cfg.threads = static_cast<int>(n);
        else if (a == "--seed" && number(n) && n >= 0) cfg.seed = cfg.data.seed = static_cast<std::uint64_t>(n);
        else if (a == "--min-accuracy" && number(n)) minAccuracy = n;
        else if (!a.empty() && a[0] != '-' && graphPath.empty()) graphPath = a;
        else return usageError("bad or unknown option '" + a + "'");
    }
    if (graphPath.empty()) return usageError("train needs a graph: kiln-cli train GRAPH.kgraph");

    kiln::cli::setDataSource(cfg.data, data);
    cfg.checkpoint.directory = out;

    auto graph = kiln::graph::loadGraph(graphPath);
    if (!graph) {
        std::fprintf(stderr, "kiln-cli: error: %s\n", graph.error().message().c_str());
        return 1;
    }

    auto progress = std::make_shared<TerminalProgress>();
    std::optional<TrainSummary> summary;
    TrainHooks hooks;
    hooks.onEpoch = [progress](const EpochReport& r) { progress->epoch(r); };
    hooks.onFinished = [&summary](const TrainSummary& s) { summary = s; };

    kiln::JobQueue queue;
    std::optional<kiln::Error> failure;
    struct Finish final : kiln::JobObserver {
        std::shared_ptr<TerminalProgress> inner;
        std::optional<kiln::Error>* failure;
        void jobStarted() override { inner->jobStarted(); }
        void jobUpdated(kiln::JobUpdate u) override { inner->jobUpdated(std::move(u)); }
        void jobFinished(kiln::JobState s, const std::optional<kiln::Error>& e) override
        {
            inner->jobFinished(s, e);
            *failure = e;
        }
    };
    auto observer = std::make_shared<Finish>();
    observer->inner = progress;
    observer->failure = &failure;
    const auto id = queue.submit("train", makeGraphTrainJob(std::move(*graph), cfg, hooks), observer);
    gQueue = &queue;
    gJob = id;
    std::signal(SIGINT, onInterrupt);
    queue.wait(id);
    std::signal(SIGINT, SIG_DFL);
    gQueue = nullptr;

    if (failure) {
        std::fprintf(stderr, "kiln-cli: error: %s\n", failure->message().c_str());
        return 1;
    }
    if (!summary) return 1;
    std::printf("%s after %lld steps (%s; %d threads)\n", summary->cancelled ? "stopped" : "finished",
                static_cast<long long>(summary->steps), summary->dataDescription.c_str(), summary->threads);
    if (!summary->lastCheckpoint.empty()) std::printf("last checkpoint: %s\n", summary->lastCheckpoint.c_str());
    if (!summary->bestCheckpoint.empty()) std::printf("best checkpoint: %s\n", summary->bestCheckpoint.c_str());
    const double accuracy = summary->lastEpoch ? summary->lastEpoch->validation.accuracy : -1;
    if (accuracy >= 0) std::printf("validation accuracy: %.4f\n", accuracy);
    if (minAccuracy >= 0 && accuracy < minAccuracy) {
        std::fprintf(stderr, "kiln-cli: validation accuracy %.4f is below --min-accuracy %.4f\n", accuracy, minAccuracy);
        return 3;
    }
    return summary->cancelled ? 130 : 0;
}
