// Linear and Embedding: the layers that act on the last dimension, whatever comes before it
// ([B, F], [B, T, D], ...), as torch's do.
#include "graph/ops_common.h"

namespace kiln::graph::ops {

namespace {

Result<InferResult> inferLinear(const InferContext& c)
{
    if (auto ok = requireFloat(c, 0); !ok) return ok.error();
    if (auto ok = requireMinRank(c, 0, 2, "[B, ..., in_features]"); !ok) return ok.error();
    const auto& in = *c.inputs[0];
    if (auto ok = requireParamMatches(c, 0, in.rank() - 1, "in_features"); !ok) return ok.error();
    const auto fin = c.params.i("in_features"), fout = c.params.i("out_features");
    std::vector<Dim> dims(in.dims.begin(), in.dims.end() - 1);
    dims.push_back(Dim::of(fout));
    InferResult r;
    r.outputs.push_back(withDims(in, std::move(dims)));
    r.params = static_cast<std::uint64_t>(fin * fout + (c.params.b("bias") ? fout : 0));
    const double rows = static_cast<double>(in.perSample() / fin);
    r.flops = 2.0 * rows * static_cast<double>(fin) * static_cast<double>(fout);
    return r;
}

Result<InferResult> inferEmbedding(const InferContext& c)
{
    const auto& in = *c.inputs[0];
    if (in.element != ElementType::Int64)
        return fail("Embedding looks up token ids but gets float values " + formatShape(in) + fromSource(c, 0),
                    "feed it a Token input");
    const auto rows = c.params.i("num_embeddings"), dim = c.params.i("embedding_dim");
    if (in.vocab > rows)
        return fail("Embedding has " + std::to_string(rows) + " rows but the token ids go up to " +
                        std::to_string(in.vocab - 1) + " (vocab " + std::to_string(in.vocab) + fromSource(c, 0) + ")",
                    "set num_embeddings to " + std::to_string(in.vocab));
    std::vector<Dim> dims = in.dims;
    dims.push_back(Dim::of(dim));
    InferResult r;
    r.outputs.push_back(Shape{std::move(dims)});
    r.params = static_cast<std::uint64_t>(rows * dim);
    return r;
}

}  // namespace

void addLinearNodes(NodeRegistry& r)
{
    mustAdd(r, NodeType{
        .id = "node.linear",
        .category = "Linear",
        .displayName = "Linear",
        .nameStem = "fc",
        .description = "Fully connected layer y = x Wᵀ + b over the last dimension.",
        .inputs = {input("in", "[B, ..., in_features]")},
        .outputs = {output("out", "[B, ..., out_features]")},
        .params = {intParam("in_features", 128, 1, 1 << 24, "size of the input's last dimension"),
                   intParam("out_features", 64, 1, 1 << 24, "size of the output's last dimension"),
                   boolParam("bias", true, "add a learned bias")},
        .infer = inferLinear,
    });

    mustAdd(r, NodeType{
        .id = "node.embedding",
        .category = "Linear",
        .displayName = "Embedding",
        .nameStem = "embed",
        .description = "Looks up a learned vector of embedding_dim for every token id.",
        .inputs = {input("in", "token ids [B, T]")},
        .outputs = {output("out", "[B, T, embedding_dim]")},
        .params = {intParam("num_embeddings", 128, 1, 1e9, "rows: the number of distinct token ids"),
                   intParam("embedding_dim", 64, 1, 1 << 20, "size of each vector")},
        .infer = inferEmbedding,
    });
}

}  // namespace kiln::graph::ops
