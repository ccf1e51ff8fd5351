#include "diffusion/samplers.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <deque>
#include <stdexcept>
#include <string>

namespace kiln::diffusion {

namespace {

constexpr std::string_view kCancelled = "sampling cancelled";
constexpr int kMaxSteps = 1000;  // DDIM needs T // steps >= 1; more k-diffusion steps than that is a typo
constexpr int kMaxLmsOrder = 8;

std::string lower(std::string_view s)
{
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string_view trimmed(std::string_view s)
{
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

struct SamplerName {
    SamplerKind kind;
    std::string_view label;
    std::array<std::string_view, 2> aliases;  // A1111's, lower case
};

constexpr std::array<SamplerName, 6> kSamplers = {{
    {SamplerKind::DpmPp2M, "DPM++ 2M", {"k_dpmpp_2m", ""}},
    {SamplerKind::EulerAncestral, "Euler a", {"k_euler_a", "k_euler_ancestral"}},
    {SamplerKind::Euler, "Euler", {"k_euler", ""}},
    {SamplerKind::Lms, "LMS", {"k_lms", ""}},
    {SamplerKind::Heun, "Heun", {"k_heun", ""}},
    {SamplerKind::Ddim, "DDIM", {"ddim", ""}},
}};

struct ScheduleName {
    Schedule schedule;
    std::string_view label;
    std::string_view name;
};

constexpr std::array<ScheduleName, 4> kSchedules = {{
    {Schedule::Automatic, "Automatic", "automatic"},
    {Schedule::Uniform, "Uniform", "uniform"},
    {Schedule::Normal, "Normal", "normal"},
    {Schedule::Karras, "Karras", "karras"},
}};

// A1111 schedulers we do not implement, so that "DPM++ 2M SGM Uniform" is refused by name rather
// than mistaken for a sampler called "DPM++ 2M SGM".
constexpr std::array<std::string_view, 10> kOtherSchedules = {
    "exponential", "polyexponential", "sgm uniform", "sgm_uniform", "sgmuniform",
    "kl optimal",  "align your steps", "simple",     "beta",        "kl_optimal"};

const SamplerName* findSampler(std::string_view name)
{
    const std::string key = lower(name);
    for (const auto& s : kSamplers) {
        if (key == lower(s.label)) return &s;
        for (auto alias : s.aliases)
            if (!alias.empty() && key == alias) return &s;
    }
    return nullptr;
}

bool endsWithWord(const std::string& name, std::string_view word)
{
    return name.size() > word.size() + 1 && name.compare(name.size() - word.size(), word.size(), word) == 0 &&
           name[name.size() - word.size() - 1] == ' ';
}

std::string supportedSamplers()
{
    std::string out;
    for (const auto& s : kSamplers) out += (out.empty() ? "" : ", ") + std::string(s.label);
    return out;
}

// Gauss-Legendre nodes and weights on [-1, 1], found by Newton's method on P_n: n points integrate
// polynomials up to degree 2n - 1 exactly, which covers every Lagrange basis an LMS order uses.
struct GaussLegendre {
    static constexpr int kPoints = kMaxLmsOrder;
    std::array<double, kPoints> nodes{}, weights{};

    GaussLegendre()
    {
        const double pi = std::acos(-1.0);
        for (int k = 0; k < kPoints; ++k) {
            double x = std::cos(pi * (k + 0.75) / (kPoints + 0.5));
            double derivative = 1;
            for (int iter = 0; iter < 100; ++iter) {
                double p0 = 1, p1 = x;
                for (int m = 2; m <= kPoints; ++m) {
                    const double p2 = ((2.0 * m - 1) * x * p1 - (m - 1.0) * p0) / m;
                    p0 = p1;
                    p1 = p2;
                }
                derivative = kPoints * (x * p1 - p0) / (x * x - 1);
                const double dx = p1 / derivative;
                x -= dx;
                if (std::abs(dx) < 1e-16) break;
            }
            nodes[k] = x;
            weights[k] = 2 / ((1 - x * x) * derivative * derivative);
        }
    }
};

// Calls the denoiser and refuses what would silently broadcast into nonsense.
torch::Tensor denoiseChecked(const Denoiser& denoise, const torch::Tensor& x, double sigma)
{
    torch::Tensor out = denoise(x, sigma);
    if (!out.defined() || out.sizes() != x.sizes())
        throw std::invalid_argument("the denoiser returned a tensor of another shape than its input");
    return out.to(x.options());
}

Result<void> checkSigmas(const std::vector<double>& sigmas)
{
    if (sigmas.empty()) return makeError("no sigmas to sample with", "sampler", "pass at least one sigma");
    for (std::size_t i = 0; i < sigmas.size(); ++i) {
        const bool last = i + 1 == sigmas.size();
        if (!std::isfinite(sigmas[i]) || sigmas[i] < 0 || (!last && sigmas[i] == 0))
            return makeError("sigma " + std::to_string(i) + " is not a usable noise level", "sampler",
                             "every sigma but the last must be finite and above 0");
    }
    return success();
}

Error exceptionError(std::string_view sampler, const std::exception& e)
{
    return makeError(std::string("sampling failed: ") + e.what(), std::string(sampler));
}

// The sampler loops below return false when the callback asked to stop.
bool report(const StepCallback& onStep, int i, const torch::Tensor& x, const torch::Tensor& denoised)
{
    return !onStep || onStep(i, x, denoised);
}

bool runEuler(const Denoiser& denoise, torch::Tensor& x, const std::vector<double>& sigmas, const StepCallback& cb)
{
    for (std::size_t i = 0; i + 1 < sigmas.size(); ++i) {
        const double sigma = sigmas[i];
        torch::Tensor denoised = denoiseChecked(denoise, x, sigma);
        torch::Tensor d = (x - denoised) / sigma;
        x = x + d * (sigmas[i + 1] - sigma);
        if (!report(cb, static_cast<int>(i), x, denoised)) return false;
    }
    return true;
}

bool runEulerAncestral(const Denoiser& denoise, torch::Tensor& x, const std::vector<double>& sigmas,
                       LatentNoise& noise, const StepCallback& cb)
{
    for (std::size_t i = 0; i + 1 < sigmas.size(); ++i) {
        const double sigma = sigmas[i], next = sigmas[i + 1];
        torch::Tensor denoised = denoiseChecked(denoise, x, sigma);
        // k-diffusion's get_ancestral_step with eta 1: split the step into a deterministic part down
        // to sigmaDown and fresh noise of sigmaUp, so that sigmaDown^2 + sigmaUp^2 = next^2.
        const double sigmaUp = std::min(next, std::sqrt(next * next * (sigma * sigma - next * next) / (sigma * sigma)));
        const double sigmaDown = std::sqrt(next * next - sigmaUp * sigmaUp);
        torch::Tensor d = (x - denoised) / sigma;
        x = x + d * (sigmaDown - sigma);
        if (next > 0) {
            torch::Tensor fresh = noise.next();
            if (fresh.sizes() != x.sizes())
                throw std::invalid_argument("the noise source's shape differs from the latent's");
            x = x + fresh.to(x.options()) * sigmaUp;
        }
        if (!report(cb, static_cast<int>(i), x, denoised)) return false;
    }
    return true;
}

bool runHeun(const Denoiser& denoise, torch::Tensor& x, const std::vector<double>& sigmas, const StepCallback& cb)
{
    for (std::size_t i = 0; i + 1 < sigmas.size(); ++i) {
        const double sigma = sigmas[i], next = sigmas[i + 1];
        torch::Tensor denoised = denoiseChecked(denoise, x, sigma);
        torch::Tensor d = (x - denoised) / sigma;
        const double dt = next - sigma;
        if (next == 0) {
            x = x + d * dt;  // the trapezoid would need the derivative at sigma 0, which is undefined
        } else {
            torch::Tensor x2 = x + d * dt;
            torch::Tensor d2 = (x2 - denoiseChecked(denoise, x2, next)) / next;
            x = x + (d + d2) / 2 * dt;
        }
        if (!report(cb, static_cast<int>(i), x, denoised)) return false;
    }
    return true;
}

bool runLms(const Denoiser& denoise, torch::Tensor& x, const std::vector<double>& sigmas, int order,
            const StepCallback& cb)
{
    std::deque<torch::Tensor> ds;
    for (std::size_t i = 0; i + 1 < sigmas.size(); ++i) {
        const double sigma = sigmas[i];
        torch::Tensor denoised = denoiseChecked(denoise, x, sigma);
        ds.push_back((x - denoised) / sigma);
        if (static_cast<int>(ds.size()) > order) ds.pop_front();
        const int current = std::min(static_cast<int>(i) + 1, order);
        torch::Tensor step;
        for (int j = 0; j < current; ++j) {
            const double c = lmsCoefficient(sigmas, current, static_cast<int>(i), j);
            const torch::Tensor& d = ds[ds.size() - 1 - static_cast<std::size_t>(j)];  // j = 0: the newest
            step = j == 0 ? d * c : step + d * c;
        }
        x = x + step;
        if (!report(cb, static_cast<int>(i), x, denoised)) return false;
    }
    return true;
}

bool runDpmPp2M(const Denoiser& denoise, torch::Tensor& x, const std::vector<double>& sigmas, const StepCallback& cb)
{
    // DPM-Solver++(2M) in t = -log(sigma): exact for the linear part, second order from the previous
    // x0 prediction; the first step and the step to sigma 0 are first order.
    torch::Tensor oldDenoised;
    for (std::size_t i = 0; i + 1 < sigmas.size(); ++i) {
        const double sigma = sigmas[i], next = sigmas[i + 1];
        torch::Tensor denoised = denoiseChecked(denoise, x, sigma);
        if (next == 0) {
            x = denoised;  // k-diffusion's formula at h = inf: 0 * x + 1 * denoised
        } else {
            const double t = -std::log(sigma), tNext = -std::log(next);
            const double h = tNext - t;
            const double ratio = std::exp(-tNext) / std::exp(-t);
            const double weight = -std::expm1(-h);  // 1 - exp(-h)
            if (!oldDenoised.defined()) {
                x = ratio * x + weight * denoised;
            } else {
                const double hLast = t - (-std::log(sigmas[i - 1]));
                const double r = hLast / h;
                torch::Tensor corrected = (1 + 1 / (2 * r)) * denoised - (1 / (2 * r)) * oldDenoised;
                x = ratio * x + weight * corrected;
            }
        }
        oldDenoised = denoised;
        if (!report(cb, static_cast<int>(i), x, denoised)) return false;
    }
    return true;
}

}  // namespace

std::string_view samplerLabel(SamplerKind kind)
{
    for (const auto& s : kSamplers)
        if (s.kind == kind) return s.label;
    return "Euler a";
}

Result<SamplerChoice> resolveSampler(std::string_view samplerName, std::string_view scheduleName)
{
    std::string name(trimmed(samplerName));
    const std::string scheduleKey = lower(trimmed(scheduleName));
    const ScheduleName* schedule = &kSchedules[0];
    bool scheduleKnown = scheduleKey.empty();
    for (const auto& s : kSchedules)
        if (scheduleKey == s.name) schedule = &s, scheduleKnown = true;
    if (!scheduleKnown)
        return makeError("the schedule type '" + std::string(scheduleName) + "' is not supported",
                         "sampler " + name, "use Automatic, Uniform, Normal or Karras");

    // Old infotexts name the schedule inside the sampler ("DPM++ 2M Karras"); as in A1111 it wins.
    const std::string nameKey = lower(name);
    for (auto other : kOtherSchedules)
        if (endsWithWord(nameKey, other))
            return makeError("the sampler '" + name + "' uses a schedule type that is not supported",
                             "sampler " + name, "use Automatic, Uniform, Normal or Karras");
    for (const auto& s : kSchedules) {
        if (endsWithWord(nameKey, s.name) && !findSampler(name)) {
            schedule = &s;
            name.resize(name.size() - s.name.size() - 1);
            break;
        }
    }

    const SamplerName* sampler = findSampler(name);
    if (!sampler)
        return makeError("the sampler '" + std::string(samplerName) + "' is not supported", "sampler",
                         "use one of: " + supportedSamplers());
    SamplerChoice choice{sampler->kind, schedule->schedule};
    if (choice.schedule == Schedule::Automatic && choice.sampler == SamplerKind::DpmPp2M)
        choice.schedule = Schedule::Karras;  // A1111's DPM++ 2M defaults to Karras
    return choice;
}

Error cancelledError()
{
    return makeError(std::string(kCancelled), "sampler");
}

bool isCancelled(const Error& error)
{
    return error.what == kCancelled;
}

LatentNoise::LatentNoise(std::vector<std::int64_t> imageShape, std::vector<std::uint64_t> seeds, std::uint64_t seedDelta)
    : shape_(std::move(imageShape)), seeds_(std::move(seeds)), seedDelta_(seedDelta)
{
    for (std::uint64_t seed : seeds_) generators_.push_back(at::detail::createCPUGenerator(seed));
}

torch::Tensor LatentNoise::next()
{
    std::vector<torch::Tensor> parts;
    parts.reserve(generators_.size());
    for (auto& generator : generators_) parts.push_back(torch::randn(shape_, generator, torch::kFloat32));
    if (first_) {
        first_ = false;
        if (seedDelta_ != 0)
            for (std::size_t i = 0; i < generators_.size(); ++i)
                generators_[i] = at::detail::createCPUGenerator(seeds_[i] + seedDelta_);
    }
    if (parts.empty()) {
        std::vector<std::int64_t> shape{0};
        shape.insert(shape.end(), shape_.begin(), shape_.end());
        return torch::empty(shape, torch::kFloat32);
    }
    return torch::stack(parts);
}

double lmsCoefficient(const std::vector<double>& sigmas, int order, int i, int j)
{
    if (order < 1 || order > kMaxLmsOrder || j < 0 || j >= order || order - 1 > i || i < 0 ||
        static_cast<std::size_t>(i) + 1 >= sigmas.size())
        return std::nan("");
    static const GaussLegendre rule;
    const double a = sigmas[i], b = sigmas[i + 1];
    const double mid = (a + b) / 2, half = (b - a) / 2;
    double sum = 0;
    for (int q = 0; q < GaussLegendre::kPoints; ++q) {
        const double tau = mid + half * rule.nodes[q];
        double basis = 1;
        for (int k = 0; k < order; ++k)
            if (k != j) basis *= (tau - sigmas[i - k]) / (sigmas[i - j] - sigmas[i - k]);
        sum += rule.weights[q] * basis;
    }
    return sum * half;
}

Result<torch::Tensor> sampleSigmas(SamplerKind kind, const Denoiser& denoise, torch::Tensor x,
                                   const std::vector<double>& sigmas, LatentNoise* noise, const StepCallback& onStep)
{
    const std::string where(samplerLabel(kind));
    if (kind == SamplerKind::Ddim)
        return makeError("DDIM walks timesteps, not sigmas", where, "use sampleDdim or sample");
    if (!x.defined()) return makeError("no latent to sample from", where);
    if (!denoise) return makeError("no denoiser", where);
    if (auto ok = checkSigmas(sigmas); !ok) return ok.error();
    if (kind == SamplerKind::EulerAncestral && !noise)
        return makeError("Euler a needs a noise source", where, "pass the LatentNoise the initial noise came from");
    try {
        bool finished = true;
        switch (kind) {
        case SamplerKind::Euler: finished = runEuler(denoise, x, sigmas, onStep); break;
        case SamplerKind::EulerAncestral: finished = runEulerAncestral(denoise, x, sigmas, *noise, onStep); break;
        case SamplerKind::Heun: finished = runHeun(denoise, x, sigmas, onStep); break;
        case SamplerKind::Lms: finished = runLms(denoise, x, sigmas, 4, onStep); break;
        case SamplerKind::DpmPp2M: finished = runDpmPp2M(denoise, x, sigmas, onStep); break;
        case SamplerKind::Ddim: break;
        }
        if (!finished) return cancelledError();
        return x;
    } catch (const std::exception& e) {
        return exceptionError(where, e);
    }
}

Result<torch::Tensor> sampleDdim(const Denoiser& denoise, torch::Tensor x, const std::vector<int>& timesteps,
                                 const StepCallback& onStep, const NoiseSchedule& schedule)
{
    if (!x.defined()) return makeError("no latent to sample from", "DDIM");
    if (!denoise) return makeError("no denoiser", "DDIM");
    for (std::size_t i = 0; i < timesteps.size(); ++i)
        if (timesteps[i] < 0 || timesteps[i] >= schedule.timesteps() || (i > 0 && timesteps[i] < timesteps[i - 1]))
            return makeError("the DDIM timesteps must ascend within the schedule", "DDIM",
                             "use NoiseSchedule::ddimTimesteps");
    const auto& alphas = schedule.alphasCumprod();
    const auto& sigmas = schedule.modelSigmas();
    try {
        const int n = static_cast<int>(timesteps.size());
        for (int i = 0; i + 1 < n; ++i) {
            const int index = n - 1 - i;
            const int t = timesteps[index];
            const double alphaPrev = alphas[timesteps[index - 1]];
            const double sigma = sigmas[t];
            // The denoiser speaks k-diffusion's x = x0 + sigma * eps; DDIM's latent is that divided by
            // sqrt(sigma^2 + 1), so scale in, and read eps and x0 back out.
            torch::Tensor scaled = x * std::sqrt(sigma * sigma + 1);
            torch::Tensor denoised = denoiseChecked(denoise, scaled, sigma);
            torch::Tensor eps = (scaled - denoised) / sigma;
            x = std::sqrt(alphaPrev) * denoised + std::sqrt(1 - alphaPrev) * eps;
            if (!report(onStep, i, x, denoised)) return cancelledError();
        }
        return x;
    } catch (const std::exception& e) {
        return exceptionError("DDIM", e);
    }
}

Result<torch::Tensor> sample(const SamplerChoice& choice, int steps, const Denoiser& denoise, LatentNoise& noise,
                             const StepCallback& onStep, const NoiseSchedule& schedule)
{
    const std::string where(samplerLabel(choice.sampler));
    if (steps < 1 || steps > kMaxSteps)
        return makeError("cannot sample " + std::to_string(steps) + " steps", where,
                         "use 1 to " + std::to_string(kMaxSteps) + " steps");
    if (noise.batchSize() < 1) return makeError("no seeds to draw the initial noise from", where);
    try {
        torch::Tensor x = noise.next();
        if (choice.sampler == SamplerKind::Ddim) return sampleDdim(denoise, x, schedule.ddimTimesteps(steps), onStep, schedule);
        const std::vector<double> sigmas = schedule.sigmas(choice.schedule, steps);
        return sampleSigmas(choice.sampler, denoise, x * sigmas.front(), sigmas, &noise, onStep);
    } catch (const std::exception& e) {
        return exceptionError(where, e);
    }
}

}  // namespace kiln::diffusion
