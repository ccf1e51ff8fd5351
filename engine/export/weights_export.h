// A compiled model's weights as safetensors whose keys are its state_dict keys: named_parameters()
// then named_buffers() ("conv1.weight", "bn1.running_mean", "bn1.num_batches_tracked"), so the
// file loads into the exported PyTorch module (python_export.h) and back into Kiln. The metadata
// says {"format": "pt", "kiln.graph": <the graph as .kgraph JSON>}: the file carries the network
// it belongs to.
#pragma once

#include "graph/compiler.h"

#include <string>
#include <vector>

namespace kiln::exporting {

Result<void> exportWeights(const graph::Graph& graph, const graph::CompiledModel& model, const std::string& path);

struct WeightsLoad {
    std::size_t applied = 0;          // tensors copied into the model
    std::vector<std::string> unused;  // keys in the file that the model does not have
};

// Copies every parameter and buffer of `model` from the safetensors file at `path` (a training
// checkpoint or an exported file), converting the dtype where needed. Strict: fails, naming the
// keys, when the file lacks any or holds one with another shape; the model stays as it was then.
Result<WeightsLoad> loadWeights(graph::CompiledModel& model, const std::string& path);

}  // namespace kiln::exporting
