#include "widgets/node_editor/edge_item.h"

#include "widgets/node_editor/node_item.h"
#include "widgets/node_editor/node_style.h"

#include <QFontMetricsF>
#include <QPainter>
#include <QPainterPathStroker>
#include <QStyleOptionGraphicsItem>

#include <cmath>

namespace kiln::widgets {

QPainterPath edgeCurve(const QPointF& a, const QPointF& b, QPointF* middle)
{
    const qreal dx = b.x() - a.x();
    const qreal reach = dx >= 0 ? std::max(40.0, dx * 0.5) : std::max(80.0, std::min(-dx * 0.5, 240.0));
    const QPointF c1(a.x() + reach, a.y()), c2(b.x() - reach, b.y());
    QPainterPath p(a);
    p.cubicTo(c1, c2, b);
    if (middle) *middle = (a + 3 * c1 + 3 * c2 + b) / 8;  // the bezier at t = 0.5
    return p;
}

EdgeItem::EdgeItem(const EdgeInfo& edge, NodeItem* from, NodeItem* to, const NodeStyle* style)
    : edge_(edge), from_(from), to_(to), style_(style)
{
    setFlags(ItemIsSelectable);
    setZValue(0);
    from_->attach(this);
    to_->attach(this);
    updatePath();
}

EdgeItem::~EdgeItem()
{
    from_->detach(this);
    to_->detach(this);
}

bool EdgeItem::setLabel(const QString& label)
{
    const bool changed = label != label_;
    label_ = label;
    labelText_ = QStaticText(label);
    labelText_.setTextFormat(Qt::PlainText);
    labelText_.prepare(QTransform(), style_->monoFont);
    const QFontMetricsF fm(style_->monoFont);
    labelSize_ = label.isEmpty() ? QSizeF() : QSizeF(fm.horizontalAdvance(label) + 12, fm.height() + 4);
    updatePath();
    return changed;
}

void EdgeItem::updatePath()
{
    prepareGeometryChange();
    QPointF mid;
    path_ = edgeCurve(from_->outputPos(edge_.from.port), to_->inputPos(edge_.to.port), &mid);
    labelRect_ = labelSize_.isEmpty() ? QRectF() : QRectF(mid - QPointF(labelSize_.width(), labelSize_.height()) / 2, labelSize_);
    QPainterPathStroker stroker;
    stroker.setWidth(10);  // a thin curve is hard to click; this is what the mouse hits
    hitShape_ = stroker.createStroke(path_);
    if (!labelRect_.isNull()) hitShape_.addRect(labelRect_);
    bounds_ = path_.boundingRect().united(labelRect_).adjusted(-6, -6, 6, 6);
    update();
}

void EdgeItem::paint(QPainter* painter, const QStyleOptionGraphicsItem* option, QWidget*)
{
    const NodeStyle& s = *style_;
    painter->setRenderHint(QPainter::Antialiasing, true);
    const bool selected = isSelected();
    painter->setBrush(Qt::NoBrush);
    painter->setPen(QPen(selected ? s.edgeSelected : s.edge, selected ? 2.6 : 1.8, Qt::SolidLine, Qt::RoundCap));
    painter->drawPath(path_);
    if (labelRect_.isNull() || option->levelOfDetailFromTransform(painter->worldTransform()) < 0.45) return;
    painter->setPen(QPen(selected ? s.edgeSelected : s.labelBorder, 1));
    painter->setBrush(s.labelBackground);
    painter->drawRoundedRect(labelRect_, labelRect_.height() / 2, labelRect_.height() / 2);
    painter->setFont(s.monoFont);
    painter->setPen(s.labelText);
    painter->drawStaticText(labelRect_.topLeft() + QPointF(6, 2), labelText_);
}

PendingEdgeItem::PendingEdgeItem(const NodeStyle* style) : style_(style)
{
    setZValue(5);
    setAcceptedMouseButtons(Qt::NoButton);
}

void PendingEdgeItem::setEnds(const QPointF& from, const QPointF& to, const QColor& color)
{
    prepareGeometryChange();
    path_ = edgeCurve(from, to);
    end_ = to;
    color_ = color;
    bounds_ = path_.boundingRect().adjusted(-8, -8, 8, 8);
    update();
}

void PendingEdgeItem::paint(QPainter* painter, const QStyleOptionGraphicsItem*, QWidget*)
{
    painter->setRenderHint(QPainter::Antialiasing, true);
    painter->setBrush(Qt::NoBrush);
    painter->setPen(QPen(color_.isValid() ? color_ : style_->accent, 2.2, Qt::DashLine, Qt::RoundCap));
    painter->drawPath(path_);
    painter->setPen(Qt::NoPen);
    painter->setBrush(color_.isValid() ? color_ : style_->accent);
    painter->drawEllipse(end_, 3.5, 3.5);
}

}  // namespace kiln::widgets
