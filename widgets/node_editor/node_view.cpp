#include "widgets/node_editor/node_view.h"

#include "widgets/node_editor/edge_item.h"
#include "widgets/node_editor/node_clipboard.h"
#include "widgets/node_editor/node_item.h"
#include "widgets/node_editor/node_scene.h"

#include <QKeyEvent>
#include <QLabel>
#include <QMimeData>
#include <QScrollBar>
#include <QTimer>
#include <QWheelEvent>

#include <algorithm>
#include <cmath>

namespace kiln::widgets {

NodeView::NodeView(NodeScene* scene, QWidget* parent) : QGraphicsView(scene, parent), scene_(scene)
{
    setObjectName(QStringLiteral("nodeCanvas"));
    setRenderHints(QPainter::Antialiasing | QPainter::TextAntialiasing | QPainter::SmoothPixmapTransform);
    setDragMode(RubberBandDrag);
    setRubberBandSelectionMode(Qt::IntersectsItemShape);
    setTransformationAnchor(NoAnchor);  // zoomAt() anchors by hand, for wheel and keys alike
    setResizeAnchor(AnchorViewCenter);
    setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    setVerticalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    setViewportUpdateMode(SmartViewportUpdate);
    setOptimizationFlags(DontAdjustForAntialiasing);  // items' bounds already leave room
    setFrameShape(QFrame::NoFrame);
    setFocusPolicy(Qt::StrongFocus);
    setAcceptDrops(true);
    setMouseTracking(true);

    feedback_ = new QLabel(viewport());
    feedback_->setObjectName(QStringLiteral("connectFeedback"));
    feedback_->setAttribute(Qt::WA_TransparentForMouseEvents);
    feedback_->hide();
    feedbackTimer_ = new QTimer(this);
    feedbackTimer_->setSingleShot(true);
    connect(feedbackTimer_, &QTimer::timeout, feedback_, &QWidget::hide);
    centerOn(0, 0);
}

NodeView::~NodeView() { delete preview_; }

// ------------------------------------------------------------------ zoom and pan

void NodeView::zoomAt(qreal factor, const QPoint& viewPos)
{
    const qreal target = std::clamp(zoom() * factor, kMinZoom, kMaxZoom);
    if (std::abs(target - zoom()) < 1e-9) return;
    const QPointF anchor = mapToScene(viewPos);
    const qreal f = target / zoom();
    scale(f, f);
    const QPoint drift = mapFromScene(anchor) - viewPos;
    horizontalScrollBar()->setValue(horizontalScrollBar()->value() + drift.x());
    verticalScrollBar()->setValue(verticalScrollBar()->value() + drift.y());
    Q_EMIT zoomChanged(zoom());
}

void NodeView::zoomBy(qreal factor) { zoomAt(factor, viewport()->rect().center()); }

void NodeView::resetZoom() { zoomBy(1.0 / zoom()); }

void NodeView::fitToNodes()
{
    const QRectF r = scene_->nodesBoundingRect();
    if (r.isEmpty()) {
        setTransform(QTransform());
        centerOn(0, 0);
    } else {
        fitInView(r.adjusted(-30, -30, 30, 30), Qt::KeepAspectRatio);
        // A lone node should not fill the screen, nor a huge graph vanish into dots.
        const qreal z = std::clamp(zoom(), kMinZoom, 1.25);
        setTransform(QTransform::fromScale(z, z));
        centerOn(r.center());
    }
    Q_EMIT zoomChanged(zoom());
}

void NodeView::centerOnNodes(const QStringList& ids)
{
    QRectF r;
    for (const QString& id : ids)
        if (NodeItem* n = scene_->nodeItem(id)) r = r.united(n->sceneBoundingRect());
    if (!r.isEmpty()) ensureVisible(r, 40, 40);
}

void NodeView::wheelEvent(QWheelEvent* event)
{
    const QPoint d = event->angleDelta();
    if (d.y() != 0) zoomAt(std::pow(1.0015, d.y()), event->position().toPoint());
    else if (d.x() != 0) horizontalScrollBar()->setValue(horizontalScrollBar()->value() - d.x());
    event->accept();
}

// ------------------------------------------------------------------ connecting

NodeView::Target NodeView::targetAt(const QPointF& scenePos) const
{
    NodeItem* item = scene_->nodeAt(scenePos, 14);
    if (!item || item->id() == fixed_.node) return {};
    const NodeItem::PortHit hit = item->portAt(scenePos, true);
    if (hit.valid && hit.output != fixedIsOutput_) return {item->id(), hit.port, hit.output};
    // Anywhere on a node with a single port of the wanted kind will do.
    const QStringList& ports = fixedIsOutput_ ? item->info().inputs : item->info().outputs;
    if (ports.size() == 1 && item->sceneBoundingRect().adjusted(12, 12, -12, -12).contains(scenePos))
        return {item->id(), ports.first(), !fixedIsOutput_};
    return {};
}

bool NodeView::beginConnect(const QPointF& scenePos)
{
    NodeItem* item = scene_->nodeAt(scenePos, 14);
    if (!item || !scene_->model()) return false;
    const NodeItem::PortHit hit = item->portAt(scenePos, false);
    if (!hit.valid) return false;
    detached_ = {};
    fixed_ = {item->id(), hit.port};
    fixedIsOutput_ = hit.output;
    if (!hit.output) {
        // Pulling on a connected input picks its edge up: drop it elsewhere to move it,
        // on empty canvas to remove it.
        for (EdgeItem* e : item->edges()) {
            if (e->edge().to == fixed_) {
                detached_ = e->edge();
                e->setVisible(false);
                fixed_ = detached_.from;
                fixedIsOutput_ = true;
                break;
            }
        }
    }
    connecting_ = true;
    target_ = {};
    preview_ = new PendingEdgeItem(&scene_->nodeStyle());
    scene_->addItem(preview_);
    return true;
}

void NodeView::clearHighlight()
{
    if (NodeItem* n = scene_->nodeItem(target_.node)) n->setPortHighlight({}, false, {});
}

void NodeView::updateConnect(const QPoint& viewPos)
{
    const QPointF p = mapToScene(viewPos);
    NodeItem* fixedItem = scene_->nodeItem(fixed_.node);
    if (!fixedItem) return cancelConnect();
    const QPointF anchor = fixedIsOutput_ ? fixedItem->outputPos(fixed_.port) : fixedItem->inputPos(fixed_.port);
    const Target t = targetAt(p);
    if (t.node != target_.node || t.port != target_.port) {
        clearHighlight();
        target_ = t;
        if (t.valid()) {
            const PortRef other{t.node, t.port};
            const PortRef from = fixedIsOutput_ ? fixed_ : other, to = fixedIsOutput_ ? other : fixed_;
            verdict_ = EdgeInfo{from, to} == detached_ ? EditResult::success() : scene_->model()->canConnect(from, to);
        }
    }
    const NodeStyle& s = scene_->nodeStyle();
    if (!target_.valid()) {
        preview_->setEnds(fixedIsOutput_ ? anchor : p, fixedIsOutput_ ? p : anchor, {});
        feedback_->hide();
        return;
    }
    NodeItem* targetItem = scene_->nodeItem(target_.node);
    const QColor colour = verdict_.ok ? s.ok : s.error;
    targetItem->setPortHighlight(target_.port, target_.output, colour);
    const QPointF snap = target_.output ? targetItem->outputPos(target_.port) : targetItem->inputPos(target_.port);
    preview_->setEnds(fixedIsOutput_ ? anchor : snap, fixedIsOutput_ ? snap : anchor, colour);
    const QString fromName = scene_->model()->node(fixedIsOutput_ ? fixed_.node : target_.node).name;
    const QString toName = scene_->model()->node(fixedIsOutput_ ? target_.node : fixed_.node).name;
    const QString route = QStringLiteral("%1.%2 → %3.%4")
                              .arg(fromName, fixedIsOutput_ ? fixed_.port : target_.port, toName,
                                   fixedIsOutput_ ? target_.port : fixed_.port);
    showFeedback(verdict_.ok ? QStringLiteral("✓ %1").arg(route) : QStringLiteral("✗ %1").arg(verdict_.reason), verdict_.ok,
                 viewPos);
}

void NodeView::finishConnect()
{
    const Target t = target_;
    const EditResult verdict = verdict_;
    const EdgeInfo detached = detached_;
    const PortRef fixed = fixed_;
    const bool fixedIsOutput = fixedIsOutput_;
    const QPoint at = feedback_->pos() - QPoint(18, 14);
    cancelConnect();
    if (t.valid()) {
        const PortRef other{t.node, t.port};
        const EdgeInfo edge{fixedIsOutput ? fixed : other, fixedIsOutput ? other : fixed};
        if (edge == detached) return;  // put back where it was
        if (verdict.ok) {
            Q_EMIT connectRequested(edge.from, edge.to, detached);
        } else {
            // The reason stays up a moment after the drop: the person let go to read it.
            showFeedback(QStringLiteral("✗ %1").arg(verdict.reason), false, at, 3500);
            Q_EMIT connectRefused(verdict.reason);
        }
    } else if (!detached.from.node.isEmpty()) {
        Q_EMIT disconnectRequested(detached);
    }
}

void NodeView::cancelConnect()
{
    clearHighlight();
    if (EdgeItem* e = scene_->edgeItem(detached_)) e->setVisible(true);
    delete preview_;
    preview_ = nullptr;
    connecting_ = false;
    target_ = {};
    detached_ = {};
    feedback_->hide();
}

void NodeView::showFeedback(const QString& text, bool ok, const QPoint& viewPos, int hideAfterMs)
{
    const NodeStyle& s = scene_->nodeStyle();
    const QColor edge = ok ? s.ok : s.error;
    feedback_->setStyleSheet(QStringLiteral("QLabel { background: %1; color: %2; border: 1px solid %3;"
                                            " border-radius: 5px; padding: 4px 8px; }")
                                 .arg(s.labelBackground.name(), s.labelText.name(), edge.name()));
    feedback_->setText(text);
    // One line when it fits; wrapped at a fixed width when long (a word-wrapping QLabel on
    // its own picks an awkward narrow width).
    constexpr int kMaxWidth = 380;
    feedback_->setWordWrap(false);
    feedback_->setMinimumWidth(0);
    feedback_->setMaximumWidth(QWIDGETSIZE_MAX);
    feedback_->adjustSize();
    if (feedback_->width() > kMaxWidth) {
        feedback_->setWordWrap(true);
        feedback_->setFixedWidth(kMaxWidth);
        feedback_->adjustSize();
    }
    QPoint at = viewPos + QPoint(18, 14);
    at.setX(std::clamp(at.x(), 4, std::max(4, viewport()->width() - feedback_->width() - 4)));
    at.setY(std::clamp(at.y(), 4, std::max(4, viewport()->height() - feedback_->height() - 4)));
    feedback_->move(at);
    feedback_->show();
    feedback_->raise();
    if (hideAfterMs > 0) feedbackTimer_->start(hideAfterMs);
    else feedbackTimer_->stop();
}

// ------------------------------------------------------------------ mouse

void NodeView::mousePressEvent(QMouseEvent* event)
{
    if (event->button() == Qt::MiddleButton || (event->button() == Qt::LeftButton && spaceHeld_)) {
        panning_ = true;
        lastPan_ = event->position().toPoint();
        viewport()->setCursor(Qt::ClosedHandCursor);
        event->accept();
        return;
    }
    if (event->button() == Qt::LeftButton && !connecting_ && beginConnect(mapToScene(event->position().toPoint()))) {
        updateConnect(event->position().toPoint());
        event->accept();
        return;
    }
    if (event->button() == Qt::RightButton) {
        // Right-click acts on what is under the mouse, selecting it first like a file manager.
        QGraphicsItem* item = itemAt(event->position().toPoint());
        if (item && !item->isSelected()) {
            scene_->clearSelection();
            item->setSelected(true);
        }
        event->accept();
        return;
    }
    QGraphicsView::mousePressEvent(event);
}

void NodeView::mouseMoveEvent(QMouseEvent* event)
{
    if (panning_) {
        const QPoint p = event->position().toPoint(), d = p - lastPan_;
        lastPan_ = p;
        horizontalScrollBar()->setValue(horizontalScrollBar()->value() - d.x());
        verticalScrollBar()->setValue(verticalScrollBar()->value() - d.y());
        event->accept();
        return;
    }
    if (connecting_) {
        updateConnect(event->position().toPoint());
        event->accept();
        return;
    }
    QGraphicsView::mouseMoveEvent(event);
}

void NodeView::mouseReleaseEvent(QMouseEvent* event)
{
    if (panning_ && (event->button() == Qt::MiddleButton || event->button() == Qt::LeftButton)) {
        panning_ = false;
        viewport()->setCursor(spaceHeld_ ? Qt::OpenHandCursor : Qt::ArrowCursor);
        event->accept();
        return;
    }
    if (connecting_ && event->button() == Qt::LeftButton) {
        updateConnect(event->position().toPoint());
        finishConnect();
        event->accept();
        return;
    }
    QGraphicsView::mouseReleaseEvent(event);
    if (event->button() == Qt::LeftButton) Q_EMIT nodesDragged();
}

void NodeView::mouseDoubleClickEvent(QMouseEvent* event)
{
    if (event->button() != Qt::LeftButton) return QGraphicsView::mouseDoubleClickEvent(event);
    const QPointF p = mapToScene(event->position().toPoint());
    if (NodeItem* n = scene_->nodeAt(p)) Q_EMIT nodeDoubleClicked(n->id());
    else if (!itemAt(event->position().toPoint())) Q_EMIT searchRequested(event->position().toPoint());
    event->accept();
}

void NodeView::contextMenuEvent(QContextMenuEvent* event)
{
    Q_EMIT contextMenuRequested(event->pos());
    event->accept();
}

// ------------------------------------------------------------------ keys

bool NodeView::event(QEvent* event)
{
    // Tab would move focus out of the canvas; here it opens the node search instead.
    if (event->type() == QEvent::KeyPress) {
        auto* k = static_cast<QKeyEvent*>(event);
        if (k->key() == Qt::Key_Tab && !(k->modifiers() & (Qt::ControlModifier | Qt::AltModifier | Qt::ShiftModifier))) {
            const QPoint cursor = viewport()->mapFromGlobal(QCursor::pos());
            Q_EMIT searchRequested(viewport()->rect().contains(cursor) ? cursor : viewport()->rect().center());
            return true;
        }
    }
    return QGraphicsView::event(event);
}

void NodeView::keyPressEvent(QKeyEvent* event)
{
    if (event->key() == Qt::Key_Space && !event->isAutoRepeat()) {
        spaceHeld_ = true;
        if (!panning_) viewport()->setCursor(Qt::OpenHandCursor);
        return event->accept();
    }
    if (event->key() == Qt::Key_Escape && connecting_) {
        cancelConnect();
        return event->accept();
    }
    const qreal step = (event->modifiers() & Qt::ShiftModifier) ? 1 : 10;  // Shift: fine steps
    QPointF d;
    switch (event->key()) {
    case Qt::Key_Left: d = {-step, 0}; break;
    case Qt::Key_Right: d = {step, 0}; break;
    case Qt::Key_Up: d = {0, -step}; break;
    case Qt::Key_Down: d = {0, step}; break;
    default: break;
    }
    if (!d.isNull() && !scene_->selectedNodeIds().isEmpty()) {
        Q_EMIT nudgeRequested(d);
        return event->accept();
    }
    QGraphicsView::keyPressEvent(event);
}

void NodeView::keyReleaseEvent(QKeyEvent* event)
{
    if (event->key() == Qt::Key_Space && !event->isAutoRepeat()) {
        spaceHeld_ = false;
        if (!panning_) viewport()->setCursor(Qt::ArrowCursor);
        return event->accept();
    }
    QGraphicsView::keyReleaseEvent(event);
}

// ------------------------------------------------------------------ palette drops

void NodeView::dragEnterEvent(QDragEnterEvent* event)
{
    if (event->mimeData()->hasFormat(QString::fromLatin1(kNodeTypeMimeType))) event->acceptProposedAction();
    else event->ignore();
}

void NodeView::dragMoveEvent(QDragMoveEvent* event)
{
    if (event->mimeData()->hasFormat(QString::fromLatin1(kNodeTypeMimeType))) event->acceptProposedAction();
    else event->ignore();
}

void NodeView::dropEvent(QDropEvent* event)
{
    const QByteArray id = event->mimeData()->data(QString::fromLatin1(kNodeTypeMimeType));
    if (id.isEmpty()) return event->ignore();
    event->acceptProposedAction();
    Q_EMIT nodeTypeDropped(QString::fromUtf8(id), mapToScene(event->position().toPoint()));
}

void NodeView::drawForeground(QPainter* painter, const QRectF&)
{
    if (scene_->nodeCount() > 0) return;
    painter->save();
    painter->resetTransform();
    QFont f = font();
    f.setPointSizeF(f.pointSizeF() * 1.1);
    painter->setFont(f);
    painter->setPen(scene_->nodeStyle().mutedText);
    painter->drawText(viewport()->rect(), Qt::AlignCenter,
                      tr("Press Tab or double-click to add a node,\nor drag one in from the palette."));
    painter->restore();
}

}  // namespace kiln::widgets
