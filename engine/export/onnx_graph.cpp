// The ONNX model around the per-node emitters: graph inputs from the input nodes, the nodes in
// the compiler's topological order, the prediction as the output; then ONNX's checker and strict
// shape inference, whose output shape must equal Kiln's, so a file that ONNX itself would reject
// or read differently is never written.
#include "export/onnx_graph.h"

#include "export/graph_output.h"
#include "kiln/graph_file.h"
#include "kiln/graph_infer.h"

#include <onnx/checker.h>
#include <onnx/shape_inference/implementation.h>

namespace kiln::exporting {

using namespace graph;

namespace onnxgen {

std::string GraphBuilder::unique(const std::string& name)
{
    std::string n = name;
    for (int i = 1; names_.count(n); ++i) n = name + "_" + std::to_string(i);
    names_.insert(n);
    return n;
}

Result<const OnnxWeight*> GraphBuilder::weightValues(const std::string& key) const
{
    auto it = weights_.find(key);
    if (it == weights_.end())
        return makeError("the weights lack '" + key + "'", {}, "export the weights of a model compiled from this graph");
    return &it->second;
}

namespace {

onnx::TensorProto& addFloatTensor(onnx::GraphProto& g, const std::string& name, const std::vector<std::int64_t>& shape,
                                  const float* values, std::size_t count)
{
    onnx::TensorProto& t = *g.add_initializer();
    t.set_name(name);
    t.set_data_type(onnx::TensorProto::FLOAT);
    for (auto d : shape) t.add_dims(d);
    // raw_data is little-endian float32, which is what this machine holds.
    t.set_raw_data(std::string(reinterpret_cast<const char*>(values), count * sizeof(float)));
    return t;
}

}  // namespace

Result<std::string> GraphBuilder::weight(const std::string& key)
{
    if (names_.count(key)) return key;
    auto w = weightValues(key);
    if (!w) return w.error();
    names_.insert(key);
    addFloatTensor(g_, key, (*w)->shape, (*w)->values.data(), (*w)->values.size());
    return key;
}

std::string GraphBuilder::constant(const std::string& name, std::vector<std::int64_t> shape, std::vector<float> values)
{
    const std::string n = unique(name);
    addFloatTensor(g_, n, shape, values.data(), values.size());
    return n;
}

std::string GraphBuilder::scalar(const std::string& name, float value) { return constant(name, {}, {value}); }

std::string GraphBuilder::ints(const std::string& name, const std::vector<std::int64_t>& values)
{
    const std::string n = unique(name);
    onnx::TensorProto& t = *g_.add_initializer();
    t.set_name(n);
    t.set_data_type(onnx::TensorProto::INT64);
    t.add_dims(static_cast<std::int64_t>(values.size()));
    for (auto v : values) t.add_int64_data(v);
    return n;
}

onnx::NodeProto& GraphBuilder::op(const std::string& type, const std::vector<std::string>& inputs,
                                  const std::string& output)
{
    onnx::NodeProto& n = *g_.add_node();
    n.set_op_type(type);
    const std::string out = unique(output);
    n.set_name(out);
    for (const auto& i : inputs) n.add_input(i);
    n.add_output(out);
    return n;
}

void setAttr(onnx::NodeProto& node, const std::string& name, std::int64_t value)
{
    auto& a = *node.add_attribute();
    a.set_name(name);
    a.set_type(onnx::AttributeProto::INT);
    a.set_i(value);
}

void setAttr(onnx::NodeProto& node, const std::string& name, float value)
{
    auto& a = *node.add_attribute();
    a.set_name(name);
    a.set_type(onnx::AttributeProto::FLOAT);
    a.set_f(value);
}

void setAttr(onnx::NodeProto& node, const std::string& name, const std::vector<std::int64_t>& values)
{
    auto& a = *node.add_attribute();
    a.set_name(name);
    a.set_type(onnx::AttributeProto::INTS);
    for (auto v : values) a.add_ints(v);
}

std::vector<std::int64_t> reshapeTarget(const Shape& in, const Shape& out)
{
    std::vector<std::int64_t> t;
    for (std::size_t i = 0; i < out.rank(); ++i) {
        const Dim& d = out.dims[i];
        const bool sameBatch = d.batch && d.size == 1 && i < in.rank() && in.dims[i] == d;
        t.push_back(sameBatch ? 0 : d.batch ? -1 : d.size);
    }
    return t;
}

}  // namespace onnxgen

namespace {

void setShape(onnx::ValueInfoProto& v, const Shape& s, const OnnxOptions& o)
{
    auto& tensor = *v.mutable_type()->mutable_tensor_type();
    tensor.set_elem_type(s.element == ElementType::Int64 ? onnx::TensorProto::INT64 : onnx::TensorProto::FLOAT);
    auto& shape = *tensor.mutable_shape();
    for (const Dim& d : s.dims) {
        auto& dim = *shape.add_dim();
        if (!d.batch) dim.set_dim_value(d.size);
        else if (!o.symbolicBatch) dim.set_dim_value(d.size * o.batch);
        else if (d.size == 1) dim.set_dim_param("B");
        else dim.set_dim_param("B*" + std::to_string(d.size));
    }
}

// ONNX's inferred output shape against Kiln's: the same rank and the same fixed sizes.
Result<void> sameShape(const onnx::ValueInfoProto& inferred, const Shape& want, const OnnxOptions& o)
{
    if (!inferred.type().tensor_type().has_shape()) return success();  // nothing inferred: nothing to compare
    const auto& dims = inferred.type().tensor_type().shape();
    bool same = dims.dim_size() == static_cast<int>(want.rank());
    for (int i = 0; same && i < dims.dim_size(); ++i) {
        const Dim& d = want.dims[static_cast<std::size_t>(i)];
        const auto& got = dims.dim(i);
        if (!got.has_dim_value()) continue;
        same = d.batch ? !o.symbolicBatch && got.dim_value() == d.size * o.batch : got.dim_value() == d.size;
    }
    if (same) return success();
    std::string text = "[";
    for (int i = 0; i < dims.dim_size(); ++i) {
        const auto& d = dims.dim(i);
        text += (i ? ", " : "") + (d.has_dim_value() ? std::to_string(d.dim_value()) : d.dim_param());
    }
    return makeError("ONNX infers the output shape " + text + "] where Kiln has " + formatShape(want),
                     {}, "this is a bug in Kiln's ONNX exporter; please report it with the graph");
}

}  // namespace

Result<OnnxModel> buildOnnx(const Graph& graph, const OnnxWeights& weights, const OnnxOptions& options,
                              const NodeRegistry& registry)
{
    const GraphInfo info = inferShapes(graph, registry);
    if (!info.ok()) return *info.firstError;
    if (info.order.empty()) return makeError("the graph is empty", {}, "add an input node and layers");
    if (!options.symbolicBatch && options.batch < 1) return makeError("the batch size must be at least 1");

    const auto found = graphOutput(graph, info);
    if (!found) return found.error();
    const NodeId output = *found;

    onnx::ModelProto model;
    model.set_ir_version(7);  // the IR of opset 13 (ONNX 1.8): readable by older runtimes too
    model.set_producer_name("Kiln");
#ifdef KILN_VERSION
    model.set_producer_version(KILN_VERSION);
#endif
    auto& source = *model.add_metadata_props();  // the network the file was exported from
    source.set_key("kiln.graph");
    source.set_value(graphToJson(graph));
    auto& opset = *model.add_opset_import();
    opset.set_domain("");
    opset.set_version(kOnnxOpset);
    onnx::GraphProto& g = *model.mutable_graph();
    g.set_name(options.modelName.empty() ? "KilnModel" : options.modelName);
    if (!graph.description.empty()) g.set_doc_string(graph.description);

    OnnxModel result;
    onnxgen::GraphBuilder b(g, weights);
    std::map<NodeId, std::string> tensorOf;
    for (NodeId id : info.order) {
        const Node& node = *graph.node(id);
        const NodeType& type = *registry.find(node.type);
        const NodeInfo& ni = info.nodes.at(id);
        if (type.role == NodeRole::Loss) continue;
        if (type.role == NodeRole::Input) {
            b.unique(node.name);
            setShape(*g.add_input(), ni.outputs.at(0), options);
            g.mutable_input(g.input_size() - 1)->set_name(node.name);
            tensorOf[id] = node.name;
            continue;
        }
        const onnxgen::OpFn* emit = onnxgen::findOp(type.id);
        if (!emit)
            return makeError("ONNX export does not know " + type.displayName + " nodes (" + type.id + ")", node.name,
                             "the plugin that adds this node type would have to provide its ONNX form");
        std::vector<std::string> openCv;
        onnxgen::OpContext ctx{node, type, ParamReader(node, type), {}, {}, ni.outputs.at(0), b, node.name + "/", openCv};
        for (const auto& port : type.inputs) {
            const Edge* e = graph.edgeInto(PortRef{id, port.name});
            ctx.inputs.push_back(e ? tensorOf.at(e->from.node) : std::string());
            const NodeType& from = e ? *registry.find(graph.node(e->from.node)->type) : type;
            ctx.inputShapes.push_back(
                e ? &info.nodes.at(e->from.node).outputs.at(static_cast<std::size_t>(from.outputIndex(e->from.port)))
                  : nullptr);
        }
        auto out = (*emit)(ctx);
        if (!out) {
            Error err = out.error();
            if (err.where.empty()) err.where = node.name;
            return err;
        }
        for (auto& why : openCv) {
            if (options.requireOpenCv)
                return makeError("OpenCV's DNN module could not load this " + type.displayName + ": " + why, node.name,
                                 "leave requireOpenCv off to export it for ONNX runtimes");
            result.openCvUnsupported.push_back(makeError(why, node.name));
        }
        tensorOf[id] = *out;
    }
    std::string outName = tensorOf.at(output);
    if (registry.find(graph.node(output)->type)->role == NodeRole::Input)
        outName = b.opOut("Identity", {outName}, "output");  // an input cannot also be the output
    auto& out = *g.add_output();
    out.set_name(outName);
    const Shape& outShape = info.nodes.at(output).outputs.at(0);
    setShape(out, outShape, options);

    try {
        onnx::checker::check_model(model);
        // Shape inference reads the initializers' types and shapes, not the float values: it gets a
        // copy without them (moved out and back, so large models are not copied).
        // (Only the float ones: touching raw_data of the int64 shapes would mark it present.)
        std::vector<std::string> values(static_cast<std::size_t>(g.initializer_size()));
        auto swapValues = [&] {
            for (int i = 0; i < g.initializer_size(); ++i)
                if (g.initializer(i).data_type() == onnx::TensorProto::FLOAT)
                    g.mutable_initializer(i)->mutable_raw_data()->swap(values[static_cast<std::size_t>(i)]);
        };
        swapValues();
        onnx::ModelProto inferred = model;
        swapValues();
        inferred.mutable_graph()->mutable_output(0)->mutable_type()->mutable_tensor_type()->clear_shape();
        onnx::shape_inference::InferShapes(inferred, onnx::OpSchemaRegistry::Instance(),
                                           onnx::ShapeInferenceOptions(true, 1, true));
        if (auto ok = sameShape(inferred.graph().output(0), outShape, options); !ok) return ok.error();
    } catch (const std::exception& ex) {
        return makeError(std::string("ONNX rejects the exported model: ") + ex.what(), {},
                         "this is a bug in Kiln's ONNX exporter; please report it with the graph");
    }
    if (!model.SerializeToString(&result.bytes)) return makeError("could not serialize the ONNX model");
    return result;
}

}  // namespace kiln::exporting
