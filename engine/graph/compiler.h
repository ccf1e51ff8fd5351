// Graph -> torch::nn::Module. Every node becomes a submodule named after the node, so a node
// "conv1" owns "conv1.weight" and "conv1.bias" in parameters() and in saved checkpoints, and the
// same graph always gives the same names. forward() runs the nodes in topological order.
//
//   auto model = kiln::graph::compileGraph(graph);          // Result<std::shared_ptr<CompiledModel>>
//   if (!model) show(model.error());
//   torch::Tensor logits = (*model)->forward(images);        // the tensor that feeds the loss node
//   torch::Tensor loss = (*model)->loss(logits, labels);
#pragma once

#include "graph/builders.h"
#include "kiln/graph_infer.h"

#include <memory>
#include <torch/torch.h>

namespace kiln::graph {

class CompiledModel : public torch::nn::Module {
public:
    // For a graph with one input node.
    torch::Tensor forward(torch::Tensor input);
    // One tensor per input node, in inputNames() order.
    torch::Tensor forward(const std::vector<torch::Tensor>& inputs);

    // The input nodes' names and declared shapes (B symbolic), in the order forward() takes them.
    const std::vector<std::string>& inputNames() const { return inputNames_; }
    const std::vector<Shape>& inputShapes() const { return inputShapes_; }

    // LossKind::None when the graph has no loss node; then loss() throws.
    LossKind lossKind() const { return lossKind_; }
    const std::string& targetName() const { return targetName_; }  // the loss node's dataset field
    // The mean loss over the batch. CrossEntropy takes class scores in the last dimension of the
    // prediction and integer class ids shaped like the prediction without it; MSE and
    // BCEWithLogits take a target of the prediction's shape.
    torch::Tensor loss(const torch::Tensor& prediction, const torch::Tensor& target) const;

    // The node output forward() returns (another backend runs the same graph to the same place).
    const PortRef& outputPort() const { return outputPort_; }

    // Shapes, parameter counts and FLOPs as inferred when the graph was compiled.
    const GraphInfo& info() const { return info_; }

    // In training, a BatchNorm2d -> ReLU (-> MaxPool2d 2x2) chain whose inner tensors nothing else
    // reads runs as one op on channels-last CPU tensors (graph/norm_relu.h); on by default. Off,
    // every node runs as its own op (tests and benchmarks compare the two).
    void setFusion(bool on) { fuse_ = on; }
    int fusedChains() const;

private:
    friend Result<std::shared_ptr<CompiledModel>> compileGraph(const Graph&, const NodeRegistry&,
                                                               const BuilderRegistry&);
    struct Source {
        int step = -1;  // -1: an open optional port
        int port = 0;
    };
    struct Fusion;
    struct Step {
        std::shared_ptr<OpModule> op;
        std::vector<Source> inputs;
        int inputSlot = -1;  // for input nodes: which forward() argument it takes
        std::shared_ptr<Fusion> fused;  // this step heads a fused chain and runs all of it
        bool absorbed = false;          // a fused chain ran this step: its value is its input's
    };
    void fuseNormRelu(const std::vector<const Node*>& stepNodes, const NodeRegistry& nodes);
    std::vector<torch::Tensor> runFused(const Fusion& f, const std::vector<torch::Tensor>& args);
    bool fuse_ = true;
    std::vector<Step> steps_;
    Source output_;
    PortRef outputPort_;
    std::vector<std::string> inputNames_;
    std::vector<Shape> inputShapes_;
    LossKind lossKind_ = LossKind::None;
    std::string targetName_;
    double labelSmoothing_ = 0;
    GraphInfo info_;
};

// Fails with the graph's first shape error, an unsupported node type, or an output that is not
// clear (no loss node and several dead ends). Never throws. Parameters are initialised as
// PyTorch initialises the same layers.
Result<std::shared_ptr<CompiledModel>> compileGraph(const Graph& graph, const NodeRegistry& nodes = builtinNodes(),
                                                    const BuilderRegistry& builders = builtinBuilders());

}  // namespace kiln::graph
