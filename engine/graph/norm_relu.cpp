#include "graph/norm_relu.h"

#include "graph/norm_relu_kernels.h"

#include <ATen/Parallel.h>
#include <cmath>
#include <torch/autograd.h>
#include <vector>

namespace kiln::graph {

namespace {

using kernels::Nhwc;

Nhwc shapeOf(const torch::Tensor& x) { return {x.size(0), x.size(2), x.size(3), x.size(1)}; }

// Rows of a pass spread over the intra-op threads, each big enough to pay for a task.
template <typename F>
void forRows(const Nhwc& s, std::int64_t rowCount, F&& f)
{
    const std::int64_t perRow = std::max<std::int64_t>(1, s.pixels() * s.c / std::max<std::int64_t>(1, rowCount));
    const std::int64_t grain = std::max<std::int64_t>(1, 16384 / perRow);
    at::parallel_for(0, rowCount, grain, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t r = begin; r < end; ++r) f(r);
    });
}

// Per-row partial sums (two per channel) added in row order, so any thread count gives the same bits.
template <typename F>
std::pair<std::vector<double>, std::vector<double>> sumRows(const Nhwc& s, std::int64_t rowCount, F&& rowSums)
{
    const auto C = static_cast<std::size_t>(s.c);
    std::vector<double> partial(static_cast<std::size_t>(rowCount) * 2 * C);
    forRows(s, rowCount, [&](std::int64_t r) {
        double* p = partial.data() + static_cast<std::size_t>(r) * 2 * C;
        rowSums(r, p, p + C);
    });
    std::vector<double> a(C, 0.0), b(C, 0.0);
    for (std::size_t r = 0; r < static_cast<std::size_t>(rowCount); ++r)
        for (std::size_t c = 0; c < C; ++c) {
            a[c] += partial[r * 2 * C + c];
            b[c] += partial[r * 2 * C + C + c];
        }
    return {std::move(a), std::move(b)};
}

torch::Tensor floats(const std::vector<double>& v)
{
    auto t = torch::empty({static_cast<std::int64_t>(v.size())}, torch::kFloat);
    float* d = t.data_ptr<float>();
    for (std::size_t i = 0; i < v.size(); ++i) d[i] = static_cast<float>(v[i]);
    return t;
}

std::vector<double> valuesOr(const torch::Tensor& t, std::int64_t n, double fallback)
{
    std::vector<double> v(static_cast<std::size_t>(n), fallback);
    if (t.defined()) {
        const auto c = t.detach().to(torch::kDouble).contiguous();
        std::copy(c.data_ptr<double>(), c.data_ptr<double>() + n, v.begin());
    }
    return v;
}

