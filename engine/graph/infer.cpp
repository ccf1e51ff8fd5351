// Whole-graph shape inference: checks the structure (ids, names, types, ports, loops,
// unconnected inputs), then runs every node type's inference in topological order. A node whose
// own check fails is an Error; everything downstream of it is Unknown, so the editor paints the
// place to fix in red and leaves the rest grey.
#include "graph/ops_common.h"
#include "kiln/graph_infer.h"

#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <queue>
#include <set>

namespace kiln::graph {

const NodeInfo* GraphInfo::node(NodeId id) const
{
    auto it = nodes.find(id);
    return it == nodes.end() ? nullptr : &it->second;
}

namespace {

struct Inference {
    const Graph& g;
    const NodeRegistry& registry;
    GraphInfo info;
    std::size_t n = 0;
    std::map<NodeId, std::size_t> index;
    std::vector<const NodeType*> types;
    std::vector<std::optional<Error>> problems;     // found before shapes: names, types, ports
    std::vector<std::vector<int>> feeds;            // per node, per input port: the edge feeding it, or -1
    std::vector<std::vector<std::size_t>> succ;     // structure for the order and loops
    std::vector<bool> cyclic;

    Inference(const Graph& graph, const NodeRegistry& r) : g(graph), registry(r), n(graph.nodes.size()) {}

    void note(std::size_t i, std::string what, std::string hint = {})
    {
        if (!problems[i]) problems[i] = makeError(std::move(what), g.nodes[i].name, std::move(hint));
    }

    NodeInfo& infoOf(std::size_t i) { return info.nodes[g.nodes[i].id]; }

    void checkNodes()
    {
        types.assign(n, nullptr);
        problems.assign(n, std::nullopt);
        feeds.assign(n, {});
        succ.assign(n, {});
        std::set<std::string, std::less<>> names;
        for (std::size_t i = 0; i < n; ++i) {
            const Node& node = g.nodes[i];
            info.nodes[node.id];
            if (!index.emplace(node.id, i).second || node.id == kNoNode)
                note(i, "its id " + std::to_string(node.id) + " is not unique", "this is a bug in the editor");
            if (!isValidNodeName(node.name))
                note(i, "the name '" + node.name + "' is not usable as a parameter name",
                     "use letters, digits and _, not starting with a digit");
            else if (!names.insert(node.name).second)
                note(i, "another node is also named '" + node.name + "'", "give every node its own name");
            types[i] = registry.find(node.type);
            if (!types[i]) {
                note(i, "unknown node type '" + node.type + "'", "it may come from a plugin that is not installed");
                continue;
            }
            feeds[i].assign(types[i]->inputs.size(), -1);
            if (auto ok = checkParams(node, *types[i]); !ok) note(i, ok.error().what, ok.error().hint);
        }
    }

    void checkEdges()
    {
        for (std::size_t k = 0; k < g.edges.size(); ++k) {
            const Edge& e = g.edges[k];
            auto from = index.find(e.from.node), to = index.find(e.to.node);
            if (to == index.end()) continue;  // nothing to paint red; the edge just has no shape
            const std::size_t t = to->second;
            if (from == index.end()) {
                note(t, "input '" + e.to.port + "' comes from a node that is not in the graph", "reconnect it");
                continue;
            }
            const std::size_t f = from->second;
            succ[f].push_back(t);
            if (!types[f] || !types[t]) continue;
            if (types[f]->outputIndex(e.from.port) < 0) {
                note(t, "is fed from output '" + e.from.port + "' of " + g.nodes[f].name + ", which " +
                            types[f]->displayName + " does not have", "reconnect it");
                continue;
            }
            const int in = types[t]->inputIndex(e.to.port);
            if (in < 0) {
                note(t, types[t]->displayName + " has no input '" + e.to.port + "'", "reconnect it");
                continue;
            }
            int& slot = feeds[t][static_cast<std::size_t>(in)];
            if (slot >= 0) note(t, "input '" + e.to.port + "' has two connections", "remove one of them");
            else slot = static_cast<int>(k);
        }
    }

    // Kahn's algorithm; ties go to the node that comes first in the file, so the order (and with
    // it the compiled module's parameter order) is the same every time.
    void order()
    {
        std::vector<std::size_t> indegree(n, 0);
        for (std::size_t f = 0; f < n; ++f)
            for (auto t : succ[f]) ++indegree[t];
        std::priority_queue<std::size_t, std::vector<std::size_t>, std::greater<>> ready;
        for (std::size_t i = 0; i < n; ++i)
            if (indegree[i] == 0) ready.push(i);
        std::vector<bool> placed(n, false);
        while (!ready.empty()) {
            const auto i = ready.top();
            ready.pop();
            placed[i] = true;
            info.order.push_back(g.nodes[i].id);
            for (auto t : succ[i])
                if (--indegree[t] == 0) ready.push(t);
        }
        cyclic.assign(n, false);
        for (std::size_t i = 0; i < n; ++i)
            if (!placed[i]) markLoop(i, placed);
    }

