#include "widgets/node_editor/node_commands.h"

#include <QSet>

namespace kiln::widgets {

NodeCommand::NodeCommand(NodeGraphModel* model, const QString& text) : model_(model) { setText(text); }

void NodeCommand::restore(const QList<NodeInfo>& nodes, const QList<EdgeInfo>& edges)
{
    for (const NodeInfo& n : nodes) model_->insertNode(n);
    for (const EdgeInfo& e : edges) model_->connectPorts(e.from, e.to);
}

// --- add

AddNodeCommand::AddNodeCommand(NodeGraphModel* model, const NodeInfo& node, QString* createdId)
    : NodeCommand(model, QStringLiteral("Add %1").arg(model->nodeType(node.typeId).displayName)), node_(node),
      createdId_(createdId)
{
}

void AddNodeCommand::redo()
{
    if (!alive()) return setObsolete(true);
    const QString id = model_->insertNode(node_);
    if (createdId_) *createdId_ = id;
    createdId_ = nullptr;
    if (id.isEmpty()) return setObsolete(true);
    node_ = model_->node(id);  // the id and name the model chose, for an exact redo later
}

void AddNodeCommand::undo()
{
    if (alive()) model_->removeNode(node_.id);
}

// --- delete

DeleteCommand::DeleteCommand(NodeGraphModel* model, const QStringList& nodeIds, const QList<EdgeInfo>& edges)
    : NodeCommand(model, QStringLiteral("Delete"))
{
    const QSet<QString> doomed(nodeIds.cbegin(), nodeIds.cend());
    for (const QString& id : model->nodeIds())  // model order, so undo restores it
        if (doomed.contains(id)) nodes_ << model->node(id);
    const QList<EdgeInfo> all = model->edges();
    for (const EdgeInfo& e : all)
        if (doomed.contains(e.from.node) || doomed.contains(e.to.node) || edges.contains(e)) edges_ << e;
    if (nodes_.size() == 1 && edges_.isEmpty()) setText(QStringLiteral("Delete %1").arg(nodes_.first().name));
    else if (nodes_.isEmpty()) setText(edges_.size() == 1 ? QStringLiteral("Disconnect") : QStringLiteral("Disconnect edges"));
    else setText(QStringLiteral("Delete %1 nodes").arg(nodes_.size()));
}

void DeleteCommand::redo()
{
    if (!alive()) return setObsolete(true);
    for (const EdgeInfo& e : edges_) model_->disconnectPorts(e);
    for (const NodeInfo& n : nodes_) model_->removeNode(n.id);
}

void DeleteCommand::undo()
{
    if (alive()) restore(nodes_, edges_);
}

// --- connect

ConnectCommand::ConnectCommand(NodeGraphModel* model, const PortRef& from, const PortRef& to,
                               const std::optional<EdgeInfo>& detached, EditResult* result)
    : NodeCommand(model, QStringLiteral("Connect %1 → %2").arg(model->node(from.node).name, model->node(to.node).name)),
      edge_{from, to}, result_(result)
{
    if (detached && *detached != edge_) replaced_ << *detached;
    for (const EdgeInfo& e : model->edges())
        if (e.to == to && e != edge_ && !replaced_.contains(e)) replaced_ << e;
}

void ConnectCommand::redo()
{
    if (!alive()) return setObsolete(true);
    for (const EdgeInfo& e : replaced_) model_->disconnectPorts(e);
    const EditResult r = model_->connectPorts(edge_.from, edge_.to);
    if (result_) *result_ = r;
    result_ = nullptr;
    if (!r) {
        for (const EdgeInfo& e : replaced_) model_->connectPorts(e.from, e.to);
        setObsolete(true);
    }
}

void ConnectCommand::undo()
{
    if (!alive()) return;
    model_->disconnectPorts(edge_);
    for (const EdgeInfo& e : replaced_) model_->connectPorts(e.from, e.to);
}

// --- move

MoveCommand::MoveCommand(NodeGraphModel* model, const Moves& moves, const QString& text, bool mergeable)
    : NodeCommand(model, text), moves_(moves), mergeable_(mergeable)
{
}

bool MoveCommand::mergeWith(const QUndoCommand* other)
{
    const auto* o = static_cast<const MoveCommand*>(other);
    if (!o->mergeable_ || o->moves_.size() != moves_.size()) return false;
    for (auto it = o->moves_.cbegin(); it != o->moves_.cend(); ++it)
        if (!moves_.contains(it.key())) return false;
    for (auto it = o->moves_.cbegin(); it != o->moves_.cend(); ++it) moves_[it.key()].second = it.value().second;
    return true;
}

void MoveCommand::redo()
{
    if (!alive()) return setObsolete(true);
    for (auto it = moves_.cbegin(); it != moves_.cend(); ++it) model_->setPosition(it.key(), it.value().second);
}

void MoveCommand::undo()
{
    if (!alive()) return;
    for (auto it = moves_.cbegin(); it != moves_.cend(); ++it) model_->setPosition(it.key(), it.value().first);
}

// --- rename

RenameCommand::RenameCommand(NodeGraphModel* model, const QString& id, const QString& name, EditResult* result)
    : NodeCommand(model, QStringLiteral("Rename %1 to %2").arg(model->node(id).name, name)), id_(id),
      old_(model->node(id).name), new_(name), result_(result)
{
}

void RenameCommand::redo()
{
    if (!alive()) return setObsolete(true);
    const EditResult r = model_->setNodeName(id_, new_);
    if (result_) *result_ = r;
    result_ = nullptr;
    if (!r) return setObsolete(true);
    new_ = model_->node(id_).name;  // as the model stored it (trimmed)
}

void RenameCommand::undo()
{
    if (alive()) model_->setNodeName(id_, old_);
}

// --- parameter

SetParameterCommand::SetParameterCommand(NodeGraphModel* model, const QString& id, const QString& param,
                                         const QVariant& value, EditResult* result)
    : NodeCommand(model, QStringLiteral("Set %1.%2").arg(model->node(id).name, param)), id_(id), param_(param),
      old_(model->node(id).params.value(param)), new_(value), result_(result)
{
}

bool SetParameterCommand::mergeWith(const QUndoCommand* other)
{
    const auto* o = static_cast<const SetParameterCommand*>(other);
    if (o->id_ != id_ || o->param_ != param_) return false;
    new_ = o->new_;
    return true;
}

void SetParameterCommand::redo()
{
    if (!alive()) return setObsolete(true);
    const EditResult r = model_->setParameter(id_, param_, new_);
    if (result_) *result_ = r;
    result_ = nullptr;
    if (!r) return setObsolete(true);
    new_ = model_->node(id_).params.value(param_);  // normalised ("3,3" -> [3, 3])
}

void SetParameterCommand::undo()
{
    if (alive()) model_->setParameter(id_, param_, old_);
}

// --- paste

PasteCommand::PasteCommand(NodeGraphModel* model, const QList<NodeInfo>& nodes, const QList<EdgeInfo>& edges,
                           QStringList* createdIds, const QString& text)
    : NodeCommand(model, text), nodes_(nodes), edges_(edges), createdOut_(createdIds)
{
}

void PasteCommand::redo()
{
    if (!alive()) return setObsolete(true);
    if (!created_.isEmpty()) {
        restore(nodes_, edges_);
        return;
    }
    QHash<QString, QString> idMap;  // clipboard id -> model id
    QList<NodeInfo> made;
    for (NodeInfo n : std::as_const(nodes_)) {
        const QString key = n.id;
        n.id.clear();
        const QString id = model_->insertNode(n);
        if (id.isEmpty()) continue;  // unknown type: the editor already warned
        idMap.insert(key, id);
        created_ << id;
    }
    QList<EdgeInfo> mapped;
    for (const EdgeInfo& e : std::as_const(edges_)) {
        const EdgeInfo m{{idMap.value(e.from.node), e.from.port}, {idMap.value(e.to.node), e.to.port}};
        if (m.from.node.isEmpty() || m.to.node.isEmpty()) continue;
        if (model_->connectPorts(m.from, m.to)) mapped << m;
    }
    for (const QString& id : std::as_const(created_)) made << model_->node(id);
    nodes_ = made;
    edges_ = mapped;
    if (createdOut_) *createdOut_ = created_;
    createdOut_ = nullptr;
    if (created_.isEmpty()) setObsolete(true);
}

void PasteCommand::undo()
{
    if (!alive()) return;
    for (auto it = created_.crbegin(); it != created_.crend(); ++it) model_->removeNode(*it);
}

}  // namespace kiln::widgets
