// Activations: elementwise, shape-preserving, no parameters (Softmax along one dimension).
#include "graph/ops_common.h"

namespace kiln::graph::ops {

namespace {

NodeType activation(std::string id, std::string name, std::string stem, std::string description, double flops,
                    std::vector<ParamSpec> params = {})
{
    return NodeType{
        .id = std::move(id),
        .category = "Activation",
        .displayName = std::move(name),
        .nameStem = std::move(stem),
        .description = std::move(description),
        .inputs = {input("in")},
        .outputs = {output("out")},
        .params = std::move(params),
        .infer = elementwise(flops),
    };
}

}  // namespace

void addActivationNodes(NodeRegistry& r)
{
    mustAdd(r, activation("node.relu", "ReLU", "relu", "max(0, x).", 1));
    mustAdd(r, activation("node.gelu", "GELU", "gelu", "x·Φ(x), the Gaussian error linear unit.", 8,
                          {choiceParam("approximate", "none", {"none", "tanh"},
                                       "none: exact (erf); tanh: the faster approximation")}));
    mustAdd(r, activation("node.silu", "SiLU", "silu", "x·sigmoid(x) (swish); gates Llama's MLP.", 4));
    mustAdd(r, activation("node.sigmoid", "Sigmoid", "sigmoid", "1 / (1 + e^-x).", 4));
    mustAdd(r, activation("node.tanh", "Tanh", "tanh", "tanh(x).", 4));
    mustAdd(r, activation("node.leaky_relu", "LeakyReLU", "lrelu", "x for x > 0, negative_slope·x below.", 1,
                          {floatParam("negative_slope", 0.01, 0.0, 1.0, "slope for negative inputs")}));

    NodeType softmax = activation("node.softmax", "Softmax", "softmax",
                                  "Turns scores along one dimension into probabilities that sum to 1. (Loss nodes "
                                  "take raw scores: no Softmax before CrossEntropy.)",
                                  5, {intParam("dim", -1, -64, 63, "the dimension that sums to 1; -1 = the last")});
    softmax.infer = [](const InferContext& c) -> Result<InferResult> {
        if (auto ok = requireFloat(c, 0); !ok) return ok.error();
        const auto& in = *c.inputs[0];
        if (!normalizeDim(c.params.i("dim"), in.rank()))
            return fail("dim " + std::to_string(c.params.i("dim")) + " is outside the input " + formatShape(in),
                        "use a dimension between " + std::to_string(-static_cast<int>(in.rank())) + " and " +
                            std::to_string(static_cast<int>(in.rank()) - 1));
        InferResult r;
        r.outputs.push_back(in);
        r.flops = 5.0 * static_cast<double>(in.perSample());
        return r;
    };
    mustAdd(r, std::move(softmax));
}

}  // namespace kiln::graph::ops
