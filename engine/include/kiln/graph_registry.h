// Node types, keyed by stable string ids ("node.conv2d"): category, ports, parameter schema,
// description and shape inference. Built-ins register through registerBuiltinNodes(); a plugin
// adds its own types to the registry the app owns. Files store these ids, never indices.
// How a node type becomes torch code lives in the engine (graph/builders.h), beside LibTorch.
#pragma once

#include "kiln/graph.h"
#include "kiln/graph_shape.h"
#include "kiln/result.h"

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::graph {

enum class ParamType { Int, Float, Bool, String, IntList };

struct ParamSpec {
    std::string name;
    ParamType type = ParamType::Int;
    ParamValue defaultValue;
    std::optional<double> min, max;    // inclusive; Int, Float and every element of an IntList
    std::vector<std::string> choices;  // String: the allowed values (empty: any text)
    std::string help;
};

enum class PortKind { Tensor };  // the only kind today; ports of different kinds never connect

struct PortSpec {
    std::string name;
    PortKind kind = PortKind::Tensor;
    bool optional = false;  // an input that may stay unconnected
    std::string help;
};

enum class NodeRole { Layer, Input, Loss };
enum class LossKind { None, CrossEntropy, MSE, BCEWithLogits };

struct NodeType;

// Parameter values of one node, falling back to the schema's defaults for those it lacks.
// Valid only for parameters the schema declares with the type asked for (checked before use).
class ParamReader {
public:
    ParamReader(const Node& node, const NodeType& type) : node_(node), type_(type) {}
    std::int64_t i(std::string_view name) const;
    double f(std::string_view name) const;  // also reads an integer value
    bool b(std::string_view name) const;
    const std::string& s(std::string_view name) const;
    const IntList& list(std::string_view name) const;

private:
    const ParamValue& value(std::string_view name) const;
    const Node& node_;
    const NodeType& type_;
};

struct InferContext {
    const Node& node;
    const NodeType& type;
    ParamReader params;
    std::vector<const Shape*> inputs;  // per input port; nullptr where an optional port is open
    std::vector<std::string> sources;      // per input port: the producer's display name ("Flatten")
    std::vector<std::string> sourceNames;  // per input port: the producer node's name ("flatten")
};

struct InferResult {
    std::vector<Shape> outputs;  // one per output port
    std::uint64_t params = 0;    // trainable parameters (what torch's parameters() holds)
    double flops = 0;            // per sample; a multiply-add counts 2
};

// Errors name the problem and the fix; the caller fills Error::where with the node's name.
using InferFn = std::function<Result<InferResult>(const InferContext&)>;

struct NodeType {
    std::string id;           // "node.conv2d"
    std::string category;     // palette group: "Convolution", "Normalization", ...
    std::string displayName;  // "Conv2d"
    std::string nameStem;     // new nodes are named stem1, stem2, ...
    std::string description;
    std::vector<PortSpec> inputs;
    std::vector<PortSpec> outputs;
    std::vector<ParamSpec> params;
    NodeRole role = NodeRole::Layer;
    LossKind loss = LossKind::None;  // for role Loss
    InferFn infer;

    const ParamSpec* param(std::string_view name) const;
    int inputIndex(std::string_view port) const;   // -1 when there is none
    int outputIndex(std::string_view port) const;  // -1 when there is none
};

class NodeRegistry {
public:
    // Refuses an id that is taken, an id without the "node." prefix, or a type without infer.
    Result<void> add(NodeType type);
    const NodeType* find(std::string_view id) const;
    std::vector<const NodeType*> all() const;  // by category, then display name
    std::size_t size() const { return types_.size(); }

private:
    std::map<std::string, NodeType, std::less<>> types_;
};

void registerBuiltinNodes(NodeRegistry& registry);
const NodeRegistry& builtinNodes();  // the built-ins, built once (thread-safe)

// Whether `value` suits `spec` (type, range, choices); the error says what would.
Result<void> checkParam(const ParamSpec& spec, const ParamValue& value);
// Checks every parameter of the node against its type: unknown names, types, ranges.
Result<void> checkParams(const Node& node, const NodeType& type);

// Adds a node of the type with every parameter at its default and a fresh name (stem + n).
Result<NodeId> addNodeOfType(Graph& graph, const NodeRegistry& registry, std::string_view type,
                             float x = 0, float y = 0);

// Whether the editor may draw this edge: both nodes and ports exist, the kinds match, and it
// closes no loop. (An input that is already fed is fine: connect() replaces its edge.)
Result<void> canConnect(const Graph& graph, const NodeRegistry& registry, const Edge& edge);

}  // namespace kiln::graph
