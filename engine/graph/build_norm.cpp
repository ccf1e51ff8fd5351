// Normalizations and Dropout at run time (BatchNorm2d: graph/batch_norm_op.h). BatchNorm and
// Dropout follow train()/eval() through is_training().
#include "graph/batch_norm_op.h"
#include "graph/builders.h"

namespace kiln::graph {

BatchNorm2dOp::BatchNorm2dOp(const BuildContext& c) : eps_(c.params.f("eps")), momentum_(c.params.f("momentum"))
{
    const auto n = c.params.i("num_features");
    if (c.params.b("affine")) {
        weight_ = register_parameter("weight", torch::ones({n}));
        bias_ = register_parameter("bias", torch::zeros({n}));
    }
    runningMean_ = register_buffer("running_mean", torch::zeros({n}));
    runningVar_ = register_buffer("running_var", torch::ones({n}));
    batches_ = register_buffer("num_batches_tracked", torch::zeros({}, torch::kLong));
}

void BatchNorm2dOp::countBatch()
{
    if (is_training()) {
        torch::NoGradGuard noGrad;
        batches_.add_(1);
    }
}

std::vector<torch::Tensor> BatchNorm2dOp::run(const std::vector<torch::Tensor>& x)
{
    countBatch();
    return {torch::batch_norm(x[0], weight_, bias_, runningMean_, runningVar_, is_training(), momentum_, eps_,
                              /*cudnn_enabled=*/true)};
}

torch::Tensor BatchNorm2dOp::runFusedRelu(const torch::Tensor& x, bool pool)
{
    TORCH_CHECK(is_training(), "the fused batch norm runs in training mode only");
    torch::Tensor y = normReluTraining(x, BatchNormParams{weight_, bias_, runningMean_, runningVar_, momentum_, eps_}, pool);
    countBatch();  // after the checks, as torch::batch_norm would have thrown before counting
    return y;
}

}  // namespace kiln::graph

namespace kiln::graph::build {

namespace {

class GroupNormOp : public OpModule {
public:
    explicit GroupNormOp(const BuildContext& c) : groups_(c.params.i("num_groups")), eps_(c.params.f("eps"))
    {
        const auto n = c.params.i("num_channels");
        if (c.params.b("affine")) {
            weight_ = register_parameter("weight", torch::ones({n}));
            bias_ = register_parameter("bias", torch::zeros({n}));
        }
    }
    std::vector<torch::Tensor> run(const std::vector<torch::Tensor>& x) override
    {
        return {torch::group_norm(x[0], groups_, weight_, bias_, eps_)};
    }

private:
    std::int64_t groups_;
    double eps_;
    torch::Tensor weight_, bias_;
};

class LayerNormOp : public OpModule {
public:
    explicit LayerNormOp(const BuildContext& c) : size_(c.params.i("normalized_shape")), eps_(c.params.f("eps"))
    {
        if (c.params.b("elementwise_affine")) {
            weight_ = register_parameter("weight", torch::ones({size_}));
            bias_ = register_parameter("bias", torch::zeros({size_}));
        }
    }
    std::vector<torch::Tensor> run(const std::vector<torch::Tensor>& x) override
    {
        return {torch::layer_norm(x[0], {size_}, weight_, bias_, eps_)};
    }

private:
    std::int64_t size_;
    double eps_;
    torch::Tensor weight_, bias_;
};

// x / sqrt(mean(x²) + eps) · weight over the last dimension; LibTorch 1.13 has no rms_norm.
class RMSNormOp : public OpModule {
public:
    explicit RMSNormOp(const BuildContext& c) : eps_(c.params.f("eps"))
    {
        if (c.params.b("elementwise_affine")) weight_ = register_parameter("weight", torch::ones({c.params.i("dim")}));
    }
    std::vector<torch::Tensor> run(const std::vector<torch::Tensor>& x) override
    {
        torch::Tensor y = x[0] * torch::rsqrt(x[0].pow(2).mean(-1, /*keepdim=*/true) + eps_);
        return {weight_.defined() ? y * weight_ : y};
    }

private:
    double eps_;
    torch::Tensor weight_;
};

class DropoutOp : public OpModule {
public:
    explicit DropoutOp(const BuildContext& c) : p_(c.params.f("p")) {}
    std::vector<torch::Tensor> run(const std::vector<torch::Tensor>& x) override
    {
        return {torch::dropout(x[0], p_, is_training())};
    }

private:
    double p_;
};

template <typename Op>
BuildFn make()
{
    return [](const BuildContext& c) { return std::make_shared<Op>(c); };
}

}  // namespace

void addNormBuilders(BuilderRegistry& r)
{
    mustAdd(r, "node.batchnorm2d", make<BatchNorm2dOp>());
    mustAdd(r, "node.groupnorm", make<GroupNormOp>());
    mustAdd(r, "node.layernorm", make<LayerNormOp>());
    mustAdd(r, "node.rmsnorm", make<RMSNormOp>());
    mustAdd(r, "node.dropout", make<DropoutOp>());
}

}  // namespace kiln::graph::build
