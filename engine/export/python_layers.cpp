// Each built-in node type as PyTorch code. Standard nn layers where PyTorch's computes exactly
// what the node's builder in engine/graph/build_*.cpp computes (same function, same defaults);
// small helper classes (python_prelude.cpp) where PyTorch 1.13 has none. Arguments that equal
// PyTorch's defaults are left out so the code reads like hand-written PyTorch.
#include "export/python_layers.h"

#include <charconv>
#include <cstdio>
#include <cmath>
#include <functional>
#include <map>

namespace kiln::exporting::py {

using graph::Node;
using graph::NodeType;
using graph::ParamReader;

std::string pyFloat(double v)
{
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    std::string s(buf, r.ptr);
    if (s.find_first_of(".en") == std::string::npos) s += ".0";  // 10000 -> 10000.0 (a float)
    return s;
}

std::string pyBool(bool v) { return v ? "True" : "False"; }

std::string pyString(const std::string& s)
{
    std::string out = "\"";
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') out += std::string("\\") + c;
        else if (c == '\n') out += "\\n";
        else if (u < 0x20 || u == 0x7f) {
            char esc[8];
            std::snprintf(esc, sizeof esc, "\\x%02x", u);
            out += esc;
        } else out += c;
    }
    return out + "\"";
}

namespace {

// Builds "Name(a, b, key=value, ...)", leaving out keywords equal to PyTorch's default.
class Call {
public:
    explicit Call(std::string fn) : text_(std::move(fn) + "(") {}
    Call& arg(const std::string& v) { return add(v); }
    Call& arg(std::int64_t v) { return add(std::to_string(v)); }
    Call& kw(const char* key, std::int64_t v, std::int64_t def)
    {
        return v == def ? *this : add(key + ("=" + std::to_string(v)));
    }
    Call& kw(const char* key, double v, double def) { return v == def ? *this : add(key + ("=" + pyFloat(v))); }
    Call& kw(const char* key, bool v, bool def) { return v == def ? *this : add(key + ("=" + pyBool(v))); }
    Call& kwAlways(const char* key, const std::string& v) { return add(key + ("=" + v)); }
    std::string str() const { return text_ + ")"; }

private:
    Call& add(const std::string& piece)
    {
        text_ += (first_ ? "" : ", ") + piece;
        first_ = false;
        return *this;
    }
    std::string text_;
    bool first_ = true;
};

using Make = std::function<Layer(const ParamReader&)>;

Layer plain(std::string module) { return Layer{std::move(module), {}}; }

Layer pool(const char* cls, const ParamReader& p)
{
    // Kiln's stride 0 means "the kernel size", which is PyTorch's default too.
    const auto k = p.i("kernel_size");
    const auto s = p.i("stride") == 0 ? k : p.i("stride");
    return plain(Call(cls).arg(k).kw("stride", s, k).kw("padding", p.i("padding"), 0).str());
}

const std::map<std::string, Make, std::less<>>& table()
{
    static const std::map<std::string, Make, std::less<>> t = {
        {"node.conv2d",
         [](const ParamReader& p) {
             return plain(Call("nn.Conv2d")
                              .arg(p.i("in_channels"))
                              .arg(p.i("out_channels"))
                              .kwAlways("kernel_size", std::to_string(p.i("kernel_size")))
                              .kw("stride", p.i("stride"), 1)
                              .kw("padding", p.i("padding"), 0)
                              .kw("dilation", p.i("dilation"), 1)
                              .kw("groups", p.i("groups"), 1)
                              .kw("bias", p.b("bias"), true)
                              .str());
         }},
        {"node.conv_transpose2d",
         [](const ParamReader& p) {
             return plain(Call("nn.ConvTranspose2d")
                              .arg(p.i("in_channels"))
                              .arg(p.i("out_channels"))
                              .kwAlways("kernel_size", std::to_string(p.i("kernel_size")))
                              .kw("stride", p.i("stride"), 1)
                              .kw("padding", p.i("padding"), 0)
                              .kw("output_padding", p.i("output_padding"), 0)
                              .kw("groups", p.i("groups"), 1)
                              .kw("bias", p.b("bias"), true)
                              .kw("dilation", p.i("dilation"), 1)
                              .str());
         }},
        {"node.linear",
         [](const ParamReader& p) {
             return plain(
                 Call("nn.Linear").arg(p.i("in_features")).arg(p.i("out_features")).kw("bias", p.b("bias"), true).str());
         }},
        {"node.embedding",
         [](const ParamReader& p) {
             return plain(Call("nn.Embedding").arg(p.i("num_embeddings")).arg(p.i("embedding_dim")).str());
         }},
        {"node.attention",
         [](const ParamReader& p) {
             return Layer{Call("SelfAttention")
                              .arg(p.i("dim"))
                              .kwAlways("heads", std::to_string(p.i("heads")))
                              .kwAlways("rope", pyBool(p.b("rope")))
                              .kwAlways("causal", pyBool(p.b("causal")))
                              .kwAlways("bias", pyBool(p.b("bias")))
                              .kwAlways("rope_base", pyFloat(p.f("rope_base")))
                              .str(),
                          "SelfAttention"};
         }},
        {"node.batchnorm2d",
         [](const ParamReader& p) {
             return plain(Call("nn.BatchNorm2d")
                              .arg(p.i("num_features"))
                              .kw("eps", p.f("eps"), 1e-5)
                              .kw("momentum", p.f("momentum"), 0.1)
                              .kw("affine", p.b("affine"), true)
                              .str());
         }},
        {"node.groupnorm",
         [](const ParamReader& p) {
             return plain(Call("nn.GroupNorm")
                              .arg(p.i("num_groups"))
                              .arg(p.i("num_channels"))
                              .kw("eps", p.f("eps"), 1e-5)
                              .kw("affine", p.b("affine"), true)
                              .str());
         }},
        {"node.layernorm",
         [](const ParamReader& p) {
             return plain(Call("nn.LayerNorm")
                              .arg(p.i("normalized_shape"))
                              .kw("eps", p.f("eps"), 1e-5)
                              .kw("elementwise_affine", p.b("elementwise_affine"), true)
                              .str());
         }},
        {"node.rmsnorm",
         [](const ParamReader& p) {
             return Layer{Call("RMSNorm")
                              .arg(p.i("dim"))
                              .kwAlways("eps", pyFloat(p.f("eps")))
                              .kw("elementwise_affine", p.b("elementwise_affine"), true)
                              .str(),
                          "RMSNorm"};
         }},
        {"node.dropout", [](const ParamReader& p) { return plain("nn.Dropout(p=" + pyFloat(p.f("p")) + ")"); }},
        {"node.relu", [](const ParamReader&) { return plain("nn.ReLU()"); }},
        {"node.silu", [](const ParamReader&) { return plain("nn.SiLU()"); }},
        {"node.sigmoid", [](const ParamReader&) { return plain("nn.Sigmoid()"); }},
        {"node.tanh", [](const ParamReader&) { return plain("nn.Tanh()"); }},
        {"node.gelu",
         [](const ParamReader& p) {
             const std::string& a = p.s("approximate");
             return plain(a == "none" ? "nn.GELU()" : "nn.GELU(approximate=" + pyString(a) + ")");
         }},
        {"node.leaky_relu",
         [](const ParamReader& p) {
             return plain(Call("nn.LeakyReLU").kw("negative_slope", p.f("negative_slope"), 0.01).str());
         }},
        {"node.softmax", [](const ParamReader& p) { return plain("nn.Softmax(dim=" + std::to_string(p.i("dim")) + ")"); }},
        {"node.maxpool2d", [](const ParamReader& p) { return pool("nn.MaxPool2d", p); }},
        {"node.avgpool2d", [](const ParamReader& p) { return pool("nn.AvgPool2d", p); }},
        {"node.adaptive_avgpool2d",
         [](const ParamReader& p) { return plain("nn.AdaptiveAvgPool2d(" + std::to_string(p.i("output_size")) + ")"); }},
        {"node.flatten",
         [](const ParamReader& p) {
             return plain(Call("nn.Flatten").kw("start_dim", p.i("start_dim"), 1).kw("end_dim", p.i("end_dim"), -1).str());
         }},
        // Written inline in forward() (inlineExpression).
        {"node.input_image", [](const ParamReader&) { return Layer{}; }},
        {"node.input_tokens", [](const ParamReader&) { return Layer{}; }},
        {"node.input_tensor", [](const ParamReader&) { return Layer{}; }},
        {"node.reshape", [](const ParamReader&) { return Layer{}; }},
        {"node.permute", [](const ParamReader&) { return Layer{}; }},
        {"node.concat", [](const ParamReader&) { return Layer{}; }},
        {"node.add", [](const ParamReader&) { return Layer{}; }},
        {"node.multiply", [](const ParamReader&) { return Layer{}; }},
        {"node.cross_entropy_loss", [](const ParamReader&) { return Layer{}; }},
        {"node.mse_loss", [](const ParamReader&) { return Layer{}; }},
        {"node.bce_with_logits_loss", [](const ParamReader&) { return Layer{}; }},
    };
    return t;
}

std::string joinInts(const graph::IntList& v)
{
    std::string s;
    for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
    return s;
}

}  // namespace

