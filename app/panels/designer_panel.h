// Designer: build a network as a node graph and see every shape while building. Files are
// .kgraph; what a person draws is autosaved and comes back after a crash.
#pragma once

#include <QString>
#include <QTimer>
#include <QWidget>

class QLabel;
class QMenu;

namespace kiln::widgets {
class NodeEditor;
}
namespace kiln::graph {
class Graph;
}
namespace kiln::qt {
class EngineThread;
}

namespace kiln::app {

class GraphEditorModel;

class DesignerPanel : public QWidget {
    Q_OBJECT
public:
    explicit DesignerPanel(QWidget* parent = nullptr);
    // Export runs as a job on this engine (set by the window; without one Export does nothing).
    void setEngine(kiln::qt::EngineThread* engine) { engine_ = engine; }
    void exportModel();

    GraphEditorModel& model() { return *model_; }
    kiln::widgets::NodeEditor& editor() { return *editor_; }
    QString currentPath() const { return path_; }

    void newGraph();
    bool open(const QString& path);  // shows the error and returns false on a bad file
    bool openSample(const QString& resourceName);  // "fashion_convnet"
    bool save();
    bool saveAs(const QString& path = {});
    static QStringList sampleNames();
    static QString autosavePath();

Q_SIGNALS:
    void statusMessage(const QString& text);
    void trainRequested();

private:
    void updateSummary();
    void rebuildRecent();
    void remember(const QString& path);
    void autosave();
    bool adopt(const QString& json, const QString& where, const QString& path);
    void present(kiln::graph::Graph graph, const QString& path);

    GraphEditorModel* model_;
    kiln::widgets::NodeEditor* editor_;
    QLabel* summary_;
    QString path_;
    QTimer autosaveTimer_;
    QMenu* recent_ = nullptr;
    kiln::qt::EngineThread* engine_ = nullptr;
};

}  // namespace kiln::app
