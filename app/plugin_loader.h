// Finds and activates plugins: the installed plugin folder, the build tree's, and the folders
// in KILN_PLUGIN_PATH (colon-separated).
#pragma once

#include <QStringList>

namespace kiln {
class StudioContext;
}

namespace kiln::app {

struct PluginLoadResult {
    QStringList loaded;  // "name version (file)"
    QStringList failed;  // "file: why"
};

PluginLoadResult loadPlugins(StudioContext& studio);

}  // namespace kiln::app
