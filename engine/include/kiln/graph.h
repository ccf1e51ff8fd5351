// The model graph: nodes, each of a type named by a registry id such as "node.conv2d", joined by
// edges from an output port to an input port. Plain data that the editor edits, the serializer
// saves and the compiler turns into a torch module. What a node type means (its ports,
// parameters and shapes) lives in the registry (kiln/graph_registry.h), not here, so the IR
// stays valid for node types a plugin adds later.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace kiln::graph {

// Node ids are positive integers, unique within a graph and kept across save and load, so the
// editor's selection and undo stack can hold them. A graph never hands out an id twice while it
// lives (removing a node does not free its id). Module parameter names derive from node *names*
// (see Node::name), never from ids, so ids may differ between two equal-looking graphs.
using NodeId = std::uint64_t;
inline constexpr NodeId kNoNode = 0;

using IntList = std::vector<std::int64_t>;
// A parameter value. Which alternative a parameter holds is fixed by the node type's schema;
// a Float parameter may also hold an integer (the editor may store 1 for 1.0).
using ParamValue = std::variant<std::int64_t, double, bool, std::string, IntList>;

std::string formatParam(const ParamValue& v);  // 3, 0.5, true, tanh, [1, 2]

struct Node {
    NodeId id = kNoNode;
    std::string type;  // registry id, e.g. "node.conv2d"
    // Unique in the graph and an identifier ([A-Za-z_][A-Za-z0-9_]*): it is the torch submodule
    // name, so a node "conv1" owns the parameters "conv1.weight" and "conv1.bias", and exported
    // Python code can use it as an attribute.
    std::string name;
    std::map<std::string, ParamValue> params;  // complete after load or addNodeOfType
    float x = 0, y = 0;                        // editor position (scene coordinates)

    bool operator==(const Node&) const = default;
};

struct PortRef {
    NodeId node = kNoNode;
    std::string port;  // a port name from the node type, e.g. "in", "a", "prediction"
    bool operator==(const PortRef&) const = default;
};

// From an output port to an input port. An input port has at most one edge; an output port any
// number.
struct Edge {
    PortRef from;
    PortRef to;
    bool operator==(const Edge&) const = default;
};

class Graph {
public:
    std::string description;  // free text shown with samples
    std::vector<Node> nodes;  // file order; also breaks ties in the topological order
    std::vector<Edge> edges;

    // Adds the node and returns its id: node.id when it is set and free, else a fresh id.
    // The name is taken as given (see uniqueName).
    NodeId addNode(Node node);
    // Removes the node and every edge touching it; false when there is no such node.
    bool removeNode(NodeId id);

    Node* node(NodeId id);
    const Node* node(NodeId id) const;
    Node* nodeByName(std::string_view name);
    const Node* nodeByName(std::string_view name) const;

    // Adds the edge, replacing whatever fed the same input port before.
    void connect(Edge edge);
    // Removes the edge into `input`; false when none was there.
    bool disconnect(const PortRef& input);
    const Edge* edgeInto(const PortRef& input) const;

    // "conv" -> "conv1", or "conv2" when conv1 is taken, ...
    std::string uniqueName(std::string_view stem) const;
    // Whether an edge from -> to would close a loop (to already reaches from, or from == to).
    bool createsCycle(NodeId from, NodeId to) const;

    NodeId nextId() const { return nextId_; }

    // Same description, nodes (ids, names, types, parameters, positions) and edges, in order.
    bool operator==(const Graph& other) const;

private:
    NodeId nextId_ = 1;
};

// A valid node name: [A-Za-z_][A-Za-z0-9_]*, at most 64 characters.
bool isValidNodeName(std::string_view name);

// Equal as networks: the same node names with the same types and parameters, joined the same
// way. Ids, positions, node order and edge order do not matter (an editor-built graph equals
// the shipped sample it imitates).
bool sameNetwork(const Graph& a, const Graph& b);

}  // namespace kiln::graph