    // A node left out of the order is on a loop or downstream of one. For one on a loop, name the
    // loop so a person can find the connection to remove.
    void markLoop(std::size_t start, const std::vector<bool>& placed)
    {
        std::vector<long> parent(n, -1);
        std::deque<std::size_t> queue{start};
        std::vector<bool> seen(n, false);
        while (!queue.empty()) {
            const auto at = queue.front();
            queue.pop_front();
            for (auto t : succ[at]) {
                if (placed[t]) continue;
                if (t == start) {
                    std::vector<std::string> path{g.nodes[start].name};
                    for (long p = static_cast<long>(at); p >= 0 && static_cast<std::size_t>(p) != start;
                         p = parent[static_cast<std::size_t>(p)])
                        path.insert(path.begin() + 1, g.nodes[static_cast<std::size_t>(p)].name);
                    std::string loop;
                    for (const auto& s : path) loop += s + " → ";
                    cyclic[start] = true;
                    NodeInfo& ni = infoOf(start);
                    ni.status = NodeStatus::Error;
                    ni.error = makeError("is part of a loop: " + loop + g.nodes[start].name, g.nodes[start].name,
                                         "remove one of these connections; a network flows one way");
                    return;
                }
                if (!seen[t]) {
                    seen[t] = true;
                    parent[t] = static_cast<long>(at);
                    queue.push_back(t);
                }
            }
        }
    }

    void inferNode(std::size_t i)
    {
        const Node& node = g.nodes[i];
        NodeInfo& ni = infoOf(i);
        auto failWith = [&](Error e) {
            e.where = node.name;
            ni.status = NodeStatus::Error;
            ni.error = std::move(e);
        };
        if (problems[i]) return failWith(*problems[i]);
        const NodeType& type = *types[i];
        InferContext ctx{node, type, ParamReader(node, type), {}, {}, {}};
        bool upstreamUnknown = false;
        for (std::size_t p = 0; p < type.inputs.size(); ++p) {
            const int k = feeds[i][p];
            if (k < 0) {
                if (!type.inputs[p].optional)
                    return failWith(makeError(type.inputs.size() == 1
                                                  ? "its input is not connected"
                                                  : "input '" + type.inputs[p].name + "' is not connected",
                                              {}, "connect an output to it"));
                ctx.inputs.push_back(nullptr);
                ctx.sources.emplace_back();
                ctx.sourceNames.emplace_back();
                continue;
            }
            const Edge& e = g.edges[static_cast<std::size_t>(k)];
            const std::size_t f = index.at(e.from.node);
            const NodeInfo& src = infoOf(f);
            if (src.status != NodeStatus::Ok) {
                upstreamUnknown = true;
                ctx.inputs.push_back(nullptr);
            } else {
                ctx.inputs.push_back(&src.outputs[static_cast<std::size_t>(types[f]->outputIndex(e.from.port))]);
            }
            ctx.sources.push_back(types[f]->displayName);
            ctx.sourceNames.push_back(g.nodes[f].name);
        }
        if (upstreamUnknown) return;  // stays Unknown
        Result<InferResult> r = makeError("no result");
        try {
            r = type.infer(ctx);
        } catch (const std::exception& ex) {
            r = makeError(std::string("shape inference failed: ") + ex.what(), {}, "this is a bug in the node type");
        }
        if (!r) return failWith(r.error());
        if (r->outputs.size() != type.outputs.size())
            return failWith(makeError("shape inference gave the wrong number of outputs", {},
                                      "this is a bug in the node type"));
        for (const Shape& s : r->outputs)
            if (ops::elements(s) > ops::kMaxElements)
                return failWith(makeError("its output " + formatShape(s) + " would hold more values per sample than "
                                          "any machine can", {}, "use smaller sizes"));
        if (type.role == NodeRole::Loss) {
            if (info.loss)
                return failWith(makeError("the graph already has a loss, '" + g.node(info.loss->node)->name + "'",
                                          {}, "keep one loss node: Kiln trains one objective"));
            const Shape& pred = *ctx.inputs[0];
            info.loss = LossInfo{node.id, type.loss, ctx.params.s("target"), pred, ops::lossTarget(type.loss, pred)};
        }
        ni.status = NodeStatus::Ok;
        ni.outputs = std::move(r->outputs);
        ni.params = r->params;
        ni.flops = r->flops;
        info.totalParams += ni.params;
        info.totalFlops += ni.flops;
    }

    GraphInfo run()
    {
        checkNodes();
        checkEdges();
        order();
        for (std::size_t i = 0; i < n; ++i)
            if (cyclic[i] && !info.firstError) {
                info.firstError = infoOf(i).error;
                info.firstErrorNode = g.nodes[i].id;
            }
        for (NodeId id : info.order) {
            const std::size_t i = index.at(id);
            inferNode(i);
            const NodeInfo& ni = infoOf(i);
            if (ni.status == NodeStatus::Error && !info.firstError) {
                info.firstError = ni.error;
                info.firstErrorNode = id;
            }
        }
        info.edges.resize(g.edges.size());
        for (std::size_t k = 0; k < g.edges.size(); ++k) {
            const Edge& e = g.edges[k];
            auto from = index.find(e.from.node);
            if (from == index.end() || !types[from->second]) continue;
            const NodeInfo& src = infoOf(from->second);
            const int out = types[from->second]->outputIndex(e.from.port);
            if (src.status == NodeStatus::Ok && out >= 0) info.edges[k] = src.outputs[static_cast<std::size_t>(out)];
        }
        return std::move(info);
    }
};

}  // namespace

GraphInfo inferShapes(const Graph& graph, const NodeRegistry& registry)
{
    return Inference(graph, registry).run();
}

}  // namespace kiln::graph
