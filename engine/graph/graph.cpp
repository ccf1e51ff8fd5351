// The graph IR's own operations: ids, names, edges, loops. Nothing here knows node types.
#include "kiln/graph.h"
#include "kiln/graph_shape.h"

#include <algorithm>
#include <set>
#include <sstream>
#include <tuple>

namespace kiln::graph {

std::string formatParam(const ParamValue& v)
{
    struct Visitor {
        std::string operator()(std::int64_t x) const { return std::to_string(x); }
        std::string operator()(double x) const
        {
            std::ostringstream os;
            os << x;
            return os.str();
        }
        std::string operator()(bool x) const { return x ? "true" : "false"; }
        std::string operator()(const std::string& x) const { return x; }
        std::string operator()(const IntList& x) const
        {
            std::string out = "[";
            for (std::size_t i = 0; i < x.size(); ++i) out += (i ? ", " : "") + std::to_string(x[i]);
            return out + "]";
        }
    };
    return std::visit(Visitor{}, v);
}

NodeId Graph::addNode(Node n)
{
    if (n.id == kNoNode || node(n.id)) n.id = nextId_;
    nextId_ = std::max(nextId_, n.id + 1);
    nodes.push_back(std::move(n));
    return nodes.back().id;
}

bool Graph::removeNode(NodeId id)
{
    auto it = std::find_if(nodes.begin(), nodes.end(), [&](const Node& n) { return n.id == id; });
    if (it == nodes.end()) return false;
    nodes.erase(it);
    std::erase_if(edges, [&](const Edge& e) { return e.from.node == id || e.to.node == id; });
    return true;
}

Node* Graph::node(NodeId id)
{
    for (auto& n : nodes)
        if (n.id == id) return &n;
    return nullptr;
}

const Node* Graph::node(NodeId id) const { return const_cast<Graph*>(this)->node(id); }

Node* Graph::nodeByName(std::string_view name)
{
    for (auto& n : nodes)
        if (n.name == name) return &n;
    return nullptr;
}

const Node* Graph::nodeByName(std::string_view name) const { return const_cast<Graph*>(this)->nodeByName(name); }

void Graph::connect(Edge edge)
{
    disconnect(edge.to);
    edges.push_back(std::move(edge));
}

bool Graph::disconnect(const PortRef& input)
{
    return std::erase_if(edges, [&](const Edge& e) { return e.to == input; }) > 0;
}

const Edge* Graph::edgeInto(const PortRef& input) const
{
    for (const auto& e : edges)
        if (e.to == input) return &e;
    return nullptr;
}

std::string Graph::uniqueName(std::string_view stem) const
{
    std::string base(stem.empty() ? "node" : stem);
    for (int i = 1;; ++i) {
        std::string candidate = base + std::to_string(i);
        if (!nodeByName(candidate)) return candidate;
    }
}

bool Graph::createsCycle(NodeId from, NodeId to) const
{
    if (from == to) return true;
    // Does `to` already reach `from`? Then from -> to closes the loop.
    std::vector<NodeId> stack{to};
    std::set<NodeId> seen{to};
    while (!stack.empty()) {
        const NodeId at = stack.back();
        stack.pop_back();
        for (const auto& e : edges) {
            if (e.from.node != at) continue;
            if (e.to.node == from) return true;
            if (seen.insert(e.to.node).second) stack.push_back(e.to.node);
        }
    }
    return false;
}

bool Graph::operator==(const Graph& other) const
{
    return description == other.description && nodes == other.nodes && edges == other.edges;
}

bool isValidNodeName(std::string_view name)
{
    if (name.empty() || name.size() > 64) return false;
    auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
    if (!alpha(name[0])) return false;
    return std::all_of(name.begin(), name.end(), [&](char c) { return alpha(c) || (c >= '0' && c <= '9'); });
}

bool sameNetwork(const Graph& a, const Graph& b)
{
    if (a.nodes.size() != b.nodes.size() || a.edges.size() != b.edges.size()) return false;
    for (const auto& na : a.nodes) {
        const Node* nb = b.nodeByName(na.name);
        if (!nb || nb->type != na.type || nb->params != na.params) return false;
    }
    // Edges compared by node names, as sorted tuples.
    auto named = [](const Graph& g) {
        std::vector<std::tuple<std::string, std::string, std::string, std::string>> out;
        for (const auto& e : g.edges) {
            const Node* f = g.node(e.from.node);
            const Node* t = g.node(e.to.node);
            out.emplace_back(f ? f->name : "?", e.from.port, t ? t->name : "?", e.to.port);
        }
        std::sort(out.begin(), out.end());
        return out;
    };
    return named(a) == named(b);
}

std::int64_t Shape::perSample() const
{
    std::int64_t n = 1;
    for (const auto& d : dims) n *= d.size;
    return n;
}

std::vector<std::int64_t> Shape::concrete(std::int64_t batch) const
{
    std::vector<std::int64_t> out;
    out.reserve(dims.size());
    for (const auto& d : dims) out.push_back(d.batch ? d.size * batch : d.size);
    return out;
}

std::string formatDim(const Dim& d)
{
    if (!d.batch) return std::to_string(d.size);
    return d.size == 1 ? "B" : "B×" + std::to_string(d.size);
}

std::string formatShape(const Shape& s)
{
    std::string out = "[";
    for (std::size_t i = 0; i < s.dims.size(); ++i) out += (i ? ", " : "") + formatDim(s.dims[i]);
    return out + "]";
}

}  // namespace kiln::graph
