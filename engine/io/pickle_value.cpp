// The value arena of the pickle reader and its bounded rendering.
#include "io/pickle.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

namespace kiln::io::pickle {
namespace {

// Python's repr of a float: the shortest digits that round-trip, written positionally
// when the exponent is in [-4, 16) and in scientific notation otherwise, so that listings
// read like the Python that wrote the file (1e-05, 0.0001, 3.0).
std::string formatFloat(double v)
{
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
    const std::string sci(buf, res.ptr);  // "-1.2345e-05"
    const std::size_t e = sci.find('e');
    const int exp = std::atoi(sci.c_str() + e + 1);
    if (exp < -4 || exp >= 16) return sci;
    std::string digits;
    for (std::size_t i = 0; i < e; ++i)
        if (sci[i] >= '0' && sci[i] <= '9') digits += sci[i];
    std::string out = sci[0] == '-' ? "-" : "";
    if (exp < 0) {
        out += "0." + std::string(static_cast<std::size_t>(-exp - 1), '0') + digits;
    } else {
        const std::size_t whole = static_cast<std::size_t>(exp) + 1;
        if (digits.size() <= whole) out += digits + std::string(whole - digits.size(), '0') + ".0";
        else out += digits.substr(0, whole) + "." + digits.substr(whole);
    }
    return out;
}

// Bytes escape everything outside printable ASCII like Python's repr; text keeps UTF-8.
void appendQuoted(std::string& out, std::string_view text, std::size_t maxChars, bool isBytes)
{
    out += '\'';
    std::size_t n = 0;
    for (unsigned char c : text) {
        if (out.size() >= maxChars || ++n > maxChars) {
            out += "...";
            break;
        }
        if (c == '\\' || c == '\'') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20 || c == 0x7f || (isBytes && c >= 0x80)) {
            static const char* hex = "0123456789abcdef";
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        } else {
            out += static_cast<char>(c);
        }
    }
    out += '\'';
}

}  // namespace

PickleGraph::PickleGraph()
{
    // None, True and False are shared singletons so that a stream of NONE opcodes costs nothing.
    nodes_.reserve(64);
    nodes_.push_back(Node{});
    Node t;
    t.kind = Kind::Bool;
    t.flag = true;
    nodes_.push_back(std::move(t));
    Node f;
    f.kind = Kind::Bool;
    nodes_.push_back(std::move(f));
}

Result<Ref> PickleGraph::add(Node node)
{
    if (nodes_.size() >= kMaxNodes)
        return makeError("the pickle holds more than " + std::to_string(kMaxNodes) +
                         " values, more than any checkpoint needs; refusing to read further");
    nodes_.push_back(std::move(node));
    return static_cast<Ref>(nodes_.size() - 1);
}

Result<Ref> PickleGraph::makeInt(std::int64_t v)
{
    Node n;
    n.kind = Kind::Int;
    n.integer = v;
    return add(std::move(n));
}

Result<Ref> PickleGraph::makeStr(Kind kind, std::string text)
{
    Node n;
    n.kind = kind;
    n.text = std::move(text);
    return add(std::move(n));
}

Result<Ref> PickleGraph::makeGlobal(std::string module, std::string name)
{
    Node n;
    n.kind = Kind::Global;
    n.text = std::move(module);
    n.name = std::move(name);
    return add(std::move(n));
}

Result<Ref> PickleGraph::makeStorage(StorageInfo info)
{
    Node n;
    n.kind = Kind::Storage;
    n.integer = static_cast<std::int64_t>(storages_.size());
    auto r = add(std::move(n));
    if (r) storages_.push_back(std::move(info));
    return r;
}

Result<Ref> PickleGraph::makeTensor(TensorInfo info)
{
    Node n;
    n.kind = Kind::Tensor;
    n.integer = static_cast<std::int64_t>(tensors_.size());
    auto r = add(std::move(n));
    if (r) tensors_.push_back(std::move(info));
    return r;
}

