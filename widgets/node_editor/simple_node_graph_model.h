// An in-memory NodeGraphModel: what the editor's tests drive, and a base the app can
// subclass, setting annotations from outside after it has inferred shapes.
#pragma once

#include "widgets/node_editor/node_graph_model.h"

#include <functional>

namespace kiln::widgets {

class SimpleNodeGraphModel : public NodeGraphModel {
    Q_OBJECT
public:
    // Extra judgement on top of the structural checks (ports exist, no self edge, no cycle):
    // type compatibility, which only the owner of the graph knows.
    using ConnectRule = std::function<EditResult(const NodeGraphModel&, const PortRef& from, const PortRef& to)>;

    explicit SimpleNodeGraphModel(QObject* parent = nullptr);

    void setNodeTypes(const QList<NodeTypeInfo>& types);
    void setConnectRule(ConnectRule rule) { rule_ = std::move(rule); }
    void setAllowCycles(bool allow) { allowCycles_ = allow; }
    void clear();

    void setNodeAnnotation(const QString& id, const NodeAnnotation& a);
    void setEdgeLabel(const EdgeInfo& edge, const QString& label);
    // Replaces every annotation at once with one annotationsChanged().
    void setAnnotations(const QHash<QString, NodeAnnotation>& nodes, const QHash<EdgeInfo, QString>& edgeLabels);

    QList<NodeTypeInfo> nodeTypes() const override { return types_; }
    NodeTypeInfo nodeType(const QString& typeId) const override;
    QStringList nodeIds() const override { return order_; }
    NodeInfo node(const QString& id) const override { return nodes_.value(id); }
    QList<EdgeInfo> edges() const override { return edges_; }
    QList<EdgeInfo> edgesOf(const QString& nodeId) const override;
    NodeAnnotation nodeAnnotation(const QString& id) const override { return annotations_.value(id); }
    QString edgeLabel(const EdgeInfo& edge) const override { return edgeLabels_.value(edge); }

    QString insertNode(const NodeInfo& node) override;
    bool removeNode(const QString& id) override;
    EditResult setNodeName(const QString& id, const QString& name) override;
    EditResult setParameter(const QString& id, const QString& name, const QVariant& value) override;
    void setPosition(const QString& id, const QPointF& pos) override;
    EditResult canConnect(const PortRef& from, const PortRef& to) const override;
    EditResult connectPorts(const PortRef& from, const PortRef& to) override;
    bool disconnectPorts(const EdgeInfo& edge) override;

    bool reaches(const QString& from, const QString& to) const;  // a path of edges from -> to

protected:
    QString uniqueName(const QString& base) const;

private:
    QList<NodeTypeInfo> types_;
    QHash<QString, int> typeIndex_;
    QHash<QString, NodeInfo> nodes_;
    QStringList order_;
    QList<EdgeInfo> edges_;
    QHash<QString, NodeAnnotation> annotations_;
    QHash<EdgeInfo, QString> edgeLabels_;
    ConnectRule rule_;
    bool allowCycles_ = false;
    quint64 nextId_ = 1;
};

}  // namespace kiln::widgets
