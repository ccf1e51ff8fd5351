// Multi-head self-attention as one node, the way a Llama block draws it: q, k, v and o
// projections inside, rotary position encoding and the causal mask as switches.
#include "graph/ops_common.h"

namespace kiln::graph::ops {

namespace {

Result<InferResult> inferAttention(const InferContext& c)
{
    if (auto ok = requireFloat(c, 0); !ok) return ok.error();
    if (auto ok = requireRank(c, 0, 3, "[B, T, dim]", "feed it token vectors, e.g. from an Embedding"); !ok)
        return ok.error();
    if (auto ok = requireParamMatches(c, 0, 2, "dim"); !ok) return ok.error();
    if (auto ok = requireKnown(c, 0, 1); !ok) return ok.error();
    const auto dim = c.params.i("dim"), heads = c.params.i("heads");
    if (dim % heads != 0)
        return fail("dim (" + std::to_string(dim) + ") must be divisible by heads (" + std::to_string(heads) + ")",
                    "choose heads that divide " + std::to_string(dim));
    const auto headDim = dim / heads;
    if (c.params.b("rope") && headDim % 2 != 0)
        return fail("rotary encoding rotates pairs, so the head size dim/heads (" + std::to_string(headDim) +
                        ") must be even",
                    "change heads or dim, or turn rope off");
    const auto& in = *c.inputs[0];
    const double t = static_cast<double>(in.dims[1].size), d = static_cast<double>(dim);
    InferResult r;
    r.outputs.push_back(withDims(in, in.dims));
    r.params = static_cast<std::uint64_t>(4 * dim * dim + (c.params.b("bias") ? 4 * dim : 0));
    // Four projections, then QKᵀ and the weighted sum of V (each 2·T·T·dim), then the softmax.
    r.flops = 8.0 * t * d * d + 4.0 * t * t * d + 5.0 * static_cast<double>(heads) * t * t;
    return r;
}

}  // namespace

void addAttentionNodes(NodeRegistry& r)
{
    mustAdd(r, NodeType{
        .id = "node.attention",
        .category = "Attention",
        .displayName = "Self-attention",
        .nameStem = "attn",
        .description = "Multi-head self-attention softmax(QKᵀ/√d + mask)V with learned q, k, v and o projections. "
                       "rope rotates q and k by position (rotary encoding, half-split pairs as in Llama); causal "
                       "lets each position see only itself and earlier ones.",
        .inputs = {input("in", "[B, T, dim]")},
        .outputs = {output("out", "[B, T, dim]")},
        .params = {intParam("dim", 64, 1, 1 << 20, "model width: size of the input's last dimension"),
                   intParam("heads", 4, 1, 4096, "attention heads; dim/heads is each head's size"),
                   boolParam("rope", true, "rotary position encoding on q and k"),
                   boolParam("causal", true, "mask out later positions (for language models)"),
                   boolParam("bias", false, "learned biases in the projections"),
                   floatParam("rope_base", 10000.0, 1.0, 1e9, "base of the rotary frequencies")},
        .infer = inferAttention,
    });
}

}  // namespace kiln::graph::ops
