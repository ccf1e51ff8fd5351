#include "widgets/node_editor/node_item.h"

#include "widgets/node_editor/edge_item.h"
#include "widgets/node_editor/node_scene.h"
#include "widgets/node_editor/node_style.h"

#include <QFontMetricsF>
#include <QPainter>
#include <QStyleOptionGraphicsItem>

#include <algorithm>

namespace kiln::widgets {

namespace {
constexpr qreal kMaxWidth = 340;
constexpr int kMessageLines = 4;

QStaticText staticText(const QString& s, qreal width = -1)
{
    QStaticText t(s);
    t.setTextFormat(Qt::PlainText);
    if (width > 0) t.setTextWidth(width);
    return t;
}
}  // namespace

NodeItem::NodeItem(const QString& id, const NodeStyle* style) : id_(id), style_(style)
{
    setFlags(ItemIsMovable | ItemIsSelectable | ItemSendsGeometryChanges);
    // Re-rendered only when the item itself changes or the zoom does; panning and other
    // items' updates reuse the pixmap.
    setCacheMode(DeviceCoordinateCache);
    setAcceptHoverEvents(false);
    setZValue(1);
}

void NodeItem::init(const NodeInfo& info, const NodeTypeInfo& type, const NodeAnnotation& a)
{
    info_ = info;
    type_ = type;
    annotation_ = a;
    rebuild();
}

bool NodeItem::setContent(const NodeInfo& info, const NodeTypeInfo& type)
{
    // Position is synced separately (setPos), so a move never rebuilds the layout.
    const bool same = info.name == info_.name && info.typeId == info_.typeId && info.inputs == info_.inputs &&
                      info.outputs == info_.outputs && info.params == info_.params && type.id == type_.id &&
                      rebuilds_ > 0;
    info_ = info;
    type_ = type;
    if (same) return false;
    rebuild();
    return true;
}

bool NodeItem::setAnnotation(const NodeAnnotation& a)
{
    if (a == annotation_ && rebuilds_ > 0) return false;
    annotation_ = a;
    rebuild();
    return true;
}

void NodeItem::restyle() { rebuild(); }

void NodeItem::rebuild()
{
    ++rebuilds_;
    prepareGeometryChange();
    const NodeStyle& s = *style_;
    const QFontMetricsF title(s.titleFont), typeFm(s.typeFont), port(s.portFont), mono(s.monoFont);
    titleColor_ = s.categoryColor(type_.category, type_.color);

    const QString typeText = type_.displayName.isEmpty() ? info_.typeId : type_.displayName;
    const bool showType = typeText.compare(info_.name, Qt::CaseInsensitive) != 0;
    qreal maxIn = 0, maxOut = 0;
    for (const QString& p : info_.inputs) maxIn = std::max(maxIn, port.horizontalAdvance(p));
    for (const QString& p : info_.outputs) maxOut = std::max(maxOut, port.horizontalAdvance(p));
    const qreal titleNeed =
        s.pad * 2 + title.horizontalAdvance(info_.name) + (showType ? 14 + typeFm.horizontalAdvance(typeText) : 0);
    const qreal portNeed = s.pad * 2 + maxIn + maxOut + 28;
    const qreal subNeed = s.pad * 2 + mono.horizontalAdvance(annotation_.subtitle);
    const bool error = annotation_.state == NodeState::Error;
    const QString msg = error ? (annotation_.message.isEmpty() ? QStringLiteral("Error") : annotation_.message) : QString();
    // A node in error widens so that its message reads in a few lines, not a sliver.
    const qreal msgNeed = msg.isEmpty() ? 0 : s.pad * 2 + port.horizontalAdvance(msg) / (kMessageLines - 0.6);
    const qreal w = std::clamp(std::max({s.minWidth, titleNeed, portNeed, subNeed, std::min(msgNeed, 280.0)}),
                               s.minWidth, kMaxWidth);
    const qreal inner = w - 2 * s.pad;

    // The type name yields space to the node name, which is what a person edits and reads.
    QString typeShown = showType ? typeFm.elidedText(typeText, Qt::ElideRight, inner * 0.45) : QString();
    const qreal typeW = typeShown.isEmpty() ? 0 : typeFm.horizontalAdvance(typeShown) + 14;
    name_ = staticText(title.elidedText(info_.name, Qt::ElideRight, inner - typeW));
    name_.prepare(QTransform(), s.titleFont);
    typeName_ = staticText(typeShown);
    typeName_.prepare(QTransform(), s.typeFont);
    typeNamePos_ = QPointF(w - s.pad - typeFm.horizontalAdvance(typeShown),
                           (s.titleHeight - typeFm.height()) / 2 + 0.5);

    const qreal portsTop = s.titleHeight + 5;
    inputY_.clear();
    outputY_.clear();
    inputLabels_.clear();
    outputLabels_.clear();
    for (int i = 0; i < info_.inputs.size(); ++i) {
        inputY_ << portsTop + (i + 0.5) * s.portRow;
        inputLabels_ << staticText(port.elidedText(info_.inputs[i], Qt::ElideRight, inner / 2 - 4));
    }
    for (int i = 0; i < info_.outputs.size(); ++i) {
        outputY_ << portsTop + (i + 0.5) * s.portRow;
        outputLabels_ << staticText(port.elidedText(info_.outputs[i], Qt::ElideRight, inner / 2 - 4));
    }
    const int rows = std::max<int>({1, int(info_.inputs.size()), int(info_.outputs.size())});
    qreal y = portsTop + rows * s.portRow + 3;

    subtitle_ = staticText(mono.elidedText(annotation_.subtitle, Qt::ElideRight, inner));
    subtitleY_ = y;
    if (!annotation_.subtitle.isEmpty()) y += mono.height() + 6;

    // Long messages are cut to a few lines on the canvas; the tooltip and inspector say all.
    message_ = staticText(port.elidedText(msg, Qt::ElideRight, inner * kMessageLines - port.averageCharWidth() * 6),
                          inner);
    message_.prepare(QTransform(), s.portFont);
    messageY_ = y + 2;
    if (!msg.isEmpty()) y += message_.size().height() + 10;

    size_ = QSizeF(w, y + 4);
    bounds_ = QRectF(QPointF(0, 0), size_).adjusted(-12, -12, 12, 12);

    titlePath_ = QPainterPath();
    titlePath_.setFillRule(Qt::WindingFill);
    titlePath_.addRoundedRect(QRectF(0, 0, w, s.titleHeight), s.radius, s.radius);
    titlePath_.addRect(QRectF(0, s.titleHeight - s.radius, w, s.radius));  // square bottom corners

    QString tip = QStringLiteral("<b>%1</b> — %2").arg(info_.name.toHtmlEscaped(), typeText.toHtmlEscaped());
    if (!annotation_.subtitle.isEmpty()) tip += QStringLiteral("<br><tt>%1</tt>").arg(annotation_.subtitle.toHtmlEscaped());
    if (error) tip += QStringLiteral("<br><span style='color:%1'>%2</span>").arg(s.error.name(), msg.toHtmlEscaped());
    else if (!type_.help.isEmpty()) tip += QStringLiteral("<br>%1").arg(type_.help.toHtmlEscaped());
    setToolTip(tip);

    for (EdgeItem* e : edges_) e->updatePath();
    update();
}

QPointF NodeItem::inputPos(const QString& port) const
{
    const int i = info_.inputs.indexOf(port);
    return mapToScene(QPointF(0, i >= 0 ? inputY_[i] : style_->titleHeight / 2));
}

QPointF NodeItem::outputPos(const QString& port) const
{
    const int i = info_.outputs.indexOf(port);
    return mapToScene(QPointF(size_.width(), i >= 0 ? outputY_[i] : style_->titleHeight / 2));
}

NodeItem::PortHit NodeItem::portAt(const QPointF& scenePos, bool generous) const
{
    const QPointF p = mapFromScene(scenePos);
    const qreal w = size_.width(), half = style_->portRow / 2;
    const qreal reach = style_->portRadius + 6;
    for (int i = 0; i < inputY_.size(); ++i) {
        const bool near = generous ? (p.x() >= -reach && p.x() <= w * 0.6 && std::abs(p.y() - inputY_[i]) <= half)
                                   : QLineF(p, QPointF(0, inputY_[i])).length() <= reach;
        if (near) return {true, false, info_.inputs[i]};
    }
    for (int i = 0; i < outputY_.size(); ++i) {
        const bool near = generous ? (p.x() >= w * 0.4 && p.x() <= w + reach && std::abs(p.y() - outputY_[i]) <= half)
                                   : QLineF(p, QPointF(w, outputY_[i])).length() <= reach;
        if (near) return {true, true, info_.outputs[i]};
    }
    return {};
}

void NodeItem::setPortHighlight(const QString& port, bool output, const QColor& color)
{
    if (port == highlightPort_ && output == highlightOutput_ && color == highlightColor_) return;
    highlightPort_ = port;
    highlightOutput_ = output;
    highlightColor_ = color;
    update();
}

bool NodeItem::isConnected(const QString& port, bool output) const
{
    for (const EdgeItem* e : edges_) {
        const EdgeInfo& ei = e->edge();
        if (output ? (ei.from.node == id_ && ei.from.port == port) : (ei.to.node == id_ && ei.to.port == port))
            return true;
    }
    return false;
}

QPainterPath NodeItem::shape() const
{
    QPainterPath p;
    p.addRoundedRect(QRectF(QPointF(0, 0), size_).adjusted(-4, 0, 4, 0), style_->radius, style_->radius);
    return p;
}

void NodeItem::paint(QPainter* painter, const QStyleOptionGraphicsItem* option, QWidget*)
{
    const NodeStyle& s = *style_;
    const qreal lod = option->levelOfDetailFromTransform(painter->worldTransform());
    const QRectF r(QPointF(0, 0), size_);
    const bool error = annotation_.state == NodeState::Error;
    painter->setRenderHint(QPainter::Antialiasing, true);

    if (lod > 0.4) {
        painter->setPen(Qt::NoPen);
        painter->setBrush(QColor(0, 0, 0, s.dark ? 90 : 28));
        painter->drawRoundedRect(r.translated(0, 2.5).adjusted(-1, 0, 1, 1), s.radius + 1, s.radius + 1);
    }
    painter->setPen(Qt::NoPen);
    painter->setBrush(s.body);
    painter->drawRoundedRect(r, s.radius, s.radius);
    painter->setBrush(titleColor_);
    painter->drawPath(titlePath_);
    if (error && !message_.text().isEmpty()) {
        painter->setBrush(s.errorBackground);
        const QRectF band(0, messageY_ - 5, r.width(), r.height() - messageY_ + 5);
        QPainterPath clip;
        clip.addRoundedRect(r, s.radius, s.radius);
        QPainterPath bandPath;
        bandPath.addRect(band);
        painter->drawPath(clip.intersected(bandPath));
    }

    painter->setBrush(Qt::NoBrush);
    painter->setPen(error ? QPen(s.error, 2.2) : QPen(s.bodyBorder, 1));
    painter->drawRoundedRect(r, s.radius, s.radius);
    if (isSelected()) {
        painter->setPen(QPen(s.accent, 2));
        painter->drawRoundedRect(r.adjusted(-4, -4, 4, 4), s.radius + 4, s.radius + 4);
    }

    // Port dots: filled when connected, hollow when waiting for an edge.
    auto dot = [&](qreal x, qreal y, const QString& port, bool output) {
        const bool connected = isConnected(port, output);
        if (!highlightPort_.isEmpty() && port == highlightPort_ && output == highlightOutput_ && highlightColor_.isValid()) {
            painter->setPen(Qt::NoPen);
            QColor halo = highlightColor_;
            halo.setAlpha(90);
            painter->setBrush(halo);
            painter->drawEllipse(QPointF(x, y), s.portRadius + 5, s.portRadius + 5);
            painter->setPen(QPen(highlightColor_, 2));
        } else {
            painter->setPen(QPen(connected ? s.portBorder : s.portFill, connected ? 1.5 : 2));
        }
        painter->setBrush(connected ? s.portFill : s.body);
        painter->drawEllipse(QPointF(x, y), s.portRadius, s.portRadius);
    };
    for (int i = 0; i < inputY_.size(); ++i) dot(0, inputY_[i], info_.inputs[i], false);
    for (int i = 0; i < outputY_.size(); ++i) dot(r.width(), outputY_[i], info_.outputs[i], true);

    if (lod < 0.35) return;  // text would be unreadable blur at this zoom; skip its cost
    const QFontMetricsF title(s.titleFont), port(s.portFont);
    painter->setFont(s.titleFont);
    painter->setPen(s.titleText);
    painter->drawStaticText(QPointF(s.pad, (s.titleHeight - title.height()) / 2), name_);
    if (!typeName_.text().isEmpty()) {
        painter->setFont(s.typeFont);
        QColor c = s.titleText;
        c.setAlpha(200);
        painter->setPen(c);
        painter->drawStaticText(typeNamePos_, typeName_);
    }
    painter->setFont(s.portFont);
    painter->setPen(s.text);
    for (int i = 0; i < inputY_.size(); ++i)
        painter->drawStaticText(QPointF(s.pad, inputY_[i] - port.height() / 2), inputLabels_[i]);
    for (int i = 0; i < outputY_.size(); ++i)
        painter->drawStaticText(
            QPointF(r.width() - s.pad - outputLabels_[i].size().width(), outputY_[i] - port.height() / 2),
            outputLabels_[i]);
    if (!subtitle_.text().isEmpty()) {
        painter->setFont(s.monoFont);
        painter->setPen(s.mutedText);
        painter->drawStaticText(QPointF(s.pad, subtitleY_), subtitle_);
    }
    if (!message_.text().isEmpty()) {
        painter->setFont(s.portFont);
        painter->setPen(s.error);
        painter->drawStaticText(QPointF(s.pad, messageY_), message_);
    }
}

QVariant NodeItem::itemChange(GraphicsItemChange change, const QVariant& value)
{
    if (change == ItemPositionHasChanged) {
        for (EdgeItem* e : edges_) e->updatePath();
        if (auto* sc = qobject_cast<NodeScene*>(scene())) sc->noteItemMoved(id_);
    } else if (change == ItemSelectedHasChanged) {
        setZValue(value.toBool() ? 2 : 1);  // a selected node draws above its neighbours
    }
    return QGraphicsItem::itemChange(change, value);
}

}  // namespace kiln::widgets
