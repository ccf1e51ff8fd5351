// The node editor's model over the engine's graph IR: every edit lands in a kiln::graph::Graph,
// and after each one shape inference re-annotates the nodes and edges (shapes on edges, output
// shape and parameter count on nodes, the first failing node in red).
#pragma once

#include "kiln/graph_infer.h"
#include "widgets/node_editor/node_graph_model.h"

namespace kiln::app {

class GraphEditorModel : public kiln::widgets::NodeGraphModel {
    Q_OBJECT
public:
    explicit GraphEditorModel(QObject* parent = nullptr);

    const kiln::graph::Graph& graph() const { return graph_; }
    const kiln::graph::GraphInfo& info() const { return info_; }
    void setGraph(kiln::graph::Graph graph);  // resets the editor
    QString summary() const;  // "1.2 M parameters · 45.1 M FLOPs per sample", or the first error

    // NodeGraphModel
    QList<kiln::widgets::NodeTypeInfo> nodeTypes() const override;
    QStringList nodeIds() const override;
    kiln::widgets::NodeInfo node(const QString& id) const override;
    QList<kiln::widgets::EdgeInfo> edges() const override;
    kiln::widgets::NodeAnnotation nodeAnnotation(const QString& id) const override;
    QString edgeLabel(const kiln::widgets::EdgeInfo& edge) const override;
    QString insertNode(const kiln::widgets::NodeInfo& node) override;
    bool removeNode(const QString& id) override;
    kiln::widgets::EditResult setNodeName(const QString& id, const QString& name) override;
    kiln::widgets::EditResult setParameter(const QString& id, const QString& name, const QVariant& value) override;
    void setPosition(const QString& id, const QPointF& pos) override;
    kiln::widgets::EditResult canConnect(const kiln::widgets::PortRef& from, const kiln::widgets::PortRef& to) const override;
    kiln::widgets::EditResult connectPorts(const kiln::widgets::PortRef& from, const kiln::widgets::PortRef& to) override;
    bool disconnectPorts(const kiln::widgets::EdgeInfo& edge) override;

Q_SIGNALS:
    void graphChanged();  // any edit; shapes already re-inferred

private:
    void reinfer();
    const kiln::graph::NodeType* typeOf(const kiln::graph::Node& n) const;

    const kiln::graph::NodeRegistry& registry_;
    kiln::graph::Graph graph_;
    kiln::graph::GraphInfo info_;
    QList<kiln::widgets::NodeTypeInfo> types_;
};

// Conversions between the engine's parameter values and the editor's QVariants.
QVariant toVariant(const kiln::graph::ParamValue& v);
std::optional<kiln::graph::ParamValue> fromVariant(const kiln::graph::ParamSpec& spec, const QVariant& v);

}  // namespace kiln::app
