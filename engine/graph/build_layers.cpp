// Conv2d, ConvTranspose2d, Linear and Embedding at run time. Each registers its parameters on
// itself under PyTorch's names and initialises them as PyTorch does, so a graph trained here and
// the exported nn.Module agree key for key.
#include "graph/builders.h"

#include <cmath>

namespace kiln::graph::build {

namespace {

// PyTorch's default for conv and linear layers: kaiming_uniform_(a=√5) for the weight, which is
// U(±1/√fan_in), and the same bound for the bias.
void initLikeTorch(torch::Tensor& weight, torch::Tensor& bias)
{
    torch::NoGradGuard noGrad;
    torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));
    if (bias.defined()) {
        const auto fanIn = std::get<0>(torch::nn::init::_calculate_fan_in_and_fan_out(weight));
        const double bound = fanIn > 0 ? 1.0 / std::sqrt(static_cast<double>(fanIn)) : 0.0;
        bias.uniform_(-bound, bound);
    }
}

std::vector<std::int64_t> pair(std::int64_t v) { return {v, v}; }

class Conv2dOp : public OpModule {
public:
    explicit Conv2dOp(const BuildContext& c)
        : stride_(pair(c.params.i("stride"))), padding_(pair(c.params.i("padding"))),
          dilation_(pair(c.params.i("dilation"))), groups_(c.params.i("groups"))
    {
        const auto in = c.params.i("in_channels"), out = c.params.i("out_channels"), k = c.params.i("kernel_size");
        weight_ = register_parameter("weight", torch::empty({out, in / groups_, k, k}));
        if (c.params.b("bias")) bias_ = register_parameter("bias", torch::empty({out}));
        initLikeTorch(weight_, bias_);
    }
    std::vector<torch::Tensor> run(const std::vector<torch::Tensor>& x) override
    {
        return {torch::conv2d(x[0], weight_, bias_, stride_, padding_, dilation_, groups_)};
    }

private:
    std::vector<std::int64_t> stride_, padding_, dilation_;
    std::int64_t groups_;
    torch::Tensor weight_, bias_;
};

class ConvTranspose2dOp : public OpModule {
public:
    explicit ConvTranspose2dOp(const BuildContext& c)
        : stride_(pair(c.params.i("stride"))), padding_(pair(c.params.i("padding"))),
          outputPadding_(pair(c.params.i("output_padding"))), dilation_(pair(c.params.i("dilation"))),
          groups_(c.params.i("groups"))
    {
        const auto in = c.params.i("in_channels"), out = c.params.i("out_channels"), k = c.params.i("kernel_size");
        weight_ = register_parameter("weight", torch::empty({in, out / groups_, k, k}));
        if (c.params.b("bias")) bias_ = register_parameter("bias", torch::empty({out}));
        initLikeTorch(weight_, bias_);
    }
    std::vector<torch::Tensor> run(const std::vector<torch::Tensor>& x) override
    {
        return {torch::conv_transpose2d(x[0], weight_, bias_, stride_, padding_, outputPadding_, groups_, dilation_)};
    }

private:
    std::vector<std::int64_t> stride_, padding_, outputPadding_, dilation_;
    std::int64_t groups_;
    torch::Tensor weight_, bias_;
};

class LinearOp : public OpModule {
public:
    explicit LinearOp(const BuildContext& c)
    {
        weight_ = register_parameter("weight",
                                     torch::empty({c.params.i("out_features"), c.params.i("in_features")}));
        if (c.params.b("bias")) bias_ = register_parameter("bias", torch::empty({c.params.i("out_features")}));
        initLikeTorch(weight_, bias_);
    }
    std::vector<torch::Tensor> run(const std::vector<torch::Tensor>& x) override
    {
        return {torch::linear(x[0], weight_, bias_)};
    }

private:
    torch::Tensor weight_, bias_;
};

class EmbeddingOp : public OpModule {
public:
    explicit EmbeddingOp(const BuildContext& c)
    {
        weight_ = register_parameter("weight",
                                     torch::empty({c.params.i("num_embeddings"), c.params.i("embedding_dim")}));
        torch::NoGradGuard noGrad;
        weight_.normal_(0.0, 1.0);  // PyTorch's nn.Embedding default
    }
    std::vector<torch::Tensor> run(const std::vector<torch::Tensor>& x) override
    {
        return {torch::embedding(weight_, x[0])};
    }

private:
    torch::Tensor weight_;
};

template <typename Op>
BuildFn make()
{
    return [](const BuildContext& c) { return std::make_shared<Op>(c); };
}

}  // namespace

void addLayerBuilders(BuilderRegistry& r)
{
    mustAdd(r, "node.conv2d", make<Conv2dOp>());
    mustAdd(r, "node.conv_transpose2d", make<ConvTranspose2dOp>());
    mustAdd(r, "node.linear", make<LinearOp>());
    mustAdd(r, "node.embedding", make<EmbeddingOp>());
}

}  // namespace kiln::graph::build
