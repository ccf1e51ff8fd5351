// The canvas' scene: mirrors a NodeGraphModel as items and keeps them in step with the
// model's signals, touching only the items a signal names.
#pragma once

#include "widgets/node_editor/node_graph_model.h"
#include "widgets/node_editor/node_style.h"

#include <QGraphicsScene>
#include <QHash>
#include <QPointer>
#include <QSet>

namespace kiln::widgets {

class NodeItem;
class EdgeItem;

class NodeScene : public QGraphicsScene {
    Q_OBJECT
public:
    explicit NodeScene(QObject* parent = nullptr);
    ~NodeScene() override;

    void setModel(NodeGraphModel* model);
    NodeGraphModel* model() const { return model_; }
    void setNodeStyle(const NodeStyle& style);
    const NodeStyle& nodeStyle() const { return style_; }

    NodeItem* nodeItem(const QString& id) const { return nodes_.value(id); }
    EdgeItem* edgeItem(const EdgeInfo& e) const { return edges_.value(e); }
    QList<NodeItem*> nodeItems() const { return nodes_.values(); }
    int nodeCount() const { return int(nodes_.size()); }
    int edgeCount() const { return int(edges_.size()); }
    NodeItem* nodeAt(const QPointF& scenePos, qreal slack = 0) const;  // slack reaches port dots outside the body
    QRectF nodesBoundingRect() const;

    QStringList selectedNodeIds() const;  // in model order
    QList<EdgeInfo> selectedEdges() const;
    void selectNodes(const QStringList& ids);

    // Nodes the mouse has dragged since the last call, with (model position, item position).
    QHash<QString, QPair<QPointF, QPointF>> takeDraggedNodes();
    void noteItemMoved(const QString& id);

    int layoutRebuilds() const;  // summed over items: proves updates stay local

protected:
    void drawBackground(QPainter* painter, const QRectF& rect) override;

private:
    void rebuildAll();
    void clearItems();
    void addNodeItem(const QString& id);
    void addEdgeItem(const EdgeInfo& e);
    void removeNodeItem(const QString& id);
    void removeEdgeItem(const EdgeInfo& e);
    void syncNode(const QString& id);
    void syncPosition(const QString& id);
    void syncAnnotation(const QString& id);
    void syncEdgeLabel(const EdgeInfo& e);
    void syncAllAnnotations();

    QPointer<NodeGraphModel> model_;
    QList<QMetaObject::Connection> connections_;
    NodeStyle style_;
    QHash<QString, NodeItem*> nodes_;
    QHash<EdgeInfo, EdgeItem*> edges_;
    QSet<QString> dragged_;
    bool syncing_ = false;  // positions set from the model are not drags
    int removedRebuilds_ = 0;
};

}  // namespace kiln::widgets
