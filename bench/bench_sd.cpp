// Stable Diffusion 1.5 at full size: Kiln's UNet step, VAE decode, text encoding, load time and peak memory,
// against the same UNet written in plain PyTorch (bench/sd_unet_torch.py, Debian's python3-torch) on the same
// weights, in the same run.
//
// The model is SD 1.5's exact architecture (CLIP ViT-L/14 text encoder, UNet, VAE) with seeded random weights
// (std 0.02, norms at 1/0, biases 0), written once as an fp16 single-file .safetensors with the LDM (A1111)
// keys, then loaded through loadStableDiffusion as the Generate job does.
//
// Usage: bench_sd [--model PATH] [--tokenizer DIR] [--threads N] [--steps N] [--fp32] [--no-peer] [--no-interleave]
//                 [--attention-slice N] [--compare-slice N]
//   --model      the fp16 file; written when absent (default $TMPDIR or /tmp/kiln-bench-sd15-fp16.safetensors)
//   --tokenizer  vocab.json + merges.txt (default ../shared/data/clip-tokenizer beside the source tree)
//   --threads    intra-op threads for Kiln and PyTorch (default: the hardware threads)
//   --steps      timed UNet steps per round, after one warm-up step (default 2)
//   --fp32       load the UNet as float32 (LoadOptions::keepUNetHalf = false) instead of keeping it fp16
//   --no-peer    skip PyTorch;  --no-interleave: one Kiln round only (default: Kiln, PyTorch, Kiln again)
//   --attention-slice N  attention over [B*heads, N, d] slices of N heads (the path before per-head chunks)
//   --compare-slice N    time the default steps, then the same steps through that sliced path, in each round
// A UNet step is one forward at batch 2 (uncond + cond of one 512x512 image): latent [2,4,64,64], context
// [2,77,768]. Only one model is in memory at a time: Kiln frees its model before PyTorch runs.
#include "diffusion/model_loader.h"
#include "diffusion/txt2img.h"
#include "io/safetensors_torch.h"
#include "kiln/system_info.h"
#include "sd_test_models.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include <malloc.h>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <sys/resource.h>
#include <thread>
#include <torch/torch.h>
#include <vector>

namespace fs = std::filesystem;
using namespace kiln::diffusion;

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// CPU seconds of this process, every thread (user + system). With OMP_WAIT_POLICY=passive idle threads
// sleep, so this counts the work done and varies less than wall time when other processes compete.
double cpuSeconds()
{
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

// Peak resident set of this process so far, in MiB (VmHWM; the same as getrusage's ru_maxrss).
double peakRssMiB()
{
    std::ifstream in("/proc/self/status");
    for (std::string line; std::getline(in, line);)
        if (line.rfind("VmHWM:", 0) == 0) return std::atof(line.c_str() + 6) / 1024.0;
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_maxrss) / 1024.0;
}

double statusMiB(const char* field)
{
    std::ifstream in("/proc/self/status");
    const size_t n = std::strlen(field);
    for (std::string line; std::getline(in, line);)
        if (line.compare(0, n, field) == 0) return std::atof(line.c_str() + n) / 1024.0;
    return 0;
}
double currentRssMiB() { return statusMiB("VmRSS:"); }

// Starts a new peak: VmHWM becomes the current RSS (Linux's clear_refs "5"); ru_maxrss is not reset.
void resetPeakRss()
{
    if (FILE* f = std::fopen("/proc/self/clear_refs", "w")) {
        std::fputs("5", f);
        std::fclose(f);
    }
}

std::string capture(const std::string& cmd)
{
    std::string out;
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return out;
    char buf[4096];
    while (fgets(buf, sizeof buf, p)) {
        out += buf;
        std::fputs(buf, stdout);  // the peer's progress, as it comes
        std::fflush(stdout);
    }
    pclose(p);
    return out;
}

