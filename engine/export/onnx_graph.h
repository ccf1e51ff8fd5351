// Internal to the ONNX exporter: a small builder over onnx::GraphProto, and the per-node-type
// emitters (onnx_ops.cpp) that onnx_graph.cpp calls in topological order. Includes ONNX's
// protobuf headers: only files compiled with ONNX's definitions may include it (sources.cmake).
#pragma once

#include "export/onnx_export.h"

#include <functional>
#include <onnx/onnx_pb.h>
#include <set>
#include <string_view>

namespace kiln::exporting::onnxgen {

class GraphBuilder {
public:
    GraphBuilder(onnx::GraphProto& graph, const OnnxWeights& weights) : g_(graph), weights_(weights) {}

    // Kiln's weight `key` as an initializer of the same name (added once). Fails when the
    // weights lack it.
    Result<std::string> weight(const std::string& key);
    // Kiln's weight `key` as it is, for emitters that derive other constants from it.
    Result<const OnnxWeight*> weightValues(const std::string& key) const;
    // A float initializer named `name` (made unique).
    std::string constant(const std::string& name, std::vector<std::int64_t> shape, std::vector<float> values);
    std::string scalar(const std::string& name, float value);  // 0-d
    std::string ints(const std::string& name, const std::vector<std::int64_t>& values);  // int64, 1-D

    // Adds a node; `output` is made unique and returned.
    onnx::NodeProto& op(const std::string& type, const std::vector<std::string>& inputs, const std::string& output);
    std::string opOut(const std::string& type, const std::vector<std::string>& inputs, const std::string& output)
    {
        return op(type, inputs, output).output(0);
    }
    std::string unique(const std::string& name);
    void reserve(const std::string& name) { names_.insert(name); }

private:
    onnx::GraphProto& g_;
    const OnnxWeights& weights_;
    std::set<std::string, std::less<>> names_;
};

void setAttr(onnx::NodeProto& node, const std::string& name, std::int64_t value);
void setAttr(onnx::NodeProto& node, const std::string& name, float value);
void setAttr(onnx::NodeProto& node, const std::string& name, const std::vector<std::int64_t>& values);

// Reshape targets: the shape's sizes, with the batch as 0 (ONNX: "copy the input's size here")
// where it stays in place, -1 where it was merged into a dimension, so the model takes any batch.
std::vector<std::int64_t> reshapeTarget(const graph::Shape& in, const graph::Shape& out);

struct OpContext {
    const graph::Node& node;
    const graph::NodeType& type;
    graph::ParamReader params;
    std::vector<std::string> inputs;              // tensor names per input port; empty where open
    std::vector<const graph::Shape*> inputShapes; // per input port; nullptr where open
    const graph::Shape& output;
    GraphBuilder& b;
    std::string prefix;  // node.name + "/": names of the node's inner tensors
    // Why OpenCV 4.6's DNN importer will refuse what the emitter wrote (valid ONNX all the same).
    std::vector<std::string>& openCv;
};

// Emits the node and returns the name of the tensor it outputs (`ctx.node.name` where it may be:
// the caller reserves it). Errors need not fill `where`.
using OpFn = std::function<Result<std::string>(OpContext& ctx)>;
const OpFn* findOp(std::string_view typeId);

}  // namespace kiln::exporting::onnxgen
