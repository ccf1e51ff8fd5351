// Stable Diffusion 1.x noise schedule and the step discretisations A1111 samples with.
//
// The model is trained on 1000 DDPM timesteps with "scaled linear" betas. k-diffusion views the
// same model as a denoiser over a continuous noise level sigma = sqrt((1 - a) / a), a being
// alphas_cumprod[t]; its samplers walk a decreasing list of sigmas ending in 0. DDIM (A1111's
// CompVis-style timestep sampler) walks integer timesteps instead.
//
// Numbers follow A1111 exactly in their formulas: alphas_cumprod is computed in float64 and
// rounded to float32 as LDM's `alphas_cumprod` buffer (and every SD checkpoint) stores it; the
// rest is double, so tables agree with k-diffusion's float32 ones to float32 rounding.
//
// Usage:
//     const auto& sched = kiln::diffusion::NoiseSchedule::sd1();
//     std::vector<double> sigmas = sched.sigmas(kiln::diffusion::Schedule::Karras, 20);  // 21 values, last 0
//     double t = sched.sigmaToT(sigmas[0]);                                              // 999
//     std::vector<int> ts = sched.ddimTimesteps(20);                                     // 1, 51, ..., 951
#pragma once

#include <string_view>
#include <vector>

namespace kiln::diffusion {

// How the sigmas of a k-diffusion sampler are spaced. Automatic, Uniform and Normal give the
// same SD 1.x sigmas (t evenly spaced from 999 to 0, sigma interpolated in log sigma); they differ
// only in the label A1111 writes into the infotext.
enum class Schedule { Automatic, Uniform, Normal, Karras };

// A1111's label: "Automatic", "Uniform", "Normal", "Karras".
std::string_view scheduleLabel(Schedule s);

class NoiseSchedule {
public:
    // SD 1.x: scaled-linear betas from 0.00085 to 0.012 over 1000 timesteps.
    static const NoiseSchedule& sd1();

    // betas = linspace(sqrt(betaStart), sqrt(betaEnd), timesteps)^2; timesteps >= 2.
    NoiseSchedule(double betaStart, double betaEnd, int timesteps);

    int timesteps() const { return static_cast<int>(alphasCumprod_.size()); }
    // Indexed by timestep t (0 = least noise).
    const std::vector<double>& alphasCumprod() const { return alphasCumprod_; }
    // The model's sigma at each timestep, ascending: sqrt((1 - a_t) / a_t).
    const std::vector<double>& modelSigmas() const { return sigmas_; }
    double sigmaMin() const { return sigmas_.front(); }
    double sigmaMax() const { return sigmas_.back(); }

    // k-diffusion's t_to_sigma: log sigma interpolated linearly between floor(t) and ceil(t);
    // t is clamped to [0, timesteps - 1].
    double tToSigma(double t) const;
    // k-diffusion's sigma_to_t: the inverse by log-sigma interpolation, clamped to [0, timesteps - 1].
    // A sigma taken from modelSigmas() gives its integer t back exactly.
    double sigmaToT(double sigma) const;

    // k-diffusion's DiscreteSchedule.get_sigmas(n): t on linspace(timesteps - 1, 0, n), then 0.
    // n + 1 values; n <= 0 gives {0}.
    std::vector<double> normalSigmas(int n) const;
    // get_sigmas_karras(n, sigmaMin(), sigmaMax(), rho), then 0.
    std::vector<double> karrasSigmas(int n, double rho = 7.0) const;
    // The sigmas `schedule` gives for n steps (Karras, or the normal spacing for the others).
    std::vector<double> sigmas(Schedule schedule, int n) const;

    // CompVis' ddim_discretize "uniform" as A1111 uses it: range(0, T, T // n) + 1, clipped to
    // [0, T - 1], ascending. n is clamped to [1, T]. As in A1111 the list has more than n entries
    // where T // n does not divide T (n = 30 gives 31), and n = T ends in T - 1 twice.
    std::vector<int> ddimTimesteps(int n) const;

private:
    std::vector<double> alphasCumprod_;
    std::vector<double> sigmas_;
    std::vector<double> logSigmas_;
};

// get_sigmas_karras: (max^(1/rho) + ramp * (min^(1/rho) - max^(1/rho)))^rho for ramp on
// linspace(0, 1, n), then 0. n + 1 values; n <= 0 gives {0}.
std::vector<double> karrasSigmas(int n, double sigmaMin, double sigmaMax, double rho = 7.0);

}  // namespace kiln::diffusion