// "RESULT key=value key=value ..." -> map
std::map<std::string, double> parseResult(const std::string& text)
{
    std::map<std::string, double> r;
    const auto at = text.rfind("RESULT ");
    if (at == std::string::npos) return r;
    std::istringstream in(text.substr(at + 7, text.find('\n', at) - at - 7));
    for (std::string kv; in >> kv;)
        if (auto eq = kv.find('='); eq != std::string::npos) r[kv.substr(0, eq)] = std::atof(kv.c_str() + eq + 1);
    return r;
}

// Seeded weights a trained net would have in scale: std 0.02, norm weights 1, biases 0.
void initLikeTrained(torch::nn::Module& m)
{
    torch::NoGradGuard noGrad;
    for (auto& item : m.named_parameters(true)) {
        const std::string& name = item.key();
        torch::Tensor p = item.value();
        const bool bias = name.size() >= 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
        if (bias)
            p.zero_();
        else if (p.dim() == 1 && name.find("norm") != std::string::npos)
            p.fill_(1.0);
        else
            p.normal_(0.0, 0.02);
    }
}

int writeModel(const std::string& path)
{
    const auto t0 = Clock::now();
    torch::manual_seed(20261127);
    // One module at a time in float32, then halved in place, so at most one fp32 module is alive.
    ClipTextModel clip(ClipTextConfig::sd15());
    initLikeTrained(*clip);
    clip->to(torch::kHalf);
    auto unet = createUNet(UNetConfig::sd15());
    if (!unet) {
        std::fprintf(stderr, "%s\n", unet.error().message().c_str());
        return 1;
    }
    initLikeTrained(**unet);
    (*unet)->to(torch::kHalf);
    AutoencoderKL vae(VaeConfig::sd15());
    initLikeTrained(*vae);
    vae->to(torch::kHalf);
    if (auto ok = kiln::sdtest::writeSdSingleFile(path, clip, *unet, vae, torch::kHalf); !ok) {
        std::fprintf(stderr, "could not write %s: %s\n", path.c_str(), ok.error().message().c_str());
        return 1;
    }
    std::printf("wrote %s (%.2f GB) in %.1f s\n", path.c_str(), static_cast<double>(fs::file_size(path)) / 1e9,
                since(t0));
    return 0;
}

struct KilnRound {
    double load = 0, encode = 0, firstStep = 0, vae = -1;
    std::vector<double> steps, cpu, slicedSteps, slicedCpu;
    double rssAfterLoad = 0, peakLoad = 0, peakSteps = 0, peakVae = 0, peakRound = 0;
    std::string unetDtype;
};

struct Options {
    std::string model, tokenizer, ioPath;
    int threads = 2, steps = 2;
    int64_t attentionSlice = 0;  // > 0: the [B*heads, N, d] sliced attention path, that many heads per piece
    int64_t compareSlice = 0;    // > 0: also time the steps through that path, in the same round
    bool fp32 = false;
};

