// The SD 1.x sigma and timestep tables against the published formulas computed here, and every
// sampler against its update rule written out step by step on a toy denoiser: data ~ N(0, c), whose
// ideal denoiser is D(x, s) = x * c / (c + s^2) and whose probability-flow ODE solves exactly to
// x(s) = x(s0) * sqrt((c + s^2) / (c + s0^2)).
#include "diffusion/samplers.h"
#include "diffusion/schedule.h"

#include <ATen/CPUGeneratorImpl.h>
#include <QTest>

#include <cmath>
#include <string>
#include <vector>

using namespace kiln::diffusion;

namespace {

constexpr double kC = 0.8;  // the toy data's variance

torch::Tensor toyDenoise(const torch::Tensor& x, double sigma) { return x * (kC / (kC + sigma * sigma)); }
double toyD(double x, double sigma) { return x * kC / (kC + sigma * sigma); }

const std::vector<double> kStart = {1.0, -2.0, 0.5, 3.0};

torch::Tensor startTensor(double scale)
{
    return torch::tensor(kStart, torch::kFloat64).mul(scale).reshape({1, 4});
}

std::vector<double> values(const torch::Tensor& t)
{
    auto c = t.to(torch::kFloat64).contiguous();
    return {c.data_ptr<double>(), c.data_ptr<double>() + c.numel()};
}

void near(const std::vector<double>& got, const std::vector<double>& want, double tol, const char* what = "")
{
    QCOMPARE(got.size(), want.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        const double err = std::abs(got[i] - want[i]) / std::max(1.0, std::abs(want[i]));
        QVERIFY2(err <= tol, (std::string(what) + " [" + std::to_string(i) + "]: " + std::to_string(got[i]) +
                              " vs " + std::to_string(want[i]))
                                 .c_str());
    }
}

// The schedule from its definition, in long double: betas on a square-root ramp, their running
// product rounded to float32 as the checkpoint buffer holds it.
std::vector<double> referenceAlphas()
{
    std::vector<double> out;
    long double prod = 1;
    const long double a = std::sqrt(0.00085L), b = std::sqrt(0.012L);
    for (int t = 0; t < 1000; ++t) {
        const long double root = a + (b - a) * t / 999;
        prod *= 1 - root * root;
        out.push_back(static_cast<float>(prod));
    }
    return out;
}

double referenceSigma(const std::vector<double>& alphas, double t)
{
    auto logSigma = [&](int i) { return std::log(std::sqrt((1 - alphas[i]) / alphas[i])); };
    const int lo = static_cast<int>(std::floor(t)), hi = static_cast<int>(std::ceil(t));
    const double w = t - lo;
    return std::exp((1 - w) * logSigma(lo) + w * logSigma(hi));
}

// Integrates the Lagrange basis polynomial exactly: expand it into monomials, then integrate those.
double exactLmsCoefficient(const std::vector<double>& s, int order, int i, int j)
{
    std::vector<double> poly = {1.0};  // coefficients of tau^0, tau^1, ...
    for (int k = 0; k < order; ++k) {
        if (k == j) continue;
        const double denom = s[i - j] - s[i - k];
        std::vector<double> next(poly.size() + 1, 0.0);
        for (std::size_t p = 0; p < poly.size(); ++p) {
            next[p + 1] += poly[p] / denom;
            next[p] -= poly[p] * s[i - k] / denom;
        }
        poly = next;
    }
    double sum = 0;
    for (std::size_t p = 0; p < poly.size(); ++p)
        sum += poly[p] * (std::pow(s[i + 1], p + 1.0) - std::pow(s[i], p + 1.0)) / (p + 1.0);
    return sum;
}

std::vector<double> randnValues(at::Generator& g, std::vector<std::int64_t> shape)
{
    return values(torch::randn(shape, g, torch::kFloat32));
}

}  // namespace

