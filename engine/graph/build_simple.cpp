// Nodes without parameters at run time: inputs (which check what arrives), activations,
// pooling, shape ops, Add/Multiply and the loss nodes (which pass nothing on; the model's
// loss() does their work).
#include "graph/builders.h"

#include <sstream>

namespace kiln::graph::build {

namespace {

using Fn = std::function<std::vector<torch::Tensor>(const std::vector<torch::Tensor>&, bool training)>;

class FnOp : public OpModule {
public:
    explicit FnOp(Fn fn) : fn_(std::move(fn)) {}
    std::vector<torch::Tensor> run(const std::vector<torch::Tensor>& x) override { return fn_(x, is_training()); }

private:
    Fn fn_;
};

// Registers a builder whose op is made from the node's parameters by `make`.
void add(BuilderRegistry& r, std::string id, std::function<Fn(const BuildContext&)> make)
{
    mustAdd(r, std::move(id), [make = std::move(make)](const BuildContext& c) { return std::make_shared<FnOp>(make(c)); });
}

// One tensor in, one out, no parameters read.
void unary(BuilderRegistry& r, std::string id, torch::Tensor (*f)(const torch::Tensor&))
{
    add(r, std::move(id), [f](const BuildContext&) -> Fn {
        return [f](const std::vector<torch::Tensor>& x, bool) { return std::vector<torch::Tensor>{f(x[0])}; };
    });
}

std::string sizesOf(const torch::Tensor& t)
{
    std::ostringstream os;
    os << t.sizes();
    return os.str();
}

// Inputs check what arrives against the node, so a wrong batch fails with the node's name rather
// than deep inside a convolution. Token inputs may be shorter than their length (generation).
Fn inputCheck(const BuildContext& c)
{
    const Shape declared = c.outputs.at(0);
    const std::string name = c.node.name;
    const bool tokens = declared.element == ElementType::Int64;
    return [declared, name, tokens](const std::vector<torch::Tensor>& x, bool) {
        const torch::Tensor& t = x.at(0);
        TORCH_CHECK(t.defined(), "input '", name, "' got no tensor");
        bool fits = t.dim() == static_cast<std::int64_t>(declared.rank());
        for (std::size_t i = 1; fits && i < declared.rank(); ++i) {
            const auto want = declared.dims[i].size, got = t.size(static_cast<std::int64_t>(i));
            fits = tokens ? got >= 1 && got <= want : got == want;
        }
        TORCH_CHECK(fits, "input '", name, "' expects ", formatShape(declared), " but got ", sizesOf(t));
        TORCH_CHECK(tokens ? !t.is_floating_point() : t.is_floating_point(), "input '", name, "' expects ",
                    tokens ? "integer token ids" : "floating-point values", " but got ", t.scalar_type());
        return std::vector<torch::Tensor>{t};
    };
}

std::vector<std::int64_t> pair(std::int64_t v) { return {v, v}; }

// Flatten of a channels-last 4-D tensor (the trainer runs ConvNets channels-last): the same values
// as torch::flatten, but the gradient goes back channels-last too. Through reshape's own backward
// it would arrive NCHW and every op of the conv block before it would work on mixed layouts.
struct FlattenChannelsLast : torch::autograd::Function<FlattenChannelsLast> {
    static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x, std::int64_t start,
                                 std::int64_t end)
    {
        ctx->saved_data["sizes"] = x.sizes().vec();
        return torch::flatten(x.contiguous(), start, end);
    }
    static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::tensor_list g)
    {
        const auto sizes = ctx->saved_data["sizes"].toIntVector();
        return {g[0].reshape(sizes).contiguous(torch::MemoryFormat::ChannelsLast), torch::Tensor(), torch::Tensor()};
    }
};

Fn pool(const BuildContext& c, bool max)
{
    const auto k = c.params.i("kernel_size"), p = c.params.i("padding");
    const auto s = c.params.i("stride") == 0 ? k : c.params.i("stride");
    return [k, s, p, max](const std::vector<torch::Tensor>& x, bool) {
        return std::vector<torch::Tensor>{max ? torch::max_pool2d(x[0], pair(k), pair(s), pair(p))
                                              : torch::avg_pool2d(x[0], pair(k), pair(s), pair(p))};
    };
}

}  // namespace

