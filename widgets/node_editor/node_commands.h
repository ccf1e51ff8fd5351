// Every edit the editor makes is one of these on its QUndoStack. Each records what it needs
// to replay itself against the model by node id, so undo and redo hold across other edits.
// A command whose first redo() fails marks itself obsolete (QUndoStack then drops it) and
// reports why through the `result` pointer, which is only written during that first redo.
#pragma once

#include "widgets/node_editor/node_graph_model.h"

#include <QHash>
#include <QPointer>
#include <QUndoCommand>

#include <optional>

namespace kiln::widgets {

class NodeCommand : public QUndoCommand {
public:
    NodeCommand(NodeGraphModel* model, const QString& text);

protected:
    bool alive() const { return !model_.isNull(); }
    // Puts nodes back exactly as they were (ids, names, parameters, positions), then edges.
    void restore(const QList<NodeInfo>& nodes, const QList<EdgeInfo>& edges);
    QPointer<NodeGraphModel> model_;
};

class AddNodeCommand : public NodeCommand {
public:
    AddNodeCommand(NodeGraphModel* model, const NodeInfo& node, QString* createdId = nullptr);
    void redo() override;
    void undo() override;

private:
    NodeInfo node_;  // after the first redo: as created, id included
    QString* createdId_;
};

// Removes nodes (with every edge touching them) and loose edges, as one step.
class DeleteCommand : public NodeCommand {
public:
    DeleteCommand(NodeGraphModel* model, const QStringList& nodeIds, const QList<EdgeInfo>& edges);
    void redo() override;
    void undo() override;

private:
    QList<NodeInfo> nodes_;
    QList<EdgeInfo> edges_;
};

// Connects from -> to, first removing the edge already on `to` and an edge the person
// picked up to move (`detached`), so that a reconnect is one step.
class ConnectCommand : public NodeCommand {
public:
    ConnectCommand(NodeGraphModel* model, const PortRef& from, const PortRef& to,
                   const std::optional<EdgeInfo>& detached = std::nullopt, EditResult* result = nullptr);
    void redo() override;
    void undo() override;

private:
    EdgeInfo edge_;
    QList<EdgeInfo> replaced_;
    EditResult* result_;
};

class MoveCommand : public NodeCommand {
public:
    using Moves = QHash<QString, QPair<QPointF, QPointF>>;  // id -> (from, to)
    // mergeable: keyboard nudges of the same nodes fold into one step
    MoveCommand(NodeGraphModel* model, const Moves& moves, const QString& text, bool mergeable = false);
    int id() const override { return mergeable_ ? 0x4b01 : -1; }
    bool mergeWith(const QUndoCommand* other) override;
    void redo() override;
    void undo() override;

private:
    Moves moves_;
    bool mergeable_;
};

class RenameCommand : public NodeCommand {
public:
    RenameCommand(NodeGraphModel* model, const QString& id, const QString& name, EditResult* result = nullptr);
    void redo() override;
    void undo() override;

private:
    QString id_, old_, new_;
    EditResult* result_;
};

// Consecutive changes of one parameter of one node (spin box arrows) merge into one step.
class SetParameterCommand : public NodeCommand {
public:
    SetParameterCommand(NodeGraphModel* model, const QString& id, const QString& param, const QVariant& value,
                        EditResult* result = nullptr);
    int id() const override { return 0x4b02; }
    bool mergeWith(const QUndoCommand* other) override;
    void redo() override;
    void undo() override;

private:
    QString id_, param_;
    QVariant old_, new_;
    EditResult* result_;
};

// Inserts copied nodes and the edges among them. Clipboard ids are only keys into the
// clipboard's edges; the model gives fresh ids on the first redo and they are reused after.
class PasteCommand : public NodeCommand {
public:
    PasteCommand(NodeGraphModel* model, const QList<NodeInfo>& nodes, const QList<EdgeInfo>& edges,
                 QStringList* createdIds = nullptr, const QString& text = QStringLiteral("Paste"));
    void redo() override;
    void undo() override;

private:
    QList<NodeInfo> nodes_;
    QList<EdgeInfo> edges_;
    QStringList created_;
    QStringList* createdOut_;
};

}  // namespace kiln::widgets
