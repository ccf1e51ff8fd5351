#include "designer/graph_editor_model.h"

#include "kiln/weights.h"

#include <cmath>

namespace kiln::app {

namespace g = kiln::graph;
namespace w = kiln::widgets;

namespace {
QString qs(const std::string& s) { return QString::fromStdString(s); }
g::NodeId idOf(const QString& s) { return s.toULongLong(); }
QString idText(g::NodeId id) { return QString::number(id); }

w::ParamSpec::Type widgetType(const g::ParamSpec& p)
{
    switch (p.type) {
    case g::ParamType::Int: return w::ParamSpec::Type::Int;
    case g::ParamType::Float: return w::ParamSpec::Type::Float;
    case g::ParamType::Bool: return w::ParamSpec::Type::Bool;
    case g::ParamType::String: return p.choices.empty() ? w::ParamSpec::Type::String : w::ParamSpec::Type::Choice;
    case g::ParamType::IntList: return w::ParamSpec::Type::IntList;
    }
    return w::ParamSpec::Type::String;
}

w::EditResult fromResult(const Result<void>& r)
{
    return r ? w::EditResult::success() : w::EditResult::failure(qs(r.error().message()));
}

QString message(const Error& e)
{
    return e.hint.empty() ? qs(e.what) : qs(e.what + ": " + e.hint);
}
}  // namespace

QVariant toVariant(const g::ParamValue& v)
{
    return std::visit(
        [](const auto& x) -> QVariant {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, std::int64_t>) return QVariant::fromValue<qlonglong>(x);
            else if constexpr (std::is_same_v<T, double>) return x;
            else if constexpr (std::is_same_v<T, bool>) return x;
            else if constexpr (std::is_same_v<T, std::string>) return QString::fromStdString(x);
            else {
                QVariantList l;
                for (auto i : x) l << QVariant::fromValue<qlonglong>(i);
                return l;
            }
        },
        v);
}

std::optional<g::ParamValue> fromVariant(const g::ParamSpec& spec, const QVariant& v)
{
    bool ok = true;
    switch (spec.type) {
    case g::ParamType::Int: {
        const double d = v.toDouble(&ok);
        if (!ok || d != std::floor(d)) return std::nullopt;
        return static_cast<std::int64_t>(d);
    }
    case g::ParamType::Float: {
        const double d = v.toDouble(&ok);
        if (!ok) return std::nullopt;
        return d;
    }
    case g::ParamType::Bool: return v.toBool();
    case g::ParamType::String: return v.toString().toStdString();
    case g::ParamType::IntList: {
        g::IntList out;
        for (const QVariant& e : v.toList()) {
            const double d = e.toDouble(&ok);
            if (!ok || d != std::floor(d)) return std::nullopt;
            out.push_back(static_cast<std::int64_t>(d));
        }
        return out;
    }
    }
    return std::nullopt;
}

GraphEditorModel::GraphEditorModel(QObject* parent) : NodeGraphModel(parent), registry_(g::builtinNodes())
{
    for (const g::NodeType* t : registry_.all()) {
        w::NodeTypeInfo info;
        info.id = qs(t->id);
        info.displayName = qs(t->displayName);
        info.category = qs(t->category);
        for (const auto& p : t->inputs) info.inputs << qs(p.name);
        for (const auto& p : t->outputs) info.outputs << qs(p.name);
        info.help = qs(t->description);
        for (const auto& p : t->params) {
            w::ParamSpec s;
            s.name = qs(p.name);
            s.type = widgetType(p);
            s.defaultValue = toVariant(p.defaultValue);
            if (p.min) s.min = *p.min;
            if (p.max) s.max = *p.max;
            for (const auto& c : p.choices) s.choices << qs(c);
            s.help = qs(p.help);
            info.params << s;
        }
        types_ << info;
    }
    reinfer();
}

void GraphEditorModel::setGraph(g::Graph graph)
{
    graph_ = std::move(graph);
    reinfer();
    Q_EMIT modelReset();
    Q_EMIT graphChanged();
}

void GraphEditorModel::reinfer()
{
    info_ = g::inferShapes(graph_, registry_);
}

