// How a node type becomes torch code: a BuildFn per node-type id makes the OpModule that runs one
// node. Built-ins register through registerBuiltinBuilders(); a plugin that adds a node type to
// the NodeRegistry adds its builder here under the same id.
#pragma once

#include "kiln/graph_registry.h"

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <torch/torch.h>
#include <vector>

namespace kiln::graph {

// One node at run time. The compiler registers it under the node's name, so the parameters it
// registers itself ("weight", "bias") become "<node name>.weight", as in PyTorch.
class OpModule : public torch::nn::Module {
public:
    // One tensor per input port (undefined where an optional port is open); returns one per
    // output port.
    virtual std::vector<torch::Tensor> run(const std::vector<torch::Tensor>& inputs) = 0;
};

struct BuildContext {
    const Node& node;
    const NodeType& type;
    ParamReader params;
    std::vector<const Shape*> inputs;  // inferred shapes per input port (nullptr: port open)
    const std::vector<Shape>& outputs; // inferred shapes per output port
};

// May throw (torch does); the compiler turns that into an Error naming the node.
using BuildFn = std::function<std::shared_ptr<OpModule>(const BuildContext&)>;

class BuilderRegistry {
public:
    Result<void> add(std::string typeId, BuildFn build);
    const BuildFn* find(std::string_view typeId) const;

private:
    std::map<std::string, BuildFn, std::less<>> builders_;
};

void registerBuiltinBuilders(BuilderRegistry& registry);
const BuilderRegistry& builtinBuilders();

namespace build {
// Per family, as the node types are split (ops_*.cpp).
void addLayerBuilders(BuilderRegistry& r);      // conv, transposed conv, linear, embedding
void addNormBuilders(BuilderRegistry& r);       // batch/group/layer/RMS norm, dropout
void addAttentionBuilders(BuilderRegistry& r);  // self-attention
void addSimpleBuilders(BuilderRegistry& r);     // inputs, activations, pooling, shape, math, losses

// Registration of a built-in cannot fail unless the table itself is wrong.
void mustAdd(BuilderRegistry& r, std::string typeId, BuildFn build);
}  // namespace build

}  // namespace kiln::graph