struct NormReluFunction : torch::autograd::Function<NormReluFunction> {
    static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                                 const torch::Tensor& weight, const torch::Tensor& bias, torch::Tensor runningMean,
                                 torch::Tensor runningVar, double momentum, double eps, bool pool)
    {
        const Nhwc s = shapeOf(x);
        const float* xd = x.data_ptr<float>();
        const double pixels = static_cast<double>(s.pixels());

        // Statistics: sums of (x - the first pixel) in double, which neither cancel nor round away.
        const std::vector<float> origin(xd, xd + s.c);
        const auto [sum, squares] = sumRows(s, kernels::statRows(s), [&](std::int64_t r, double* a, double* b) {
            kernels::channelSums(xd, s, origin.data(), r, a, b);
        });
        const std::vector<double> w = valuesOr(weight, s.c, 1.0), b = valuesOr(bias, s.c, 0.0);
        std::vector<double> mean(static_cast<std::size_t>(s.c)), invstd(mean.size()), scale(mean.size()),
            shift(mean.size());
        for (std::size_t c = 0; c < mean.size(); ++c) {
            const double m = sum[c] / pixels;
            const double v = squares[c] / pixels - m * m;
            const double var = v < 0 ? 0.0 : v;  // not std::max, which turns a NaN (Inf or NaN inputs) into 0
            mean[c] = origin[c] + m;
            invstd[c] = 1.0 / std::sqrt(var + eps);
            scale[c] = w[c] * invstd[c];
            shift[c] = b[c] - mean[c] * scale[c];
            float& rm = runningMean.data_ptr<float>()[c];
            rm = static_cast<float>(momentum * mean[c] + (1 - momentum) * rm);
            float& rv = runningVar.data_ptr<float>()[c];
            rv = static_cast<float>(momentum * var * pixels / (pixels - 1) + (1 - momentum) * rv);
        }
        const torch::Tensor scaleT = floats(scale), shiftT = floats(shift);
        const kernels::ChannelMap map{scaleT.data_ptr<float>(), shiftT.data_ptr<float>()};

        torch::Tensor y = torch::empty({s.n, s.c, pool ? s.h / 2 : s.h, pool ? s.w / 2 : s.w},
                                       x.options().memory_format(torch::MemoryFormat::ChannelsLast));
        float* yd = y.data_ptr<float>();
        forRows(s, kernels::rows(s, pool), [&](std::int64_t r) { kernels::forwardRow(xd, s, map, pool, r, yd); });

        ctx->save_for_backward({x, weight});
        ctx->saved_data["mean"] = floats(mean);
        ctx->saved_data["invstd"] = floats(invstd);
        ctx->saved_data["scale"] = scaleT;
        ctx->saved_data["shift"] = shiftT;
        ctx->saved_data["pool"] = pool;
        return y;
    }

    static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::tensor_list grads)
    {
        // The gradients below are computed outside autograd: a second derivative would silently miss terms.
        TORCH_CHECK(!torch::GradMode::is_enabled(),
                    "the fused BatchNorm/ReLU/MaxPool has no second derivative; compile with fusion off "
                    "(CompiledModel::setFusion(false)) to differentiate twice");
        const auto saved = ctx->get_saved_variables();
        const torch::Tensor& x = saved[0];
        const torch::Tensor& weight = saved[1];
        const bool pool = ctx->saved_data["pool"].toBool();
        const torch::Tensor mean = ctx->saved_data["mean"].toTensor(), invstd = ctx->saved_data["invstd"].toTensor();
        const torch::Tensor scale = ctx->saved_data["scale"].toTensor(), shift = ctx->saved_data["shift"].toTensor();
        const torch::Tensor gy = grads[0].to(torch::kFloat).contiguous(torch::MemoryFormat::ChannelsLast);
        const Nhwc s = shapeOf(x);
        const float* xd = x.data_ptr<float>();
        const float* gd = gy.data_ptr<float>();
        const kernels::ChannelMap map{scale.data_ptr<float>(), shift.data_ptr<float>()};
        const float* meanD = mean.data_ptr<float>();
        const std::int64_t rowCount = kernels::rows(s, pool);

        const auto [sumDy, sumDyXmu] = sumRows(s, rowCount, [&](std::int64_t r, double* a, double* b) {
            kernels::gradientSums(xd, gd, s, map, meanD, pool, r, a, b);
        });
        const double pixels = static_cast<double>(s.pixels());
        const std::vector<double> w = valuesOr(weight, s.c, 1.0), is = valuesOr(invstd, s.c, 1.0);
        std::vector<double> projection(sumDy.size()), meanDy(sumDy.size()), gradScale(sumDy.size()),
            gradWeight(sumDy.size());
        for (std::size_t c = 0; c < sumDy.size(); ++c) {
            projection[c] = sumDyXmu[c] * is[c] * is[c] / pixels;
            meanDy[c] = sumDy[c] / pixels;
            gradScale[c] = is[c] * w[c];
            gradWeight[c] = sumDyXmu[c] * is[c];
        }

        torch::Tensor dx;
        if (ctx->needs_input_grad(0)) {
            const torch::Tensor projT = floats(projection), meanDyT = floats(meanDy), gradScaleT = floats(gradScale);
            const kernels::InputGradient g{meanD, projT.data_ptr<float>(), meanDyT.data_ptr<float>(),
                                           gradScaleT.data_ptr<float>()};
            dx = torch::empty_like(x, torch::MemoryFormat::ChannelsLast);
            float* dd = dx.data_ptr<float>();
            forRows(s, rowCount, [&](std::int64_t r) { kernels::inputGradientRow(xd, gd, s, map, g, pool, r, dd); });
        }
        torch::Tensor dWeight, dBias;
        if (ctx->needs_input_grad(1)) dWeight = floats(gradWeight);
        if (ctx->needs_input_grad(2)) dBias = floats(sumDy);
        return {dx, dWeight, dBias, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor(),
                torch::Tensor()};
    }
};

}  // namespace

bool normReluApplies(const torch::Tensor& x, bool pool)
{
    if (!x.defined() || x.layout() != torch::kStrided || x.dim() != 4 || x.scalar_type() != torch::kFloat ||
        !x.device().is_cpu())
        return false;
    if (!x.is_contiguous(torch::MemoryFormat::ChannelsLast) || x.size(1) < 1) return false;
    if (x.size(0) * x.size(2) * x.size(3) < 2) return false;  // batch norm needs two values per channel
    return !pool || (x.size(2) >= 2 && x.size(3) >= 2);
}

torch::Tensor normReluTraining(const torch::Tensor& x, const BatchNormParams& p, bool pool)
{
    TORCH_CHECK(normReluApplies(x, pool), "normReluTraining takes a channels-last float CPU tensor");
    auto isFloat = [](const torch::Tensor& t) { return !t.defined() || t.scalar_type() == torch::kFloat; };
    TORCH_CHECK(isFloat(p.weight) && isFloat(p.bias) && isFloat(p.runningMean) && isFloat(p.runningVar),
                "normReluTraining takes float parameters");
    TORCH_CHECK((!p.runningMean.defined() || p.runningMean.is_contiguous()) &&
                    (!p.runningVar.defined() || p.runningVar.is_contiguous()),
                "normReluTraining updates contiguous running statistics");
    for (const torch::Tensor* t : {&p.weight, &p.bias, &p.runningMean, &p.runningVar})
        TORCH_CHECK(!t->defined() || (t->dim() == 1 && t->numel() == x.size(1)),
                    "normReluTraining: a batch norm parameter has ", t->numel(), " values for ", x.size(1),
                    " channels");
    // Custom autograd functions take no undefined tensors: batch norm without affine is weight 1,
    // bias 0; without running statistics they go to scratch tensors.
    auto orFilled = [&](const torch::Tensor& t, double v) { return t.defined() ? t : torch::full({x.size(1)}, v); };
    return NormReluFunction::apply(x, orFilled(p.weight, 1), orFilled(p.bias, 0), orFilled(p.runningMean, 0),
                                   orFilled(p.runningVar, 1), p.momentum, p.eps, pool);
}

}  // namespace kiln::graph
