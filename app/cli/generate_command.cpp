// kiln-cli generate: text-to-image with a Stable Diffusion 1.x model from a terminal. Each image is written as
// DIR/<index>-<seed>.png with A1111's `parameters` text, so A1111, ComfyUI's loaders and Kiln read the settings
// back; --save-latents keeps the initial noise and the latent after every step for comparing runs.
#include "cli/generate_command.h"

#include "diffusion/png_parameters.h"
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
  --clip-skip N        A1111's Clip skip (default 1)
  --tokenizer DIR      vocab.json + merges.txt for single-file checkpoints without their own
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

// FIPS 180-4 SHA-256, for A1111's "Model hash" (the first 10 hex digits of the checkpoint file's hash).
class Sha256 {
public:
    void update(const std::uint8_t* data, std::size_t size)
    {
        total_ += size;
        while (size) {
            const std::size_t n = std::min(size, 64 - used_);
            std::copy(data, data + n, block_.begin() + static_cast<std::ptrdiff_t>(used_));
            used_ += n, data += n, size -= n;
            if (used_ == 64) compress(), used_ = 0;
        }
    }

    std::string hex()
    {
        const std::uint64_t bits = total_ * 8;
        const std::uint8_t one = 0x80, zero = 0;
        update(&one, 1);
        while (used_ != 56) update(&zero, 1);
        std::uint8_t length[8];
        for (int i = 0; i < 8; ++i) length[i] = static_cast<std::uint8_t>(bits >> (56 - 8 * i));
        update(length, 8);
        std::string out;
        char buf[9];
        for (std::uint32_t v : h_) {
            std::snprintf(buf, sizeof buf, "%08x", v);
            out += buf;
        }
        return out;
    }

private:
    static std::uint32_t rotr(std::uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

    void compress()
    {
        static constexpr std::uint32_t k[64] = {
            0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
            0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
            0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
            0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
            0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
            0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
            0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
            0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
        std::uint32_t w[64];
        for (int i = 0; i < 16; ++i)
            w[i] = (std::uint32_t{block_[4 * i]} << 24) | (std::uint32_t{block_[4 * i + 1]} << 16) |
                   (std::uint32_t{block_[4 * i + 2]} << 8) | block_[4 * i + 3];
        for (int i = 16; i < 64; ++i) {
            const std::uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
            const std::uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        auto v = h_;
        for (int i = 0; i < 64; ++i) {
            const std::uint32_t s1 = rotr(v[4], 6) ^ rotr(v[4], 11) ^ rotr(v[4], 25);
            const std::uint32_t ch = (v[4] & v[5]) ^ (~v[4] & v[6]);
            const std::uint32_t t1 = v[7] + s1 + ch + k[i] + w[i];
            const std::uint32_t s0 = rotr(v[0], 2) ^ rotr(v[0], 13) ^ rotr(v[0], 22);
            const std::uint32_t maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
            const std::uint32_t t2 = s0 + maj;
            v = {t1 + t2, v[0], v[1], v[2], v[3] + t1, v[4], v[5], v[6]};
        }
        for (int i = 0; i < 8; ++i) h_[static_cast<std::size_t>(i)] += v[static_cast<std::size_t>(i)];
    }

    std::array<std::uint32_t, 8> h_ = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                       0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    std::array<std::uint8_t, 64> block_{};
    std::size_t used_ = 0;
    std::uint64_t total_ = 0;
};

// A1111 hashes the checkpoint file; a diffusers folder has no one file, so it gets no hash.
std::string shortModelHash(const fs::path& model)
{
    std::error_code ec;
    if (!fs::is_regular_file(model, ec)) return {};
    std::ifstream in(model, std::ios::binary);
    if (!in) return {};
    Sha256 sha;
    std::vector<char> buffer(std::size_t{1} << 20);
    while (in) {
        in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
        sha.update(reinterpret_cast<const std::uint8_t*>(buffer.data()), static_cast<std::size_t>(in.gcount()));
    }
    return sha.hex().substr(0, 10);
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

    void step(int step)
    {
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
    std::string modelPath, outDir, latentsPath, tokenizerDir;
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
            if (!integer(req.steps, 1)) return usageError("--steps needs a positive number");
        } else if (a == "--width") {
            if (!integer(req.width, 1)) return usageError("--width needs a positive number");
        } else if (a == "--height") {
            if (!integer(req.height, 1)) return usageError("--height needs a positive number");
        } else if (a == "--batch") {
            if (!integer(req.batch, 1)) return usageError("--batch needs a positive number");
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
            const char* v = value();
            char* end = nullptr;
            const double x = v ? std::strtod(v, &end) : 0;
            if (!v || !end || end == v || *end || !(x >= 0 && x <= 100))
                return usageError("--cfg needs a number from 0 to 100");
            req.cfg = x;
        } else if (a == "--init-image" || a == "--strength" || a == "--mask" || a == "--img2img" ||
                   a == "--inpaint") {
            return usageError(a + ": img2img and inpainting are not supported yet; generate does text-to-image only");
        } else {
            return usageError("bad or unknown option '" + a + "'");
        }
    }
    if (modelPath.empty()) return usageError("generate needs --model PATH");
    if (!havePrompt) return usageError("generate needs --prompt TEXT");
    if (outDir.empty()) return usageError("generate needs --out DIR");
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
    Progress progress(req.steps);
    auto onStep = [&](int step, int, const torch::Tensor&) {
        progress.step(step);
        return !gInterrupted.load();
    };

    gInterrupted.store(false);
    auto previous = std::signal(SIGINT, onInterrupt);
    auto out = txt2img(*model, req, onStep, latentsPath.empty() ? LatentCallback{} : LatentCallback(onLatent));
    std::signal(SIGINT, previous);
    progress.done();
    if (!out) {
        if (isCancelled(out.error())) {
            std::fprintf(stderr, "kiln-cli: stopped; no images written\n");
            return 130;
        }
        return fail(out.error().message());
    }
    for (const auto& notice : out->notices) std::fprintf(stderr, "kiln-cli: note: %s\n", notice.c_str());

    if (!latentsPath.empty()) {
        auto saved = kiln::io::saveSafetensors(latentsPath, latents, {{"seed", std::to_string(req.seed)}});
        if (!saved) return fail(saved.error().message());
        std::printf("%s\n", latentsPath.c_str());
    }

    GenerationParameters params;
    params.prompt = req.prompt;
    params.negativePrompt = req.negative;
    params.steps = req.steps;
    params.sampler = std::string(samplerLabel(choice->sampler));
    params.scheduleType = std::string(scheduleLabel(choice->schedule));
    params.cfgScale = req.cfg;
    params.width = out->width;
    params.height = out->height;
    params.modelHash = shortModelHash(modelPath);
    fs::path stem = fs::path(modelPath);
    if (!stem.has_filename()) stem = stem.parent_path();  // "folder/" names the folder
    params.model = stem.stem().string();
    if (req.clipSkip > 1) params.set("Clip skip", std::to_string(req.clipSkip));

    int index = nextImageIndex(outDir);
    const torch::Tensor images = out->images.contiguous();
    for (std::size_t i = 0; i < out->seeds.size(); ++i, ++index) {
        params.seed = out->seeds[i];
        char name[64];
        std::snprintf(name, sizeof name, "%05d-%llu.png", index, static_cast<unsigned long long>(out->seeds[i]));
        const std::string path = (fs::path(outDir) / name).string();
        const torch::Tensor image = images[static_cast<std::int64_t>(i)].contiguous();
        auto written = kiln::io::writePng(path, out->width, out->height, 3, image.data_ptr<std::uint8_t>(),
                                          {{"parameters", formatParameters(params)}});
        if (!written) return fail(written.error().message());
        std::printf("%s\n", path.c_str());
    }
    return 0;
}
