#include "graph/ops_common.h"

#include <cstdio>
#include <cstdlib>

namespace kiln::graph::ops {

void mustAdd(NodeRegistry& r, NodeType t)
{
    const std::string id = t.id;
    if (auto ok = r.add(std::move(t)); !ok) {
        // A broken built-in table is a programming error that every test run would show.
        std::fprintf(stderr, "kiln: built-in node type %s: %s\n", id.c_str(), ok.error().message().c_str());
        std::abort();
    }
}

ParamSpec intParam(std::string name, std::int64_t def, std::optional<double> min, std::optional<double> max,
                   std::string help)
{
    return ParamSpec{std::move(name), ParamType::Int, def, min, max, {}, std::move(help)};
}

ParamSpec floatParam(std::string name, double def, std::optional<double> min, std::optional<double> max,
                     std::string help)
{
    return ParamSpec{std::move(name), ParamType::Float, def, min, max, {}, std::move(help)};
}

ParamSpec boolParam(std::string name, bool def, std::string help)
{
    return ParamSpec{std::move(name), ParamType::Bool, def, {}, {}, {}, std::move(help)};
}

ParamSpec choiceParam(std::string name, std::string def, std::vector<std::string> choices, std::string help)
{
    return ParamSpec{std::move(name), ParamType::String, std::move(def), {}, {}, std::move(choices), std::move(help)};
}

ParamSpec listParam(std::string name, IntList def, std::optional<double> min, std::optional<double> max,
                    std::string help)
{
    return ParamSpec{std::move(name), ParamType::IntList, std::move(def), min, max, {}, std::move(help)};
}

PortSpec input(std::string name, std::string help, bool optional)
{
    return PortSpec{std::move(name), PortKind::Tensor, optional, std::move(help)};
}

PortSpec output(std::string name, std::string help)
{
    return PortSpec{std::move(name), PortKind::Tensor, false, std::move(help)};
}

Error fail(std::string what, std::string hint) { return makeError(std::move(what), {}, std::move(hint)); }

std::string fromSource(const InferContext& c, std::size_t port)
{
    if (port >= c.sources.size() || c.sources[port].empty()) return {};
    return " from the " + c.sources[port] + " before it";
}

Result<void> requireRank(const InferContext& c, std::size_t port, std::size_t rank, const char* layout,
                         const char* hint)
{
    const Shape& s = *c.inputs[port];
    if (s.rank() == rank) return success();
    return fail(c.type.displayName + " expects a " + std::to_string(rank) + "-D input " + layout + " but gets " +
                    formatShape(s) + fromSource(c, port),
                hint);
}

Result<void> requireMinRank(const InferContext& c, std::size_t port, std::size_t rank, const char* layout)
{
    const Shape& s = *c.inputs[port];
    if (s.rank() >= rank) return success();
    return fail(c.type.displayName + " expects an input with at least " + std::to_string(rank) + " dimensions " +
                    layout + " but gets " + formatShape(s) + fromSource(c, port),
                "feed it a tensor with more dimensions");
}

Result<void> requireFloat(const InferContext& c, std::size_t port)
{
    if (c.inputs[port]->element == ElementType::Float) return success();
    return fail(c.type.displayName + " needs floating-point values but gets token ids " +
                    formatShape(*c.inputs[port]) + fromSource(c, port),
                "put an Embedding between the tokens and this node");
}

Result<void> requireKnown(const InferContext& c, std::size_t port, std::size_t dim)
{
    const Shape& s = *c.inputs[port];
    if (s.dims[dim].known()) return success();
    return fail(c.type.displayName + " needs dimension " + std::to_string(dim) + " of " + formatShape(s) +
                    " to be a fixed size, but it depends on the batch size B",
                "keep the batch in its own dimension (Flatten from dimension 1)");
}

Result<void> requireParamMatches(const InferContext& c, std::size_t port, std::size_t dim, const char* param)
{
    if (auto ok = requireKnown(c, port, dim); !ok) return ok;
    const Shape& s = *c.inputs[port];
    const Dim& d = s.dims[dim];
    const std::int64_t set = c.params.i(param);
    if (d.size == set) return success();
    std::string why = d.origin.empty()
        ? (dim + 1 == s.rank() && s.rank() > 1 ? "the last dimension" : "dimension " + std::to_string(dim)) +
              " of " + formatShape(s)
        : d.origin;
    return fail(c.type.displayName + " expects " + param + " = " + std::to_string(d.size) + " (" + why +
                    fromSource(c, port) + ") but is set to " + std::to_string(set),
                std::string("set ") + param + " to " + std::to_string(d.size));
}

std::optional<std::size_t> normalizeDim(std::int64_t dim, std::size_t rank)
{
    const auto r = static_cast<std::int64_t>(rank);
    if (dim < -r || dim >= r) return std::nullopt;
    return static_cast<std::size_t>(dim < 0 ? dim + r : dim);
}

Shape withDims(const Shape& like, std::vector<Dim> dims)
{
    Shape s;
    s.dims = std::move(dims);
    s.element = like.element;
    s.vocab = like.vocab;
    return s;
}

double elements(const Shape& s)
{
    double n = 1;
    for (const auto& d : s.dims) n *= static_cast<double>(d.size);
    return n;
}

InferFn elementwise(double flopsPerElement)
{
    return [flopsPerElement](const InferContext& c) -> Result<InferResult> {
        if (auto ok = requireFloat(c, 0); !ok) return ok.error();
        InferResult r;
        r.outputs.push_back(withDims(*c.inputs[0], c.inputs[0]->dims));
        r.flops = flopsPerElement * static_cast<double>(c.inputs[0]->perSample());
        return r;
    };
}

}  // namespace kiln::graph::ops