Result<Layer> layerOf(const Node& node, const NodeType& type)
{
    const auto& t = table();
    auto it = t.find(type.id);
    if (it == t.end())
        return makeError("Kiln cannot write " + type.displayName + " nodes (" + type.id + ") as PyTorch code", node.name,
                         "the plugin that adds this node type would have to provide its PyTorch form");
    return it->second(ParamReader(node, type));
}

std::string inlineExpression(const Node& node, const NodeType& type, const std::vector<std::string>& args)
{
    const ParamReader p(node, type);
    if (type.id == "node.add") return args.at(0) + " + " + args.at(1);
    if (type.id == "node.multiply") return args.at(0) + " * " + args.at(1);
    // The batch dimension stays; the parameter lists the sizes after it (build_simple.cpp).
    if (type.id == "node.reshape")
        return args.at(0) + ".reshape(" + args.at(0) + ".size(0), " + joinInts(p.list("shape")) + ")";
    if (type.id == "node.permute") return args.at(0) + ".permute(" + joinInts(p.list("dims")) + ")";
    if (type.id == "node.concat") {
        std::string parts;
        for (const auto& a : args)
            if (!a.empty()) parts += (parts.empty() ? "" : ", ") + a;
        return "torch.cat([" + parts + "], dim=" + std::to_string(p.i("dim")) + ")";
    }
    return args.empty() ? std::string() : args[0];
}