QString GraphEditorModel::summary() const
{
    QString s = tr("%1 nodes · %2 parameters · %3 FLOPs per sample")
                    .arg(graph_.nodes.size())
                    .arg(qs(formatCount(info_.totalParams)), qs(formatCount(static_cast<std::uint64_t>(info_.totalFlops))));
    if (info_.firstError) s += tr(" · ✖ %1").arg(qs(info_.firstError->message()));
    return s;
}

const g::NodeType* GraphEditorModel::typeOf(const g::Node& n) const
{
    return registry_.find(n.type);
}

QList<w::NodeTypeInfo> GraphEditorModel::nodeTypes() const
{
    return types_;
}

QStringList GraphEditorModel::nodeIds() const
{
    QStringList ids;
    for (const auto& n : graph_.nodes) ids << idText(n.id);
    return ids;
}

w::NodeInfo GraphEditorModel::node(const QString& id) const
{
    const g::Node* n = graph_.node(idOf(id));
    if (!n) return {};
    w::NodeInfo info;
    info.id = id;
    info.typeId = qs(n->type);
    info.name = qs(n->name);
    info.pos = QPointF(n->x, n->y);
    for (const auto& [k, v] : n->params) info.params.insert(qs(k), toVariant(v));
    if (const g::NodeType* t = typeOf(*n)) {
        for (const auto& p : t->inputs) info.inputs << qs(p.name);
        for (const auto& p : t->outputs) info.outputs << qs(p.name);
    }
    return info;
}

QList<w::EdgeInfo> GraphEditorModel::edges() const
{
    QList<w::EdgeInfo> out;
    for (const auto& e : graph_.edges)
        out << w::EdgeInfo{{idText(e.from.node), qs(e.from.port)}, {idText(e.to.node), qs(e.to.port)}};
    return out;
}

w::NodeAnnotation GraphEditorModel::nodeAnnotation(const QString& id) const
{
    w::NodeAnnotation a;
    const g::NodeInfo* n = info_.node(idOf(id));
    if (!n) return a;
    switch (n->status) {
    case g::NodeStatus::Ok: {
        a.state = w::NodeState::Ok;
        QStringList shapes;
        for (const auto& s : n->outputs) shapes << qs(g::formatShape(s));
        a.subtitle = shapes.join(QStringLiteral(", "));
        if (n->params) a.subtitle += tr(" · %1 params").arg(qs(formatCount(n->params)));
        break;
    }
    case g::NodeStatus::Error:
        a.state = w::NodeState::Error;
        a.subtitle = tr("shape error");
        if (n->error) a.message = message(*n->error);
        break;
    case g::NodeStatus::Unknown: a.state = w::NodeState::Unknown; break;
    }
    return a;
}

QString GraphEditorModel::edgeLabel(const w::EdgeInfo& edge) const
{
    for (std::size_t i = 0; i < graph_.edges.size(); ++i) {
        const auto& e = graph_.edges[i];
        if (idText(e.to.node) == edge.to.node && qs(e.to.port) == edge.to.port && idText(e.from.node) == edge.from.node &&
            qs(e.from.port) == edge.from.port)
            return i < info_.edges.size() && info_.edges[i] ? qs(g::formatShape(*info_.edges[i])) : QString();
    }
    return {};
}

QString GraphEditorModel::insertNode(const w::NodeInfo& in)
{
    const g::NodeType* type = registry_.find(in.typeId.toStdString());
    if (!type) return {};
    g::Node n;
    n.id = in.id.isEmpty() ? g::kNoNode : idOf(in.id);
    if (n.id != g::kNoNode && graph_.node(n.id)) n.id = g::kNoNode;
    n.type = type->id;
    const std::string wanted = in.name.toStdString();
    n.name = !wanted.empty() && g::isValidNodeName(wanted) && !graph_.nodeByName(wanted) ? wanted
                                                                                          : graph_.uniqueName(type->nameStem);
    for (const auto& p : type->params) {
        auto it = in.params.find(qs(p.name));
        std::optional<g::ParamValue> v;
        if (it != in.params.end()) v = fromVariant(p, it.value());
        n.params[p.name] = v && checkParam(p, *v) ? *v : p.defaultValue;
    }
    n.x = static_cast<float>(in.pos.x());
    n.y = static_cast<float>(in.pos.y());
    const g::NodeId id = graph_.addNode(std::move(n));
    reinfer();
    Q_EMIT nodeAdded(idText(id));
    Q_EMIT annotationsChanged();
    Q_EMIT graphChanged();
    return idText(id);
}