class TestDiffusionSampling : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void alphasAndModelSigmas()
    {
        const auto& s = NoiseSchedule::sd1();
        const auto ref = referenceAlphas();
        QCOMPARE(s.timesteps(), 1000);
        near(s.alphasCumprod(), ref, 1e-7, "alphas_cumprod");
        for (int t : {0, 1, 250, 500, 998, 999})
            QVERIFY(std::abs(s.modelSigmas()[t] - std::sqrt((1 - ref[t]) / ref[t])) < 1e-9);
        QVERIFY(std::abs(s.sigmaMin() - 0.0292) < 1e-4);
        QVERIFY(std::abs(s.sigmaMax() - 14.6146) < 1e-4);
    }

    void knownFourStepTables()
    {
        const auto& s = NoiseSchedule::sd1();
        near(s.normalSigmas(4), {14.6146, 2.9183, 0.9324, 0.0292, 0}, 1e-4, "normal");
        near(s.karrasSigmas(4), {14.6146, 3.1686, 0.4469, 0.0292, 0}, 1e-4, "karras");
        QVERIFY(s.sigmas(Schedule::Automatic, 4) == s.normalSigmas(4));
        QVERIFY(s.sigmas(Schedule::Normal, 4) == s.normalSigmas(4));
        QVERIFY(s.sigmas(Schedule::Karras, 4) == s.karrasSigmas(4));
    }

    void normalSigmasFollowTheFormula()
    {
        const auto ref = referenceAlphas();
        for (int n : {1, 2, 7, 20, 50}) {
            std::vector<double> want;
            for (int i = 0; i < n; ++i) want.push_back(referenceSigma(ref, n == 1 ? 999.0 : 999.0 * (n - 1 - i) / (n - 1)));
            want.push_back(0);
            near(NoiseSchedule::sd1().normalSigmas(n), want, 1e-9, "normal");
        }
    }

    void karrasSigmasFollowTheFormula()
    {
        const double lo = NoiseSchedule::sd1().sigmaMin(), hi = NoiseSchedule::sd1().sigmaMax();
        for (int n : {1, 3, 20}) {
            std::vector<double> want;
            for (int i = 0; i < n; ++i) {
                const double ramp = n == 1 ? 0.0 : double(i) / (n - 1);
                want.push_back(std::pow(std::pow(hi, 1 / 7.0) + ramp * (std::pow(lo, 1 / 7.0) - std::pow(hi, 1 / 7.0)), 7));
            }
            want.push_back(0);
            near(NoiseSchedule::sd1().karrasSigmas(n), want, 1e-12, "karras");
        }
        near(karrasSigmas(3, 0.1, 10, 1), {10, 5.05, 0.1, 0}, 1e-12, "rho 1");
    }

    void sigmaToTInvertsTToSigma()
    {
        const auto& s = NoiseSchedule::sd1();
        for (int t : {0, 1, 17, 500, 998, 999}) QCOMPARE(s.sigmaToT(s.modelSigmas()[t]), double(t));
        for (double t : {0.25, 13.5, 666.0, 998.75}) QVERIFY(std::abs(s.sigmaToT(s.tToSigma(t)) - t) < 1e-9);
        QCOMPARE(s.sigmaToT(100.0), 999.0);
        QCOMPARE(s.sigmaToT(0.001), 0.0);
        QVERIFY(std::abs(s.tToSigma(666) - referenceSigma(referenceAlphas(), 666)) < 1e-12);
    }

    void ddimTimestepsAsCompVis()
    {
        const auto& s = NoiseSchedule::sd1();
        std::vector<int> want;
        for (int t = 0; t < 1000; t += 50) want.push_back(t + 1);
        QVERIFY(s.ddimTimesteps(20) == want);
        const auto thirty = s.ddimTimesteps(30);  // 1000 // 30 = 33: 31 entries, as range() gives
        QCOMPARE(thirty.size(), std::size_t(31));
        QCOMPARE(thirty.back(), 991);
        const auto all = s.ddimTimesteps(1000);
        QCOMPARE(all.front(), 1);
        QCOMPARE(all[998], 999);
        QCOMPARE(all[999], 999);  // 1000 clipped to 999
    }

    void samplerNames()
    {
        auto check = [](const char* sampler, const char* schedule, SamplerKind kind, Schedule sched) {
            auto r = resolveSampler(sampler, schedule);
            QVERIFY2(r.ok(), sampler);
            QCOMPARE(int(r->sampler), int(kind));
            QCOMPARE(int(r->schedule), int(sched));
        };
        check("Euler a", "Automatic", SamplerKind::EulerAncestral, Schedule::Automatic);
        check("k_euler_a", "", SamplerKind::EulerAncestral, Schedule::Automatic);
        check("Euler", "Karras", SamplerKind::Euler, Schedule::Karras);
        check("Heun", "Normal", SamplerKind::Heun, Schedule::Normal);
        check("LMS Karras", "Automatic", SamplerKind::Lms, Schedule::Karras);
        check("DPM++ 2M", "Automatic", SamplerKind::DpmPp2M, Schedule::Karras);
        check("DPM++ 2M Karras", "", SamplerKind::DpmPp2M, Schedule::Karras);
        check("DPM++ 2M", "Uniform", SamplerKind::DpmPp2M, Schedule::Uniform);
        check("DDIM", "Automatic", SamplerKind::Ddim, Schedule::Automatic);
        QVERIFY(!resolveSampler("DPM++ SDE", "Karras").ok());
        QVERIFY(!resolveSampler("Euler a", "Exponential").ok());
        QVERIFY(!resolveSampler("DPM++ 2M SGM Uniform", "").ok());
        QVERIFY(!resolveSampler("", "").ok());
        QVERIFY(samplerLabel(SamplerKind::EulerAncestral) == "Euler a");
        QVERIFY(scheduleLabel(Schedule::Karras) == "Karras");
    }

    void eulerStepByStep()
    {
        const auto sigmas = NoiseSchedule::sd1().karrasSigmas(6);
        auto r = sampleSigmas(SamplerKind::Euler, toyDenoise, startTensor(sigmas[0]), sigmas);
        QVERIFY(r.ok());
        std::vector<double> want;
        for (double x : kStart) {
            x *= sigmas[0];
            for (std::size_t i = 0; i + 1 < sigmas.size(); ++i)
                x += (x - toyD(x, sigmas[i])) / sigmas[i] * (sigmas[i + 1] - sigmas[i]);
            want.push_back(x);
        }
        near(values(*r), want, 1e-12, "euler");
    }

    void heunStepByStep()
    {
        const auto sigmas = NoiseSchedule::sd1().normalSigmas(5);
        int calls = 0;
        auto counting = [&](const torch::Tensor& x, double s) { ++calls; return toyDenoise(x, s); };
        auto r = sampleSigmas(SamplerKind::Heun, counting, startTensor(sigmas[0]), sigmas);
        QVERIFY(r.ok());
        QCOMPARE(calls, 2 * 5 - 1);  // the step to sigma 0 is a plain Euler step
        std::vector<double> want;
        for (double x : kStart) {
            x *= sigmas[0];
            for (std::size_t i = 0; i + 1 < sigmas.size(); ++i) {
                const double s = sigmas[i], sn = sigmas[i + 1], d = (x - toyD(x, s)) / s;
                if (sn == 0) {
                    x += d * (sn - s);
                } else {
                    const double x2 = x + d * (sn - s), d2 = (x2 - toyD(x2, sn)) / sn;
                    x += (d + d2) / 2 * (sn - s);
                }
            }
            want.push_back(x);
        }
        near(values(*r), want, 1e-12, "heun");
    }

    void dpmpp2mSecondOrderUpdate()
    {
        const auto sigmas = NoiseSchedule::sd1().karrasSigmas(5);
        // Two steps written out: the first is first order, the second extrapolates the x0 prediction
        // with r = h_last / h in log-sigma time.
        std::vector<double> cut(sigmas.begin(), sigmas.begin() + 3);
        auto two = sampleSigmas(SamplerKind::DpmPp2M, toyDenoise, startTensor(sigmas[0]), cut);
        QVERIFY(two.ok());
        std::vector<double> want;
        for (double x0 : kStart) {
            x0 *= sigmas[0];
            const double s0 = sigmas[0], s1 = sigmas[1], s2 = sigmas[2];
            const double h1 = std::log(s0 / s1);
            const double x1 = s1 / s0 * x0 - std::expm1(-h1) * toyD(x0, s0);
            const double h2 = std::log(s1 / s2), r = h1 / h2;
            const double dd = (1 + 1 / (2 * r)) * toyD(x1, s1) - 1 / (2 * r) * toyD(x0, s0);
            want.push_back(s2 / s1 * x1 - std::expm1(-h2) * dd);
        }
        near(values(*two), want, 1e-12, "dpm++ 2m");

        // The step to sigma 0 returns the x0 prediction itself.
        std::vector<torch::Tensor> seen;
        auto full = sampleSigmas(SamplerKind::DpmPp2M, toyDenoise, startTensor(sigmas[0]), sigmas,
                                 nullptr, [&](int, const torch::Tensor& x, const torch::Tensor& d) {
                                     seen.push_back(d.clone());
                                     return true;
                                 });
        QVERIFY(full.ok());
        QVERIFY(torch::equal(*full, seen.back()));
    }

    void lmsCoefficients()
    {
        const auto s = NoiseSchedule::sd1().normalSigmas(10);
        QVERIFY(std::abs(lmsCoefficient(s, 1, 0, 0) - (s[1] - s[0])) < 1e-14);
        // Order 2 in closed form: the integrals of the two linear Lagrange bases.
        const int i = 3;
        const double a = s[i - 1], b = s[i], c = s[i + 1];
        const double c0 = ((c - a) * (c - a) - (b - a) * (b - a)) / (2 * (b - a));
        const double c1 = (c - b) * (c - b) / (2 * (a - b));
        QVERIFY(std::abs(lmsCoefficient(s, 2, i, 0) - c0) < 1e-12);
        QVERIFY(std::abs(lmsCoefficient(s, 2, i, 1) - c1) < 1e-12);
        for (int order : {3, 4}) {
            double sum = 0;
            for (int j = 0; j < order; ++j) {
                const double got = lmsCoefficient(s, order, 5, j);
                QVERIFY(std::abs(got - exactLmsCoefficient(s, order, 5, j)) < 1e-10);
                sum += got;
            }
            QVERIFY(std::abs(sum - (s[6] - s[5])) < 1e-10);  // the bases sum to 1
        }
        QVERIFY(std::isnan(lmsCoefficient(s, 4, 2, 0)));  // order too high for the step, as k-diffusion refuses
    }

    void lmsStepByStep()
    {
        const auto sigmas = NoiseSchedule::sd1().normalSigmas(8);
        auto r = sampleSigmas(SamplerKind::Lms, toyDenoise, startTensor(sigmas[0]), sigmas);
        QVERIFY(r.ok());
        std::vector<double> want;
        for (double x : kStart) {
            x *= sigmas[0];
            std::vector<double> ds;
            for (int i = 0; i + 1 < int(sigmas.size()); ++i) {
                ds.push_back((x - toyD(x, sigmas[i])) / sigmas[i]);
                const int order = std::min(i + 1, 4);
                for (int j = 0; j < order; ++j) x += exactLmsCoefficient(sigmas, order, i, j) * ds[ds.size() - 1 - j];
            }
            want.push_back(x);
        }
        near(values(*r), want, 1e-10, "lms");
    }

    void higherOrderSamplersFollowTheExactOde()
    {
        // Down to the smallest model sigma (not on to 0, where each sampler ends in its own way).
        auto sigmas = NoiseSchedule::sd1().karrasSigmas(40);
        sigmas.pop_back();
        const double sLast = sigmas.back();
        std::vector<double> want;
        for (double x : kStart)
            want.push_back(x * sigmas[0] * std::sqrt((kC + sLast * sLast) / (kC + sigmas[0] * sigmas[0])));
        double eulerError = 0;
        for (auto kind : {SamplerKind::Euler, SamplerKind::Heun, SamplerKind::Lms, SamplerKind::DpmPp2M}) {
            auto r = sampleSigmas(kind, toyDenoise, startTensor(sigmas[0]), sigmas);
            QVERIFY(r.ok());
            double err = 0;
            const auto got = values(*r);
            for (std::size_t i = 0; i < got.size(); ++i) err = std::max(err, std::abs(got[i] - want[i]));
            if (kind == SamplerKind::Euler) eulerError = err;
            else QVERIFY2(err < eulerError / 4, std::string(samplerLabel(kind)).c_str());
            QVERIFY2(err < (kind == SamplerKind::Euler ? 0.2 : 0.02), std::string(samplerLabel(kind)).c_str());
        }
    }

    void eulerAncestralDrawsA1111Noise()
    {
        const std::vector<std::int64_t> shape = {4, 8, 8};  // 256 values: torch's vectorised normal path
        const std::uint64_t seed = 1234;
        const auto sigmas = NoiseSchedule::sd1().normalSigmas(4);
        LatentNoise noise(shape, {seed});
        torch::Tensor x = noise.next().to(torch::kFloat64) * sigmas[0];
        auto r = sampleSigmas(SamplerKind::EulerAncestral, toyDenoise, x, sigmas, &noise);
        QVERIFY(r.ok());

        at::Generator g = at::detail::createCPUGenerator(seed);
        std::vector<double> xs = randnValues(g, shape);
        for (double& v : xs) v *= sigmas[0];
        for (std::size_t i = 0; i + 1 < sigmas.size(); ++i) {
            const double s = sigmas[i], sn = sigmas[i + 1];
            const double up = std::min(sn, std::sqrt(sn * sn * (s * s - sn * sn) / (s * s)));
            const double down = std::sqrt(sn * sn - up * up);
            std::vector<double> fresh = sn > 0 ? randnValues(g, shape) : std::vector<double>(xs.size(), 0.0);
            for (std::size_t k = 0; k < xs.size(); ++k)
                xs[k] = xs[k] + (xs[k] - toyD(xs[k], s)) / s * (down - s) + fresh[k] * up;
        }
        near(values(*r), xs, 1e-12, "euler a");
        // Three steps drew three noises: the next draw of both agrees.
        near(values(noise.next()), randnValues(g, shape), 0, "next draw");
    }

    void latentNoisePerImageSeedsAndDelta()
    {
        LatentNoise noise({4, 2, 2}, {7, 8}, 31337);
        const auto first = noise.next(), second = noise.next();
        QVERIFY(first.sizes() == torch::IntArrayRef({2, 4, 2, 2}));
        QCOMPARE(first.scalar_type(), torch::kFloat32);
        for (int b = 0; b < 2; ++b) {
            at::Generator g = at::detail::createCPUGenerator(7 + b);
            QVERIFY(torch::equal(first[b], torch::randn({4, 2, 2}, g, torch::kFloat32)));
            at::Generator later = at::detail::createCPUGenerator(7 + b + 31337);  // ENSD re-seeds after the first
            QVERIFY(torch::equal(second[b], torch::randn({4, 2, 2}, later, torch::kFloat32)));
        }
    }

    void ddimAsA1111()
    {
        const auto& sched = NoiseSchedule::sd1();
        const auto ts = sched.ddimTimesteps(10);
        std::vector<double> asked;
        auto recording = [&](const torch::Tensor& x, double s) { asked.push_back(s); return toyDenoise(x, s); };
        int callbacks = 0;
        auto r = sampleDdim(recording, startTensor(1.0), ts, [&](int step, const torch::Tensor&, const torch::Tensor&) {
            return step == callbacks++;
        });
        QVERIFY(r.ok());
        QCOMPARE(callbacks, int(ts.size()) - 1);
        QCOMPARE(asked.size(), ts.size() - 1);
        for (std::size_t i = 0; i < asked.size(); ++i) QCOMPARE(sched.sigmaToT(asked[i]), double(ts[ts.size() - 1 - i]));

        // sd_samplers_timesteps_impl.ddim with eta 0, on an eps model equal to the toy denoiser.
        const auto& ac = sched.alphasCumprod();
        std::vector<double> want;
        for (double x : kStart) {
            for (std::size_t index = ts.size() - 1; index >= 1; --index) {
                const double a = ac[ts[index]], ap = ac[ts[index - 1]], s = sched.modelSigmas()[ts[index]];
                const double xin = x / std::sqrt(a);
                const double eps = (xin - toyD(xin, s)) / s;
                const double predX0 = (x - std::sqrt(1 - a) * eps) / std::sqrt(a);
                x = std::sqrt(ap) * predX0 + std::sqrt(1 - ap) * eps;
            }
            want.push_back(x);
        }
        near(values(*r), want, 1e-10, "ddim");
    }

    void sampleDrawsAndScalesInitialNoise()
    {
        const std::vector<std::int64_t> shape = {4, 2, 2};
        for (auto kind : {SamplerKind::Euler, SamplerKind::EulerAncestral, SamplerKind::Ddim}) {
            LatentNoise a(shape, {99}), b(shape, {99});
            auto choice = SamplerChoice{kind, Schedule::Karras};
            auto got = sample(choice, 5, toyDenoise, a);
            QVERIFY(got.ok());
            kiln::Result<torch::Tensor> want = kind == SamplerKind::Ddim
                ? sampleDdim(toyDenoise, b.next(), NoiseSchedule::sd1().ddimTimesteps(5))
                : [&] {
                      const auto sigmas = NoiseSchedule::sd1().karrasSigmas(5);
                      return sampleSigmas(kind, toyDenoise, b.next() * sigmas[0], sigmas, &b);
                  }();
            QVERIFY(want.ok());
            QVERIFY2(torch::equal(*got, *want), std::string(samplerLabel(kind)).c_str());
        }
        LatentNoise n(shape, {1});
        QVERIFY(!sample({}, 0, toyDenoise, n).ok());
        QVERIFY(!sample({}, 1001, toyDenoise, n).ok());
    }

    void callbackCancels()
    {
        const auto sigmas = NoiseSchedule::sd1().normalSigmas(10);
        for (auto kind : {SamplerKind::Euler, SamplerKind::EulerAncestral, SamplerKind::Heun, SamplerKind::Lms,
                          SamplerKind::DpmPp2M, SamplerKind::Ddim}) {
            int calls = 0, steps = 0;
            auto counting = [&](const torch::Tensor& x, double s) { ++calls; return toyDenoise(x, s); };
            auto stopAtSecond = [&](int step, const torch::Tensor&, const torch::Tensor&) { ++steps; return step < 1; };
            LatentNoise noise({4, 2, 2}, {5});
            auto r = kind == SamplerKind::Ddim
                ? sampleDdim(counting, noise.next(), NoiseSchedule::sd1().ddimTimesteps(10), stopAtSecond)
                : sampleSigmas(kind, counting, noise.next() * sigmas[0], sigmas, &noise, stopAtSecond);
            QVERIFY(!r.ok());
            QVERIFY(isCancelled(r.error()));
            QCOMPARE(steps, 2);
            QCOMPARE(calls, kind == SamplerKind::Heun ? 4 : 2);
        }
        QVERIFY(!isCancelled(kiln::makeError("other")));
    }

    void callbackSeesEveryStepAndTheFinalLatent()
    {
        const auto sigmas = NoiseSchedule::sd1().karrasSigmas(6);
        std::vector<int> steps;
        torch::Tensor last;
        auto r = sampleSigmas(SamplerKind::Heun, toyDenoise, startTensor(sigmas[0]), sigmas, nullptr,
                              [&](int step, const torch::Tensor& x, const torch::Tensor&) {
                                  steps.push_back(step);
                                  last = x;
                                  return true;
                              });
        QVERIFY(r.ok());
        QVERIFY(steps == std::vector<int>({0, 1, 2, 3, 4, 5}));
        QVERIFY(torch::equal(last, *r));
    }

    void badInputIsAnError()
    {
        const auto sigmas = NoiseSchedule::sd1().normalSigmas(3);
        auto throwing = [](const torch::Tensor&, double) -> torch::Tensor { throw std::runtime_error("unet exploded"); };
        auto r = sampleSigmas(SamplerKind::Euler, throwing, startTensor(1), sigmas);
        QVERIFY(!r.ok());
        QVERIFY(r.error().message().find("unet exploded") != std::string::npos);
        auto wrongShape = [](const torch::Tensor&, double) { return torch::zeros({2, 2}, torch::kFloat64); };
        QVERIFY(!sampleSigmas(SamplerKind::Euler, wrongShape, startTensor(1), sigmas).ok());
        QVERIFY(!sampleSigmas(SamplerKind::EulerAncestral, toyDenoise, startTensor(1), sigmas).ok());  // no noise
        QVERIFY(!sampleSigmas(SamplerKind::Euler, toyDenoise, startTensor(1), {1.0, 0.0, 0.5, 0.0}).ok());
        QVERIFY(!sampleSigmas(SamplerKind::Euler, toyDenoise, startTensor(1), {}).ok());
        QVERIFY(!sampleSigmas(SamplerKind::Ddim, toyDenoise, startTensor(1), sigmas).ok());
        QVERIFY(!sampleDdim(toyDenoise, startTensor(1), {5, 3}).ok());
        QVERIFY(!sampleDdim(toyDenoise, startTensor(1), {1, 1000}).ok());
        LatentNoise wrong({3}, {1});
        QVERIFY(!sampleSigmas(SamplerKind::EulerAncestral, toyDenoise, startTensor(1), sigmas, &wrong).ok());
    }
};

QTEST_GUILESS_MAIN(TestDiffusionSampling)
#include "test_diffusion_sampling.moc"
