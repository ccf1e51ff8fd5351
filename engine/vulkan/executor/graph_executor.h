// Runs a compiled graph's forward pass on the Vulkan backend: weights uploaded once, activations
// in a memory plan that reuses ranges once their last reader has run, and one submit per forward.
// Inference only (batch norm uses its running statistics, dropout passes through).
//
//   auto model = graph::compileGraph(g);                        // the LibTorch model (weights)
//   auto exec = vk::GraphExecutor::create(ctx, g, **model);
//   Result<torch::Tensor> logits = (*exec)->forward({images});   // same as (*model)->forward(images)
//
// Lowering folds what inference allows: a BatchNorm after a convolution goes into its weights,
// and an activation after a convolution, Linear or BatchNorm into the producing dispatch.
#pragma once

#include "graph/compiler.h"
#include "kiln/result.h"
#include "vulkan/context.h"
#include "vulkan/memory.h"
#include "vulkan/ops/op_common.h"
#include "vulkan/recorder.h"

#include <set>
#include <utility>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <torch/types.h>
#include <vector>

namespace kiln::vk {

// Decided once per graph: which nodes' work another node's dispatch does.
struct ExecutorFusion {
    std::map<graph::NodeId, graph::NodeId> absorbedBy;                 // BatchNorm/activation -> producer
    std::map<graph::NodeId, std::pair<Activation, float>> activation;  // producer -> its fused activation
    std::set<graph::NodeId> foldedBatchNorm;                           // convolutions with a BatchNorm folded in
};

struct ExecutorOptions {
    bool profile = false;  // per-dispatch GPU times in timings()
    bool fuse = true;      // fold batch norms and activations into their producers
    // Device memory Kiln may take for weights plus activations (0: what the device gives).
    std::uint64_t memoryLimit = 0;
    // Store the weights of convolutions, Linear layers and attention projections as fp16 (half the
    // memory; arithmetic stays fp32). Where the device lacks fp16 storage they stay fp32: see
    // GraphExecutor::halfWeightsActive().
    bool halfWeights = false;
};

class GraphExecutor {
public:
    // Uploads the model's parameters and buffers. The graph must be the one `model` was compiled
    // from. Fails, naming the node, for a node type the backend cannot run.
    static Result<std::unique_ptr<GraphExecutor>> create(std::shared_ptr<Context> ctx, const graph::Graph& graph,
                                                         graph::CompiledModel& model, ExecutorOptions options = {});
    ~GraphExecutor();

    // One tensor per input node, as CompiledModel::forward takes them; returns what it returns.
    // Plans memory on the first call and again when the input sizes change.
    Result<torch::Tensor> forward(const std::vector<torch::Tensor>& inputs);

    Context& context() { return *ctx_; }
    MemoryStats weightMemory() const { return weights_->stats(); }
    // Whether options.halfWeights took effect (false where the device lacks fp16 storage).
    bool halfWeightsActive() const { return !halfWeights_.empty(); }
    MemoryStats activationMemory() const;  // of the current plan
    std::size_t dispatchesPerForward() const { return lastDispatches_; }
    std::size_t barriersPerForward() const { return lastBarriers_; }
    std::size_t submits() const { return recorder_->stats().submits; }
    const std::vector<DispatchTiming>& timings() const { return recorder_->timings(); }

    // What the backend can run, for messages and the UI.
    static bool supports(const std::string& nodeType);

    struct Value {
        Region region;
        std::vector<std::int64_t> sizes;
        bool ids = false;  // uint32 token ids rather than floats
    };
    using Step = std::function<Result<void>(Recorder&)>;
    struct Plan;

private:
    GraphExecutor() = default;
    Result<void> plan(const std::vector<torch::Tensor>& inputs);

    std::shared_ptr<Context> ctx_;
    graph::Graph graph_;
    graph::GraphInfo info_;
    graph::PortRef output_;
    std::vector<std::string> inputNames_;
    ExecutorOptions options_;
    std::shared_ptr<MemoryPool> weights_;
    std::map<std::string, Allocation> weightAllocs_;  // by parameter name ("conv1.weight")
    std::map<std::string, torch::Tensor> hostWeights_;
    std::map<std::string, Region> weightRegions_;
    std::set<std::string> halfWeights_;  // parameter names stored as fp16
    ExecutorFusion fusion_;
    std::unique_ptr<Recorder> recorder_;
    std::unique_ptr<Plan> plan_;
    std::size_t lastDispatches_ = 0, lastBarriers_ = 0;
};

}  // namespace kiln::vk