bool GraphEditorModel::removeNode(const QString& id)
{
    const g::NodeId nid = idOf(id);
    if (!graph_.node(nid)) return false;
    QList<w::EdgeInfo> gone = edgesOf(id);
    graph_.removeNode(nid);
    reinfer();
    for (const auto& e : gone) Q_EMIT edgeRemoved(e);
    Q_EMIT nodeRemoved(id);
    Q_EMIT annotationsChanged();
    Q_EMIT graphChanged();
    return true;
}

w::EditResult GraphEditorModel::setNodeName(const QString& id, const QString& name)
{
    g::Node* n = graph_.node(idOf(id));
    if (!n) return w::EditResult::failure(tr("no such node"));
    const std::string s = name.toStdString();
    if (s == n->name) return w::EditResult::success();
    if (!g::isValidNodeName(s))
        return w::EditResult::failure(tr("a name is letters, digits and _, not starting with a digit (it names the "
                                         "node's parameters, e.g. %1.weight)")
                                          .arg(name));
    if (graph_.nodeByName(s)) return w::EditResult::failure(tr("another node is already called %1").arg(name));
    n->name = s;
    reinfer();
    Q_EMIT nodeChanged(id);
    Q_EMIT annotationsChanged();
    Q_EMIT graphChanged();
    return w::EditResult::success();
}

w::EditResult GraphEditorModel::setParameter(const QString& id, const QString& name, const QVariant& value)
{
    g::Node* n = graph_.node(idOf(id));
    if (!n) return w::EditResult::failure(tr("no such node"));
    const g::NodeType* type = typeOf(*n);
    const g::ParamSpec* spec = type ? type->param(name.toStdString()) : nullptr;
    if (!spec) return w::EditResult::failure(tr("%1 has no parameter %2").arg(qs(n->name), name));
    auto v = fromVariant(*spec, value);
    if (!v) return w::EditResult::failure(tr("%1 is not a valid value for %2").arg(value.toString(), name));
    if (auto r = checkParam(*spec, *v); !r) return fromResult(r);
    n->params[spec->name] = *v;
    reinfer();
    Q_EMIT nodeChanged(id);
    Q_EMIT annotationsChanged();
    Q_EMIT graphChanged();
    return w::EditResult::success();
}

void GraphEditorModel::setPosition(const QString& id, const QPointF& pos)
{
    g::Node* n = graph_.node(idOf(id));
    if (!n) return;
    n->x = static_cast<float>(pos.x());
    n->y = static_cast<float>(pos.y());
    Q_EMIT nodeMoved(id);
    Q_EMIT graphChanged();
}

w::EditResult GraphEditorModel::canConnect(const w::PortRef& from, const w::PortRef& to) const
{
    const g::Edge e{{idOf(from.node), from.port.toStdString()}, {idOf(to.node), to.port.toStdString()}};
    return fromResult(g::canConnect(graph_, registry_, e));
}

w::EditResult GraphEditorModel::connectPorts(const w::PortRef& from, const w::PortRef& to)
{
    const g::Edge e{{idOf(from.node), from.port.toStdString()}, {idOf(to.node), to.port.toStdString()}};
    if (graph_.edgeInto(e.to)) return w::EditResult::failure(tr("that input is already connected"));
    if (auto r = g::canConnect(graph_, registry_, e); !r) return fromResult(r);
    graph_.connect(e);
    reinfer();
    Q_EMIT edgeAdded(w::EdgeInfo{from, to});
    Q_EMIT annotationsChanged();
    Q_EMIT graphChanged();
    return w::EditResult::success();
}

bool GraphEditorModel::disconnectPorts(const w::EdgeInfo& edge)
{
    const g::PortRef to{idOf(edge.to.node), edge.to.port.toStdString()};
    const g::Edge* e = graph_.edgeInto(to);
    if (!e || idText(e->from.node) != edge.from.node || qs(e->from.port) != edge.from.port) return false;
    graph_.disconnect(to);
    reinfer();
    Q_EMIT edgeRemoved(edge);
    Q_EMIT annotationsChanged();
    Q_EMIT graphChanged();
    return true;
}

}  // namespace kiln::app
