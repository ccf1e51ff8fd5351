#include "train/fused_adamw.h"

#include <ATen/Parallel.h>
#include <cmath>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define KILN_ADAMW_AVX2 1
#endif

namespace kiln::train {

namespace {

std::string stateKey(const torch::Tensor& p) { return c10::guts::to_string(p.unsafeGetTensorImpl()); }

struct Coefficients {
    float decay;       // 1 - lr * weight_decay (applied only when weight decay is on)
    bool weightDecay;
    float beta1, oneMinusBeta1, beta2, oneMinusBeta2;
    float sqrtBiasCorrection2, eps, negStepSize;
};

// The arithmetic of the ATen CPU kernels that torch::optim::AdamW's ops run, in their order and
// with their roundings (ATen's AVX2 kernels compute add_ with alpha and addcmul_ with one fused
// multiply-add; addcdiv_ is self + (value * t1) / t2):
//   p *= decay; m = fma(g, 1-b1, m*b1); v = fma((1-b2)*g, g, v*b2);
//   d = sqrt(v) / sqrt(bc2) + eps; p = p + (-lr/bc1 * m) / d.
// On a CPU with AVX2 and FMA the result is bit for bit torch's (the test checks it).
#if KILN_ADAMW_AVX2
__attribute__((target("avx2,fma"))) std::int64_t updateRangeAvx2(float* p, const float* g, float* m, float* v,
                                                                  std::int64_t begin, std::int64_t end,
                                                                  const Coefficients& c)
{
    const __m256 decay = _mm256_set1_ps(c.decay), b1 = _mm256_set1_ps(c.beta1), omb1 = _mm256_set1_ps(c.oneMinusBeta1),
                 b2 = _mm256_set1_ps(c.beta2), omb2 = _mm256_set1_ps(c.oneMinusBeta2),
                 bc2 = _mm256_set1_ps(c.sqrtBiasCorrection2), eps = _mm256_set1_ps(c.eps),
                 step = _mm256_set1_ps(c.negStepSize);
    std::int64_t i = begin;
    for (; i + 8 <= end; i += 8) {
        __m256 pv = _mm256_loadu_ps(p + i);
        const __m256 gv = _mm256_loadu_ps(g + i);
        if (c.weightDecay) pv = _mm256_mul_ps(pv, decay);
        const __m256 mv = _mm256_fmadd_ps(gv, omb1, _mm256_mul_ps(_mm256_loadu_ps(m + i), b1));
        const __m256 vv = _mm256_fmadd_ps(_mm256_mul_ps(omb2, gv), gv, _mm256_mul_ps(_mm256_loadu_ps(v + i), b2));
        const __m256 d = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(vv), bc2), eps);
        pv = _mm256_add_ps(pv, _mm256_div_ps(_mm256_mul_ps(step, mv), d));
        _mm256_storeu_ps(m + i, mv);
        _mm256_storeu_ps(v + i, vv);
        _mm256_storeu_ps(p + i, pv);
    }
    return i;
}

const bool haveAvx2Fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif

void updateRange(float* p, const float* g, float* m, float* v, std::int64_t begin, std::int64_t end,
                 const Coefficients& c)
{
    std::int64_t i = begin;
#if KILN_ADAMW_AVX2
    if (haveAvx2Fma) i = updateRangeAvx2(p, g, m, v, begin, end, c);
#endif
    for (; i < end; ++i) {  // the last few, or all without AVX2
        float pv = p[i];
        const float gv = g[i];
        if (c.weightDecay) pv = pv * c.decay;
        const float mv = std::fma(gv, c.oneMinusBeta1, m[i] * c.beta1);
        const float vv = std::fma(c.oneMinusBeta2 * gv, gv, v[i] * c.beta2);
        const float d = std::sqrt(vv) / c.sqrtBiasCorrection2 + c.eps;
        pv = pv + (c.negStepSize * mv) / d;
        m[i] = mv;
        v[i] = vv;
        p[i] = pv;
    }
}

bool sameLayout(const torch::Tensor& a, const torch::Tensor& b)
{
    return a.sizes() == b.sizes() && a.strides() == b.strides() && a.scalar_type() == b.scalar_type() &&
           a.device() == b.device();
}

}  // namespace

