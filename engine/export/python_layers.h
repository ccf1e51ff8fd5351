// How each built-in node type reads in PyTorch: a module constructor for nodes that hold state
// or are standard layers, an inline expression for the rest. Internal to python_export.cpp.
#pragma once

#include "kiln/graph_registry.h"
#include "kiln/result.h"

#include <set>
#include <string>
#include <vector>

namespace kiln::exporting::py {

struct Layer {
    // The constructor assigned to the node's attribute ("nn.Conv2d(1, 16, kernel_size=3,
    // padding=1)"); empty for nodes written inline in forward() (Add, Reshape, inputs, losses).
    std::string module;
    std::string helper;  // a class the file must define for it ("RMSNorm"), or empty
};

// Fails for a node type without a PyTorch form.
Result<Layer> layerOf(const graph::Node& node, const graph::NodeType& type);

// The expression computing an inline node from its inputs' variables (one per input port, empty
// where an optional port is open).
std::string inlineExpression(const graph::Node& node, const graph::NodeType& type,
                             const std::vector<std::string>& args);

// Python literals.
std::string pyFloat(double v);  // 1e-05, 0.3, 10000.0: round-trips exactly
std::string pyBool(bool v);
std::string pyString(const std::string& s);  // "..." with escapes

// The module-level code the file starts with: imports, load/save_safetensors, and the helper
// classes in `helpers`.
std::string prelude(const std::set<std::string>& helpers);
// The loss as CompiledModel::loss computes it, as a method; empty for LossKind::None.
std::string lossMethod(graph::LossKind kind, double labelSmoothing);

}  // namespace kiln::exporting::py
