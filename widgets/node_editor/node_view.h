// The canvas view: zoom and pan, drag from a port to connect (with live yes/no feedback
// and the model's reason), rubber-band selection, and the gestures that open the node
// search. It reports intents as signals; the NodeEditor turns them into undo commands.
#pragma once

#include "widgets/node_editor/node_graph_model.h"

#include <QGraphicsView>

class QLabel;
class QTimer;

namespace kiln::widgets {

class NodeScene;
class NodeItem;
class PendingEdgeItem;

class NodeView : public QGraphicsView {
    Q_OBJECT
public:
    static constexpr qreal kMinZoom = 0.1, kMaxZoom = 3.0;

    explicit NodeView(NodeScene* scene, QWidget* parent = nullptr);
    ~NodeView() override;
    NodeScene* nodeScene() const { return scene_; }

    qreal zoom() const { return transform().m11(); }
    void zoomBy(qreal factor);                           // about the viewport centre
    void zoomAt(qreal factor, const QPoint& viewPos);    // keeps the scene point under viewPos
    void resetZoom();
    void fitToNodes();
    void centerOnNodes(const QStringList& ids);

    QLabel* feedbackLabel() const { return feedback_; }
    bool isConnecting() const { return connecting_; }
    void showFeedback(const QString& text, bool ok, const QPoint& viewPos, int hideAfterMs = 0);

Q_SIGNALS:
    // detached: the edge the person picked up off an input (empty node ids: none)
    void connectRequested(const kiln::widgets::PortRef& from, const kiln::widgets::PortRef& to,
                          const kiln::widgets::EdgeInfo& detached);
    void disconnectRequested(const kiln::widgets::EdgeInfo& edge);
    void connectRefused(const QString& reason);
    void nodesDragged();
    void searchRequested(const QPoint& viewPos);
    void nodeTypeDropped(const QString& typeId, const QPointF& scenePos);
    void nodeDoubleClicked(const QString& id);
    void nudgeRequested(const QPointF& delta);
    void contextMenuRequested(const QPoint& viewPos);
    void zoomChanged(qreal zoom);

protected:
    bool event(QEvent* event) override;
    void mousePressEvent(QMouseEvent* event) override;
    void mouseMoveEvent(QMouseEvent* event) override;
    void mouseReleaseEvent(QMouseEvent* event) override;
    void mouseDoubleClickEvent(QMouseEvent* event) override;
    void wheelEvent(QWheelEvent* event) override;
    void keyPressEvent(QKeyEvent* event) override;
    void keyReleaseEvent(QKeyEvent* event) override;
    void contextMenuEvent(QContextMenuEvent* event) override;
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dragMoveEvent(QDragMoveEvent* event) override;
    void dropEvent(QDropEvent* event) override;
    void drawForeground(QPainter* painter, const QRectF& rect) override;

private:
    struct Target {  // by id: the model may drop a node while the mouse is down
        QString node;
        QString port;
        bool output = false;
        bool valid() const { return !node.isEmpty(); }
    };
    bool beginConnect(const QPointF& scenePos);
    void updateConnect(const QPoint& viewPos);
    void finishConnect();
    void cancelConnect();
    Target targetAt(const QPointF& scenePos) const;
    void clearHighlight();

    NodeScene* scene_;
    QLabel* feedback_;
    QTimer* feedbackTimer_;

    bool spaceHeld_ = false;
    bool panning_ = false;
    QPoint lastPan_;

    bool connecting_ = false;
    PortRef fixed_;          // the port the drag started from (or the far end of a picked-up edge)
    bool fixedIsOutput_ = true;
    EdgeInfo detached_;      // empty node ids: none
    PendingEdgeItem* preview_ = nullptr;
    Target target_;
    EditResult verdict_;
};

}  // namespace kiln::widgets