void addSimpleBuilders(BuilderRegistry& r)
{
    for (const char* id : {"node.input_image", "node.input_tokens", "node.input_tensor"}) add(r, id, inputCheck);

    unary(r, "node.relu", [](const torch::Tensor& x) { return torch::relu(x); });
    unary(r, "node.silu", [](const torch::Tensor& x) { return torch::silu(x); });
    unary(r, "node.sigmoid", [](const torch::Tensor& x) { return torch::sigmoid(x); });
    unary(r, "node.tanh", [](const torch::Tensor& x) { return torch::tanh(x); });
    add(r, "node.gelu", [](const BuildContext& c) -> Fn {
        const std::string approximate = c.params.s("approximate");
        return [approximate](const std::vector<torch::Tensor>& x, bool) {
            return std::vector<torch::Tensor>{torch::gelu(x[0], approximate)};
        };
    });
    add(r, "node.leaky_relu", [](const BuildContext& c) -> Fn {
        const double slope = c.params.f("negative_slope");
        return [slope](const std::vector<torch::Tensor>& x, bool) {
            return std::vector<torch::Tensor>{torch::leaky_relu(x[0], slope)};
        };
    });
    add(r, "node.softmax", [](const BuildContext& c) -> Fn {
        const auto dim = c.params.i("dim");
        return [dim](const std::vector<torch::Tensor>& x, bool) {
            return std::vector<torch::Tensor>{torch::softmax(x[0], dim)};
        };
    });

    add(r, "node.maxpool2d", [](const BuildContext& c) { return pool(c, true); });
    add(r, "node.avgpool2d", [](const BuildContext& c) { return pool(c, false); });
    add(r, "node.adaptive_avgpool2d", [](const BuildContext& c) -> Fn {
        const auto o = c.params.i("output_size");
        return [o](const std::vector<torch::Tensor>& x, bool) {
            return std::vector<torch::Tensor>{torch::adaptive_avg_pool2d(x[0], pair(o))};
        };
    });

    add(r, "node.flatten", [](const BuildContext& c) -> Fn {
        const auto start = c.params.i("start_dim"), end = c.params.i("end_dim");
        return [start, end](const std::vector<torch::Tensor>& x, bool) {
            const torch::Tensor& t = x[0];
            if (t.dim() == 4 && t.requires_grad() && torch::GradMode::is_enabled() && !t.is_contiguous() &&
                t.is_contiguous(torch::MemoryFormat::ChannelsLast))
                return std::vector<torch::Tensor>{FlattenChannelsLast::apply(t, start, end)};
            return std::vector<torch::Tensor>{torch::flatten(t, start, end)};
        };
    });
    add(r, "node.reshape", [](const BuildContext& c) -> Fn {
        const IntList shape = c.params.list("shape");
        return [shape](const std::vector<torch::Tensor>& x, bool) {
            std::vector<std::int64_t> sizes{x[0].size(0)};  // the batch stays
            sizes.insert(sizes.end(), shape.begin(), shape.end());
            return std::vector<torch::Tensor>{x[0].reshape(sizes)};
        };
    });
    add(r, "node.permute", [](const BuildContext& c) -> Fn {
        const IntList dims = c.params.list("dims");
        return [dims](const std::vector<torch::Tensor>& x, bool) {
            return std::vector<torch::Tensor>{x[0].permute(dims)};
        };
    });
    add(r, "node.concat", [](const BuildContext& c) -> Fn {
        const auto dim = c.params.i("dim");
        return [dim](const std::vector<torch::Tensor>& x, bool) {
            std::vector<torch::Tensor> parts;
            for (const auto& t : x)
                if (t.defined()) parts.push_back(t);
            return std::vector<torch::Tensor>{torch::cat(parts, dim)};
        };
    });
    add(r, "node.add", [](const BuildContext&) -> Fn {
        return [](const std::vector<torch::Tensor>& x, bool) { return std::vector<torch::Tensor>{x[0] + x[1]}; };
    });
    add(r, "node.multiply", [](const BuildContext&) -> Fn {
        return [](const std::vector<torch::Tensor>& x, bool) { return std::vector<torch::Tensor>{x[0] * x[1]}; };
    });

    for (const char* id : {"node.cross_entropy_loss", "node.mse_loss", "node.bce_with_logits_loss"})
        add(r, id, [](const BuildContext&) -> Fn {
            return [](const std::vector<torch::Tensor>&, bool) { return std::vector<torch::Tensor>{}; };
        });
}

}  // namespace kiln::graph::build
