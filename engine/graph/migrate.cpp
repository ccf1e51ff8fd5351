#include "graph/migrate.h"

#include "kiln/graph_file.h"

#include <nlohmann/json.hpp>

namespace kiln::graph {

namespace {

// Version 1 (the first preview) kept a node's parameters under "params" and its position as two
// numbers "x" and "y"; version 2 names them "parameters" and "position": [x, y] so that a node
// reads like the inspector shows it.
void v1ToV2(nlohmann::json& doc)
{
    auto nodes = doc.find("nodes");
    if (nodes == doc.end() || !nodes->is_array()) return;
    for (auto& node : *nodes) {
        if (!node.is_object()) continue;
        if (auto p = node.find("params"); p != node.end() && !node.contains("parameters")) {
            node["parameters"] = std::move(*p);
            node.erase("params");
        }
        const bool hasX = node.contains("x"), hasY = node.contains("y");
        if ((hasX || hasY) && !node.contains("position")) {
            node["position"] = {hasX ? node["x"] : nlohmann::json(0), hasY ? node["y"] : nlohmann::json(0)};
            node.erase("x");
            node.erase("y");
        }
    }
}

}  // namespace

Result<void> migrateGraphJson(nlohmann::json& doc, int fromVersion)
{
    using Step = void (*)(nlohmann::json&);
    // steps[i] upgrades version i + 1 to i + 2.
    static constexpr Step steps[] = {v1ToV2};
    static_assert(std::size(steps) == kGraphFormatVersion - 1, "one migration per older version");
    if (fromVersion < 1 || fromVersion > kGraphFormatVersion)
        return makeError("has format version " + std::to_string(fromVersion) + ", which Kiln cannot migrate");
    for (int v = fromVersion; v < kGraphFormatVersion; ++v) steps[v - 1](doc);
    doc["version"] = kGraphFormatVersion;
    return success();
}

}  // namespace kiln::graph
