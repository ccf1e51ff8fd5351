#include "plugin_loader.h"

#include "kiln/plugin_api.h"

#include <QCoreApplication>
#include <QDir>
#include <QPluginLoader>
#include <QSet>

namespace kiln::app {

PluginLoadResult loadPlugins(StudioContext& studio)
{
    QStringList dirs;
    for (const QString& d : qEnvironmentVariable("KILN_PLUGIN_PATH").split(QLatin1Char(':'), Qt::SkipEmptyParts))
        dirs << d;
    // The build tree's plugins only for a build-tree binary, never for an installed one.
    if (QCoreApplication::applicationDirPath().startsWith(QStringLiteral(KILN_BUILD_DIR)))
        dirs << QStringLiteral(KILN_BUILD_DIR "/plugins");
    dirs << QStringLiteral(KILN_PLUGIN_DIR);

    PluginLoadResult result;
    QSet<QString> ids;
    for (const QString& dirPath : dirs) {
        const QDir dir(dirPath);
        for (const QString& file : dir.entryList({QStringLiteral("*.so")}, QDir::Files)) {
            QPluginLoader loader(dir.filePath(file));
            QObject* instance = loader.instance();
            auto* plugin = qobject_cast<kiln::Plugin*>(instance);
            if (!plugin) {
                result.failed << QStringLiteral("%1: %2").arg(file, instance ? QStringLiteral("not a Kiln plugin")
                                                                             : loader.errorString());
                continue;
            }
            if (ids.contains(plugin->id())) continue;  // the same plugin found in two folders
            ids.insert(plugin->id());
            plugin->activate(studio);
            result.loaded << QStringLiteral("%1 %2 (%3)").arg(plugin->name(), plugin->version(), dir.filePath(file));
        }
    }
    return result;
}

}  // namespace kiln::app
