#include "graph/pool_kernel.h"

#include <ATen/Parallel.h>
#include <cmath>
#include <limits>

namespace kiln::graph {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

// One plane: out[oh, ow] = max of the k x k window; where[oh, ow] = its position in the window
// (row-major), chosen as ATen does: start at the first element with -inf, take a value when it is
// greater or NaN.
void poolPlane(const float* in, std::int64_t W, std::int64_t k, std::int64_t OH, std::int64_t OW, float* out,
               std::uint8_t* where)
{
    for (std::int64_t oh = 0; oh < OH; ++oh) {
        const float* row = in + oh * k * W;
        for (std::int64_t ow = 0; ow < OW; ++ow) {
            const float* win = row + ow * k;
            float best = -std::numeric_limits<float>::infinity();
            int at = 0;
            for (std::int64_t r = 0; r < k; ++r)
                for (std::int64_t c = 0; c < k; ++c) {
                    const float v = win[r * W + c];
                    if (v > best || std::isnan(v)) {
                        best = v;
                        at = static_cast<int>(r * k + c);
                    }
                }
            out[oh * OW + ow] = best;
            if (where) where[oh * OW + ow] = static_cast<std::uint8_t>(at);
        }
    }
}

struct NonOverlappingMaxPool : torch::autograd::Function<NonOverlappingMaxPool> {
    static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, std::int64_t k)
    {
        const auto N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
        const auto OH = H / k, OW = W / k;
        auto out = torch::empty({N, C, OH, OW}, x.options());
        auto where = torch::empty({N, C, OH, OW}, x.options().dtype(torch::kUInt8));
        const float* in = x.data_ptr<float>();
        float* o = out.data_ptr<float>();
        std::uint8_t* w = where.data_ptr<std::uint8_t>();
        at::parallel_for(0, N * C, 1 + 16384 / std::max<std::int64_t>(1, H * W), [&](std::int64_t b, std::int64_t e) {
            for (std::int64_t pl = b; pl < e; ++pl)
                poolPlane(in + pl * H * W, W, k, OH, OW, o + pl * OH * OW, w + pl * OH * OW);
        });
        ctx->save_for_backward({where});
        ctx->saved_data["k"] = k;
        ctx->saved_data["H"] = H;
        ctx->saved_data["W"] = W;
        return out;
    }

    static tensor_list backward(AutogradContext* ctx, tensor_list grads)
    {
        const auto where = ctx->get_saved_variables()[0];
        const auto k = ctx->saved_data["k"].toInt(), H = ctx->saved_data["H"].toInt(), W = ctx->saved_data["W"].toInt();
        const auto g = grads[0].contiguous();
        const auto N = where.size(0), C = where.size(1), OH = where.size(2), OW = where.size(3);
        auto gin = torch::empty({N, C, H, W}, g.options());
        const float* gp = g.data_ptr<float>();
        const std::uint8_t* wp = where.data_ptr<std::uint8_t>();
        float* ip = gin.data_ptr<float>();
        at::parallel_for(0, N * C, 1 + 16384 / std::max<std::int64_t>(1, H * W), [&](std::int64_t b, std::int64_t e) {
            for (std::int64_t pl = b; pl < e; ++pl) {
                float* plane = ip + pl * H * W;
                std::fill(plane, plane + H * W, 0.0f);
                const float* gpl = gp + pl * OH * OW;
                const std::uint8_t* wpl = wp + pl * OH * OW;
                for (std::int64_t oh = 0; oh < OH; ++oh)
                    for (std::int64_t ow = 0; ow < OW; ++ow) {
                        const int at = wpl[oh * OW + ow];
                        plane[(oh * k + at / k) * W + ow * k + at % k] = gpl[oh * OW + ow];
                    }
            }
        });
        return {gin, torch::Tensor()};
    }
};

}  // namespace

torch::Tensor maxPool2d(const torch::Tensor& x, std::int64_t kernel, std::int64_t stride, std::int64_t padding)
{
    const bool fast = x.defined() && x.dim() == 4 && x.device().is_cpu() && x.scalar_type() == torch::kFloat32 &&
                      x.is_contiguous() && kernel >= 1 && kernel <= 15 && stride == kernel && padding == 0 &&
                      x.size(2) >= kernel && x.size(3) >= kernel && x.numel() > 0;
    if (!fast) return torch::max_pool2d(x, {kernel, kernel}, {stride, stride}, {padding, padding});
    if (!torch::GradMode::is_enabled() || !x.requires_grad()) {
        torch::NoGradGuard noGrad;
        const auto N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3), OH = H / kernel, OW = W / kernel;
        auto out = torch::empty({N, C, OH, OW}, x.options());
        const float* in = x.data_ptr<float>();
        float* o = out.data_ptr<float>();
        at::parallel_for(0, N * C, 1 + 16384 / std::max<std::int64_t>(1, H * W), [&](std::int64_t b, std::int64_t e) {
            for (std::int64_t pl = b; pl < e; ++pl)
                poolPlane(in + pl * H * W, W, kernel, OH, OW, o + pl * OH * OW, nullptr);
        });
        return out;
    }
    return NonOverlappingMaxPool::apply(x, kernel);
}

}  // namespace kiln::graph
