// How each node type of the designer becomes Vulkan dispatches (inference). Private to the
// executor; split from it because the per-op table is long.
#pragma once

#include "kiln/graph.h"
#include "kiln/graph_infer.h"
#include "vulkan/executor/graph_executor.h"
#include "vulkan/ops/op_common.h"

#include <map>
#include <optional>
#include <set>
#include <string>
#include <torch/types.h>
#include <utility>
#include <vector>

namespace kiln::vk {

struct GraphExecutor::Plan {
    std::shared_ptr<MemoryPool> pool;                // activations; blocks outlive every range reuse
    std::vector<std::vector<std::int64_t>> inputSizes;
    std::vector<Value> inputs;                       // per input node, in forward() order
    std::vector<Step> steps;                         // recorded in order for every forward
    Value output;
    Region badIds;                                   // embedding ids out of range, counted (if any)
    std::vector<Allocation> pinned;                  // inputs, output and counters: never reused
};

namespace lowering {

bool supported(const std::string& nodeType);
std::string formatSizes(const std::vector<std::int64_t>& sizes);  // [2, 3, 4]

using Fusion = ExecutorFusion;

// Chooses the fusions and adds the weights they need to `host` ("conv1.weight#bn", batch norm
// scale/shift as "bn1.weight#scale"/"bn1.bias#shift").
Result<Fusion> prepareWeights(const graph::Graph& graph, const graph::GraphInfo& info, const graph::PortRef& output,
                              std::map<std::string, torch::Tensor>& host, bool fuse);

// The weights in `host` that ops read with a WeightType (convolution, Linear and attention
// weights, folded ones included): those halfWeights stores as fp16. Biases are not among them.
std::set<std::string> halfWeightCandidates(const graph::Graph& graph, const graph::GraphInfo& info,
                                           const std::map<std::string, torch::Tensor>& host);

// Builds a Plan for one set of input sizes: allocates activations in topological order, frees
// a range once its last reader is planned, and records one Step per dispatch group.
class Lowerer {
public:
    Lowerer(const graph::Graph& graph, const graph::GraphInfo& info, const Fusion& fusion,
            const std::map<std::string, Region>& weights, const std::set<std::string>& halfWeights,
            GraphExecutor::Plan& plan, std::int64_t batch, const graph::PortRef& output)
        : graph_(graph), info_(info), fusion_(fusion), weights_(weights), halfWeights_(halfWeights), plan_(plan),
          batch_(batch), output_(output)
    {
    }
    Result<void> run();

private:
    using Value = GraphExecutor::Value;
    struct Slot {
        Value value;
        int alloc = -1;  // index into allocs_; shared by aliases
    };
    Result<void> lowerNode(const graph::Node& n, const std::vector<const Slot*>& in, std::vector<Slot>& out);
    Result<Slot> allocate(std::vector<std::int64_t> sizes, const std::string& label, bool ids = false);
    Result<Region> weight(const std::string& key) const;
    std::optional<Region> optionalWeight(const std::string& key) const;  // biases, affine norms
    WeightType weightType(const std::string& key) const
    {
        return halfWeights_.count(key) ? WeightType::F16 : WeightType::F32;
    }
    int consumers(graph::NodeId node, const std::string& port) const;
    void release(int alloc);

    const graph::Graph& graph_;
    const graph::GraphInfo& info_;
    const Fusion& fusion_;
    const std::map<std::string, Region>& weights_;
    const std::set<std::string>& halfWeights_;
    GraphExecutor::Plan& plan_;
    std::int64_t batch_;
    graph::PortRef output_;
    std::vector<Allocation> allocs_;
    std::vector<int> refs_;
    std::vector<Allocation> temporaries_;  // freed after the node that made them
};

}  // namespace lowering
}  // namespace kiln::vk
