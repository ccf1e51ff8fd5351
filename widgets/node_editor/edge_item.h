// An edge: a bezier from an output dot to an input dot, with the model's label (a tensor
// shape) in a pill at its middle. PendingEdgeItem is the curve that follows a drag.
#pragma once

#include "widgets/node_editor/node_graph_model.h"

#include <QGraphicsItem>
#include <QPainterPath>
#include <QStaticText>

namespace kiln::widgets {

struct NodeStyle;
class NodeItem;

// The curve both kinds of edge use: leaves the output to the right, enters the input from
// the left, and loops wider when the input lies behind the output.
QPainterPath edgeCurve(const QPointF& from, const QPointF& to, QPointF* middle = nullptr);

class EdgeItem : public QGraphicsItem {
public:
    enum { Type = UserType + 0x4b02 };
    EdgeItem(const EdgeInfo& edge, NodeItem* from, NodeItem* to, const NodeStyle* style);
    ~EdgeItem() override;
    int type() const override { return Type; }
    const EdgeInfo& edge() const { return edge_; }
    NodeItem* fromItem() const { return from_; }
    NodeItem* toItem() const { return to_; }

    bool setLabel(const QString& label);  // returns whether it changed
    const QString& label() const { return label_; }
    qreal labelWidth() const { return labelSize_.width(); }
    void updatePath();
    void restyle() { setLabel(label_); }  // re-measures the label in the new font

    QRectF boundingRect() const override { return bounds_; }
    QPainterPath shape() const override { return hitShape_; }
    void paint(QPainter* painter, const QStyleOptionGraphicsItem* option, QWidget* widget) override;

private:
    EdgeInfo edge_;
    NodeItem* from_;
    NodeItem* to_;
    const NodeStyle* style_;
    QString label_;
    QStaticText labelText_;
    QSizeF labelSize_;
    QPainterPath path_, hitShape_;
    QRectF labelRect_, bounds_;
};

class PendingEdgeItem : public QGraphicsItem {
public:
    explicit PendingEdgeItem(const NodeStyle* style);
    void setEnds(const QPointF& from, const QPointF& to, const QColor& color);
    QRectF boundingRect() const override { return bounds_; }
    void paint(QPainter* painter, const QStyleOptionGraphicsItem* option, QWidget* widget) override;

private:
    const NodeStyle* style_;
    QPainterPath path_;
    QRectF bounds_;
    QColor color_;
    QPointF end_;
};

}  // namespace kiln::widgets
