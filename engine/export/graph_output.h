// What a graph's model returns, decided as the compiler decides it (graph/compiler.cpp): the
// tensor that feeds the loss node's prediction, else the output of the one node nothing consumes.
// The exporters share it so the .py, the ONNX file and the compiled module return the same thing.
#pragma once

#include "kiln/graph_infer.h"

namespace kiln::exporting {

// `info` is inferShapes(graph) and must be ok(). Fails when there is no loss node and not
// exactly one dead end.
Result<graph::NodeId> graphOutput(const graph::Graph& graph, const graph::GraphInfo& info);

}  // namespace kiln::exporting
