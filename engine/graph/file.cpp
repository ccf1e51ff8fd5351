// .kgraph reading and writing. Reading trusts nothing: every field is checked against the
// registry before a Graph exists, so a damaged or hostile file gives a message and no graph.
#include "core/atomic_file.h"
#include "graph/migrate.h"
#include "kiln/graph_file.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

namespace kiln::graph {

namespace {

using json = nlohmann::json;

constexpr std::size_t kMaxFileBytes = 64u << 20;  // far above any real graph; refuses junk early

std::string jsonMessage(const std::exception& e)
{
    // nlohmann prefixes "[json.exception.parse_error.101] "; a person needs only the rest.
    std::string m = e.what();
    if (auto close = m.find("] "); m.rfind("[json.exception", 0) == 0 && close != std::string::npos)
        m.erase(0, close + 2);
    return m;
}

struct Reader {
    std::string where;
    const NodeRegistry& registry;

    Error error(std::string what, std::string hint = {}) const
    {
        return makeError(std::move(what), where, std::move(hint));
    }

    static std::string label(const Node& n, std::size_t i)
    {
        return n.name.empty() ? "node #" + std::to_string(i + 1) : "node '" + n.name + "'";
    }

    Result<ParamValue> paramValue(const ParamSpec& spec, const json& v, const std::string& who) const
    {
        auto bad = [&] {
            return error(who + ": parameter '" + spec.name + "' must be " +
                             (spec.type == ParamType::IntList ? std::string("a list of whole numbers")
                              : spec.type == ParamType::Int   ? "a whole number"
                              : spec.type == ParamType::Float ? "a number"
                              : spec.type == ParamType::Bool  ? "true or false"
                                                              : "text") +
                             ", not " + v.dump(-1, ' ', false, json::error_handler_t::replace).substr(0, 40));
        };
        auto wholeNumber = [](const json& x) -> std::optional<std::int64_t> {
            if (x.is_number_integer() && !x.is_number_unsigned()) return x.get<std::int64_t>();
            if (x.is_number_unsigned() && x.get<std::uint64_t>() <= std::numeric_limits<std::int64_t>::max())
                return static_cast<std::int64_t>(x.get<std::uint64_t>());
            return std::nullopt;
        };
        switch (spec.type) {
        case ParamType::Int:
            if (auto n = wholeNumber(v)) return ParamValue{*n};
            return bad();
        case ParamType::Float:
            if (v.is_number()) return ParamValue{v.get<double>()};
            return bad();
        case ParamType::Bool:
            if (v.is_boolean()) return ParamValue{v.get<bool>()};
            return bad();
        case ParamType::String:
            if (v.is_string()) return ParamValue{v.get<std::string>()};
            return bad();
        case ParamType::IntList: {
            if (!v.is_array() || v.size() > 64) return bad();
            IntList out;
            for (const auto& x : v) {
                auto n = wholeNumber(x);
                if (!n) return bad();
                out.push_back(*n);
            }
            return ParamValue{std::move(out)};
        }
        }
        return bad();
    }

