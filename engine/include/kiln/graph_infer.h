// Shape inference over a whole graph: the editor calls it after every edit to draw shapes on
// edges, parameter counts on nodes, totals in the status bar, and the first failing node in red.
// It never throws and never stops at the first problem; problems are values on the nodes.
#pragma once

#include "kiln/graph_registry.h"

#include <map>
#include <optional>
#include <vector>

namespace kiln::graph {

enum class NodeStatus {
    Ok,       // shapes known
    Error,    // this node is where shapes fail (see error)
    Unknown,  // an upstream node failed or is missing, so nothing is known here
};

struct NodeInfo {
    NodeStatus status = NodeStatus::Unknown;
    std::vector<Shape> outputs;  // per output port, when Ok
    std::uint64_t params = 0;
    double flops = 0;            // per sample
    std::optional<Error> error;  // when Error; where = the node's name
};

struct LossInfo {
    NodeId node = kNoNode;
    LossKind kind = LossKind::None;
    std::string targetName;  // the dataset field the loss compares against ("labels")
    Shape prediction;        // what the graph outputs
    Shape target;            // what the target must look like (Int64 class ids for CrossEntropy)
};

struct GraphInfo {
    std::map<NodeId, NodeInfo> nodes;           // every node of the graph
    std::vector<std::optional<Shape>> edges;    // parallel to Graph::edges; empty when unknown
    std::vector<NodeId> order;                  // topological order (nodes on cycles left out)
    std::uint64_t totalParams = 0;              // over the nodes that are Ok
    double totalFlops = 0;                      // per sample, forward pass
    std::optional<Error> firstError;            // cycles first, then in topological order
    NodeId firstErrorNode = kNoNode;
    std::optional<LossInfo> loss;               // when the graph has a loss node that is Ok

    bool ok() const { return !firstError.has_value(); }
    const NodeInfo* node(NodeId id) const;
};

GraphInfo inferShapes(const Graph& graph, const NodeRegistry& registry = builtinNodes());

}  // namespace kiln::graph
