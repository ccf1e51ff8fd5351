// PyTorch code from a model graph: a readable, self-contained .py file holding one nn.Module
// equal to the graph. Every node is an attribute named after the node, so the module's
// state_dict keys are Kiln's parameter names ("conv1.weight", "b1_attn.q.weight",
// "bn1.running_mean") and the weights Kiln exports (weights_export.h) load with
//   model.load_state_dict(load_safetensors("weights.safetensors"))
// where load_safetensors is written into the file itself (json + struct + torch.frombuffer), so
// the code needs PyTorch and nothing else. Standard library only: the editor can show the code
// without linking LibTorch.
#pragma once

#include "kiln/graph_registry.h"
#include "kiln/result.h"

#include <string>

namespace kiln::exporting {

// The module's source. Fails with the graph's first shape error (its `where` names the node),
// on a node type that has no PyTorch form (a plugin's), or on a class name that is not a
// Python identifier.
Result<std::string> exportPython(const graph::Graph& graph, const std::string& className = "KilnModel",
                                 const graph::NodeRegistry& registry = graph::builtinNodes());

// exportPython, written atomically to `path`.
Result<void> writePython(const graph::Graph& graph, const std::string& path,
                         const std::string& className = "KilnModel",
                         const graph::NodeRegistry& registry = graph::builtinNodes());

}  // namespace kiln::exporting