std::optional<std::string> PickleGraph::hashKey(Ref r) const
{
    const Node& n = nodes_[r];
    switch (n.kind) {
    case Kind::None: return std::string("n");
    case Kind::Bool: return std::string(n.flag ? "i1" : "i0");  // True == 1 in Python
    case Kind::Int: return "i" + std::to_string(n.integer);
    case Kind::BigInt: return "B" + n.text;
    case Kind::Float:
        if (std::isfinite(n.real) && n.real == std::floor(n.real) && std::fabs(n.real) < 9.0e15)
            return "i" + std::to_string(static_cast<std::int64_t>(n.real));  // 1.0 == 1
        return "f" + formatFloat(n.real);
    case Kind::Str: return "s" + n.text;
    case Kind::Bytes: return "b" + n.text;
    case Kind::Global: return "g" + n.text + "\n" + n.name;
    default: return std::nullopt;
    }
}

void PickleGraph::dictSet(Ref dict, Ref key, Ref value)
{
    Node& d = nodes_[dict];
    if (auto hk = hashKey(key)) {
        if (!d.dictIndex) d.dictIndex = std::make_unique<std::unordered_map<std::string, std::size_t>>();
        auto [it, inserted] = d.dictIndex->emplace(std::move(*hk), d.items.size());
        if (!inserted) {
            d.items[it->second + 1] = value;  // Python keeps the first key object and position
            return;
        }
    }
    d.items.push_back(key);
    d.items.push_back(value);
}

std::string PickleGraph::globalName(Ref r) const
{
    const Node& n = nodes_[r];
    if (n.kind != Kind::Global) return "?";
    return n.text + "." + n.name;
}

std::string PickleGraph::describe(Ref r, std::size_t maxChars) const
{
    std::string out;
    describeInto(r, out, maxChars, 0);
    if (out.size() > maxChars + 3) {
        out.resize(maxChars);
        out += "...";
    }
    return out;
}

void PickleGraph::describeInto(Ref r, std::string& out, std::size_t maxChars, int depth) const
{
    if (out.size() > maxChars) return;
    const Node& n = nodes_[r];
    auto seq = [&](const char* open, const char* close, std::size_t step) {
        out += open;
        if (depth >= 3 && !n.items.empty()) {
            out += "...";
        } else {
            for (std::size_t i = 0; i < n.items.size(); i += step) {
                if (out.size() > maxChars) break;
                if (i) out += ", ";
                describeInto(n.items[i], out, maxChars, depth + 1);
                if (step == 2) {
                    out += ": ";
                    describeInto(n.items[i + 1], out, maxChars, depth + 1);
                }
            }
        }
        if (n.kind == Kind::Tuple && n.items.size() == 1) out += ',';
        out += close;
    };
    switch (n.kind) {
    case Kind::None: out += "None"; break;
    case Kind::Bool: out += n.flag ? "True" : "False"; break;
    case Kind::Int: out += std::to_string(n.integer); break;
    case Kind::BigInt: out += "<integer of " + std::to_string(n.text.size()) + " bytes>"; break;
    case Kind::Float: out += formatFloat(n.real); break;
    case Kind::Str: appendQuoted(out, n.text, maxChars, false); break;
    case Kind::Bytes: out += 'b'; appendQuoted(out, n.text, maxChars, true); break;
    case Kind::List: seq("[", "]", 1); break;
    case Kind::Tuple: seq("(", ")", 1); break;
    case Kind::Set: n.items.empty() ? void(out += "set()") : seq("{", "}", 1); break;
    case Kind::FrozenSet: out += "frozenset("; seq("{", "}", 1); out += ')'; break;
    case Kind::Dict: seq("{", "}", 2); break;
    case Kind::Global: out += "<reference to " + n.text + "." + n.name + ">"; break;
    case Kind::Object: {
        const Ref c = n.items[kObjCallable];
        out += "<inert object " + (nodes_[c].kind == Kind::Global ? globalName(c) : std::string("?")) + ">";
        break;
    }
    case Kind::Storage: {
        const StorageInfo& s = storage(n);
        out += "<storage " + s.typeName + " '" + s.key + "'>";
        break;
    }
    case Kind::Tensor: out += "<tensor>"; break;
    }
}

}  // namespace kiln::io::pickle