KilnRound kilnRound(const Options& o, bool full)
{
    KilnRound r;
    resetPeakRss();
    auto t0 = Clock::now();
    LoadOptions lo;
    lo.tokenizerDir = o.tokenizer;
    lo.keepUNetHalf = !o.fp32;
    auto model = loadStableDiffusion(o.model, lo);
    if (!model) {
        std::fprintf(stderr, "load failed: %s\n", model.error().message().c_str());
        std::exit(1);
    }
    r.load = since(t0);
    r.rssAfterLoad = currentRssMiB();
    r.peakLoad = peakRssMiB();
    resetPeakRss();
    r.unetDtype = model->report.unetDtype;
    if (!model->report.complete()) {
        std::fprintf(stderr, "incomplete load: %zu missing, %zu mismatched\n", model->report.missing.size(),
                     model->report.mismatched.size());
        std::exit(1);
    }
    std::printf("  Kiln: loaded in %.2f s (UNet %s), RSS %.0f MiB (anonymous %.0f, file %.0f), peak while loading "
                "%.0f MiB\n", r.load, r.unetDtype.c_str(), r.rssAfterLoad, statusMiB("RssAnon:"), statusMiB("RssFile:"),
                r.peakLoad);
    std::fflush(stdout);

    // Text encoding as txt2img does it: prompt and negative, one 77-token chunk each.
    t0 = Clock::now();
    auto cond = encodePrompt(*model, "a photo of a cat sitting on a red sofa, highly detailed");
    auto uncond = encodePrompt(*model, "");
    r.encode = since(t0);
    if (!cond || !uncond) {
        std::fprintf(stderr, "encodePrompt failed\n");
        std::exit(1);
    }

    torch::NoGradGuard noGrad;  // as txt2img
    // One Euler step's UNet call as txt2img makes it: [uncond, cond] of one image, x scaled by c_in.
    const double sigma = 14.6146;  // the first sigma of SD 1.x's schedule
    auto gen = at::detail::createCPUGenerator(42);
    torch::Tensor x = torch::randn({1, 4, 64, 64}, gen) * sigma;
    torch::Tensor latent = torch::cat({x, x}, 0) * (1.0 / std::sqrt(sigma * sigma + 1.0));
    torch::Tensor t = torch::full({2}, 999.0, torch::kFloat32);
    torch::Tensor context = torch::cat({*uncond, *cond}, 0).to(torch::kFloat32);
    UNet2DConditionModel unet = model->unet;
    if (o.attentionSlice > 0) unet->setAttentionSlicing({o.attentionSlice, 0, AttentionSlicing{}.scoreBudgetBytes});

    t0 = Clock::now();
    torch::Tensor eps = unet->forward(latent, t, context);
    r.firstStep = since(t0);
    std::printf("  Kiln: warm-up step %.2f s\n", r.firstStep);
    std::fflush(stdout);
    for (int i = 0; i < o.steps; ++i) {
        t0 = Clock::now();
        const double c0 = cpuSeconds();
        eps = unet->forward(latent, t, context);
        r.steps.push_back(since(t0));
        r.cpu.push_back(cpuSeconds() - c0);
        std::printf("  Kiln: step %.2f s (CPU %.2f s)\n", r.steps.back(), r.cpu.back());
        std::fflush(stdout);
    }
    if (o.compareSlice > 0) {
        // The same steps through the [B*heads, N, d] sliced path, in the same conditions, then back.
        unet->setAttentionSlicing({o.compareSlice, 0, AttentionSlicing{}.scoreBudgetBytes});
        for (int i = 0; i < o.steps; ++i) {
            t0 = Clock::now();
            const double c0 = cpuSeconds();
            torch::Tensor e = unet->forward(latent, t, context);
            r.slicedSteps.push_back(since(t0));
            r.slicedCpu.push_back(cpuSeconds() - c0);
            std::printf("  Kiln, attention in slices of %lld heads: step %.2f s (CPU %.2f s), max|diff| to the "
                        "default path %.2e\n", static_cast<long long>(o.compareSlice), r.slicedSteps.back(),
                        r.slicedCpu.back(), (e - eps).abs().max().item<double>());
            std::fflush(stdout);
        }
        unet->setAttentionSlicing({});
    }
    r.peakSteps = peakRssMiB();
    ::malloc_trim(0);  // as txt2img does between sampling and the VAE decode
    resetPeakRss();
    if (!torch::isfinite(eps).all().item<bool>()) {
        std::fprintf(stderr, "the UNet output is not finite\n");
        std::exit(1);
    }
    if (full) {
        kiln::io::NamedTensors io{{"latent", latent.contiguous()}, {"timesteps", t}, {"context", context.contiguous()},
                                  {"output", eps.contiguous()}};
        if (auto ok = kiln::io::saveSafetensors(o.ioPath, io); !ok) {
            std::fprintf(stderr, "could not write %s\n", o.ioPath.c_str());
            std::exit(1);
        }
        // VAE decode of one 64x64 latent, as txt2img: decodeTiled (one tile at this size).
        AutoencoderKL vae = model->vae;
        torch::Tensor z = torch::randn({1, 4, 64, 64}, gen);
        t0 = Clock::now();
        auto image = vae->decodeTiled(z);
        r.vae = since(t0);
        if (!image || !torch::isfinite(*image).all().item<bool>()) {
            std::fprintf(stderr, "VAE decode failed or is not finite\n");
            std::exit(1);
        }
        r.peakVae = peakRssMiB();
        std::printf("  Kiln: VAE decode %.2f s\n", r.vae);
    }
    r.peakRound = std::max({r.peakLoad, r.peakSteps, r.peakVae});
    std::printf("  Kiln: peak RSS this round %.0f MiB (loading %.0f, text encoding + UNet steps %.0f, VAE decode "
                "%.0f)\n", r.peakRound, r.peakLoad, r.peakSteps, r.peakVae);
    return r;
}

