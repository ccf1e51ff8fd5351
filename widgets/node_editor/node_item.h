// One node on the canvas. Its geometry (size, port positions, elided texts) is computed
// once per content change and cached, so painting 300 nodes is only drawing.
#pragma once

#include "widgets/node_editor/node_graph_model.h"

#include <QGraphicsItem>
#include <QPainterPath>
#include <QStaticText>

namespace kiln::widgets {

struct NodeStyle;
class EdgeItem;

class NodeItem : public QGraphicsItem {
public:
    enum { Type = UserType + 0x4b01 };
    struct PortHit {
        bool valid = false;
        bool output = false;
        QString port;
    };

    NodeItem(const QString& id, const NodeStyle* style);
    int type() const override { return Type; }
    const QString& id() const { return id_; }
    const NodeInfo& info() const { return info_; }
    const NodeAnnotation& annotation() const { return annotation_; }
    QSizeF size() const { return size_; }  // the body, without ports and selection ring

    void init(const NodeInfo& info, const NodeTypeInfo& type, const NodeAnnotation& a);  // one layout pass
    // Each returns whether anything changed; only then is the layout rebuilt and redrawn.
    bool setContent(const NodeInfo& info, const NodeTypeInfo& type);
    bool setAnnotation(const NodeAnnotation& a);
    void restyle();  // the palette changed
    int rebuildCount() const { return rebuilds_; }

    QPointF inputPos(const QString& port) const;   // scene coordinates of the port's dot
    QPointF outputPos(const QString& port) const;
    // Ports whose dot is near p (to start a drag) or, with generous=true, whose row is under
    // p (to drop on): dropping needs less aim than picking up.
    PortHit portAt(const QPointF& scenePos, bool generous) const;
    void setPortHighlight(const QString& port, bool output, const QColor& color);  // invalid: none

    void attach(EdgeItem* e) { edges_ << e; }
    void detach(EdgeItem* e) { edges_.removeOne(e); }
    const QList<EdgeItem*>& edges() const { return edges_; }
    void connectionsChanged() { update(); }  // hollow vs filled port dots

    QRectF boundingRect() const override { return bounds_; }
    QPainterPath shape() const override;
    void paint(QPainter* painter, const QStyleOptionGraphicsItem* option, QWidget* widget) override;

protected:
    QVariant itemChange(GraphicsItemChange change, const QVariant& value) override;

private:
    void rebuild();
    bool isConnected(const QString& port, bool output) const;

    QString id_;
    const NodeStyle* style_;
    NodeInfo info_;
    NodeTypeInfo type_;
    NodeAnnotation annotation_;
    QColor titleColor_;

    // cached layout, item coordinates
    QSizeF size_;
    QPainterPath titlePath_;
    QRectF bounds_;
    QList<qreal> inputY_, outputY_;
    QList<QStaticText> inputLabels_, outputLabels_;
    QStaticText name_, typeName_, subtitle_, message_;
    QPointF typeNamePos_;
    qreal subtitleY_ = 0, messageY_ = 0;
    QString highlightPort_;
    bool highlightOutput_ = false;
    QColor highlightColor_;
    QList<EdgeItem*> edges_;
    int rebuilds_ = 0;
};

}  // namespace kiln::widgets
