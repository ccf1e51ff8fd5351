// Nodes that only move values around (Flatten, Reshape, Permute, Concat) and the two-input
// elementwise ops (Add for residual connections, Multiply for gating).
#include "graph/ops_common.h"

#include <algorithm>

namespace kiln::graph::ops {

namespace {

Result<InferResult> inferFlatten(const InferContext& c)
{
    const auto& in = *c.inputs[0];
    const auto start = normalizeDim(c.params.i("start_dim"), in.rank());
    const auto end = normalizeDim(c.params.i("end_dim"), in.rank());
    if (!start || !end || *start > *end)
        return fail("cannot flatten dimensions " + std::to_string(c.params.i("start_dim")) + " to " +
                        std::to_string(c.params.i("end_dim")) + " of " + formatShape(in),
                    "use start_dim 1 and end_dim -1 to keep the batch and flatten the rest");
    Dim merged = Dim::of(1);
    std::string origin;
    for (std::size_t i = *start; i <= *end; ++i) {
        merged.size *= in.dims[i].size;
        merged.batch = merged.batch || in.dims[i].batch;
        origin += (origin.empty() ? "" : "×") + formatDim(in.dims[i]);
    }
    if (*end > *start) merged.origin = origin;
    std::vector<Dim> dims(in.dims.begin(), in.dims.begin() + static_cast<std::ptrdiff_t>(*start));
    dims.push_back(merged);
    dims.insert(dims.end(), in.dims.begin() + static_cast<std::ptrdiff_t>(*end) + 1, in.dims.end());
    InferResult r;
    r.outputs.push_back(withDims(in, std::move(dims)));
    return r;
}

Result<InferResult> inferReshape(const InferContext& c)
{
    const auto& in = *c.inputs[0];
    const IntList& target = c.params.list("shape");
    if (in.rank() < 1) return fail("Reshape needs an input with a batch dimension");
    std::int64_t have = 1;
    for (std::size_t i = 1; i < in.rank(); ++i) {
        if (auto ok = requireKnown(c, 0, i); !ok) return ok.error();
        have *= in.dims[i].size;
    }
    double wanted = 1;  // in floating point: 64 sizes of 1e9 must not overflow
    int free = -1;
    for (std::size_t i = 0; i < target.size(); ++i) {
        if (target[i] == -1 && free < 0) free = static_cast<int>(i);
        else if (target[i] < 1)
            return fail("shape " + formatParam(target) + " may hold positive sizes and one -1",
                        "use -1 for at most one size that Kiln works out");
        else wanted *= static_cast<double>(target[i]);
    }
    const std::int64_t known = wanted > static_cast<double>(have) ? have + 1 : static_cast<std::int64_t>(wanted);
    std::vector<Dim> dims{in.dims[0]};
    for (auto n : target) dims.push_back(Dim::of(n));
    const std::string perSample = std::to_string(have) + " values per sample";
    if (free >= 0) {
        if (have % known != 0)
            return fail("Reshape cannot fit " + perSample + " " + formatShape(in) + " into " + formatParam(target),
                        "choose sizes whose product divides " + std::to_string(have));
        dims[static_cast<std::size_t>(free) + 1] = Dim::of(have / known);
    } else if (known != have) {
        return fail("Reshape to " + formatParam(target) + " holds " + formatParam(wanted) +
                        " values per sample but the input " + formatShape(in) + fromSource(c, 0) + " holds " +
                        std::to_string(have),
                    "choose sizes whose product is " + std::to_string(have) + ", or use -1 for one of them");
    }
    InferResult r;
    r.outputs.push_back(withDims(in, std::move(dims)));
    return r;
}

Result<InferResult> inferPermute(const InferContext& c)
{
    const auto& in = *c.inputs[0];
    const IntList& order = c.params.list("dims");
    std::vector<std::size_t> idx;
    for (auto d : order)
        if (auto n = normalizeDim(d, in.rank())) idx.push_back(*n);
    std::vector<std::size_t> sorted = idx;
    std::sort(sorted.begin(), sorted.end());
    bool isPermutation = order.size() == in.rank() && idx.size() == in.rank();
    for (std::size_t i = 0; isPermutation && i < sorted.size(); ++i) isPermutation = sorted[i] == i;
    if (!isPermutation)
        return fail("dims " + formatParam(order) + " is not an order of the " + std::to_string(in.rank()) +
                        " dimensions of " + formatShape(in),
                    "list every dimension 0.." + std::to_string(static_cast<int>(in.rank()) - 1) +
                        " once, counting the batch as 0");
    std::vector<Dim> dims;
    for (auto i : idx) dims.push_back(in.dims[i]);
    InferResult r;
    r.outputs.push_back(withDims(in, std::move(dims)));
    return r;
}

Result<InferResult> inferConcat(const InferContext& c)
{
    const Shape* first = c.inputs[0];
    const auto dim = normalizeDim(c.params.i("dim"), first->rank());
    if (!dim)
        return fail("dim " + std::to_string(c.params.i("dim")) + " is outside the input " + formatShape(*first),
                    "use 1 to join channels, -1 to join features");
    if (first->dims[*dim].batch)
        return fail("Concat cannot join along the batch dimension", "use dim 1 to join channels, -1 to join features");
    std::vector<Dim> dims = first->dims;
    dims[*dim].origin.clear();
    for (std::size_t p = 0; p < c.inputs.size(); ++p) {
        const Shape* s = c.inputs[p];
        if (!s) continue;
        const std::string port = c.type.inputs[p].name;
        bool same = s->rank() == first->rank() && s->element == first->element;
        for (std::size_t i = 0; same && i < s->rank(); ++i) same = i == *dim || s->dims[i] == first->dims[i];
        if (!same)
            return fail("Concat joins along dimension " + std::to_string(*dim) + " and needs every other dimension "
                            "equal, but input " + port + " is " + formatShape(*s) + " and input a is " +
                            formatShape(*first),
                        "make the inputs agree outside dimension " + std::to_string(*dim));
        if (auto ok = requireKnown(c, p, *dim); !ok) return ok.error();
        if (p > 0) dims[*dim].size += s->dims[*dim].size;
    }
    InferResult r;
    r.outputs.push_back(withDims(*first, std::move(dims)));
    return r;
}

// Add and Multiply broadcast as torch does: dimensions align from the right; each pair must be
// equal or one of them 1.
InferFn binary(const char* verb)
{
    return [verb](const InferContext& c) -> Result<InferResult> {
        const Shape& a = *c.inputs[0];
        const Shape& b = *c.inputs[1];
        if (a.element != b.element)
            return fail(c.type.displayName + " needs both inputs of one kind, but one holds token ids",
                        "put an Embedding after the token input");
        const std::size_t rank = std::max(a.rank(), b.rank());
        std::vector<Dim> dims(rank);
        for (std::size_t i = 0; i < rank; ++i) {
            const Dim* x = i < rank - a.rank() ? nullptr : &a.dims[i - (rank - a.rank())];
            const Dim* y = i < rank - b.rank() ? nullptr : &b.dims[i - (rank - b.rank())];
            if (!x || (y && *x == Dim::of(1))) dims[i] = *y;
            else if (!y || *y == Dim::of(1) || *x == *y) dims[i] = *x;
            else
                return fail(c.type.displayName + " needs inputs of the same shape, but input a " + formatShape(a) +
                                " from " + c.sourceNames[0] + " and input b " + formatShape(b) + " from " +
                                c.sourceNames[1] + " differ in dimension " + std::to_string(i) + " (" + formatDim(*x) + " vs " +
                                formatDim(*y) + ")",
                            std::string("make both branches produce the same shape before you ") + verb +
                                " them, e.g. a 1×1 Conv2d or a Linear on one of them");
            dims[i].origin.clear();
        }
        InferResult r;
        r.outputs.push_back(withDims(a, std::move(dims)));
        r.flops = elements(r.outputs[0]);
        return r;
    };
}

NodeType binaryNode(std::string id, std::string name, std::string stem, std::string description, const char* verb)
{
    return NodeType{
        .id = std::move(id),
        .category = "Math",
        .displayName = std::move(name),
        .nameStem = std::move(stem),
        .description = std::move(description),
        .inputs = {input("a"), input("b")},
        .outputs = {output("out")},
        .params = {},
        .infer = binary(verb),
    };
}

}  // namespace

void addTensorNodes(NodeRegistry& r)
{
    mustAdd(r, NodeType{
        .id = "node.flatten",
        .category = "Shape",
        .displayName = "Flatten",
        .nameStem = "flatten",
        .description = "Merges dimensions start_dim..end_dim into one; the default turns [B, C, H, W] into "
                       "[B, C·H·W] for a Linear.",
        .inputs = {input("in")},
        .outputs = {output("out")},
        .params = {intParam("start_dim", 1, -64, 63, "first dimension to merge (0 is the batch)"),
                   intParam("end_dim", -1, -64, 63, "last dimension to merge; -1 = the last")},
        .infer = inferFlatten,
    });

    mustAdd(r, NodeType{
        .id = "node.reshape",
        .category = "Shape",
        .displayName = "Reshape",
        .nameStem = "reshape",
        .description = "Gives each sample a new shape with the same number of values; the batch dimension is kept.",
        .inputs = {input("in")},
        .outputs = {output("out", "[B, ...shape]")},
        .params = {listParam("shape", {-1}, -1, 1e9,
                             "sizes after the batch dimension; one of them may be -1 (worked out)")},
        .infer = inferReshape,
    });

    mustAdd(r, NodeType{
        .id = "node.permute",
        .category = "Shape",
        .displayName = "Permute",
        .nameStem = "permute",
        .description = "Reorders dimensions, as torch.permute: dims lists every dimension once, the batch "
                       "included as 0.",
        .inputs = {input("in")},
        .outputs = {output("out")},
        .params = {listParam("dims", {0, 2, 1}, -64, 63, "the new order, e.g. [0, 2, 1] swaps the last two of three")},
        .infer = inferPermute,
    });

    mustAdd(r, NodeType{
        .id = "node.concat",
        .category = "Shape",
        .displayName = "Concat",
        .nameStem = "concat",
        .description = "Joins two to four tensors along one dimension (1: channels).",
        .inputs = {input("a"), input("b"), input("c", {}, true), input("d", {}, true)},
        .outputs = {output("out")},
        .params = {intParam("dim", 1, -64, 63, "the dimension to join along; the batch (0) cannot be joined")},
        .infer = inferConcat,
    });

    mustAdd(r, binaryNode("node.add", "Add", "add", "a + b, elementwise (residual connections).", "add"));
    mustAdd(r, binaryNode("node.multiply", "Multiply", "mul", "a · b, elementwise (gates, as in a SwiGLU MLP).",
                          "multiply"));
}

}  // namespace kiln::graph::ops
