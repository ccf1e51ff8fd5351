#include "widgets/node_editor/node_clipboard.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QMimeData>
#include <QRegularExpression>
#include <QSet>

namespace kiln::widgets {

namespace {
constexpr int kClipVersion = 1;

QJsonArray toJson(const QStringList& list)
{
    QJsonArray a;
    for (const QString& s : list) a.append(s);
    return a;
}
}  // namespace

QByteArray clipToJson(const NodeGraphModel& model, const QStringList& nodeIds)
{
    const QSet<QString> ids(nodeIds.cbegin(), nodeIds.cend());
    QJsonArray nodes, edges;
    for (const QString& id : nodeIds) {
        const NodeInfo n = model.node(id);
        if (!n.isValid()) continue;
        const NodeTypeInfo type = model.nodeType(n.typeId);
        QJsonObject o{{"id", n.id}, {"type", n.typeId}, {"name", n.name}, {"x", n.pos.x()}, {"y", n.pos.y()},
                      {"params", QJsonObject::fromVariantMap(n.params)}};
        // Per-node ports (a Concat with five inputs) only when they differ from the type's.
        if (n.inputs != type.inputs) o.insert("inputs", toJson(n.inputs));
        if (n.outputs != type.outputs) o.insert("outputs", toJson(n.outputs));
        nodes.append(o);
    }
    for (const EdgeInfo& e : model.edges()) {
        if (!ids.contains(e.from.node) || !ids.contains(e.to.node)) continue;
        edges.append(QJsonObject{{"from", e.from.node}, {"fromPort", e.from.port}, {"to", e.to.node}, {"toPort", e.to.port}});
    }
    const QJsonObject root{{"kind", "kiln-nodes"}, {"version", kClipVersion}, {"nodes", nodes}, {"edges", edges}};
    return QJsonDocument(root).toJson(QJsonDocument::Compact);
}

NodeClip clipFromJson(const QByteArray& json, const NodeGraphModel& model)
{
    NodeClip clip;
    const QJsonObject root = QJsonDocument::fromJson(json).object();
    if (root.value("kind").toString() != QLatin1String("kiln-nodes") || root.value("version").toInt() > kClipVersion)
        return clip;
    QSet<QString> ids;
    for (const QJsonValue& v : root.value("nodes").toArray()) {
        const QJsonObject o = v.toObject();
        NodeInfo n;
        n.id = o.value("id").toString();
        n.typeId = o.value("type").toString();
        n.name = o.value("name").toString();
        n.pos = QPointF(o.value("x").toDouble(), o.value("y").toDouble());
        const NodeTypeInfo type = model.nodeType(n.typeId);
        if (n.id.isEmpty() || ids.contains(n.id)) continue;
        if (!type.isValid()) {
            clip.skipped << (n.name.isEmpty() ? n.typeId : QStringLiteral("%1 (%2)").arg(n.name, n.typeId));
            continue;
        }
        const QVariantMap params = o.value("params").toObject().toVariantMap();
        for (auto it = params.cbegin(); it != params.cend(); ++it) {
            const ParamSpec* spec = type.param(it.key());
            if (!spec) continue;  // a parameter the type no longer has
            const QVariant value = normalizedParameter(*spec, it.value());
            if (value.isValid()) n.params.insert(it.key(), value);
        }
        for (const QJsonValue& p : o.value("inputs").toArray()) n.inputs << p.toString();
        for (const QJsonValue& p : o.value("outputs").toArray()) n.outputs << p.toString();
        ids.insert(n.id);
        clip.nodes << n;
    }
    for (const QJsonValue& v : root.value("edges").toArray()) {
        const QJsonObject o = v.toObject();
        const EdgeInfo e{{o.value("from").toString(), o.value("fromPort").toString()},
                         {o.value("to").toString(), o.value("toPort").toString()}};
        if (ids.contains(e.from.node) && ids.contains(e.to.node)) clip.edges << e;
    }
    return clip;
}

QMimeData* clipMimeData(const NodeGraphModel& model, const QStringList& nodeIds)
{
    auto* mime = new QMimeData;
    const QByteArray json = clipToJson(model, nodeIds);
    mime->setData(QString::fromLatin1(kNodeMimeType), json);
    QStringList names;  // other applications get something readable
    for (const QString& id : nodeIds) names << model.node(id).name;
    mime->setText(names.join(QLatin1Char('\n')));
    return mime;
}

QString freeName(const QString& wanted, const std::function<bool(const QString&)>& taken)
{
    if (!taken(wanted)) return wanted;
    static const QRegularExpression trailing(QStringLiteral("^(.*?)(\\d+)$"));
    const auto m = trailing.match(wanted);
    const QString stem = m.hasMatch() ? m.captured(1) : wanted + QLatin1Char('_');
    int n = m.hasMatch() ? m.captured(2).toInt() + 1 : 2;
    while (taken(stem + QString::number(n))) ++n;
    return stem + QString::number(n);
}

void prepareForPaste(NodeClip& clip, const NodeGraphModel& model, const QPointF& offset)
{
    QSet<QString> names;
    for (const QString& id : model.nodeIds()) names.insert(model.node(id).name);
    for (NodeInfo& n : clip.nodes) {
        n.pos += offset;
        n.name = freeName(n.name, [&](const QString& s) { return names.contains(s); });
        names.insert(n.name);  // two pasted nodes must not pick the same free name
    }
}

}  // namespace kiln::widgets
