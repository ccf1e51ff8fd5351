// The node editor: palette | canvas | inspector over one NodeGraphModel. Every edit goes
// through undoStack() as one command; the app puts the stack and editActions() in its
// menus, and may move paletteWidget()/inspectorWidget() into dock widgets of its own.
#pragma once

#include "widgets/node_editor/node_graph_model.h"

#include <QPointer>
#include <QWidget>

class QAction;
class QLabel;
class QSplitter;
class QToolBar;
class QUndoStack;

namespace kiln::widgets {

class NodeInspector;
class NodePalette;
class NodeScene;
class NodeSearchPopup;
class NodeView;

class NodeEditor : public QWidget {
    Q_OBJECT
public:
    enum class Action {
        Undo, Redo, Cut, Copy, Paste, Duplicate, Delete, SelectAll,
        ZoomIn, ZoomOut, ZoomReset, FitView, AutoLayout, AddNode,
    };

    explicit NodeEditor(QWidget* parent = nullptr);
    ~NodeEditor() override;

    void setModel(NodeGraphModel* model);  // not owned; clears the undo history
    NodeGraphModel* model() const { return model_; }

    QUndoStack* undoStack() const { return undo_; }
    QAction* action(Action a) const;
    QList<QAction*> editActions() const;   // undo ... select all, for an Edit menu
    QList<QAction*> viewActions() const;   // zoom, fit, auto-layout, for a View menu

    NodeView* view() const { return view_; }
    NodeScene* scene() const { return scene_; }
    NodePalette* paletteWidget() const { return palette_; }
    NodeInspector* inspectorWidget() const { return inspector_; }
    NodeSearchPopup* searchPopup() const { return popup_; }
    QToolBar* toolBar() const { return toolBar_; }

    QStringList selectedNodeIds() const;
    void selectNodes(const QStringList& ids);

    // The undoable operations behind the gestures and actions.
    QString addNode(const QString& typeId, const QPointF& scenePos);  // returns the new id
    EditResult connectPorts(const PortRef& from, const PortRef& to);
    void deleteSelection();
    void copySelection();
    void cutSelection();
    void paste();
    void duplicateSelection();
    void autoLayout();
    void fitToView();
    void openNodeSearch(const QPoint& viewPos);

Q_SIGNALS:
    void selectionChanged();
    void statusMessage(const QString& text);

protected:
    void changeEvent(QEvent* event) override;

private:
    void createActions();
    void buildLayout();
    void wireView();
    void updateActions();
    void showMessage(const QString& text, bool problem = false);
    void pasteClip(const QByteArray& json, const QPointF& offset, const QString& text);
    QPointF freeSpotNear(const QPointF& scenePos) const;

    QPointer<NodeGraphModel> model_;
    QList<QMetaObject::Connection> modelConnections_;
    QUndoStack* undo_;
    NodeScene* scene_;
    NodeView* view_;
    NodePalette* palette_;
    NodeInspector* inspector_;
    NodeSearchPopup* popup_;
    QSplitter* splitter_;
    QToolBar* toolBar_;
    QLabel* status_;
    QLabel* zoomLabel_;
    QHash<int, QAction*> actions_;
    QPointF searchScenePos_;
    int pasteCount_ = 0;
};

}  // namespace kiln::widgets
