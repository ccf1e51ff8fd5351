// Copied nodes travel as JSON under their own mime type: the nodes, and only the edges
// among them (an edge to a node left behind has nowhere to go after a paste).
#pragma once

#include "widgets/node_editor/node_graph_model.h"

#include <QByteArray>
#include <functional>

class QMimeData;

namespace kiln::widgets {

inline constexpr char kNodeMimeType[] = "application/x-kiln-nodes+json";
inline constexpr char kNodeTypeMimeType[] = "application/x-kiln-node-type";  // palette drag

struct NodeClip {
    QList<NodeInfo> nodes;  // ids are keys into edges, not model ids
    QList<EdgeInfo> edges;
    QStringList skipped;    // unknown node types, named for the message
    bool isEmpty() const { return nodes.isEmpty(); }
};

QByteArray clipToJson(const NodeGraphModel& model, const QStringList& nodeIds);
// Parameters are converted back through the type's schema (JSON numbers are doubles).
NodeClip clipFromJson(const QByteArray& json, const NodeGraphModel& model);

QMimeData* clipMimeData(const NodeGraphModel& model, const QStringList& nodeIds);

// conv1 -> conv2 -> conv3...; relu -> relu_2: the first name `taken` says is free.
QString freeName(const QString& wanted, const std::function<bool(const QString&)>& taken);

// Readies a clip for pasting: positions shifted by offset, clashing names renamed.
void prepareForPaste(NodeClip& clip, const NodeGraphModel& model, const QPointF& offset);

}  // namespace kiln::widgets
