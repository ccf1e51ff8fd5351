#include "onnx_torch_runner.h"

#include <fstream>
#include <functional>
#include <onnx/onnx_pb.h>
#include <stdexcept>

namespace kiln::test {

namespace {

torch::Tensor fromProto(const onnx::TensorProto& t)
{
    std::vector<std::int64_t> dims(t.dims().begin(), t.dims().end());
    if (t.data_type() == onnx::TensorProto::FLOAT) {
        if (!t.raw_data().empty())
            return torch::from_blob(const_cast<char*>(t.raw_data().data()), dims, torch::kFloat32).clone();
        return torch::tensor(std::vector<float>(t.float_data().begin(), t.float_data().end())).reshape(dims);
    }
    if (t.data_type() == onnx::TensorProto::INT64)
        return torch::tensor(std::vector<std::int64_t>(t.int64_data().begin(), t.int64_data().end()), torch::kLong)
            .reshape(dims);
    throw std::runtime_error("initializer " + t.name() + ": unsupported data type");
}

struct Attrs {
    const onnx::NodeProto& node;
    const onnx::AttributeProto* find(const std::string& name) const
    {
        for (const auto& a : node.attribute())
            if (a.name() == name) return &a;
        return nullptr;
    }
    std::int64_t i(const std::string& name, std::int64_t def) const { return find(name) ? find(name)->i() : def; }
    float f(const std::string& name, float def) const { return find(name) ? find(name)->f() : def; }
    std::vector<std::int64_t> ints(const std::string& name, std::vector<std::int64_t> def = {}) const
    {
        const auto* a = find(name);
        return a ? std::vector<std::int64_t>(a->ints().begin(), a->ints().end()) : def;
    }
};

// ONNX pads are [begin of each axis..., end of each axis...]; torch wants one symmetric pad per
// axis here (Kiln writes no other).
std::vector<std::int64_t> symmetric(const std::vector<std::int64_t>& pads, std::size_t axes)
{
    if (pads.empty()) return std::vector<std::int64_t>(axes, 0);
    std::vector<std::int64_t> out;
    for (std::size_t i = 0; i < axes; ++i) {
        if (pads[i] != pads[i + axes]) throw std::runtime_error("asymmetric pads");
        out.push_back(pads[i]);
    }
    return out;
}

std::int64_t axisOf(std::int64_t axis, std::int64_t rank) { return axis < 0 ? axis + rank : axis; }

using Op = std::function<torch::Tensor(const std::vector<torch::Tensor>&, const Attrs&)>;

const std::map<std::string, Op>& ops()
{
    static const std::map<std::string, Op> table = {
        {"Identity", [](auto& x, auto&) { return x[0]; }},
        {"Relu", [](auto& x, auto&) { return torch::relu(x[0]); }},
        {"Sigmoid", [](auto& x, auto&) { return torch::sigmoid(x[0]); }},
        {"Tanh", [](auto& x, auto&) { return torch::tanh(x[0]); }},
        {"Erf", [](auto& x, auto&) { return torch::erf(x[0]); }},
        {"Sqrt", [](auto& x, auto&) { return torch::sqrt(x[0]); }},
        {"LeakyRelu", [](auto& x, const Attrs& a) { return torch::leaky_relu(x[0], a.f("alpha", 0.01f)); }},
        {"Add", [](auto& x, auto&) { return x[0] + x[1]; }},
        {"Sub", [](auto& x, auto&) { return x[0] - x[1]; }},
        {"Mul", [](auto& x, auto&) { return x[0] * x[1]; }},
        {"Div", [](auto& x, auto&) { return x[0] / x[1]; }},
        {"MatMul", [](auto& x, auto&) { return torch::matmul(x[0], x[1]); }},
        {"Gemm",
         [](auto& x, const Attrs& a) {
             if (a.i("transA", 0) || a.f("alpha", 1) != 1 || a.f("beta", 1) != 1) throw std::runtime_error("Gemm form");
             torch::Tensor y = torch::matmul(x[0], a.i("transB", 0) ? x[1].t() : x[1]);
             return x.size() > 2 ? y + x[2] : y;
         }},
        {"Softmax", [](auto& x, const Attrs& a) { return torch::softmax(x[0], axisOf(a.i("axis", -1), x[0].dim())); }},
        {"Conv",
         [](auto& x, const Attrs& a) {
             return torch::conv2d(x[0], x[1], x.size() > 2 ? x[2] : torch::Tensor(), a.ints("strides", {1, 1}),
                                  symmetric(a.ints("pads"), 2), a.ints("dilations", {1, 1}), a.i("group", 1));
         }},
        {"ConvTranspose",
         [](auto& x, const Attrs& a) {
             return torch::conv_transpose2d(x[0], x[1], x.size() > 2 ? x[2] : torch::Tensor(), a.ints("strides", {1, 1}),
                                            symmetric(a.ints("pads"), 2), a.ints("output_padding", {0, 0}),
                                            a.i("group", 1), a.ints("dilations", {1, 1}));
         }},
        {"MaxPool",
         [](auto& x, const Attrs& a) {
             return torch::max_pool2d(x[0], a.ints("kernel_shape"), a.ints("strides", {1, 1}),
                                      symmetric(a.ints("pads"), 2));
         }},
        {"AveragePool",
         [](auto& x, const Attrs& a) {
             return torch::avg_pool2d(x[0], a.ints("kernel_shape"), a.ints("strides", {1, 1}), symmetric(a.ints("pads"), 2),
                                      false, a.i("count_include_pad", 0) != 0);
         }},
        {"GlobalAveragePool", [](auto& x, auto&) { return x[0].mean({2, 3}, true); }},
        {"Pad",
         [](auto& x, auto&) {
             const auto p = x[1].template contiguous().template data_ptr<std::int64_t>();
             const auto rank = x[0].dim();
             std::vector<std::int64_t> torchPads;  // last axis first, (begin, end) pairs
             for (auto i = rank - 1; i >= 0; --i) {
                 torchPads.push_back(p[i]);
                 torchPads.push_back(p[i + rank]);
             }
             return torch::constant_pad_nd(x[0], torchPads, 0);
         }},
        {"Flatten",
         [](auto& x, const Attrs& a) {
             const auto axis = axisOf(a.i("axis", 1), x[0].dim());
             std::int64_t outer = 1;
             for (std::int64_t i = 0; i < axis; ++i) outer *= x[0].size(i);
             return x[0].reshape({outer, -1});
         }},
        {"Reshape",
         [](auto& x, auto&) {
             std::vector<std::int64_t> shape(x[1].template data_ptr<std::int64_t>(),
                                             x[1].template data_ptr<std::int64_t>() + x[1].numel());
             for (std::size_t i = 0; i < shape.size(); ++i)
                 if (shape[i] == 0) shape[i] = x[0].size(static_cast<std::int64_t>(i));
             return x[0].reshape(shape);
         }},
        {"Transpose", [](auto& x, const Attrs& a) { return x[0].permute(a.ints("perm")); }},
        {"Concat",
         [](auto& x, const Attrs& a) { return torch::cat(x, axisOf(a.i("axis", 0), x[0].dim())); }},
        {"Expand",
         [](auto& x, auto&) {
             std::vector<std::int64_t> shape(x[1].template data_ptr<std::int64_t>(),
                                             x[1].template data_ptr<std::int64_t>() + x[1].numel());
             return x[0].expand(at::infer_size(x[0].sizes(), shape));
         }},
        {"Gather",
         [](auto& x, const Attrs& a) {
             if (a.i("axis", 0) != 0) throw std::runtime_error("Gather axis");
             std::vector<std::int64_t> shape = x[1].sizes().vec();
             for (std::int64_t i = 1; i < x[0].dim(); ++i) shape.push_back(x[0].size(i));
             return x[0].index_select(0, x[1].reshape({-1})).reshape(shape);
         }},
        {"BatchNormalization",
         [](auto& x, const Attrs& a) {
             return torch::batch_norm(x[0], x[1], x[2], x[3], x[4], false, 0.0, a.f("epsilon", 1e-5f), false);
         }},
        {"InstanceNormalization",
         [](auto& x, const Attrs& a) {
             return torch::instance_norm(x[0], x[1], x[2], {}, {}, true, 0.0, a.f("epsilon", 1e-5f), false);
         }},
        {"ReduceMean",
         [](auto& x, const Attrs& a) { return x[0].mean(a.ints("axes"), a.i("keepdims", 1) != 0); }},
    };
    return table;
}

}  // namespace

std::map<std::string, torch::Tensor> runOnnxWithTorch(const std::string& path,
                                                      const std::map<std::string, torch::Tensor>& inputs)
{
    onnx::ModelProto model;
    std::ifstream in(path, std::ios::binary);
    if (!model.ParseFromIstream(&in)) throw std::runtime_error("cannot parse " + path);
    std::map<std::string, torch::Tensor> values = inputs;
    for (const auto& t : model.graph().initializer()) values[t.name()] = fromProto(t);
    torch::NoGradGuard noGrad;
    for (const auto& node : model.graph().node()) {
        auto op = ops().find(node.op_type());
        if (op == ops().end()) throw std::runtime_error("no operator " + node.op_type());
        std::vector<torch::Tensor> args;
        for (const auto& name : node.input()) {
            auto v = values.find(name);
            if (v == values.end()) throw std::runtime_error(node.name() + ": no value " + name);
            args.push_back(v->second);
        }
        values[node.output(0)] = op->second(args, Attrs{node});
    }
    values["@output"] = values.at(model.graph().output(0).name());
    return values;
}

}  // namespace kiln::test
