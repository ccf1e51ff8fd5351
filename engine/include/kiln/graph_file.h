// .kgraph files: versioned JSON with string node-type ids.
//   {"format": "kiln.graph", "version": 2, "description": "...",
//    "nodes": [{"id": 1, "type": "node.conv2d", "name": "conv1", "position": [0, 80],
//               "parameters": {"in_channels": 1, ...}}, ...],
//    "edges": [{"from": {"node": 1, "port": "out"}, "to": {"node": 2, "port": "in"}}, ...]}
// Loading validates everything against the registry and migrates older versions; a file from a
// newer Kiln is refused with a message saying so. Saving is atomic.
#pragma once

#include "kiln/graph_registry.h"
#include "kiln/result.h"

#include <string>
#include <string_view>

namespace kiln::graph {

inline constexpr int kGraphFormatVersion = 2;
inline constexpr const char* kGraphFileExtension = ".kgraph";

// `where` names the source in errors (a path, or "clipboard").
Result<Graph> parseGraph(std::string_view json, std::string_view where = "graph",
                         const NodeRegistry& registry = builtinNodes());
Result<Graph> loadGraph(const std::string& path, const NodeRegistry& registry = builtinNodes());

std::string graphToJson(const Graph& graph);  // the current version, 2-space indented
Result<void> saveGraph(const Graph& graph, const std::string& path);

}  // namespace kiln::graph
