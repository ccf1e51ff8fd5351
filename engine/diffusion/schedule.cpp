#include "diffusion/schedule.h"

#include <algorithm>
#include <cmath>

namespace kiln::diffusion {

namespace {

// torch.linspace's element i: it counts from the nearer end, so the last element is `end` exactly
// and the values match torch's to the last bit in double.
double linspaceAt(double start, double end, int n, int i)
{
    if (n <= 1) return start;
    const double step = (end - start) / (n - 1);
    return i < n / 2 ? start + step * i : end - step * (n - 1 - i);
}

}  // namespace

std::string_view scheduleLabel(Schedule s)
{
    switch (s) {
    case Schedule::Automatic: return "Automatic";
    case Schedule::Uniform: return "Uniform";
    case Schedule::Normal: return "Normal";
    case Schedule::Karras: return "Karras";
    }
    return "Automatic";
}

const NoiseSchedule& NoiseSchedule::sd1()
{
    static const NoiseSchedule schedule(0.00085, 0.012, 1000);
    return schedule;
}

NoiseSchedule::NoiseSchedule(double betaStart, double betaEnd, int timesteps)
{
    const int n = std::max(timesteps, 2);
    alphasCumprod_.resize(n);
    sigmas_.resize(n);
    logSigmas_.resize(n);
    const double s0 = std::sqrt(betaStart), s1 = std::sqrt(betaEnd);
    double cumprod = 1.0;
    for (int t = 0; t < n; ++t) {
        const double root = linspaceAt(s0, s1, n, t);
        cumprod *= 1.0 - root * root;
        // LDM keeps the float64 product but registers the buffer as float32; checkpoints carry that.
        alphasCumprod_[t] = static_cast<double>(static_cast<float>(cumprod));
        sigmas_[t] = std::sqrt((1.0 - alphasCumprod_[t]) / alphasCumprod_[t]);
        logSigmas_[t] = std::log(sigmas_[t]);
    }
}

double NoiseSchedule::tToSigma(double t) const
{
    const double last = static_cast<double>(logSigmas_.size() - 1);
    t = std::clamp(t, 0.0, last);
    const double low = std::floor(t), high = std::ceil(t), w = t - low;
    const double logSigma =
        (1.0 - w) * logSigmas_[static_cast<std::size_t>(low)] + w * logSigmas_[static_cast<std::size_t>(high)];
    return std::exp(logSigma);
}

double NoiseSchedule::sigmaToT(double sigma) const
{
    if (!(sigma > 0)) return 0.0;
    const double logSigma = std::log(sigma);
    // k-diffusion takes the last table entry not above log sigma (index 0 when there is none) and
    // keeps one entry above it, so sigmas past either end extrapolate into a clamped weight.
    const auto above = std::upper_bound(logSigmas_.begin(), logSigmas_.end(), logSigma);
    std::ptrdiff_t lowIdx = std::max<std::ptrdiff_t>(above - logSigmas_.begin() - 1, 0);
    lowIdx = std::min<std::ptrdiff_t>(lowIdx, static_cast<std::ptrdiff_t>(logSigmas_.size()) - 2);
    const double low = logSigmas_[lowIdx], high = logSigmas_[lowIdx + 1];
    const double w = std::clamp((low - logSigma) / (low - high), 0.0, 1.0);
    return (1.0 - w) * static_cast<double>(lowIdx) + w * static_cast<double>(lowIdx + 1);
}

std::vector<double> NoiseSchedule::normalSigmas(int n) const
{
    std::vector<double> out;
    if (n > 0) out.reserve(n + 1);
    const double tMax = static_cast<double>(logSigmas_.size() - 1);
    for (int i = 0; i < n; ++i) out.push_back(tToSigma(linspaceAt(tMax, 0.0, n, i)));
    out.push_back(0.0);
    return out;
}

std::vector<double> NoiseSchedule::karrasSigmas(int n, double rho) const
{
    return diffusion::karrasSigmas(n, sigmaMin(), sigmaMax(), rho);
}

std::vector<double> NoiseSchedule::sigmas(Schedule schedule, int n) const
{
    return schedule == Schedule::Karras ? karrasSigmas(n) : normalSigmas(n);
}

std::vector<int> NoiseSchedule::ddimTimesteps(int n) const
{
    const int total = timesteps();
    n = std::clamp(n, 1, total);
    const int stride = total / n;
    std::vector<int> out;
    for (int t = 0; t < total; t += stride) out.push_back(std::min(t + 1, total - 1));
    return out;
}

std::vector<double> karrasSigmas(int n, double sigmaMin, double sigmaMax, double rho)
{
    std::vector<double> out;
    if (n > 0) out.reserve(n + 1);
    const double minInv = std::pow(sigmaMin, 1.0 / rho), maxInv = std::pow(sigmaMax, 1.0 / rho);
    for (int i = 0; i < n; ++i) out.push_back(std::pow(maxInv + linspaceAt(0.0, 1.0, n, i) * (minInv - maxInv), rho));
    out.push_back(0.0);
    return out;
}

}  // namespace kiln::diffusion
