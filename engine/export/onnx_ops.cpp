// Each built-in node type as ONNX opset-13 operators, computing what its builder in
// engine/graph/build_*.cpp computes in eval mode. Types ONNX 13 lacks are spelled out in the
// primitive operators that OpenCV's DNN importer and ONNX runtimes know: attention (MatMul,
// Reshape, Transpose, Softmax; rotary encoding as constant cos/sin tables and a second
// projection whose rows are the rotated ones, which is exact: it only permutes and negates),
// LayerNorm and RMSNorm (MatMuls with ones for the means, Sqrt, Div), GroupNorm
// (InstanceNormalization over groups, as PyTorch exports it), GELU and SiLU. Where OpenCV 4.6
// needs a longer spelling than ONNX does, the comment at the emitter says why.
#include "export/onnx_graph.h"

#include <cmath>
#include <limits>
#include <map>

namespace kiln::exporting::onnxgen {

using namespace graph;

namespace {

using R = Result<std::string>;

std::vector<std::int64_t> pair(std::int64_t v) { return {v, v}; }

std::int64_t axis(std::int64_t dim, std::size_t rank)
{
    return dim < 0 ? dim + static_cast<std::int64_t>(rank) : dim;
}

// A constant named after the node and `name`, every value `v`.
std::string filled(OpContext& c, const std::string& name, const std::vector<std::int64_t>& shape, float v)
{
    std::size_t n = 1;
    for (auto d : shape) n *= static_cast<std::size_t>(d);
    return c.b.constant(c.prefix + name, shape, std::vector<float>(n, v));
}

OpFn unary(const char* opType)
{
    return [opType](OpContext& c) -> R { return c.b.opOut(opType, {c.inputs[0]}, c.node.name); };
}

// Kiln's weight [out, in] as the right operand of MatMul ([in, out]). With a `headDim`, each row
// is replaced by the one rotate_half moves there within its head, negated where rotate_half
// negates, so x·result = rotate_half(x·Wᵀ) exactly.
OnnxWeight transposed(const OnnxWeight& w, std::int64_t headDim = 0)
{
    const auto out = w.shape.at(0), in = w.shape.at(1);
    OnnxWeight t{{in, out}, std::vector<float>(w.values.size())};
    for (std::int64_t r = 0; r < out; ++r) {
        std::int64_t src = r;
        float sign = 1;
        if (headDim > 0) {
            const auto half = headDim / 2, j = r % headDim;
            src = j < half ? r + half : r - half;
            sign = j < half ? -1.0f : 1.0f;
        }
        for (std::int64_t i = 0; i < in; ++i)
            t.values[static_cast<std::size_t>(i * out + r)] = sign * w.values[static_cast<std::size_t>(src * in + i)];
    }
    return t;
}

OnnxWeight rotatedBias(const OnnxWeight& b, std::int64_t headDim)
{
    OnnxWeight r = b;
    const auto n = static_cast<std::int64_t>(b.values.size()), half = headDim / 2;
    for (std::int64_t c = 0; c < n; ++c) {
        const auto j = c % headDim;
        r.values[static_cast<std::size_t>(c)] =
            j < half ? -b.values[static_cast<std::size_t>(c + half)] : b.values[static_cast<std::size_t>(c - half)];
    }
    return r;
}

// x · Wᵀ (+ b) over the last dimension of x as MatMul (+ Add), what torch::linear does for any
// rank. `key` names Kiln's weights ("attn.q" for attn.q.weight); derived constants are named
// `stem` + what they are ("attn/q_weight_t").
R matmulLinear(OpContext& c, const std::string& x, const std::string& key, bool bias, const std::string& out,
               const std::string& stem, std::int64_t rotateHeads = 0)
{
    auto w = c.b.weightValues(key + ".weight");
    if (!w) return w.error();
    OnnxWeight wt = transposed(**w, rotateHeads);
    const std::string wName =
        c.b.constant(stem + (rotateHeads ? "weight_rotated_t" : "weight_t"), wt.shape, std::move(wt.values));
    if (!bias) return c.b.opOut("MatMul", {x, wName}, out);
    const std::string y = c.b.opOut("MatMul", {x, wName}, out + "_matmul");
    std::string bName;
    if (rotateHeads) {
        auto bv = c.b.weightValues(key + ".bias");
        if (!bv) return bv.error();
        OnnxWeight rb = rotatedBias(**bv, rotateHeads);
        bName = c.b.constant(stem + "bias_rotated", rb.shape, std::move(rb.values));
    } else {
        auto bw = c.b.weight(key + ".bias");
        if (!bw) return bw.error();
        bName = *bw;
    }
    return c.b.opOut("Add", {y, bName}, out);
}

R conv(OpContext& c, bool transposedConv)
{
    auto w = c.b.weight(c.node.name + ".weight");
    if (!w) return w.error();
    std::vector<std::string> in{c.inputs[0], *w};
    if (c.params.b("bias")) {
        auto b = c.b.weight(c.node.name + ".bias");
        if (!b) return b.error();
        in.push_back(*b);
    }
    auto& n = c.b.op(transposedConv ? "ConvTranspose" : "Conv", in, c.node.name);
    const auto p = c.params.i("padding");
    setAttr(n, "kernel_shape", pair(c.params.i("kernel_size")));
    setAttr(n, "strides", pair(c.params.i("stride")));
    setAttr(n, "pads", std::vector<std::int64_t>{p, p, p, p});
    setAttr(n, "dilations", pair(c.params.i("dilation")));
    setAttr(n, "group", c.params.i("groups"));
    if (transposedConv) setAttr(n, "output_padding", pair(c.params.i("output_padding")));
    return n.output(0);
}

R linear(OpContext& c)
{
    const bool bias = c.params.b("bias");
    if (c.inputShapes[0]->rank() != 2) return matmulLinear(c, c.inputs[0], c.node.name, bias, c.node.name, c.prefix);
    // [B, in]: Gemm takes Kiln's weight as it is (transB), the form every importer knows.
    auto w = c.b.weight(c.node.name + ".weight");
    if (!w) return w.error();
    std::vector<std::string> in{c.inputs[0], *w};
    if (bias) {
        auto b = c.b.weight(c.node.name + ".bias");
        if (!b) return b.error();
        in.push_back(*b);
    }
    auto& n = c.b.op("Gemm", in, c.node.name);
    setAttr(n, "transB", std::int64_t(1));
    return n.output(0);
}

// Position p turns pair (i, i + d/2) of every head by p·base^(-2i/d): the tables are laid out over
// [T, dim] (all heads side by side) so they apply before the heads are split. Angles in double,
// then rounded to float, as build_attention.cpp computes them.
std::pair<std::vector<float>, std::vector<float>> ropeTables(std::int64_t t, std::int64_t dim, std::int64_t headDim,
                                                             double base)
{
    std::vector<float> cos(static_cast<std::size_t>(t * dim)), sin(cos.size());
    for (std::int64_t p = 0; p < t; ++p)
        for (std::int64_t col = 0; col < dim; ++col) {
            const auto i = (col % headDim) % (headDim / 2);
            const double inverse = std::pow(base, -2.0 * static_cast<double>(i) / static_cast<double>(headDim));
            const double angle = static_cast<double>(p) * inverse;
            cos[static_cast<std::size_t>(p * dim + col)] = static_cast<float>(std::cos(angle));
            sin[static_cast<std::size_t>(p * dim + col)] = static_cast<float>(std::sin(angle));
        }
    return {cos, sin};
}

R attention(OpContext& c)
{
    const auto dim = c.params.i("dim"), heads = c.params.i("heads"), hd = dim / heads;
    const auto t = c.inputShapes[0]->dims.at(1).size;
    const bool bias = c.params.b("bias");
    const std::string& x = c.inputs[0];
    const std::string& name = c.node.name;
    std::map<std::string, std::string> proj;
    for (const char* p : {"q", "k", "v"}) {
        auto y = matmulLinear(c, x, name + "." + p, bias, c.prefix + p, c.prefix + p + "_");
        if (!y) return y;
        proj[p] = *y;
    }
    if (c.params.b("rope")) {
        auto [cos, sin] = ropeTables(t, dim, hd, c.params.f("rope_base"));
        const std::string cosName = c.b.constant(c.prefix + "rope_cos", {t, dim}, std::move(cos));
        const std::string sinName = c.b.constant(c.prefix + "rope_sin", {t, dim}, std::move(sin));
        for (const char* p : {"q", "k"}) {
            auto rotated = matmulLinear(c, x, name + "." + p, bias, c.prefix + p + "_rotated", c.prefix + p + "_", hd);
            if (!rotated) return rotated;
            const std::string a = c.b.opOut("Mul", {proj[p], cosName}, c.prefix + p + "_cos");
            const std::string s = c.b.opOut("Mul", {*rotated, sinName}, c.prefix + p + "_sin");
            proj[p] = c.b.opOut("Add", {a, s}, c.prefix + p + "_rope");
        }
    }
    const std::string headsShape = c.b.ints(c.prefix + "heads_shape", {0, t, heads, hd});
    auto split = [&](const std::string& p, std::vector<std::int64_t> perm) {
        const std::string r = c.b.opOut("Reshape", {proj[p], headsShape}, c.prefix + p + "_heads");
        auto& n = c.b.op("Transpose", {r}, c.prefix + p + "_t");
        setAttr(n, "perm", perm);
        return n.output(0);
    };
    // q is divided by √d before QKᵀ rather than the scores after it: OpenCV 4.6 folds a scale that
    // follows a MatMul of two computed tensors into the MatMul and then drops it.
    const std::string sqrtD = c.b.scalar(c.prefix + "sqrt_d", static_cast<float>(std::sqrt(static_cast<double>(hd))));
    const std::string q = c.b.opOut("Div", {split("q", {0, 2, 1, 3}), sqrtD}, c.prefix + "q_scaled");  // [B, H, T, d]
    const std::string k = split("k", {0, 2, 3, 1});  // [B, H, d, T]
    const std::string v = split("v", {0, 2, 1, 3});
    std::string scores = c.b.opOut("MatMul", {q, k}, c.prefix + "scores");
    if (c.params.b("causal")) {
        std::vector<float> mask(static_cast<std::size_t>(t * t), 0.0f);
        for (std::int64_t i = 0; i < t; ++i)
            for (std::int64_t j = i + 1; j < t; ++j)
                mask[static_cast<std::size_t>(i * t + j)] = -std::numeric_limits<float>::infinity();
        scores = c.b.opOut("Add", {scores, c.b.constant(c.prefix + "causal_mask", {t, t}, std::move(mask))},
                           c.prefix + "scores_masked");
    }
    auto& soft = c.b.op("Softmax", {scores}, c.prefix + "weights");
    setAttr(soft, "axis", std::int64_t(3));
    const std::string y = c.b.opOut("MatMul", {soft.output(0), v}, c.prefix + "mixed");  // [B, H, T, d]
    auto& back = c.b.op("Transpose", {y}, c.prefix + "mixed_t");
    setAttr(back, "perm", std::vector<std::int64_t>{0, 2, 1, 3});
    const std::string merged = c.b.opOut("Reshape", {back.output(0), c.b.ints(c.prefix + "merged_shape", {0, t, dim})},
                                         c.prefix + "merged");
    return matmulLinear(c, merged, name + ".o", bias, name, c.prefix + "o_");
}

R batchNorm(OpContext& c)
{
    const auto n = c.params.i("num_features");
    std::vector<std::string> in{c.inputs[0]};
    if (c.params.b("affine")) {
        for (const char* p : {".weight", ".bias"}) {
            auto w = c.b.weight(c.node.name + p);
            if (!w) return w.error();
            in.push_back(*w);
        }
    } else {
        in.push_back(filled(c, "scale", {n}, 1.0f));
        in.push_back(filled(c, "shift", {n}, 0.0f));
    }
    for (const char* p : {".running_mean", ".running_var"}) {
        auto w = c.b.weight(c.node.name + p);
        if (!w) return w.error();
        in.push_back(*w);
    }
    auto& node = c.b.op("BatchNormalization", in, c.node.name);
    setAttr(node, "epsilon", static_cast<float>(c.params.f("eps")));
    return node.output(0);
}

// A per-channel weight [C] as [C, 1, ...] so it broadcasts over [B, C, ...].
R channelConstant(OpContext& c, const std::string& key, std::size_t rank)
{
    auto w = c.b.weightValues(key);
    if (!w) return w.error();
    std::vector<std::int64_t> shape{(*w)->shape.at(0)};
    shape.resize(rank - 1, 1);
    return c.b.constant(c.prefix + key.substr(key.rfind('.') + 1), shape, (*w)->values);
}

R groupNorm(OpContext& c)
{
    const Shape& in = *c.inputShapes[0];
    if (!(in.dims[0] == Dim::batchOf()))
        return makeError("ONNX export needs the batch in the first dimension of GroupNorm's input " + formatShape(in));
    // As PyTorch exports it: [B, G, rest] is what InstanceNormalization normalizes per (batch,
    // group), with the mean and biased variance torch's group_norm uses; the per-channel scale
    // and shift come after, on the input's shape again.
    const auto groups = c.params.i("num_groups");
    const std::string grouped = c.b.opOut("Reshape", {c.inputs[0], c.b.ints(c.prefix + "group_shape", {0, groups, -1})},
                                          c.prefix + "grouped");
    auto& norm = c.b.op("InstanceNormalization",
                        {grouped, filled(c, "ones", {groups}, 1.0f), filled(c, "zeros", {groups}, 0.0f)},
                        c.prefix + "normalized");
    setAttr(norm, "epsilon", static_cast<float>(c.params.f("eps")));  // OpenCV needs it spelled out
    const bool affine = c.params.b("affine");
    const std::string y = c.b.opOut("Reshape", {norm.output(0), c.b.ints(c.prefix + "shape", reshapeTarget(in, in))},
                                    affine ? c.prefix + "ungrouped" : c.node.name);
    if (!affine) return y;
    auto w = channelConstant(c, c.node.name + ".weight", in.rank());
    if (!w) return w;
    auto b = channelConstant(c, c.node.name + ".bias", in.rank());
    if (!b) return b;
    return c.b.opOut("Add", {c.b.opOut("Mul", {y, *w}, c.prefix + "scaled"), *b}, c.node.name);
}

// The mean over the last dimension (size n), kept as a dimension of 1 and then repeated back to
// n, as MatMuls with constant columns of ones. ReduceMean and broadcasting would say it shorter,
// but OpenCV 4.6 reduces a 3-D tensor's last axis to a wrong shape and cannot broadcast one
// computed tensor against another; MatMul with a constant it runs on any rank.
std::string meanLast(OpContext& c, const std::string& x, std::int64_t n, const std::string& out)
{
    const std::string sum = c.b.opOut("MatMul", {x, filled(c, "ones_column", {n, 1}, 1.0f)}, out + "_sum");
    return c.b.opOut("Div", {sum, c.b.scalar(c.prefix + "count", static_cast<float>(n))}, out);
}

std::string repeatLast(OpContext& c, const std::string& x, std::int64_t n, const std::string& out)
{
    return c.b.opOut("MatMul", {x, filled(c, "ones_row", {1, n}, 1.0f)}, out);
}

// A weight over the last dimension, to multiply an input of more than two dimensions by: repeated
// over the other dimensions of a sample ([T, D] for [B, T, D]), since OpenCV 4.6 multiplies a
// 3-D tensor by a 1-D constant as if it were per channel (dimension 1) and fails.
R tiledWeight(OpContext& c, const std::string& key)
{
    const Shape& in = *c.inputShapes[0];
    if (in.rank() <= 2) return c.b.weight(key);
    auto w = c.b.weightValues(key);
    if (!w) return w.error();
    std::vector<std::int64_t> shape;
    std::size_t repeats = 1;
    for (std::size_t i = 1; i < in.rank(); ++i) {
        shape.push_back(in.dims[i].size);
        if (i + 1 < in.rank()) repeats *= static_cast<std::size_t>(in.dims[i].size);
    }
    std::vector<float> values;
    values.reserve(repeats * (*w)->values.size());
    for (std::size_t r = 0; r < repeats; ++r) values.insert(values.end(), (*w)->values.begin(), (*w)->values.end());
    return c.b.constant(c.prefix + "weight_tiled", shape, std::move(values));
}

// LayerNorm: (x - mean) / sqrt(var + eps) · w + b; RMSNorm: x / sqrt(mean(x²) + eps) · w, both
// over the last dimension (build_norm.cpp).
R lastDimNorm(OpContext& c, bool rms)
{
    const std::string& x = c.inputs[0];
    const auto n = c.inputShapes[0]->dims.back().size;
    const std::string centred =
        rms ? x : c.b.opOut("Sub", {x, repeatLast(c, meanLast(c, x, n, c.prefix + "mean"), n, c.prefix + "mean_repeated")},
                            c.prefix + "centred");
    const std::string squared = c.b.opOut("Mul", {centred, centred}, c.prefix + "squared");
    const std::string var = meanLast(c, squared, n, c.prefix + "variance");
    const std::string eps = c.b.scalar(c.prefix + "eps", static_cast<float>(c.params.f("eps")));
    const std::string varEps = c.b.opOut("Add", {var, eps}, c.prefix + "variance_eps");
    const std::string root = c.b.opOut("Sqrt", {varEps}, c.prefix + "root");
    const bool affine = c.params.b("elementwise_affine");
    const bool shift = affine && !rms;
    std::string y = c.b.opOut("Div", {centred, repeatLast(c, root, n, c.prefix + "root_repeated")},
                              affine ? c.prefix + "normalized" : c.node.name);
    if (!affine) return y;
    auto w = tiledWeight(c, c.node.name + ".weight");
    if (!w) return w;
    y = c.b.opOut("Mul", {y, *w}, shift ? c.prefix + "scaled" : c.node.name);
    if (!shift) return y;
    auto b = c.b.weight(c.node.name + ".bias");
    if (!b) return b;
    return c.b.opOut("Add", {y, *b}, c.node.name);
}

// Add and Multiply broadcast as torch does. OpenCV 4.6 cannot broadcast two computed tensors, so
// an input of another shape is first Expanded to the output's (the batch dimension, written 1,
// stays whatever the input's is); where that cannot be said (the batch itself would broadcast)
// the plain operator is left and the file is marked as beyond OpenCV.
R binary(OpContext& c, const char* opType)
{
    std::vector<std::string> in;
    for (std::size_t p = 0; p < 2; ++p) {
        const Shape& s = *c.inputShapes[p];
        if (s.dims == c.output.dims) {
            in.push_back(c.inputs[p]);
            continue;
        }
        std::vector<std::int64_t> target;
        bool expressible = true;
        const std::size_t offset = c.output.rank() - s.rank();
        for (std::size_t i = 0; i < c.output.rank(); ++i) {
            const Dim& d = c.output.dims[i];
            if (!d.batch) target.push_back(d.size);
            else if (i >= offset && s.dims[i - offset] == d) target.push_back(1);
            else expressible = false;
        }
        if (!expressible) {
            c.openCv.push_back(c.type.displayName + " broadcasts " + formatShape(s) + " along the batch");
            in.push_back(c.inputs[p]);
            continue;
        }
        in.push_back(c.b.opOut("Expand", {c.inputs[p], c.b.ints(c.prefix + "expand_shape", target)},
                               c.prefix + c.type.inputs[p].name + "_expanded"));
    }
    return c.b.opOut(opType, in, c.node.name);
}

R gelu(OpContext& c)
{
    const std::string& x = c.inputs[0];
    const std::string& p = c.prefix;
    std::string inner;
    if (c.params.s("approximate") == "tanh") {  // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
        const std::string cube = c.b.opOut("Mul", {c.b.opOut("Mul", {x, x}, p + "x2"), x}, p + "x3");
        const std::string kCube = c.b.opOut("Mul", {cube, c.b.scalar(p + "k", 0.044715f)}, p + "kx3");
        const std::string sum = c.b.opOut("Add", {x, kCube}, p + "sum");
        const std::string scale = c.b.scalar(p + "sqrt_2_over_pi", static_cast<float>(std::sqrt(2.0 / M_PI)));
        inner = c.b.opOut("Tanh", {c.b.opOut("Mul", {sum, scale}, p + "arg")}, p + "tanh");
    } else {  // 0.5·x·(1 + erf(x/√2))
        const std::string arg = c.b.opOut("Div", {x, c.b.scalar(p + "sqrt_2", static_cast<float>(M_SQRT2))}, p + "arg");
        inner = c.b.opOut("Erf", {arg}, p + "erf");
    }
    const std::string onePlus = c.b.opOut("Add", {inner, c.b.scalar(p + "one", 1.0f)}, p + "one_plus");
    const std::string half = c.b.opOut("Mul", {x, c.b.scalar(p + "half", 0.5f)}, p + "half_x");
    return c.b.opOut("Mul", {half, onePlus}, c.node.name);
}

R pool(OpContext& c, bool max)
{
    const auto k = c.params.i("kernel_size"), p = c.params.i("padding");
    const auto s = c.params.i("stride") == 0 ? k : c.params.i("stride");
    std::string x = c.inputs[0];
    std::vector<std::int64_t> pads{p, p, p, p};
    if (!max && p > 0) {
        // torch's avg_pool2d counts the zero padding in each window's average. AveragePool's
        // count_include_pad says so too, but OpenCV 4.6 ignores it (it decides by the file's
        // producer name), so the zeros are made explicit with a Pad and the pool has none.
        x = c.b.opOut("Pad", {x, c.b.ints(c.prefix + "pads", {0, 0, p, p, 0, 0, p, p})}, c.prefix + "padded");
        pads = {0, 0, 0, 0};
    }
    auto& n = c.b.op(max ? "MaxPool" : "AveragePool", {x}, c.node.name);
    setAttr(n, "kernel_shape", pair(k));
    setAttr(n, "strides", pair(s));
    setAttr(n, "pads", pads);
    return n.output(0);
}

R adaptivePool(OpContext& c)
{
    const auto o = c.params.i("output_size");
    if (o == 1) return c.b.opOut("GlobalAveragePool", {c.inputs[0]}, c.node.name);
    const Shape& in = *c.inputShapes[0];
    const auto h = in.dims[2].size, w = in.dims[3].size;
    if (h % o != 0 || w % o != 0)
        return makeError("ONNX has no adaptive pooling, and " + std::to_string(h) + "×" + std::to_string(w) +
                             " does not split into " + std::to_string(o) + "×" + std::to_string(o) +
                             " equal windows that an AveragePool could take",
                         {}, "choose an output_size that divides the input's height and width, or 1");
    auto& n = c.b.op("AveragePool", {c.inputs[0]}, c.node.name);
    setAttr(n, "kernel_shape", std::vector<std::int64_t>{h / o, w / o});
    setAttr(n, "strides", std::vector<std::int64_t>{h / o, w / o});
    return n.output(0);
}

R reshapeTo(OpContext& c)
{
    return c.b.opOut("Reshape", {c.inputs[0], c.b.ints(c.prefix + "shape", reshapeTarget(*c.inputShapes[0], c.output))},
                     c.node.name);
}

const std::map<std::string, OpFn, std::less<>>& table()
{
    static const std::map<std::string, OpFn, std::less<>> t = {
        {"node.conv2d", [](OpContext& c) { return conv(c, false); }},
        {"node.conv_transpose2d", [](OpContext& c) { return conv(c, true); }},
        {"node.linear", linear},
        {"node.embedding",
         [](OpContext& c) -> R {
             auto w = c.b.weight(c.node.name + ".weight");
             if (!w) return w;
             c.openCv.push_back("OpenCV 4.6 gathers only with constant indices, not token ids from the input");
             return c.b.opOut("Gather", {*w, c.inputs[0]}, c.node.name);
         }},
        {"node.attention", attention},
        {"node.batchnorm2d", batchNorm},
        {"node.groupnorm", groupNorm},
        {"node.layernorm", [](OpContext& c) { return lastDimNorm(c, false); }},
        {"node.rmsnorm", [](OpContext& c) { return lastDimNorm(c, true); }},
        {"node.dropout", unary("Identity")},  // inference
        {"node.relu", unary("Relu")},
        {"node.sigmoid", unary("Sigmoid")},
        {"node.tanh", unary("Tanh")},
        {"node.silu",
         [](OpContext& c) -> R {
             return c.b.opOut("Mul", {c.inputs[0], c.b.opOut("Sigmoid", {c.inputs[0]}, c.prefix + "sigmoid")}, c.node.name);
         }},
        {"node.gelu", gelu},
        {"node.leaky_relu",
         [](OpContext& c) -> R {
             auto& n = c.b.op("LeakyRelu", {c.inputs[0]}, c.node.name);
             setAttr(n, "alpha", static_cast<float>(c.params.f("negative_slope")));
             return n.output(0);
         }},
        {"node.softmax",
         [](OpContext& c) -> R {
             auto& n = c.b.op("Softmax", {c.inputs[0]}, c.node.name);
             setAttr(n, "axis", axis(c.params.i("dim"), c.inputShapes[0]->rank()));
             return n.output(0);
         }},
        {"node.maxpool2d", [](OpContext& c) { return pool(c, true); }},
        {"node.avgpool2d", [](OpContext& c) { return pool(c, false); }},
        {"node.adaptive_avgpool2d", adaptivePool},
        {"node.flatten",
         [](OpContext& c) -> R {
             const auto rank = c.inputShapes[0]->rank();
             const bool allButBatch = axis(c.params.i("start_dim"), rank) == 1 &&
                                      axis(c.params.i("end_dim"), rank) == static_cast<std::int64_t>(rank) - 1;
             if (!allButBatch) return reshapeTo(c);
             auto& n = c.b.op("Flatten", {c.inputs[0]}, c.node.name);  // [B, rest]
             setAttr(n, "axis", std::int64_t(1));
             return n.output(0);
         }},
        {"node.reshape", reshapeTo},
        {"node.permute",
         [](OpContext& c) -> R {
             std::vector<std::int64_t> perm;
             for (auto d : c.params.list("dims")) perm.push_back(axis(d, c.inputShapes[0]->rank()));
             auto& n = c.b.op("Transpose", {c.inputs[0]}, c.node.name);
             setAttr(n, "perm", perm);
             return n.output(0);
         }},
        {"node.concat",
         [](OpContext& c) -> R {
             std::vector<std::string> parts;
             for (const auto& i : c.inputs)
                 if (!i.empty()) parts.push_back(i);
             auto& n = c.b.op("Concat", parts, c.node.name);
             setAttr(n, "axis", axis(c.params.i("dim"), c.inputShapes[0]->rank()));
             return n.output(0);
         }},
        {"node.add", [](OpContext& c) { return binary(c, "Add"); }},
        {"node.multiply", [](OpContext& c) { return binary(c, "Mul"); }},
    };
    return t;
}

}  // namespace

const OpFn* findOp(std::string_view typeId)
{
    const auto& t = table();
    auto it = t.find(typeId);
    return it == t.end() ? nullptr : &it->second;
}

}  // namespace kiln::exporting::onnxgen
