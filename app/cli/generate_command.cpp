// kiln-cli generate: text-to-image with a Stable Diffusion 1.x model from a terminal. Each image is written as
// DIR/<index>-<seed>.png with A1111's `parameters` text, so A1111, ComfyUI's loaders and Kiln read the settings
// back; --save-latents keeps the initial noise and the latent after every step for comparing runs.
#include "cli/generate_command.h"

#include "diffusion/image_conditioning.h"
#include "diffusion/model_library.h"
#include "diffusion/png_parameters.h"
#include "diffusion/run_parameters.h"
#include "diffusion/samplers.h"
#include "diffusion/txt2img.h"
#include "io/png_file.h"
#include "io/safetensors_torch.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;

namespace {

constexpr const char* kUsage = R"(usage: kiln-cli generate --model PATH --prompt TEXT --out DIR [options]

  --model PATH         an SD 1.x checkpoint (.safetensors, .ckpt) or a diffusers folder
  --prompt TEXT        A1111's prompt syntax: (word:1.2), [word], BREAK
  --negative TEXT      the negative prompt
  --steps N            (default 20)           --cfg X          guidance scale (default 7)
  --seed N             (default: random); image i of a batch uses seed + i
  --sampler NAME       Euler a (default), Euler, Heun, LMS, DPM++ 2M, DDIM
  --schedule NAME      Automatic (default), Uniform, Normal, Karras
  --width N            --height N   (default 512; rounded to a multiple of 8 with a notice)
  --batch N            images in one run (default 1)
  --batch-count N      runs one after another (default 1); seeds go on counting
  --clip-skip N        A1111's Clip skip (default 1)
  --tokenizer DIR      vocab.json + merges.txt for single-file checkpoints without their own
  --vae FILE           a separate VAE (.safetensors, .pt) instead of the model's own
  --init-image FILE    img2img: start from this image (PNG, JPEG, ...; scaled to the size)
  --strength X         img2img denoising strength, 0..1 (default 0.75)
  --mask FILE          inpainting: white = repaint, black = keep (or the alpha of a PNG);
                       the image's size; needs --init-image
  --mask-blur N        inpainting: Gaussian blur of the mask in pixels (default 4)
  --out DIR            where the images go: DIR/<index>-<seed>.png
  --save-latents FILE  a .safetensors with the initial noise ("noise") and the latent after every
                       step ("step_000", "step_001", ...)

Ctrl-C stops within one step.
)";

std::atomic<bool> gInterrupted{false};

extern "C" void onInterrupt(int)
{
    gInterrupted.store(true);
}

int usageError(const std::string& message)
{
    std::fprintf(stderr, "kiln-cli: error: %s (see kiln-cli generate --help)\n", message.c_str());
    return 2;
}

int fail(std::string message)
{
    // One line, so scripts and people see exactly what went wrong.
    for (char& c : message)
        if (c == '\n') c = ' ';
    std::fprintf(stderr, "kiln-cli: error: %s\n", message.c_str());
    return 1;
}

// A1111 hashes the checkpoint file; a diffusers folder has no one file, so it gets no hash. The hashes are kept in
// the model library's cache (shared with the studio's Models panel), so a multi-GB file is read once; the cache is
// read once for both files and saved at most once.
std::pair<std::string, std::string> shortHashesOf(const std::string& modelPath, const std::string& vaePath)
{
    kiln::diffusion::HashCache cache;
    bool hashedNow = false;
    auto shortHash = [&](const std::string& path) -> std::string {
        std::error_code ec;
        if (path.empty() || !fs::is_regular_file(path, ec)) return {};
        bool fromCache = false;
        auto sha = cache.sha256(path, {}, &fromCache);
        if (!sha) return {};
        hashedNow = hashedNow || !fromCache;
        return kiln::diffusion::shortModelHash(*sha);
    };
    std::pair<std::string, std::string> hashes{shortHash(modelPath), shortHash(vaePath)};
    if (hashedNow) (void)cache.save();  // a cache that cannot be written only costs the next run a re-hash
    return hashes;
}

// A1111 numbers images on from the highest index already in the folder, so runs never overwrite each other.
int nextImageIndex(const fs::path& dir)
{
    int next = 0;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        const std::string name = entry.path().filename().string();
        std::size_t digits = 0;
        while (digits < name.size() && name[digits] >= '0' && name[digits] <= '9') ++digits;
        if (digits == 0 || digits > 9 || digits >= name.size() || name[digits] != '-') continue;
        next = std::max(next, std::stoi(name.substr(0, digits)) + 1);
    }
    return next;
}

class Progress {
public:
    explicit Progress(int steps) : steps_(steps), start_(Clock::now()), last_(start_) {}

