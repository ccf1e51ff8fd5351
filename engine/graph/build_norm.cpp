// Normalizations and Dropout at run time. BatchNorm keeps PyTorch's buffers (running_mean,
// running_var, num_batches_tracked) so its state dict matches nn.BatchNorm2d's; BatchNorm and
// Dropout follow train()/eval() through is_training().
#include "graph/builders.h"

namespace kiln::graph::build {

namespace {

class BatchNorm2dOp : public OpModule {
public:
    explicit BatchNorm2dOp(const BuildContext& c) : eps_(c.params.f("eps")), momentum_(c.params.f("momentum"))
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
    std::vector<torch::Tensor> run(const std::vector<torch::Tensor>& x) override
    {
        if (is_training()) {
            torch::NoGradGuard noGrad;
            batches_.add_(1);
        }
        return {torch::batch_norm(x[0], weight_, bias_, runningMean_, runningVar_, is_training(), momentum_, eps_,
                                  /*cudnn_enabled=*/true)};
    }

private:
    double eps_, momentum_;
    torch::Tensor weight_, bias_, runningMean_, runningVar_, batches_;
};

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