FusedAdamW::FusedAdamW(std::vector<torch::optim::OptimizerParamGroup> groups, torch::optim::AdamWOptions defaults)
    : Optimizer(std::move(groups), std::make_unique<torch::optim::AdamWOptions>(defaults))
{
    TORCH_CHECK(defaults.lr() >= 0, "Invalid learning rate: ", defaults.lr());
    TORCH_CHECK(defaults.eps() >= 0, "Invalid epsilon value: ", defaults.eps());
    const auto [beta1, beta2] = defaults.betas();
    TORCH_CHECK(0 <= beta1 && beta1 < 1, "Invalid beta parameter at index 0: ", beta1);
    TORCH_CHECK(0 <= beta2 && beta2 < 1, "Invalid beta parameter at index 1: ", beta2);
    TORCH_CHECK(defaults.weight_decay() >= 0, "Invalid weight_decay value: ", defaults.weight_decay());
}

torch::Tensor FusedAdamW::step(LossClosure closure)
{
    torch::NoGradGuard noGrad;
    torch::Tensor loss;
    if (closure) {
        at::AutoGradMode enableGrad(true);
        loss = closure();
    }
    for (auto& group : param_groups()) {
        auto& o = static_cast<torch::optim::AdamWOptions&>(group.options());
        const auto [beta1, beta2] = o.betas();
        for (auto& p : group.params()) {
            if (!p.grad().defined()) continue;
            const auto& grad = p.grad();
            TORCH_CHECK(!grad.is_sparse(), "AdamW does not support sparse gradients");
            auto& slot = state()[stateKey(p)];
            if (!slot) {
                auto s = std::make_unique<torch::optim::AdamWParamState>();
                s->step(0);
                s->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
                s->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
                if (o.amsgrad()) s->max_exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
                slot = std::move(s);
            }
            auto& s = static_cast<torch::optim::AdamWParamState&>(*slot);
            auto& expAvg = s.exp_avg();
            auto& expAvgSq = s.exp_avg_sq();
            s.step(s.step() + 1);
            const double bc1 = 1 - std::pow(beta1, static_cast<double>(s.step()));
            const double bc2 = 1 - std::pow(beta2, static_cast<double>(s.step()));
            const double stepSize = o.lr() / bc1;

            const bool fused = !o.amsgrad() && p.scalar_type() == torch::kFloat32 && p.device().is_cpu() &&
                               p.is_non_overlapping_and_dense() && sameLayout(p, grad) && sameLayout(p, expAvg) &&
                               sameLayout(p, expAvgSq);
            if (fused) {
                Coefficients c{};
                c.weightDecay = o.weight_decay() != 0;
                c.decay = static_cast<float>(1 - o.lr() * o.weight_decay());
                c.beta1 = static_cast<float>(beta1);
                c.oneMinusBeta1 = static_cast<float>(1 - beta1);
                c.beta2 = static_cast<float>(beta2);
                c.oneMinusBeta2 = static_cast<float>(1 - beta2);
                c.sqrtBiasCorrection2 = static_cast<float>(std::sqrt(bc2));
                c.eps = static_cast<float>(o.eps());
                c.negStepSize = static_cast<float>(-stepSize);
                // Same strides everywhere: element i of one is element i of all, in memory order.
                float* pp = p.data_ptr<float>();
                const float* gp = grad.data_ptr<float>();
                float* mp = expAvg.data_ptr<float>();
                float* vp = expAvgSq.data_ptr<float>();
                at::parallel_for(0, p.numel(), 32768, [&](std::int64_t b, std::int64_t e) {
                    updateRange(pp, gp, mp, vp, b, e, c);
                });
                continue;
            }
            // torch::optim::AdamW's own sequence.
            if (o.weight_decay() != 0) p.mul_(1 - o.lr() * o.weight_decay());
            expAvg.mul_(beta1).add_(grad, 1 - beta1);
            expAvgSq.mul_(beta2).addcmul_(grad, grad, 1 - beta2);
            torch::Tensor denom;
            if (o.amsgrad()) {
                auto& maxSq = s.max_exp_avg_sq();
                torch::max_out(maxSq, expAvgSq, maxSq);
                denom = (maxSq.sqrt() / std::sqrt(bc2)).add_(o.eps());
            } else {
                denom = (expAvgSq.sqrt() / std::sqrt(bc2)).add_(o.eps());
            }
            p.addcdiv_(expAvg, denom, -stepSize);
        }
    }
    return loss;
}

}  // namespace kiln::train