    void step(int step, int steps)
    {
        steps_ = steps;  // img2img runs fewer steps than asked for
        const auto now = Clock::now();
        const double elapsed = std::chrono::duration<double>(now - start_).count();
        const double perStep = elapsed / step;
        if (tty_) {
            std::fprintf(stderr, "\rstep %d/%d  %.2f s/step  %.0f s left   ", step, steps_, perStep,
                         perStep * (steps_ - step));
            std::fflush(stderr);
        } else if (step == steps_ || now - last_ >= std::chrono::seconds(5)) {
            // A log, not a terminal: a line every few seconds rather than one per step.
            std::fprintf(stderr, "step %d/%d  %.2f s/step\n", step, steps_, perStep);
            last_ = now;
        }
    }

    void done()
    {
        if (tty_) std::fprintf(stderr, "\r%60s\r", "");
    }

private:
    using Clock = std::chrono::steady_clock;
    int steps_;
    bool tty_ = isatty(2) != 0;
    Clock::time_point start_, last_;
};

}  // namespace

int runGenerateCommand(int argc, char** argv)
{
    using namespace kiln::diffusion;
    GenerateRequest req;
    std::string modelPath, outDir, latentsPath, tokenizerDir, initPath, maskPath, vaePath;
    int batchCount = 1;
    bool havePrompt = false, haveSeed = false;
    for (int i = 2; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
        auto integer = [&](auto& target, long long min) {
            const char* v = value();
            if (!v) return false;
            char* end = nullptr;
            errno = 0;
            const long long n = std::strtoll(v, &end, 10);
            if (errno || !end || end == v || *end || n < min || n > 1000000000) return false;
            target = static_cast<std::remove_reference_t<decltype(target)>>(n);
            return true;
        };
        auto real = [&](double& target, double min, double max) {
            const char* v = value();
            char* end = nullptr;
            const double x = v ? std::strtod(v, &end) : 0;
            if (!v || !end || end == v || *end || !(x >= min && x <= max)) return false;
            target = x;
            return true;
        };
        if (a == "--help" || a == "-h") {
            std::fputs(kUsage, stdout);
            return 0;
        } else if (a == "--model" || a == "--prompt" || a == "--negative" || a == "--sampler" || a == "--schedule" ||
                   a == "--out" || a == "--save-latents" || a == "--tokenizer") {
            const char* v = value();
            if (!v) return usageError(a + " needs a value");
            if (a == "--model") modelPath = v;
            if (a == "--prompt") req.prompt = v, havePrompt = true;
            if (a == "--negative") req.negative = v;
            if (a == "--sampler") req.sampler = v;
            if (a == "--schedule") req.schedule = v;
            if (a == "--out") outDir = v;
            if (a == "--save-latents") latentsPath = v;
            if (a == "--tokenizer") tokenizerDir = v;
        } else if (a == "--steps") {
            if (!integer(req.steps, 1) || req.steps > 1000) return usageError("--steps needs a number from 1 to 1000");
        } else if (a == "--width") {
            if (!integer(req.width, 1)) return usageError("--width needs a positive number");
        } else if (a == "--height") {
            if (!integer(req.height, 1)) return usageError("--height needs a positive number");
        } else if (a == "--batch") {
            if (!integer(req.batch, 1)) return usageError("--batch needs a positive number");
        } else if (a == "--batch-count") {
            if (!integer(batchCount, 1)) return usageError("--batch-count needs a positive number");
        } else if (a == "--clip-skip") {
            if (!integer(req.clipSkip, 1)) return usageError("--clip-skip needs a positive number");
        } else if (a == "--seed") {
            const char* v = value();
            char* end = nullptr;
            errno = 0;
            const unsigned long long n = v && *v != '-' ? std::strtoull(v, &end, 10) : 0;
            if (!v || errno || !end || end == v || *end || n > 0xffffffffull)
                return usageError("--seed needs a number from 0 to 4294967295");
            req.seed = n;
            haveSeed = true;
        } else if (a == "--cfg") {
            if (!real(req.cfg, 0, 100)) return usageError("--cfg needs a number from 0 to 100");
        } else if (a == "--init-image" || a == "--mask" || a == "--vae") {
            const char* v = value();
            if (!v) return usageError(a + " needs a value");
            (a == "--init-image" ? initPath : a == "--mask" ? maskPath : vaePath) = v;
        } else if (a == "--mask-blur") {
            if (!integer(req.maskBlur, 0) || req.maskBlur > 256) return usageError("--mask-blur needs 0 to 256");
        } else if (a == "--strength") {
            if (!real(req.strength, 0, 1)) return usageError("--strength needs a number from 0 to 1");
        } else {
            return usageError("bad or unknown option '" + a + "'");
        }
    }
    if (modelPath.empty()) return usageError("generate needs --model PATH");
    if (!havePrompt) return usageError("generate needs --prompt TEXT");
    if (outDir.empty()) return usageError("generate needs --out DIR");
    if (!maskPath.empty() && initPath.empty()) return usageError("--mask needs --init-image");
    if (!latentsPath.empty() && batchCount > 1) return usageError("--save-latents takes one run: drop --batch-count");
    // The images are read before the (slow) model load, so a wrong path costs nothing.
    if (!initPath.empty()) {
        auto init = readRgbImage(initPath);
        if (!init) return fail(init.error().message());
        req.initImage = init->pixels;
        if (!maskPath.empty()) {
            auto mask = readMaskImage(maskPath);
            if (!mask) return fail(mask.error().message());
            if (mask->width != init->width || mask->height != init->height)
                return fail(maskPath + ": the mask is " + std::to_string(mask->width) + "x" +
                            std::to_string(mask->height) + ", the init image " + std::to_string(init->width) + "x" +
                            std::to_string(init->height) + "; they must be the same size");
            req.mask = mask->pixels;
        }
    }
    if (!haveSeed) {
        // A1111's seed -1: a random 32-bit seed, printed and written into the PNG so the image can be made again.
        req.seed = std::random_device{}();
    }

    // Before the (slow) load, so a typo costs nothing.
    auto choice = resolveSampler(req.sampler, req.schedule);
    if (!choice) return fail(choice.error().message());

    std::error_code ec;
    if (!fs::exists(modelPath, ec)) return fail(modelPath + ": the model does not exist");
    LoadOptions options;
    options.tokenizerDir = tokenizerDir;
    options.vaePath = vaePath;
    options.keepUNetHalf = true;  // an fp16 checkpoint stays fp16 in memory; layers widen per call
    auto model = loadStableDiffusion(modelPath, options);
    if (!model) return fail(model.error().message());
    if (!model->report.complete())
        std::fprintf(stderr, "kiln-cli: note: the model loaded partly: %zu missing and %zu mismatched tensors\n",
                     model->report.missing.size(), model->report.mismatched.size());

    fs::create_directories(outDir, ec);
    if (ec || !fs::is_directory(outDir))
        return fail(outDir + ": cannot create the output folder (" + ec.message() + ")");

    kiln::io::NamedTensors latents;
    auto onLatent = [&](int step, const torch::Tensor& latent) {
        std::string name = "noise";
        if (step > 0) {
            name = std::to_string(step - 1);
            name = "step_" + std::string(name.size() < 3 ? 3 - name.size() : 0, '0') + name;
        }
        latents.emplace_back(std::move(name), latent.detach().to(torch::kCPU, torch::kFloat).contiguous().clone());
    };
    const auto [modelHash, vaeHash] = shortHashesOf(modelPath, vaePath);
    const GenerationParameters runInfo = runParameters(req, {modelPath, vaePath, modelHash, vaeHash});

    int index = nextImageIndex(outDir);
    const std::uint64_t firstSeed = req.seed;
    for (int n = 0; n < batchCount; ++n) {
        // A1111's batch count: image i of batch n has seed + n * batch + i
        req.seed = firstSeed + static_cast<std::uint64_t>(n) * static_cast<std::uint64_t>(req.batch);
        Progress progress(req.steps);
        auto onStep = [&](int step, int steps, const torch::Tensor&) {
            progress.step(step, steps);
            return !gInterrupted.load();
        };
        gInterrupted.store(false);
        auto previous = std::signal(SIGINT, onInterrupt);
        const LatentCallback latentCallback = latentsPath.empty() ? LatentCallback{} : LatentCallback(onLatent);
        auto out = req.initImage.defined() ? img2img(*model, req, onStep, latentCallback)
                                           : txt2img(*model, req, onStep, latentCallback);
        std::signal(SIGINT, previous);
        progress.done();
        if (!out) {
            if (isCancelled(out.error())) {
                std::fprintf(stderr, "kiln-cli: stopped; %s\n", n ? "the images above were written" : "no images written");
                return 130;
            }
            return fail(out.error().message());
        }
        if (n == 0)
            for (const auto& notice : out->notices) std::fprintf(stderr, "kiln-cli: note: %s\n", notice.c_str());

        if (!latentsPath.empty()) {
            auto saved = kiln::io::saveSafetensors(latentsPath, latents, {{"seed", std::to_string(req.seed)}});
            if (!saved) return fail(saved.error().message());
            std::printf("%s\n", latentsPath.c_str());
        }

        const torch::Tensor images = out->images.contiguous();
        for (std::size_t i = 0; i < out->seeds.size(); ++i, ++index) {
            const auto params = imageParameters(runInfo, out->seeds[i], out->width, out->height);
            char name[64];
            std::snprintf(name, sizeof name, "%05d-%llu.png", index, static_cast<unsigned long long>(out->seeds[i]));
            const std::string path = (fs::path(outDir) / name).string();
            const torch::Tensor image = images[static_cast<std::int64_t>(i)].contiguous();
            auto written = kiln::io::writePng(path, out->width, out->height, 3, image.data_ptr<std::uint8_t>(),
                                              {{"parameters", formatParameters(params)}});
            if (!written) return fail(written.error().message());
            std::printf("%s\n", path.c_str());
            std::fflush(stdout);
        }
    }
    return 0;
}
