// The generated file reads top to bottom: imports and helpers (python_prelude.cpp), the model
// class with a docstring of the shapes inferShapes found, __init__ with one attribute per node in
// topological order (so state_dict keys equal the compiled module's), forward() with one line per
// node, and a __main__ block that runs a random batch. forward() follows the compiler
// (graph/compiler.cpp): same order, same output (the loss node's prediction, else the one node
// nothing consumes), and the nodes' builders' arithmetic.
#include "export/python_export.h"

#include "core/atomic_file.h"
#include "export/graph_output.h"
#include "export/python_layers.h"
#include "kiln/graph_infer.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <sstream>

namespace kiln::exporting {

using namespace graph;

namespace {

const std::set<std::string, std::less<>>& pythonKeywords()
{
    static const std::set<std::string, std::less<>> k = {
        "False", "None",   "True",    "and",      "as",     "assert", "async", "await",  "break",
        "class", "continue", "def",   "del",      "elif",   "else",   "except", "finally", "for",
        "from",  "global", "if",      "import",   "in",     "is",     "lambda", "nonlocal", "not",
        "or",    "pass",   "raise",   "return",   "try",    "while",  "with",  "yield"};
    return k;
}

// Public attributes of nn.Module (1.13 and later): a node with one of these names cannot be
// reached as self.<name> (the method wins) nor registered with add_module (which refuses it), so
// it is put into and read from self._modules directly, where state_dict() finds it. Names that
// start with _ are treated alike (they may be nn.Module internals), and so are Python keywords.
bool clashesWithModule(const std::string& name)
{
    static const std::set<std::string, std::less<>> members = {
        "T_destination", "add_module", "apply", "bfloat16", "buffers", "call_super_init", "children", "compile",
        "cpu", "cuda", "double", "dump_patches", "eval", "extra_repr", "float", "forward", "get_buffer",
        "get_extra_state", "get_parameter", "get_submodule", "half", "ipu", "load_state_dict", "modules", "mtia",
        "named_buffers", "named_children", "named_modules", "named_parameters", "parameters",
        "register_backward_hook", "register_buffer", "register_forward_hook", "register_forward_pre_hook",
        "register_full_backward_hook", "register_full_backward_pre_hook", "register_load_state_dict_post_hook",
        "register_load_state_dict_pre_hook", "register_module", "register_parameter", "register_state_dict_post_hook",
        "register_state_dict_pre_hook", "requires_grad_", "set_extra_state", "set_submodule", "share_memory",
        "state_dict", "to", "to_empty", "train", "training", "type", "xpu", "zero_grad",
        "compute_loss"};  // ours
    return name.empty() || name[0] == '_' || members.count(name) || pythonKeywords().count(name);
}

bool isIdentifier(const std::string& s)
{
    if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
    return std::all_of(s.begin(), s.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

// Wraps text to lines of at most `width` characters, each starting with `indent`.
std::string wrap(const std::string& text, std::size_t width, const std::string& indent)
{
    std::istringstream words(text);
    std::string word, line, out;
    while (words >> word) {
        if (!line.empty() && indent.size() + line.size() + 1 + word.size() > width) {
            out += indent + line + "\n";
            line.clear();
        }
        line += (line.empty() ? "" : " ") + word;
    }
    if (!line.empty()) out += indent + line + "\n";
    return out;
}

// Text that may stand inside a """docstring""".
std::string docSafe(std::string s)
{
    std::string out;
    for (char c : s) out += c == '\\' ? std::string("\\\\") : std::string(1, c);
    for (std::size_t at = 0; (at = out.find("\"\"\"", at)) != std::string::npos; at += 4) out.replace(at, 3, "\"\"\\\"");
    return out;
}

std::string groupDigits(std::uint64_t n)
{
    std::string s = std::to_string(n);
    for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<std::size_t>(i), ",");
    return s;
}

std::string padRight(std::string s, std::size_t width)
{
    if (s.size() < width) s.append(width - s.size(), ' ');
    return s;
}

struct Step {
    const Node* node;
    const NodeType* type;
    py::Layer layer;
    std::string var;                // the variable holding its output
    std::vector<std::string> args;  // per input port
};

class Writer {
public:
    Writer(const Graph& g, const NodeRegistry& r, const GraphInfo& info, std::string className)
        : g_(g), registry_(r), info_(info), className_(std::move(className))
    {
    }

    Result<std::string> write()
    {
        if (auto ok = plan(); !ok) return ok.error();
        std::string out = header();
        out += py::prelude(helpers_);
        out += "\n\nclass " + className_ + "(nn.Module):\n";
        out += docstring();
        out += init();
        out += forward();
        out += py::lossMethod(lossKind_, labelSmoothing_);
        out += mainBlock();
        return out;
    }

private:
    Result<void> plan()
    {
        const auto output = graphOutput(g_, info_);
        if (!output) return output.error();
        output_ = *output;
        std::set<std::string, std::less<>> taken;
        for (const Node& n : g_.nodes) taken.insert(n.name);
        for (NodeId id : info_.order) {
            const Node& node = *g_.node(id);
            const NodeType& type = *registry_.find(node.type);
            if (type.role == NodeRole::Loss) {
                lossKind_ = type.loss;
                if (type.param("label_smoothing")) labelSmoothing_ = ParamReader(node, type).f("label_smoothing");
                continue;
            }
            auto layer = py::layerOf(node, type);
            if (!layer) return layer.error();
            if (type.outputs.size() != 1)
                return makeError("Kiln cannot write nodes with " + std::to_string(type.outputs.size()) +
                                     " outputs as PyTorch code", node.name);
            if (!layer->helper.empty()) helpers_.insert(layer->helper);
            steps_.push_back(Step{&node, &type, std::move(*layer), {}, {}});
        }
        // Variables: the node's name (with a trailing _ where Python or the file's own names need
        // it); a plain chain, where a value goes only to the next line, reuses one variable as
        // hand-written PyTorch does (x = self.conv1(x)).
        static const std::set<std::string, std::less<>> moduleNames = {"self", "torch", "nn", "F", "math", "json",
                                                                        "struct"};
        std::map<NodeId, std::string> var;
        for (const Step& s : steps_) {
            std::string v = s.node->name;
            if (pythonKeywords().count(v) || moduleNames.count(v))
                while (taken.count(v)) v += "_";
            taken.insert(v);
            var[s.node->id] = v;
        }
        for (const char* c : {"x", "h", "y", "z"})
            if (!taken.count(c)) {
                chain_ = c;
                break;
            }
        if (chain_.empty()) {
            chain_ = "x_";
            while (taken.count(chain_)) chain_ += "_";
        }
        for (std::size_t i = 0; i < steps_.size(); ++i) {
            Step& s = steps_[i];
            for (const auto& port : s.type->inputs) {
                const Edge* e = g_.edgeInto(PortRef{s.node->id, port.name});
                s.args.push_back(e ? var.at(e->from.node) : std::string());
            }
            if (s.type->role == NodeRole::Input) {
                s.var = var.at(s.node->id);
                continue;
            }
            std::vector<NodeId> users;
            for (const Edge& e : g_.edges) {
                const Node* to = g_.node(e.to.node);
                if (e.from.node == s.node->id && registry_.find(to->type)->role != NodeRole::Loss) users.push_back(to->id);
            }
            const bool last = i + 1 == steps_.size();
            const bool isOutput = s.node->id == output_;
            const bool chains = isOutput ? users.empty() && last
                                         : users.size() == 1 && !last && steps_[i + 1].node->id == users[0];
            s.var = chains ? chain_ : var.at(s.node->id);
            var[s.node->id] = s.var;  // what the following steps read
        }
        return success();
    }

    const Shape& shapeOf(const Node& n) const { return info_.nodes.at(n.id).outputs.at(0); }

    std::string attr(const Node& n) const
    {
        return clashesWithModule(n.name) ? "self._modules[" + py::pyString(n.name) + "]" : "self." + n.name;
    }

    std::string header() const
    {
        std::string out = "# " + className_ + ": PyTorch code Kiln exported from a model graph. It needs PyTorch only.\n";
        out += "#\n#     model = " + className_ + "()\n";
        out += "#     model.load_state_dict(load_safetensors(\"weights.safetensors\"))  # the weights Kiln exported\n";
        out += "#     model.eval()\n#\n";
        out += "# or from a shell: python3 this_file.py [weights.safetensors]\n\n";
        return out;
    }

    std::string docstring() const
    {
        std::string d = "    \"\"\"";
        const std::string desc = docSafe(g_.description.empty() ? "A network designed in Kiln." : g_.description);
        std::string wrapped = wrap(desc, 96, "    ");
        d += wrapped.substr(4);  // the first line follows the quotes
        d += "\n";
        std::string inputs;
        for (const Step& s : steps_)
            if (s.type->role == NodeRole::Input) {
                const Shape& sh = shapeOf(*s.node);
                const bool tokens = sh.element == ElementType::Int64;
                inputs += "        " + s.var + ": " + formatShape(sh) +
                          (tokens ? " int64 token ids below " + std::to_string(sh.vocab) : " float") + "\n";
            }
        d += "    Inputs (B is the batch size):\n" + inputs;
        const Shape& out = shapeOf(*g_.node(output_));
        d += "    Returns: " + formatShape(out) + " from " + g_.node(output_)->name;
        if (info_.loss)
            d += ", what " + registry_.find(g_.node(info_.loss->node)->type)->displayName + " compares with \"" +
                 docSafe(info_.loss->targetName) + "\" (see compute_loss)";
        d += "\n    Parameters: " + groupDigits(info_.totalParams) + "\n\n";
        std::size_t nameWidth = 4, typeWidth = 4, shapeWidth = 5;
        for (const Step& s : steps_) {
            nameWidth = std::max(nameWidth, s.node->name.size());
            typeWidth = std::max(typeWidth, s.type->displayName.size());
            shapeWidth = std::max(shapeWidth, formatShape(shapeOf(*s.node)).size());
        }
        d += "    " + padRight("node", nameWidth) + "  " + padRight("type", typeWidth) + "  " +
             padRight("output", shapeWidth) + "  parameters\n";
        for (const Step& s : steps_) {
            const std::uint64_t params = info_.nodes.at(s.node->id).params;
            std::string line = "    " + padRight(s.node->name, nameWidth) + "  " +
                               padRight(s.type->displayName, typeWidth) + "  " +
                               padRight(formatShape(shapeOf(*s.node)), shapeWidth) + "  " +
                               (params ? groupDigits(params) : "");
            while (!line.empty() && line.back() == ' ') line.pop_back();
            d += line + "\n";
        }
        return d + "    \"\"\"\n";
    }

    std::string init() const
    {
        std::string out = "\n    def __init__(self):\n        super().__init__()\n";
        for (const Step& s : steps_) {
            if (s.layer.module.empty()) continue;
            out += clashesWithModule(s.node->name)
                       ? "        self._modules[" + py::pyString(s.node->name) + "] = " + s.layer.module + "\n"
                       : "        self." + s.node->name + " = " + s.layer.module + "\n";
        }
        return out;
    }

    std::string forward() const
    {
        std::string params;
        for (const Step& s : steps_)
            if (s.type->role == NodeRole::Input) params += ", " + s.var;
        std::vector<std::pair<std::string, std::string>> lines;  // code, shape comment
        for (const Step& s : steps_) {
            if (s.type->role == NodeRole::Input) continue;
            const std::string expr = s.layer.module.empty() ? py::inlineExpression(*s.node, *s.type, s.args)
                                                            : attr(*s.node) + "(" + s.args.at(0) + ")";
            lines.emplace_back(s.var + " = " + expr, formatShape(shapeOf(*s.node)));
        }
        std::size_t width = 0;
        for (const auto& [code, shape] : lines) width = std::max(width, code.size());
        width = std::min<std::size_t>(width, 64);
        std::string out = "\n    def forward(self" + params + "):\n";
        for (const auto& [code, shape] : lines) out += "        " + padRight(code, width) + "  # " + shape + "\n";
        std::string result;
        for (const Step& s : steps_)
            if (s.node->id == output_) result = s.var;
        return out + "        return " + result + "\n";
    }

    std::string mainBlock() const
    {
        std::string out = "\n\nif __name__ == \"__main__\":\n    import argparse\n\n";
        out += "    parser = argparse.ArgumentParser(description=\"Runs " + className_ + " on a random batch.\")\n";
        out += "    parser.add_argument(\"weights\", nargs=\"?\", help=\"a .safetensors file Kiln exported\")\n";
        out += "    parser.add_argument(\"--batch\", type=int, default=2)\n";
        out += "    args = parser.parse_args()\n";
        out += "    model = " + className_ + "()\n";
        out += "    if args.weights:\n        model.load_state_dict(load_safetensors(args.weights))\n";
        out += "    model.eval()\n";
        std::string call;
        for (const Step& s : steps_) {
            if (s.type->role != NodeRole::Input) continue;
            const Shape& sh = shapeOf(*s.node);
            std::string dims = "args.batch";
            for (std::size_t i = 1; i < sh.rank(); ++i) dims += ", " + std::to_string(sh.dims[i].size);
            out += "    " + s.var + " = " +
                   (sh.element == ElementType::Int64
                        ? "torch.randint(0, " + std::to_string(sh.vocab) + ", (" + dims + "))"
                        : "torch.randn(" + dims + ")") +
                   "\n";
            call += (call.empty() ? "" : ", ") + s.var;
        }
        out += "    with torch.no_grad():\n        output = model(" + call + ")\n";
        out += "    print(\"output\", tuple(output.shape), \"mean\", output.float().mean().item())\n";
        return out;
    }

    const Graph& g_;
    const NodeRegistry& registry_;
    const GraphInfo& info_;
    std::string className_;
    std::vector<Step> steps_;
    std::set<std::string> helpers_;
    NodeId output_ = kNoNode;
    std::string chain_;
    LossKind lossKind_ = LossKind::None;
    double labelSmoothing_ = 0;
};

}  // namespace

Result<std::string> exportPython(const Graph& graph, const std::string& className, const NodeRegistry& registry)
{
    if (!isIdentifier(className) || pythonKeywords().count(className))
        return makeError("'" + className + "' cannot name a Python class", {},
                         "use letters, digits and _, not starting with a digit");
    const GraphInfo info = inferShapes(graph, registry);
    if (!info.ok()) return *info.firstError;
    if (info.order.empty()) return makeError("the graph is empty", {}, "add an input node and layers");
    return Writer(graph, registry, info, className).write();
}

Result<void> writePython(const Graph& graph, const std::string& path, const std::string& className,
                         const NodeRegistry& registry)
{
    auto code = exportPython(graph, className, registry);
    if (!code) return code.error();
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(code->data());
    return writeFileAtomically(path, std::span<const std::uint8_t>(bytes, code->size()));
}

}  // namespace kiln::exporting