double minimum(const std::vector<double>& v) { return v.empty() ? 0 : *std::min_element(v.begin(), v.end()); }

double mean(const std::vector<double>& v)
{
    double s = 0;
    for (double x : v) s += x;
    return v.empty() ? 0 : s / static_cast<double>(v.size());
}

std::string list(const std::vector<double>& v)
{
    std::string s;
    char buf[32];
    for (double x : v) {
        std::snprintf(buf, sizeof buf, "%s%.2f", s.empty() ? "" : " ", x);
        s += buf;
    }
    return s;
}

}  // namespace

int main(int argc, char** argv)
{
    kiln::ensurePassiveOpenMP(argv);  // as kiln and kiln-cli run
    kiln::keepFreedMemoryForReuse();
    Options o;
    const char* tmp = std::getenv("TMPDIR");
    o.model = (fs::path(tmp && *tmp ? tmp : "/tmp") / "kiln-bench-sd15-fp16.safetensors").string();
    o.tokenizer = KILN_SOURCE_DIR "/../shared/data/clip-tokenizer";
    o.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    bool peer = true, interleave = true;
    std::string writeOnly;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "%s needs a value\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--model") o.model = next();
        else if (a == "--tokenizer") o.tokenizer = next();
        else if (a == "--threads") o.threads = std::atoi(next().c_str());
        else if (a == "--steps") o.steps = std::atoi(next().c_str());
        else if (a == "--fp32") o.fp32 = true;
        else if (a == "--attention-slice") o.attentionSlice = std::atoll(next().c_str());
        else if (a == "--compare-slice") o.compareSlice = std::atoll(next().c_str());
        else if (a == "--no-peer") peer = false;
        else if (a == "--no-interleave") interleave = false;
        else if (a == "--write-model") writeOnly = next();
        else {
            std::fprintf(stderr, "usage: bench_sd [--model PATH] [--tokenizer DIR] [--threads N] [--steps N] [--fp32] "
                                 "[--no-peer] [--no-interleave] [--attention-slice N] [--compare-slice N]\n");
            return 2;
        }
    }
    if (!writeOnly.empty()) return writeModel(writeOnly);

    if (!fs::exists(o.model)) {
        // In a child process, so that building the fp32 modules does not count in this process's peak memory.
        std::printf("writing the random SD 1.5 model to %s (once)...\n", o.model.c_str());
        std::fflush(stdout);
        const std::string cmd = "\"" + std::string(argv[0]) + "\" --write-model \"" + o.model + "\"";
        if (std::system(cmd.c_str()) != 0 || !fs::exists(o.model)) {
            std::fprintf(stderr, "could not write the model\n");
            return 1;
        }
    }
    if (!fs::exists(fs::path(o.tokenizer) / "vocab.json")) {
        std::fprintf(stderr, "no CLIP tokenizer in %s (see --tokenizer)\n", o.tokenizer.c_str());
        return 1;
    }
    o.ioPath = (fs::path(o.model).parent_path() / "kiln-bench-sd15-io.safetensors").string();
    torch::set_num_threads(o.threads);

    char load[256] = "?";
    if (FILE* f = std::fopen("/proc/loadavg", "r")) {
        if (!std::fgets(load, sizeof load, f)) load[0] = 0;
        std::fclose(f);
        load[std::strcspn(load, "\n")] = 0;
    }
    std::printf("SD 1.5 full size, random fp16 weights: %s\n%d threads, OMP_WAIT_POLICY=%s, load average at start: %s\n",
                o.model.c_str(), o.threads, std::getenv("OMP_WAIT_POLICY") ? std::getenv("OMP_WAIT_POLICY") : "(unset)",
                load);
    std::fflush(stdout);

    std::printf("Kiln round 1\n");
    KilnRound k1 = kilnRound(o, true);
    std::vector<double> kilnSteps = k1.steps, kilnCpu = k1.cpu, slicedSteps = k1.slicedSteps,
                        slicedCpu = k1.slicedCpu;
    double peak = k1.peakRound;

    std::map<std::string, double> py;
    if (peer) {
        std::printf("PyTorch\n");
        std::fflush(stdout);
        const std::string cmd = "OMP_WAIT_POLICY=passive /usr/bin/python3 \"" KILN_SOURCE_DIR "/bench/sd_unet_torch.py\" --model \"" +
                                o.model + "\" --io \"" + o.ioPath + "\" --threads " + std::to_string(o.threads) +
                                " --steps " + std::to_string(o.steps);
        py = parseResult(capture(cmd));
        if (py.empty()) std::printf("  PyTorch peer gave no result (is python3-torch installed?)\n");
    }
    if (peer && interleave) {
        std::printf("Kiln round 2\n");
        KilnRound k2 = kilnRound(o, false);
        kilnSteps.insert(kilnSteps.end(), k2.steps.begin(), k2.steps.end());
        kilnCpu.insert(kilnCpu.end(), k2.cpu.begin(), k2.cpu.end());
        slicedSteps.insert(slicedSteps.end(), k2.slicedSteps.begin(), k2.slicedSteps.end());
        slicedCpu.insert(slicedCpu.end(), k2.slicedCpu.begin(), k2.slicedCpu.end());
        peak = std::max(peak, k2.peakRound);
    }

    const double kstep = mean(kilnSteps);
    std::printf("\nSD 1.5 UNet step (batch 2, 512x512, context 77x768), %d threads; load average now: ", o.threads);
    if (FILE* f = std::fopen("/proc/loadavg", "r")) {
        char b[256] = "";
        if (std::fgets(b, sizeof b, f)) std::fputs(b, stdout);
        std::fclose(f);
    }
    std::printf("  Kiln (UNet %s):  load %.2f s, text encoding (2 prompts) %.2f s, warm-up step %.2f s, steps [%s] "
                "mean %.2f s (best %.2f s), VAE decode 64x64 latent %.2f s, peak RSS of one generation (round 1: load, encode, "
                "steps, decode) %.0f MiB; of the whole process %.0f MiB\n",
                k1.unetDtype.c_str(), k1.load, k1.encode, k1.firstStep, list(kilnSteps).c_str(), kstep, minimum(kilnSteps), k1.vae,
                k1.peakRound, peak);
    if (!slicedSteps.empty())
        std::printf("  Kiln, attention in slices of %lld heads: steps [%s] mean %.2f s (best %.2f s), CPU mean %.2f s "
                    "(default path: CPU mean %.2f s, %.2fx)\n",
                    static_cast<long long>(o.compareSlice), list(slicedSteps).c_str(), mean(slicedSteps),
                    minimum(slicedSteps), mean(slicedCpu), mean(kilnCpu), mean(kilnCpu) / mean(slicedCpu));
    if (!py.empty()) {
        std::printf("  PyTorch (fp32): load %.2f s, warm-up step %.2f s, step mean %.2f s (best %.2f s), peak RSS %.0f MiB\n",
                    py["load"], py["first"], py["step"], py["best"], py["maxrss_mb"]);
        std::printf("  step CPU time (all threads): Kiln mean %.2f s, PyTorch mean %.2f s\n", mean(kilnCpu), py["cpu"]);
        std::printf("  step time Kiln / PyTorch = %.2fx (mean wall), %.2fx (best wall), %.2fx (mean CPU)\n",
                    kstep / py["step"], minimum(kilnSteps) / py["best"], mean(kilnCpu) / py["cpu"]);
        std::printf("  UNet output Kiln vs PyTorch on the same input: max|diff| / max|ref| = %.2e, "
                    "rms(diff) / rms(ref) = %.2e, max|diff| = %.2e\n",
                    py["maxrel"], py["rmsrel"], py["maxabs"]);
    }
    return 0;
}
