// Normalizations and Dropout: the nodes whose behaviour differs between training and evaluation
// (BatchNorm's running statistics, Dropout) or that rescale activations.
#include "graph/ops_common.h"

namespace kiln::graph::ops {

namespace {

ParamSpec epsParam(double def) { return floatParam("eps", def, 1e-12, 1.0, "added to the variance for stability"); }

Result<InferResult> inferBatchNorm(const InferContext& c)
{
    if (auto ok = requireFloat(c, 0); !ok) return ok.error();
    if (auto ok = requireRank(c, 0, 4, "[B, C, H, W]", "BatchNorm2d follows a Conv2d; for vectors use LayerNorm");
        !ok)
        return ok.error();
    if (auto ok = requireParamMatches(c, 0, 1, "num_features"); !ok) return ok.error();
    InferResult r;
    r.outputs.push_back(*c.inputs[0]);
    r.params = c.params.b("affine") ? 2 * static_cast<std::uint64_t>(c.params.i("num_features")) : 0;
    r.flops = 2.0 * static_cast<double>(c.inputs[0]->perSample());
    return r;
}

Result<InferResult> inferGroupNorm(const InferContext& c)
{
    if (auto ok = requireFloat(c, 0); !ok) return ok.error();
    if (auto ok = requireMinRank(c, 0, 2, "[B, C, ...]"); !ok) return ok.error();
    if (auto ok = requireParamMatches(c, 0, 1, "num_channels"); !ok) return ok.error();
    const auto g = c.params.i("num_groups"), ch = c.params.i("num_channels");
    if (ch % g != 0)
        return fail("num_channels (" + std::to_string(ch) + ") must be divisible by num_groups (" + std::to_string(g) +
                        ")",
                    "choose num_groups that divides " + std::to_string(ch));
    InferResult r;
    r.outputs.push_back(*c.inputs[0]);
    r.params = c.params.b("affine") ? 2 * static_cast<std::uint64_t>(ch) : 0;
    r.flops = 5.0 * static_cast<double>(c.inputs[0]->perSample());
    return r;
}

// LayerNorm and RMSNorm normalize the last dimension; `param` names its size, `weights` is how
// many learned vectors of that size the node has when affine.
InferFn lastDimNorm(const char* param, const char* affine, std::uint64_t weights, double flopsPerElement)
{
    return [=](const InferContext& c) -> Result<InferResult> {
        if (auto ok = requireFloat(c, 0); !ok) return ok.error();
        if (auto ok = requireMinRank(c, 0, 2, "[B, ..., features]"); !ok) return ok.error();
        const auto& in = *c.inputs[0];
        if (auto ok = requireParamMatches(c, 0, in.rank() - 1, param); !ok) return ok.error();
        InferResult r;
        r.outputs.push_back(in);
        r.params = c.params.b(affine) ? weights * static_cast<std::uint64_t>(c.params.i(param)) : 0;
        r.flops = flopsPerElement * static_cast<double>(in.perSample());
        return r;
    };
}

}  // namespace

void addNormNodes(NodeRegistry& r)
{
    mustAdd(r, NodeType{
        .id = "node.batchnorm2d",
        .category = "Normalization",
        .displayName = "BatchNorm2d",
        .nameStem = "bn",
        .description = "Normalizes each channel over the batch while training and keeps running averages for "
                       "evaluation.",
        .inputs = {input("in", "[B, C, H, W]")},
        .outputs = {output("out", "[B, C, H, W]")},
        .params = {intParam("num_features", 16, 1, 1 << 20, "C: channels of the input"), epsParam(1e-5),
                   floatParam("momentum", 0.1, 0.0, 1.0, "weight of each batch in the running averages"),
                   boolParam("affine", true, "learned scale (weight) and shift (bias) per channel")},
        .infer = inferBatchNorm,
    });

    mustAdd(r, NodeType{
        .id = "node.groupnorm",
        .category = "Normalization",
        .displayName = "GroupNorm",
        .nameStem = "gn",
        .description = "Normalizes groups of channels within each sample; independent of the batch size.",
        .inputs = {input("in", "[B, C, ...]")},
        .outputs = {output("out", "[B, C, ...]")},
        .params = {intParam("num_groups", 8, 1, 1 << 20, "groups the channels are split into"),
                   intParam("num_channels", 16, 1, 1 << 20, "C: channels of the input"), epsParam(1e-5),
                   boolParam("affine", true, "learned scale (weight) and shift (bias) per channel")},
        .infer = inferGroupNorm,
    });

    mustAdd(r, NodeType{
        .id = "node.layernorm",
        .category = "Normalization",
        .displayName = "LayerNorm",
        .nameStem = "ln",
        .description = "Normalizes the last dimension of every vector to zero mean and unit variance.",
        .inputs = {input("in", "[B, ..., normalized_shape]")},
        .outputs = {output("out", "[B, ..., normalized_shape]")},
        .params = {intParam("normalized_shape", 64, 1, 1 << 24, "size of the last dimension"), epsParam(1e-5),
                   boolParam("elementwise_affine", true, "learned scale (weight) and shift (bias)")},
        .infer = lastDimNorm("normalized_shape", "elementwise_affine", 2, 5.0),
    });

    mustAdd(r, NodeType{
        .id = "node.rmsnorm",
        .category = "Normalization",
        .displayName = "RMSNorm",
        .nameStem = "norm",
        .description = "Divides every vector by its root mean square (no mean subtraction), as Llama does.",
        .inputs = {input("in", "[B, ..., dim]")},
        .outputs = {output("out", "[B, ..., dim]")},
        .params = {intParam("dim", 64, 1, 1 << 24, "size of the last dimension"), epsParam(1e-5),
                   boolParam("elementwise_affine", true, "learned scale (weight)")},
        .infer = lastDimNorm("dim", "elementwise_affine", 1, 4.0),
    });

    mustAdd(r, NodeType{
        .id = "node.dropout",
        .category = "Regularization",
        .displayName = "Dropout",
        .nameStem = "dropout",
        .description = "While training, zeroes each value with probability p and scales the rest by 1/(1-p); "
                       "passes values through unchanged in evaluation.",
        .inputs = {input("in")},
        .outputs = {output("out")},
        .params = {floatParam("p", 0.5, 0.0, 1.0, "probability of zeroing a value")},
        .infer = elementwise(1.0),
    });
}

}  // namespace kiln::graph::ops
