// Kiln's plugin interface (header-only). A plugin is a Qt plugin (Q_PLUGIN_METADATA with
// KILN_PLUGIN_IID) that implements kiln::Plugin; the studio activates it with a StudioContext.
// Plugins may use the engine facade (kiln/*.h), widgets/ and this header.
#pragma once

#include <QObject>
#include <QString>
#include <QtPlugin>

class QMenu;
class QWidget;

namespace kiln::qt {
class EngineThread;
}

namespace kiln {

// What the studio lends a plugin. Everything lives on the UI thread; work goes to engine().
class StudioContext {
public:
    virtual ~StudioContext() = default;
    virtual kiln::qt::EngineThread& engine() = 0;
    virtual QWidget* window() = 0;
    virtual QMenu* toolsMenu() = 0;
    virtual void showStatus(const QString& text) = 0;
};

class Plugin {
public:
    virtual ~Plugin() = default;
    virtual QString id() const = 0;  // stable dotted id, e.g. "plugin.tensor_stats"
    virtual QString name() const = 0;
    virtual QString version() const = 0;
    virtual void activate(StudioContext& studio) = 0;
};

}  // namespace kiln

#define KILN_PLUGIN_IID "org.kiln.Plugin/1"
Q_DECLARE_INTERFACE(kiln::Plugin, KILN_PLUGIN_IID)