std::string lossMethod(graph::LossKind kind, double labelSmoothing)
{
    using graph::LossKind;
    std::string body;
    switch (kind) {
    case LossKind::CrossEntropy:
        body = "        \"\"\"Cross-entropy of the class scores (last dimension) against integer class ids, as Kiln\n"
               "        trains it; the target has the prediction's shape without the last dimension.\"\"\"\n"
               "        classes = prediction.size(-1)\n"
               "        return F.cross_entropy(prediction.reshape(-1, classes), target.reshape(-1).long()" +
               std::string(labelSmoothing != 0 ? ", label_smoothing=" + pyFloat(labelSmoothing) : "") + ")\n";
        break;
    case LossKind::MSE:
        body = "        \"\"\"Mean squared error against a target of the prediction's shape, as Kiln trains it.\"\"\"\n"
               "        return F.mse_loss(prediction, target.to(prediction.dtype))\n";
        break;
    case LossKind::BCEWithLogits:
        body = "        \"\"\"Binary cross-entropy of raw scores against 0/1 targets, as Kiln trains it.\"\"\"\n"
               "        return F.binary_cross_entropy_with_logits(prediction, target.to(prediction.dtype))\n";
        break;
    case LossKind::None:
        return {};
    }
    return "\n    def compute_loss(self, prediction, target):\n" + body;
}

}  // namespace kiln::exporting::py
