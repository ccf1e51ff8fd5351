// The samplers A1111 offers for SD 1.x, written after k-diffusion (Euler, Euler a, Heun, LMS,
// DPM++ 2M) and A1111's own timestep DDIM, with A1111's random numbers (RNG source "CPU").
//
// A sampler sees the model only through a Denoiser: given a latent x at noise level sigma
// (k-diffusion's scaling: x = x0 + sigma * noise) it returns the predicted clean latent x0.
// Classifier-free guidance and the UNet live behind it; a UNet wrapper computes
//     eps = unet(x / sqrt(sigma^2 + 1), NoiseSchedule::sigmaToT(sigma)),  x0 = x - sigma * eps.
//
// Usage (one 512x512 image):
//     auto choice = kiln::diffusion::resolveSampler("DPM++ 2M", "Automatic");   // -> Karras
//     if (!choice) return choice.error();
//     kiln::diffusion::LatentNoise noise({4, 64, 64}, {seed});
//     auto latent = kiln::diffusion::sample(*choice, 20, denoiser, noise,
//         [&](int step, const torch::Tensor& x, const torch::Tensor& x0) { preview(x0); return !ctx.cancelled(); });
//     if (!latent) return latent.error();           // isCancelled(latent.error()) after a stop
#pragma once

#include "diffusion/schedule.h"
#include "kiln/result.h"

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include <torch/types.h>

namespace kiln::diffusion {

enum class SamplerKind { Euler, EulerAncestral, Heun, Lms, DpmPp2M, Ddim };

// A1111's label: "Euler", "Euler a", "Heun", "LMS", "DPM++ 2M", "DDIM".
std::string_view samplerLabel(SamplerKind kind);

struct SamplerChoice {
    SamplerKind sampler = SamplerKind::EulerAncestral;
    // The schedule in effect: Automatic only where the sampler's own default is the normal spacing
    // (so DPM++ 2M + "Automatic" comes back as Karras, as A1111 writes it). DDIM ignores it.
    Schedule schedule = Schedule::Automatic;
};

// A1111's names to a choice, as A1111's get_sampler_and_scheduler reads them: sampler labels and
// aliases ("Euler a", "k_euler_a", "DPM++ 2M"), old names with the schedule in them ("DPM++ 2M
// Karras", "LMS Karras"), schedule labels or names ("Automatic", "", "Uniform", "Normal", "Karras",
// "karras"). Unknown or unsupported names give an Error that lists the supported ones.
Result<SamplerChoice> resolveSampler(std::string_view samplerName, std::string_view scheduleName = "Automatic");

// x (the latent at a step) -> predicted x0. May throw; the samplers turn exceptions into Errors.
using Denoiser = std::function<torch::Tensor(const torch::Tensor& x, double sigma)>;
// Called after every step with the step index (0-based), the latent after the step and the x0
// prediction the step used. Return false to stop: the sampler then returns a cancelled Error.
using StepCallback = std::function<bool(int step, const torch::Tensor& x, const torch::Tensor& denoised)>;

// The Error a stopped sampler returns, and the test for it.
Error cancelledError();
bool isCancelled(const Error& error);

// A1111's ImageRNG for RNG source "CPU": one CPU generator per image, seeded with that image's
// seed (A1111 gives image i of a batch seed + i). The first next() is the initial noise; every
// later one is a sampler's per-step noise. Each image's part is torch.randn(imageShape, generator)
// in float32, so the numbers equal A1111's for the same seeds. With seedDelta (A1111's "ENSD")
// the generators are re-seeded with seed + seedDelta after the initial noise, as A1111 does.
class LatentNoise {
public:
    LatentNoise(std::vector<std::int64_t> imageShape, std::vector<std::uint64_t> seeds, std::uint64_t seedDelta = 0);
    torch::Tensor next();  // [batch, imageShape...], float32, CPU
    std::int64_t batchSize() const { return static_cast<std::int64_t>(generators_.size()); }

private:
    std::vector<std::int64_t> shape_;
    std::vector<std::uint64_t> seeds_;
    std::vector<at::Generator> generators_;
    std::uint64_t seedDelta_ = 0;
    bool first_ = true;
};

// txt2img: draws the initial noise from `noise`, scales it as the sampler expects (times the first
// sigma for the k-diffusion samplers; unscaled for DDIM, which works on the unit-variance latent)
// and runs `steps` steps of the choice on the SD 1.x schedule. Returns the final latent (float32).
Result<torch::Tensor> sample(const SamplerChoice& choice, int steps, const Denoiser& denoise, LatentNoise& noise,
                          const StepCallback& onStep = {}, const NoiseSchedule& schedule = NoiseSchedule::sd1());

// One k-diffusion sampler from x (already at sigmas[0]) down the given sigmas (last one 0 for a
// full run). `noise` is needed by Euler a only (one draw per step whose next sigma is above 0).
// Not for DDIM. Works in x's dtype (float32 or float64) on x's device.
Result<torch::Tensor> sampleSigmas(SamplerKind kind, const Denoiser& denoise, torch::Tensor x,
                                const std::vector<double>& sigmas, LatentNoise* noise = nullptr,
                                const StepCallback& onStep = {});

// A1111's DDIM (eta 0) over non-decreasing timesteps from NoiseSchedule::ddimTimesteps: x is the
// unit-variance latent at the last timestep; one step per timestep after the first (A1111 stops
// at timesteps[0] rather than going on to t = 0 as CompVis did). Each step asks `denoise` at the
// model sigma of its timestep, so a wrapper's sigmaToT recovers the integer timestep exactly.
Result<torch::Tensor> sampleDdim(const Denoiser& denoise, torch::Tensor x, const std::vector<int>& timesteps,
                              const StepCallback& onStep = {}, const NoiseSchedule& schedule = NoiseSchedule::sd1());

// k-diffusion's linear_multistep_coeff: the integral over [sigmas[i], sigmas[i+1]] of the Lagrange
// basis polynomial j through sigmas[i], sigmas[i-1], ..., sigmas[i-order+1] (Gauss-Legendre, exact
// for these polynomials to rounding). Requires order - 1 <= i and i + 1 < sigmas.size().
double lmsCoefficient(const std::vector<double>& sigmas, int order, int i, int j);

}  // namespace kiln::diffusion
