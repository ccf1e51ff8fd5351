// ONNX from a model graph, for inference: the graph's prediction (the tensor that feeds its loss
// node) is the output, Dropout is the identity and BatchNorm uses its running statistics, as a
// compiled model does in eval(). Built with Debian's ONNX library (libonnx-dev) at opset 13; the
// weights become initializers under Kiln's parameter names ("conv1.weight", "bn1.running_mean")
// wherever ONNX takes them as they are. Node types ONNX has no operator for are written as the
// primitive operators they are made of (attention with rotary encoding: MatMul, Mul, Add,
// Softmax, ...; RMSNorm and LayerNorm: ReduceMean, Sqrt, Div, ...), so OpenCV's DNN module and
// ONNX runtimes can load them. The file is checked with ONNX's own checker and shape inference
// before it is written. This header is free of torch and of ONNX's headers.
#pragma once

#include "kiln/graph_registry.h"
#include "kiln/result.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace kiln::graph {
class CompiledModel;
}

namespace kiln::exporting {

inline constexpr int kOnnxOpset = 13;

struct OnnxOptions {
    // The batch dimension: symbolic ("B", any batch size) or fixed to `batch`.
    bool symbolicBatch = true;
    std::int64_t batch = 1;
    std::string modelName = "KilnModel";  // the ONNX graph's name
    // Fail, naming the node, where the file would hold operators OpenCV 4.6's DNN importer
    // refuses (otherwise such a file is written and the nodes are listed in the result).
    bool requireOpenCv = false;
};

// A float32 tensor, row-major: what a weight looks like on its way into the ONNX file.
struct OnnxWeight {
    std::vector<std::int64_t> shape;
    std::vector<float> values;
};
using OnnxWeights = std::map<std::string, OnnxWeight, std::less<>>;

struct OnnxModel {
    std::string bytes;  // the serialized ModelProto
    // Valid ONNX that OpenCV 4.6's DNN importer cannot load (Embedding's Gather of a weight table
    // by token ids from the input, a broadcast along the batch): `where` names the node, `what`
    // says why. ONNX runtimes load them.
    std::vector<Error> openCvUnsupported;
};

// Fails with the graph's first shape error (naming the node), a node ONNX cannot express (naming
// it and why), a weight missing from `weights`, or, with requireOpenCv, a node OpenCV refuses.
Result<OnnxModel> buildOnnx(const graph::Graph& graph, const OnnxWeights& weights, const OnnxOptions& options = {},
                              const graph::NodeRegistry& registry = graph::builtinNodes());

// buildOnnx with the compiled model's parameters and buffers, written atomically to `path`.
// Returns the nodes OpenCV cannot load (see OnnxModel).
Result<std::vector<Error>> exportOnnx(const graph::Graph& graph, const graph::CompiledModel& model, const std::string& path,
                        const OnnxOptions& options = {});

}  // namespace kiln::exporting
