// Self-attention at run time: q, k, v, o projections as submodules ("attn.q.weight", ...),
// rotary encoding in the half-split layout (as Llama in Hugging Face transformers), then
// softmax(QKᵀ/√d + causal mask)V written out plainly: LibTorch 1.13 has no fused
// scaled_dot_product_attention, and the plain form is what the test checks against.
#include "graph/builders.h"

#include <cmath>
#include <limits>

namespace kiln::graph::build {

namespace {

class AttentionOp : public OpModule {
public:
    explicit AttentionOp(const BuildContext& c)
        : dim_(c.params.i("dim")), heads_(c.params.i("heads")), headDim_(dim_ / heads_), rope_(c.params.b("rope")),
          causal_(c.params.b("causal")), ropeBase_(c.params.f("rope_base"))
    {
        const auto options = torch::nn::LinearOptions(dim_, dim_).bias(c.params.b("bias"));
        q_ = register_module("q", torch::nn::Linear(options));
        k_ = register_module("k", torch::nn::Linear(options));
        v_ = register_module("v", torch::nn::Linear(options));
        o_ = register_module("o", torch::nn::Linear(options));
    }

    std::vector<torch::Tensor> run(const std::vector<torch::Tensor>& in) override
    {
        const torch::Tensor& x = in[0];
        TORCH_CHECK(x.dim() == 3 && x.size(2) == dim_, "attention expects [B, T, ", dim_, "] but got ", x.sizes());
        const auto b = x.size(0), t = x.size(1);
        auto heads = [&](const torch::Tensor& y) { return y.reshape({b, t, heads_, headDim_}).transpose(1, 2); };
        torch::Tensor q = heads(q_(x)), k = heads(k_(x)), v = heads(v_(x));  // [B, H, T, d]
        if (rope_) {
            auto [cos, sin] = ropeTables(t, x.options());
            q = q * cos + rotateHalf(q) * sin;
            k = k * cos + rotateHalf(k) * sin;
        }
        torch::Tensor scores = torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(headDim_));
        if (causal_) {
            const auto later = torch::ones({t, t}, x.options().dtype(torch::kBool)).triu(1);
            scores = scores.masked_fill(later, -std::numeric_limits<float>::infinity());
        }
        torch::Tensor y = torch::matmul(torch::softmax(scores, -1), v);  // [B, H, T, d]
        return {o_(y.transpose(1, 2).reshape({b, t, dim_}))};
    }

private:
    // Position p turns pair (i, i + d/2) by p·base^(-2i/d). Computed in double, then cast, so long
    // sequences keep their angles exact enough.
    std::pair<torch::Tensor, torch::Tensor> ropeTables(std::int64_t t, const torch::TensorOptions& options) const
    {
        const auto f64 = torch::TensorOptions().dtype(torch::kFloat64).device(options.device());
        const torch::Tensor i = torch::arange(0, headDim_ / 2, f64);
        const torch::Tensor inverse = torch::pow(ropeBase_, -2.0 * i / static_cast<double>(headDim_));
        const torch::Tensor angles = torch::outer(torch::arange(0, t, f64), inverse);  // [T, d/2]
        const torch::Tensor both = torch::cat({angles, angles}, -1);                    // [T, d]
        return {both.cos().to(options.dtype()), both.sin().to(options.dtype())};
    }

    static torch::Tensor rotateHalf(const torch::Tensor& x)
    {
        const auto half = x.size(-1) / 2;
        return torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
    }

    std::int64_t dim_, heads_, headDim_;
    bool rope_, causal_;
    double ropeBase_;
    torch::nn::Linear q_{nullptr}, k_{nullptr}, v_{nullptr}, o_{nullptr};
};

}  // namespace

void addAttentionBuilders(BuilderRegistry& r)
{
    mustAdd(r, "node.attention", [](const BuildContext& c) { return std::make_shared<AttentionOp>(c); });
}

}  // namespace kiln::graph::build
