#include "widgets/node_editor/simple_node_graph_model.h"

#include <QRegularExpression>
#include <QSet>

namespace kiln::widgets {

SimpleNodeGraphModel::SimpleNodeGraphModel(QObject* parent) : NodeGraphModel(parent) {}

void SimpleNodeGraphModel::setNodeTypes(const QList<NodeTypeInfo>& types)
{
    types_ = types;
    typeIndex_.clear();
    for (int i = 0; i < types_.size(); ++i) typeIndex_.insert(types_[i].id, i);
    Q_EMIT nodeTypesChanged();
}

NodeTypeInfo SimpleNodeGraphModel::nodeType(const QString& typeId) const
{
    const auto it = typeIndex_.constFind(typeId);
    return it == typeIndex_.cend() ? NodeTypeInfo{} : types_[*it];
}

void SimpleNodeGraphModel::clear()
{
    nodes_.clear();
    order_.clear();
    edges_.clear();
    annotations_.clear();
    edgeLabels_.clear();
    Q_EMIT modelReset();
}

void SimpleNodeGraphModel::setNodeAnnotation(const QString& id, const NodeAnnotation& a)
{
    if (!nodes_.contains(id) || annotations_.value(id) == a) return;
    annotations_.insert(id, a);
    Q_EMIT nodeAnnotationChanged(id);
}

void SimpleNodeGraphModel::setEdgeLabel(const EdgeInfo& edge, const QString& label)
{
    if (!edges_.contains(edge) || edgeLabels_.value(edge) == label) return;
    edgeLabels_.insert(edge, label);
    Q_EMIT edgeAnnotationChanged(edge);
}

void SimpleNodeGraphModel::setAnnotations(const QHash<QString, NodeAnnotation>& nodes,
                                          const QHash<EdgeInfo, QString>& edgeLabels)
{
    annotations_ = nodes;
    edgeLabels_ = edgeLabels;
    Q_EMIT annotationsChanged();
}

QList<EdgeInfo> SimpleNodeGraphModel::edgesOf(const QString& nodeId) const
{
    QList<EdgeInfo> out;
    for (const EdgeInfo& e : edges_)
        if (e.from.node == nodeId || e.to.node == nodeId) out << e;
    return out;
}

QString SimpleNodeGraphModel::uniqueName(const QString& base) const
{
    QSet<QString> taken;
    for (const NodeInfo& n : nodes_) taken.insert(n.name);
    if (!base.isEmpty() && !taken.contains(base)) return base;
    // "conv3" continues as conv4, conv5...; a name without a number gets _2, _3...
    static const QRegularExpression trailing(QStringLiteral("^(.*?)(\\d+)$"));
    const auto m = trailing.match(base);
    QString stem = m.hasMatch() ? m.captured(1) : base + QLatin1Char('_');
    int n = m.hasMatch() ? m.captured(2).toInt() + 1 : 2;
    if (stem.isEmpty()) stem = QStringLiteral("node");
    while (taken.contains(stem + QString::number(n))) ++n;
    return stem + QString::number(n);
}

QString SimpleNodeGraphModel::insertNode(const NodeInfo& in)
{
    const NodeTypeInfo type = nodeType(in.typeId);
    if (!type.isValid()) return {};
    NodeInfo n = in;
    if (n.id.isEmpty() || nodes_.contains(n.id)) {
        do n.id = QStringLiteral("n%1").arg(nextId_++);
        while (nodes_.contains(n.id));
    }
    if (n.name.isEmpty()) {
        QString prefix = type.displayName.toLower();
        prefix.replace(QRegularExpression(QStringLiteral("[^a-z0-9_]+")), QStringLiteral("_"));
        n.name = uniqueName(prefix + QStringLiteral("_1"));
    } else {
        n.name = uniqueName(n.name);
    }
    for (const ParamSpec& p : type.params) {
        QVariant v = n.params.contains(p.name) ? normalizedParameter(p, n.params.value(p.name)) : QVariant();
        n.params.insert(p.name, v.isValid() ? v : p.defaultValue);
    }
    if (n.inputs.isEmpty()) n.inputs = type.inputs;
    if (n.outputs.isEmpty()) n.outputs = type.outputs;
    nodes_.insert(n.id, n);
    order_ << n.id;
    Q_EMIT nodeAdded(n.id);
    return n.id;
}

bool SimpleNodeGraphModel::removeNode(const QString& id)
{
    if (!nodes_.contains(id)) return false;
    for (const EdgeInfo& e : edgesOf(id)) disconnectPorts(e);
    nodes_.remove(id);
    order_.removeOne(id);
    annotations_.remove(id);
    Q_EMIT nodeRemoved(id);
    return true;
}

EditResult SimpleNodeGraphModel::setNodeName(const QString& id, const QString& name)
{
    auto it = nodes_.find(id);
    if (it == nodes_.end()) return EditResult::failure(QStringLiteral("No such node"));
    const QString trimmed = name.trimmed();
    if (trimmed.isEmpty()) return EditResult::failure(QStringLiteral("A node needs a name"));
    static const QRegularExpression valid(QStringLiteral("^[A-Za-z_][A-Za-z0-9_.]*$"));
    if (!valid.match(trimmed).hasMatch())
        return EditResult::failure(
            QStringLiteral("Use letters, digits, '_' and '.', starting with a letter (names become parameter keys)"));
    if (trimmed == it->name) return EditResult::success();
    for (const NodeInfo& n : nodes_)
        if (n.name == trimmed) return EditResult::failure(QStringLiteral("Another node is already called %1").arg(trimmed));
    it->name = trimmed;
    Q_EMIT nodeChanged(id);
    return EditResult::success();
}

EditResult SimpleNodeGraphModel::setParameter(const QString& id, const QString& name, const QVariant& value)
{
    auto it = nodes_.find(id);
    if (it == nodes_.end()) return EditResult::failure(QStringLiteral("No such node"));
    const NodeTypeInfo type = nodeType(it->typeId);
    const ParamSpec* spec = type.param(name);
    if (!spec) return EditResult::failure(QStringLiteral("%1 has no parameter %2").arg(type.displayName, name));
    QString error;
    const QVariant v = normalizedParameter(*spec, value, &error);
    if (!v.isValid()) return EditResult::failure(error);
    if (it->params.value(name) == v) return EditResult::success();
    it->params.insert(name, v);
    Q_EMIT nodeChanged(id);
    return EditResult::success();
}

void SimpleNodeGraphModel::setPosition(const QString& id, const QPointF& pos)
{
    auto it = nodes_.find(id);
    if (it == nodes_.end() || it->pos == pos) return;
    it->pos = pos;
    Q_EMIT nodeMoved(id);
}

bool SimpleNodeGraphModel::reaches(const QString& from, const QString& to) const
{
    QSet<QString> seen;
    QStringList stack{from};
    while (!stack.isEmpty()) {
        const QString n = stack.takeLast();
        if (n == to) return true;
        if (seen.contains(n)) continue;
        seen.insert(n);
        for (const EdgeInfo& e : edges_)
            if (e.from.node == n) stack << e.to.node;
    }
    return false;
}

EditResult SimpleNodeGraphModel::canConnect(const PortRef& from, const PortRef& to) const
{
    const auto a = nodes_.constFind(from.node), b = nodes_.constFind(to.node);
    if (a == nodes_.cend() || b == nodes_.cend()) return EditResult::failure(QStringLiteral("No such node"));
    if (!a->outputs.contains(from.port))
        return EditResult::failure(QStringLiteral("%1 has no output %2").arg(a->name, from.port));
    if (!b->inputs.contains(to.port))
        return EditResult::failure(QStringLiteral("%1 has no input %2").arg(b->name, to.port));
    if (from.node == to.node) return EditResult::failure(QStringLiteral("A node cannot feed itself"));
    if (!allowCycles_ && reaches(to.node, from.node))
        return EditResult::failure(QStringLiteral("That edge would make a cycle: %1 already depends on %2")
                                       .arg(a->name, b->name));
    return rule_ ? rule_(*this, from, to) : EditResult::success();
}

EditResult SimpleNodeGraphModel::connectPorts(const PortRef& from, const PortRef& to)
{
    for (const EdgeInfo& e : edges_)
        if (e.to == to) return EditResult::failure(QStringLiteral("That input is already connected"));
    const EditResult r = canConnect(from, to);
    if (!r) return r;
    const EdgeInfo e{from, to};
    edges_ << e;
    Q_EMIT edgeAdded(e);
    return r;
}

bool SimpleNodeGraphModel::disconnectPorts(const EdgeInfo& edge)
{
    if (!edges_.removeOne(edge)) return false;
    edgeLabels_.remove(edge);
    Q_EMIT edgeRemoved(edge);
    return true;
}

}  // namespace kiln::widgets