    Result<Node> node(const json& j, std::size_t i) const
    {
        Node n;
        if (!j.is_object()) return error("node #" + std::to_string(i + 1) + " is not an object");
        if (auto it = j.find("name"); it != j.end() && it->is_string()) n.name = it->get<std::string>();
        const std::string who = label(n, i);
        if (!isValidNodeName(n.name))
            return error(who + " has no usable name", "a name uses letters, digits and _, not starting with a digit");
        auto id = j.find("id");
        if (id == j.end() || !id->is_number_unsigned() || id->get<std::uint64_t>() == 0)
            return error(who + " has no valid id (a positive whole number)");
        n.id = id->get<std::uint64_t>();
        auto type = j.find("type");
        if (type == j.end() || !type->is_string()) return error(who + " has no type");
        n.type = type->get<std::string>();
        const NodeType* t = registry.find(n.type);
        if (!t)
            return error(who + " has the unknown node type '" + n.type + "'",
                         "it may come from a plugin that is not installed, or from a newer Kiln");
        if (auto pos = j.find("position"); pos != j.end()) {
            if (!pos->is_array() || pos->size() != 2 || !(*pos)[0].is_number() || !(*pos)[1].is_number())
                return error(who + ": position must be [x, y]");
            const double x = (*pos)[0].get<double>(), y = (*pos)[1].get<double>();
            if (!std::isfinite(x) || !std::isfinite(y) || std::abs(x) > 1e7 || std::abs(y) > 1e7)
                return error(who + ": position is out of range");
            n.x = static_cast<float>(x);
            n.y = static_cast<float>(y);
        }
        for (const auto& spec : t->params) n.params.emplace(spec.name, spec.defaultValue);
        if (auto params = j.find("parameters"); params != j.end()) {
            if (!params->is_object()) return error(who + ": parameters must be an object");
            for (const auto& [key, value] : params->items()) {
                const ParamSpec* spec = t->param(key);
                if (!spec) return error(who + ": " + t->displayName + " has no parameter '" + key + "'");
                auto v = paramValue(*spec, value, who);
                if (!v) return v.error();
                if (auto ok = checkParam(*spec, *v); !ok) return error(who + ": " + ok.error().what, ok.error().hint);
                n.params[key] = std::move(*v);
            }
        }
        return n;
    }

    Result<PortRef> endpoint(const json& e, const char* side, const Graph& g, std::size_t k, bool output) const
    {
        const std::string who = "connection #" + std::to_string(k + 1);
        auto it = e.find(side);
        if (it == e.end() || !it->is_object()) return error(who + " has no '" + side + "' end");
        auto id = it->find("node");
        auto port = it->find("port");
        if (id == it->end() || !id->is_number_unsigned() || port == it->end() || !port->is_string())
            return error(who + ": '" + side + "' needs a node id and a port name");
        PortRef ref{id->get<std::uint64_t>(), port->get<std::string>()};
        const Node* n = g.node(ref.node);
        if (!n) return error(who + " names node id " + std::to_string(ref.node) + ", which is not in the file");
        const NodeType* t = registry.find(n->type);
        const int index = output ? t->outputIndex(ref.port) : t->inputIndex(ref.port);
        if (index < 0)
            return error(who + ": " + t->displayName + " '" + n->name + "' has no " + (output ? "output" : "input") +
                         " '" + ref.port + "'");
        return ref;
    }

