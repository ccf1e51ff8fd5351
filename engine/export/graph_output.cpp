#include "export/graph_output.h"

#include <algorithm>

namespace kiln::exporting {

using namespace graph;

Result<NodeId> graphOutput(const Graph& graph, const GraphInfo& info)
{
    if (info.loss) return graph.edgeInto(PortRef{info.loss->node, "prediction"})->from.node;
    std::vector<const Node*> ends;
    for (NodeId id : info.order)
        if (std::none_of(graph.edges.begin(), graph.edges.end(), [&](const Edge& e) { return e.from.node == id; }))
            ends.push_back(graph.node(id));
    if (ends.size() == 1) return ends[0]->id;
    std::string names;
    for (const Node* n : ends) names += (names.empty() ? "" : ", ") + n->name;
    return makeError("the graph has " + std::to_string(ends.size()) + " outputs (" + names +
                         ") and no loss node, so it is unclear what the model returns",
                     {}, "add a loss node after the output, or remove the other branches");
}

}  // namespace kiln::exporting
