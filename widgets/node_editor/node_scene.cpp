#include "widgets/node_editor/node_scene.h"

#include "widgets/node_editor/edge_item.h"
#include "widgets/node_editor/node_item.h"

#include <QPainter>
#include <QSignalBlocker>
#include <QVarLengthArray>

#include <cmath>

namespace kiln::widgets {

namespace {
constexpr qreal kGrid = 20;
constexpr qreal kHalfExtent = 50000;  // room to pan anywhere; fit-to-view uses the nodes' bounds
}  // namespace

NodeScene::NodeScene(QObject* parent) : QGraphicsScene(parent)
{
    setSceneRect(-kHalfExtent, -kHalfExtent, 2 * kHalfExtent, 2 * kHalfExtent);
    // Items move often and number a few hundred: the BSP index costs more to keep than it saves.
    setItemIndexMethod(NoIndex);
}

NodeScene::~NodeScene() { clearItems(); }

void NodeScene::setNodeStyle(const NodeStyle& style)
{
    style_ = style;
    for (NodeItem* n : std::as_const(nodes_)) n->restyle();
    for (EdgeItem* e : std::as_const(edges_)) e->restyle();
    update();
}

void NodeScene::setModel(NodeGraphModel* model)
{
    for (const auto& c : std::as_const(connections_)) disconnect(c);
    connections_.clear();
    model_ = model;
    if (model_) {
        auto on = [this](auto signal, auto slot) { connections_ << connect(model_.data(), signal, this, slot); };
        on(&NodeGraphModel::nodeAdded, [this](const QString& id) { addNodeItem(id); });
        on(&NodeGraphModel::nodeRemoved, [this](const QString& id) { removeNodeItem(id); });
        on(&NodeGraphModel::nodeChanged, [this](const QString& id) { syncNode(id); });
        on(&NodeGraphModel::nodeMoved, [this](const QString& id) { syncPosition(id); });
        on(&NodeGraphModel::edgeAdded, [this](const EdgeInfo& e) { addEdgeItem(e); });
        on(&NodeGraphModel::edgeRemoved, [this](const EdgeInfo& e) { removeEdgeItem(e); });
        on(&NodeGraphModel::nodeAnnotationChanged, [this](const QString& id) { syncAnnotation(id); });
        on(&NodeGraphModel::edgeAnnotationChanged, [this](const EdgeInfo& e) { syncEdgeLabel(e); });
        on(&NodeGraphModel::annotationsChanged, [this] { syncAllAnnotations(); });
        on(&NodeGraphModel::modelReset, [this] { rebuildAll(); });
        on(&NodeGraphModel::nodeTypesChanged, [this] {
            for (const QString& id : nodes_.keys()) syncNode(id);
        });
    }
    rebuildAll();
}

void NodeScene::clearItems()
{
    // Edges first: an edge detaches itself from its nodes when deleted.
    for (EdgeItem* e : std::as_const(edges_)) delete e;
    edges_.clear();
    for (NodeItem* n : std::as_const(nodes_)) {
        removedRebuilds_ += n->rebuildCount();
        delete n;
    }
    nodes_.clear();
    dragged_.clear();
}

void NodeScene::rebuildAll()
{
    clearItems();
    if (!model_) return;
    for (const QString& id : model_->nodeIds()) addNodeItem(id);
    for (const EdgeInfo& e : model_->edges()) addEdgeItem(e);
}

void NodeScene::addNodeItem(const QString& id)
{
    if (nodes_.contains(id) || !model_) return;
    const NodeInfo info = model_->node(id);
    if (!info.isValid()) return;
    auto* item = new NodeItem(id, &style_);
    item->init(info, model_->nodeType(info.typeId), model_->nodeAnnotation(id));
    nodes_.insert(id, item);
    syncing_ = true;
    item->setPos(info.pos);
    syncing_ = false;
    addItem(item);
}

void NodeScene::removeNodeItem(const QString& id)
{
    NodeItem* item = nodes_.take(id);
    if (!item) return;
    // A model that forgot to signal an edge's removal must not leave a dangling curve.
    for (EdgeItem* e : QList<EdgeItem*>(item->edges())) removeEdgeItem(e->edge());
    dragged_.remove(id);
    removedRebuilds_ += item->rebuildCount();
    delete item;
}

void NodeScene::addEdgeItem(const EdgeInfo& e)
{
    if (edges_.contains(e)) return;
    NodeItem* a = nodes_.value(e.from.node);
    NodeItem* b = nodes_.value(e.to.node);
    if (!a || !b) return;
    auto* item = new EdgeItem(e, a, b, &style_);
    item->setLabel(model_ ? model_->edgeLabel(e) : QString());
    edges_.insert(e, item);
    addItem(item);
    a->connectionsChanged();
    b->connectionsChanged();
}

void NodeScene::removeEdgeItem(const EdgeInfo& e)
{
    EdgeItem* item = edges_.take(e);
    if (!item) return;
    NodeItem* a = item->fromItem();
    NodeItem* b = item->toItem();
    delete item;
    a->connectionsChanged();
    b->connectionsChanged();
}

void NodeScene::syncNode(const QString& id)
{
    NodeItem* item = nodes_.value(id);
    if (!item || !model_) return;
    const NodeInfo info = model_->node(id);
    item->setContent(info, model_->nodeType(info.typeId));
}

void NodeScene::syncPosition(const QString& id)
{
    NodeItem* item = nodes_.value(id);
    if (!item || !model_) return;
    const QPointF pos = model_->node(id).pos;
    if (item->pos() == pos) return;
    syncing_ = true;
    item->setPos(pos);
    syncing_ = false;
    dragged_.remove(id);
}

void NodeScene::syncAnnotation(const QString& id)
{
    if (NodeItem* item = nodes_.value(id); item && model_) item->setAnnotation(model_->nodeAnnotation(id));
}

void NodeScene::syncEdgeLabel(const EdgeInfo& e)
{
    if (EdgeItem* item = edges_.value(e); item && model_) item->setLabel(model_->edgeLabel(e));
}

void NodeScene::syncAllAnnotations()
{
    if (!model_) return;
    // Items compare before rebuilding, so a re-inference that changed one shape redraws one node.
    for (auto it = nodes_.cbegin(); it != nodes_.cend(); ++it) it.value()->setAnnotation(model_->nodeAnnotation(it.key()));
    for (auto it = edges_.cbegin(); it != edges_.cend(); ++it) {
        const QString label = model_->edgeLabel(it.key());
        if (label != it.value()->label()) it.value()->setLabel(label);
    }
}

NodeItem* NodeScene::nodeAt(const QPointF& p, qreal slack) const
{
    NodeItem* best = nullptr;
    const QRectF probe(p - QPointF(slack, slack), QSizeF(2 * slack, 2 * slack));
    for (QGraphicsItem* it : items(slack > 0 ? probe : QRectF(p, QSizeF(0.01, 0.01)), Qt::IntersectsItemBoundingRect,
                                   Qt::DescendingOrder)) {
        if (it->type() != NodeItem::Type) continue;
        auto* n = static_cast<NodeItem*>(it);
        const QRectF body = n->sceneBoundingRect().adjusted(12 - slack, 12 - slack, slack - 12, slack - 12);
        if (body.contains(p)) {
            best = n;
            break;
        }
    }
    return best;
}

QRectF NodeScene::nodesBoundingRect() const
{
    QRectF r;
    for (NodeItem* n : std::as_const(nodes_)) r = r.united(n->sceneBoundingRect());
    return r;
}

QStringList NodeScene::selectedNodeIds() const
{
    QStringList out;
    if (!model_) return out;
    for (const QString& id : model_->nodeIds())
        if (NodeItem* n = nodes_.value(id); n && n->isSelected()) out << id;
    return out;
}

QList<EdgeInfo> NodeScene::selectedEdges() const
{
    QList<EdgeInfo> out;
    for (QGraphicsItem* it : selectedItems())
        if (it->type() == EdgeItem::Type) out << static_cast<EdgeItem*>(it)->edge();
    return out;
}

void NodeScene::selectNodes(const QStringList& ids)
{
    QSignalBlocker block(this);  // one selectionChanged for the lot, below
    clearSelection();
    for (const QString& id : ids)
        if (NodeItem* n = nodes_.value(id)) n->setSelected(true);
    block.unblock();
    Q_EMIT selectionChanged();
}

void NodeScene::noteItemMoved(const QString& id)
{
    if (!syncing_) dragged_.insert(id);
}

QHash<QString, QPair<QPointF, QPointF>> NodeScene::takeDraggedNodes()
{
    QHash<QString, QPair<QPointF, QPointF>> out;
    if (model_) {
        for (const QString& id : std::as_const(dragged_)) {
            NodeItem* n = nodes_.value(id);
            const QPointF from = model_->node(id).pos;
            if (n && from != n->pos()) out.insert(id, {from, n->pos()});
        }
    }
    dragged_.clear();
    return out;
}

int NodeScene::layoutRebuilds() const
{
    int sum = removedRebuilds_;
    for (NodeItem* n : std::as_const(nodes_)) sum += n->rebuildCount();
    return sum;
}

void NodeScene::drawBackground(QPainter* painter, const QRectF& rect)
{
    painter->fillRect(rect, style_.canvas);
    const qreal scale = painter->worldTransform().m11();
    // Below half zoom the minor lines would merge into a grey wash.
    const qreal step = scale < 0.5 ? kGrid * 5 : kGrid;
    const qreal left = std::floor(rect.left() / step) * step, top = std::floor(rect.top() / step) * step;
    QVarLengthArray<QLineF, 256> minor, major;
    for (qreal x = left; x < rect.right(); x += step) {
        const bool isMajor = std::fmod(std::abs(x), kGrid * 5) < 0.5;
        (isMajor ? major : minor).append(QLineF(x, rect.top(), x, rect.bottom()));
    }
    for (qreal y = top; y < rect.bottom(); y += step) {
        const bool isMajor = std::fmod(std::abs(y), kGrid * 5) < 0.5;
        (isMajor ? major : minor).append(QLineF(rect.left(), y, rect.right(), y));
    }
    QPen pen(style_.gridMinor, 0);  // cosmetic: one pixel at any zoom
    painter->setPen(pen);
    painter->drawLines(minor.constData(), int(minor.size()));
    pen.setColor(style_.gridMajor);
    painter->setPen(pen);
    painter->drawLines(major.constData(), int(major.size()));
}

}  // namespace kiln::widgets
