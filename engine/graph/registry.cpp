// The node-type registry, parameter checks and the helpers the editor uses to add and connect
// nodes. The op families register from ops_*.cpp through ops_common.h.
#include "graph/ops_common.h"

#include <algorithm>
#include <cmath>

namespace kiln::graph {

namespace {

const char* typeName(ParamType t)
{
    switch (t) {
    case ParamType::Int: return "a whole number";
    case ParamType::Float: return "a number";
    case ParamType::Bool: return "true or false";
    case ParamType::String: return "text";
    case ParamType::IntList: return "a list of whole numbers";
    }
    return "?";
}

Result<void> checkRange(const ParamSpec& spec, double v, const std::string& label)
{
    if (std::isnan(v)) return makeError(label + " is not a number", {}, "enter a number");
    if (spec.min && v < *spec.min)
        return makeError(label + " is " + formatParam(v) + ", below the smallest allowed value",
                         {}, "use at least " + formatParam(*spec.min));
    if (spec.max && v > *spec.max)
        return makeError(label + " is " + formatParam(v) + ", above the largest allowed value",
                         {}, "use at most " + formatParam(*spec.max));
    return success();
}

}  // namespace

const ParamValue& ParamReader::value(std::string_view name) const
{
    if (auto it = node_.params.find(std::string(name)); it != node_.params.end()) return it->second;
    const ParamSpec* spec = type_.param(name);
    assert(spec && "a node type reads a parameter it does not declare");
    return spec->defaultValue;
}

std::int64_t ParamReader::i(std::string_view name) const { return std::get<std::int64_t>(value(name)); }

double ParamReader::f(std::string_view name) const
{
    const ParamValue& v = value(name);
    if (const auto* n = std::get_if<std::int64_t>(&v)) return static_cast<double>(*n);
    return std::get<double>(v);
}

bool ParamReader::b(std::string_view name) const { return std::get<bool>(value(name)); }
const std::string& ParamReader::s(std::string_view name) const { return std::get<std::string>(value(name)); }
const IntList& ParamReader::list(std::string_view name) const { return std::get<IntList>(value(name)); }

const ParamSpec* NodeType::param(std::string_view name) const
{
    for (const auto& p : params)
        if (p.name == name) return &p;
    return nullptr;
}

int NodeType::inputIndex(std::string_view port) const
{
    for (std::size_t i = 0; i < inputs.size(); ++i)
        if (inputs[i].name == port) return static_cast<int>(i);
    return -1;
}

int NodeType::outputIndex(std::string_view port) const
{
    for (std::size_t i = 0; i < outputs.size(); ++i)
        if (outputs[i].name == port) return static_cast<int>(i);
    return -1;
}

Result<void> NodeRegistry::add(NodeType type)
{
    if (type.id.rfind("node.", 0) != 0 || type.id.size() <= 5)
        return makeError("a node type id must start with \"node.\"", type.id);
    if (!type.infer) return makeError("the node type has no shape inference", type.id);
    if (types_.count(type.id)) return makeError("a node type with this id is already registered", type.id);
    for (const auto& p : type.params)
        if (auto ok = checkParam(p, p.defaultValue); !ok)
            return makeError("the default of parameter '" + p.name + "' does not fit its own schema: " +
                                 ok.error().what, type.id);
    std::string id = type.id;
    types_.emplace(std::move(id), std::move(type));
    return success();
}

const NodeType* NodeRegistry::find(std::string_view id) const
{
    auto it = types_.find(id);
    return it == types_.end() ? nullptr : &it->second;
}

std::vector<const NodeType*> NodeRegistry::all() const
{
    std::vector<const NodeType*> out;
    for (const auto& [id, t] : types_) out.push_back(&t);
    std::sort(out.begin(), out.end(), [](const NodeType* a, const NodeType* b) {
        return std::tie(a->category, a->displayName) < std::tie(b->category, b->displayName);
    });
    return out;
}

void registerBuiltinNodes(NodeRegistry& registry)
{
    ops::addInputNodes(registry);
    ops::addConvNodes(registry);
    ops::addLinearNodes(registry);
    ops::addAttentionNodes(registry);
    ops::addNormNodes(registry);
    ops::addActivationNodes(registry);
    ops::addTensorNodes(registry);
    ops::addLossNodes(registry);
}

const NodeRegistry& builtinNodes()
{
    static const NodeRegistry registry = [] {
        NodeRegistry r;
        registerBuiltinNodes(r);
        return r;
    }();
    return registry;
}

Result<void> checkParam(const ParamSpec& spec, const ParamValue& value)
{
    const std::string label = "'" + spec.name + "'";
    auto wrongType = [&] {
        return makeError(label + " must be " + typeName(spec.type), {},
                         "use a value like " + formatParam(spec.defaultValue));
    };
    switch (spec.type) {
    case ParamType::Int:
        if (const auto* v = std::get_if<std::int64_t>(&value)) return checkRange(spec, static_cast<double>(*v), label);
        return wrongType();
    case ParamType::Float:
        if (const auto* v = std::get_if<std::int64_t>(&value)) return checkRange(spec, static_cast<double>(*v), label);
        if (const auto* v = std::get_if<double>(&value)) {
            if (!std::isfinite(*v)) return makeError(label + " must be a finite number");
            return checkRange(spec, *v, label);
        }
        return wrongType();
    case ParamType::Bool:
        return std::holds_alternative<bool>(value) ? success() : wrongType();
    case ParamType::String: {
        const auto* v = std::get_if<std::string>(&value);
        if (!v) return wrongType();
        if (!spec.choices.empty() && std::find(spec.choices.begin(), spec.choices.end(), *v) == spec.choices.end()) {
            std::string list;
            for (const auto& c : spec.choices) list += (list.empty() ? "" : ", ") + c;
            return makeError(label + " is '" + *v + "', which is not one of its choices", {}, "choose one of " + list);
        }
        return success();
    }
    case ParamType::IntList: {
        const auto* v = std::get_if<IntList>(&value);
        if (!v) return wrongType();
        for (auto x : *v)
            if (auto ok = checkRange(spec, static_cast<double>(x), "an element of " + label); !ok) return ok;
        return success();
    }
    }
    return wrongType();
}

Result<void> checkParams(const Node& node, const NodeType& type)
{
    for (const auto& [name, value] : node.params) {
        const ParamSpec* spec = type.param(name);
        if (!spec)
            return makeError(type.displayName + " has no parameter '" + name + "'", node.name,
                             "remove it; the parameters are listed in the inspector");
        if (auto ok = checkParam(*spec, value); !ok) {
            Error e = ok.error();
            e.where = node.name;
            return e;
        }
    }
    return success();
}

Result<NodeId> addNodeOfType(Graph& graph, const NodeRegistry& registry, std::string_view typeId, float x, float y)
{
    const NodeType* type = registry.find(typeId);
    if (!type) return makeError("unknown node type '" + std::string(typeId) + "'");
    Node n;
    n.type = type->id;
    n.name = graph.uniqueName(type->nameStem);
    for (const auto& p : type->params) n.params.emplace(p.name, p.defaultValue);
    n.x = x;
    n.y = y;
    return graph.addNode(std::move(n));
}

Result<void> canConnect(const Graph& graph, const NodeRegistry& registry, const Edge& edge)
{
    const Node* from = graph.node(edge.from.node);
    const Node* to = graph.node(edge.to.node);
    if (!from || !to) return makeError("the connection names a node that is not in the graph");
    const NodeType* ft = registry.find(from->type);
    const NodeType* tt = registry.find(to->type);
    if (!ft || !tt) return makeError("the connection touches a node of an unknown type", !ft ? from->name : to->name);
    const int out = ft->outputIndex(edge.from.port);
    const int in = tt->inputIndex(edge.to.port);
    if (out < 0) return makeError(ft->displayName + " has no output '" + edge.from.port + "'", from->name);
    if (in < 0) return makeError(tt->displayName + " has no input '" + edge.to.port + "'", to->name);
    if (ft->outputs[static_cast<std::size_t>(out)].kind != tt->inputs[static_cast<std::size_t>(in)].kind)
        return makeError("these ports carry different kinds of data", to->name);
    if (graph.createsCycle(from->id, to->id))
        return makeError("connecting " + from->name + " to " + to->name + " would make a loop", to->name,
                         "a network flows one way; connect an earlier node instead");
    return success();
}

}  // namespace kiln::graph