    Result<Graph> graph(const json& doc) const
    {
        Graph g;
        if (auto d = doc.find("description"); d != doc.end()) {
            if (!d->is_string()) return error("the description must be text");
            g.description = d->get<std::string>();
        }
        auto nodes = doc.find("nodes");
        if (nodes == doc.end() || !nodes->is_array()) return error("the file lists no nodes", "it may be damaged");
        std::set<std::string> names;
        for (std::size_t i = 0; i < nodes->size(); ++i) {
            auto n = node((*nodes)[i], i);
            if (!n) return n.error();
            if (g.node(n->id)) return error("two nodes have the id " + std::to_string(n->id));
            if (!names.insert(n->name).second) return error("two nodes are named '" + n->name + "'");
            g.addNode(std::move(*n));
        }
        auto edges = doc.find("edges");
        if (edges == doc.end()) return g;
        if (!edges->is_array()) return error("edges must be a list");
        for (std::size_t k = 0; k < edges->size(); ++k) {
            const json& e = (*edges)[k];
            if (!e.is_object()) return error("connection #" + std::to_string(k + 1) + " is not an object");
            auto from = endpoint(e, "from", g, k, true);
            if (!from) return from.error();
            auto to = endpoint(e, "to", g, k, false);
            if (!to) return to.error();
            if (g.edgeInto(*to))
                return error("input '" + to->port + "' of '" + g.node(to->node)->name + "' has two connections");
            g.edges.push_back(Edge{std::move(*from), std::move(*to)});
        }
        return g;
    }
};

Result<Graph> parse(std::string_view text, const std::string& where, const NodeRegistry& registry)
{
    if (text.size() > kMaxFileBytes) return makeError("is too large to be a graph", where);
    json doc;
    try {
        doc = json::parse(text.begin(), text.end());
    } catch (const json::parse_error& e) {
        return makeError("is not valid JSON: " + jsonMessage(e), where, "the file may be truncated or damaged");
    }
    if (!doc.is_object()) return makeError("is not a Kiln graph (no JSON object)", where, "open a .kgraph file");
    auto format = doc.find("format");
    if (format == doc.end() || !format->is_string() || format->get<std::string>() != "kiln.graph")
        return makeError("is not a Kiln graph (its format is not \"kiln.graph\")", where, "open a .kgraph file");
    auto version = doc.find("version");
    if (version == doc.end() || !version->is_number_integer() || version->get<std::int64_t>() < 1)
        return makeError("has no valid format version", where, "it may be damaged");
    const auto v = version->get<std::int64_t>();
    if (v > kGraphFormatVersion)
        return makeError("was made by a newer Kiln (graph format version " + std::to_string(v) +
                             "; this Kiln reads versions up to " + std::to_string(kGraphFormatVersion) + ")",
                         where, "update Kiln to open it");
    if (auto ok = migrateGraphJson(doc, static_cast<int>(v)); !ok)
        return makeError(ok.error().what, where, ok.error().hint);
    return Reader{where, registry}.graph(doc);
}

nlohmann::ordered_json paramJson(const ParamValue& v)
{
    return std::visit([](const auto& x) { return nlohmann::ordered_json(x); }, v);
}

}  // namespace

Result<Graph> parseGraph(std::string_view text, std::string_view where, const NodeRegistry& registry)
{
    try {
        return parse(text, std::string(where), registry);
    } catch (const std::exception& e) {
        // Any nlohmann type error that slipped past the checks above still ends as a message.
        return makeError("cannot be read: " + jsonMessage(e), std::string(where), "the file may be damaged");
    }
}

Result<Graph> loadGraph(const std::string& path, const NodeRegistry& registry)
{
    std::ifstream in(path, std::ios::binary);
    if (!in) return makeError(std::string("cannot be opened: ") + std::strerror(errno), path);
    in.seekg(0, std::ios::end);
    const auto size = static_cast<std::size_t>(in.tellg());
    if (size > kMaxFileBytes) return makeError("is too large to be a graph", path);
    in.seekg(0);
    std::string text(size, '\0');
    if (!in.read(text.data(), static_cast<std::streamsize>(size))) return makeError("cannot be read", path);
    return parseGraph(text, path, registry);
}

std::string graphToJson(const Graph& graph)
{
    using ojson = nlohmann::ordered_json;
    ojson doc;
    doc["format"] = "kiln.graph";
    doc["version"] = kGraphFormatVersion;
    doc["description"] = graph.description;
    doc["nodes"] = ojson::array();
    for (const auto& n : graph.nodes) {
        ojson j;
        j["id"] = n.id;
        j["type"] = n.type;
        j["name"] = n.name;
        j["position"] = {static_cast<double>(n.x), static_cast<double>(n.y)};
        j["parameters"] = ojson::object();
        for (const auto& [key, value] : n.params) j["parameters"][key] = paramJson(value);
        doc["nodes"].push_back(std::move(j));
    }
    doc["edges"] = ojson::array();
    for (const auto& e : graph.edges)
        doc["edges"].push_back({{"from", {{"node", e.from.node}, {"port", e.from.port}}},
                                {"to", {{"node", e.to.node}, {"port", e.to.port}}}});
    return doc.dump(2, ' ', false, ojson::error_handler_t::replace) + "\n";
}

Result<void> saveGraph(const Graph& graph, const std::string& path)
{
    std::string text;
    try {
        text = graphToJson(graph);
    } catch (const std::exception& e) {
        return makeError(std::string("cannot be written: ") + e.what(), path);
    }
    return writeFileAtomically(path, {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
}

}  // namespace kiln::graph
