// Upgrades the JSON of an older .kgraph to the current format version, one version at a time,
// before the reader validates it. Each step is a small function on the raw JSON that leaves
// anything it does not understand for the reader to refuse.
#pragma once

#include "kiln/result.h"

#include <nlohmann/json_fwd.hpp>

namespace kiln::graph {

// `fromVersion` is the file's version (1 .. kGraphFormatVersion); on success `doc` is current.
Result<void> migrateGraphJson(nlohmann::json& doc, int fromVersion);

}  // namespace kiln::graph
