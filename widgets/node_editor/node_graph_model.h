// The one door between the node editor and whatever graph it edits. The editor never sees
// the engine: the app implements this on top of its graph IR, tests use SimpleNodeGraphModel.
#pragma once

#include <QColor>
#include <QHash>
#include <QList>
#include <QObject>
#include <QPointF>
#include <QString>
#include <QStringList>
#include <QVariant>

namespace kiln::widgets {

// A parameter of a node type. Values travel as QVariant: int, double, bool, QString
// (string and choice) and QVariantList of int (int-list).
struct ParamSpec {
    enum class Type { Int, Float, Bool, String, Choice, IntList };
    QString name;
    Type type = Type::Int;
    QVariant defaultValue;
    QVariant min;          // Int/Float (and each element of IntList); invalid: unbounded
    QVariant max;
    QStringList choices;   // Choice
    QString help;          // shown as the editor's tooltip
};

struct NodeTypeInfo {
    QString id;            // stable dotted id, e.g. "node.conv2d"
    QString displayName;   // "Conv2d"
    QString category;      // palette group, e.g. "Layers"
    QStringList inputs;    // port names; may be overridden per node (NodeInfo::inputs)
    QStringList outputs;
    QList<ParamSpec> params;
    QString help;
    QColor color;          // title colour; invalid: derived from the category
    QStringList keywords;  // extra words the search matches ("convolution")
    bool isValid() const { return !id.isEmpty(); }
    const ParamSpec* param(const QString& name) const;
};

struct NodeInfo {
    QString id;            // stable, unique in the graph
    QString typeId;
    QString name;          // unique, person-editable
    QPointF pos;           // top-left of the node in scene coordinates
    QVariantMap params;
    QStringList inputs;    // this node's ports (usually the type's)
    QStringList outputs;
    bool isValid() const { return !id.isEmpty(); }
};

struct PortRef {
    QString node;
    QString port;
    bool operator==(const PortRef&) const = default;
};

// An edge goes from an output port to an input port; an input holds at most one edge.
struct EdgeInfo {
    PortRef from;
    PortRef to;
    bool operator==(const EdgeInfo&) const = default;
};

inline size_t qHash(const PortRef& p, size_t seed = 0) { return qHashMulti(seed, p.node, p.port); }
inline size_t qHash(const EdgeInfo& e, size_t seed = 0) { return qHashMulti(seed, e.from, e.to); }

enum class NodeState { Unknown, Ok, Error };

// What the model computes about a node (shape inference in the app); drawn, never edited.
struct NodeAnnotation {
    NodeState state = NodeState::Unknown;
    QString subtitle;      // "[B, 10] · 7.9 K params"
    QString message;       // why it is in error and what would fix it; empty when fine
    bool operator==(const NodeAnnotation&) const = default;
};

// Success, or a reason a person can read ("Conv2d expects 4-D input, got [B, 784]").
struct EditResult {
    bool ok = true;
    QString reason;
    static EditResult success() { return {}; }
    static EditResult failure(const QString& why) { return {false, why}; }
    explicit operator bool() const { return ok; }
};

// Checks and converts a value for a parameter (JSON numbers come back as double, lists as
// QVariantList of double); on failure returns an invalid QVariant and says why in *error.
QVariant normalizedParameter(const ParamSpec& spec, const QVariant& value, QString* error = nullptr);
QString formatParameter(const ParamSpec& spec, const QVariant& value);  // "3, 3" for lists

class NodeGraphModel : public QObject {
    Q_OBJECT
public:
    using QObject::QObject;

    // --- what can be placed
    virtual QList<NodeTypeInfo> nodeTypes() const = 0;
    virtual NodeTypeInfo nodeType(const QString& typeId) const;  // default: searches nodeTypes()

    // --- the graph
    virtual QStringList nodeIds() const = 0;       // in a stable order
    virtual NodeInfo node(const QString& id) const = 0;  // invalid NodeInfo if unknown
    virtual QList<EdgeInfo> edges() const = 0;
    virtual QList<EdgeInfo> edgesOf(const QString& nodeId) const;  // default: filters edges()
    bool hasNode(const QString& id) const { return node(id).isValid(); }
    bool hasNodeNamed(const QString& name) const;

    // --- what the model computes (defaults: nothing known)
    virtual NodeAnnotation nodeAnnotation(const QString& id) const;
    virtual QString edgeLabel(const EdgeInfo& edge) const;  // "[B, 64, 14, 14]"

    // --- edits. The editor wraps every call in an undo command, so each must be exactly
    // reversible by the matching inverse call.
    // Creates a node. An empty or taken node.id, or an empty or taken name, is replaced by a
    // fresh one; missing params get defaults and empty port lists the type's. Undo restores a
    // removed node through this with its old id, so a free id must be honoured.
    // Returns the id used, or an empty string (unknown type).
    virtual QString insertNode(const NodeInfo& node) = 0;
    QString addNode(const QString& typeId, const QPointF& pos);  // insertNode with defaults
    virtual bool removeNode(const QString& id) = 0;  // also removes (and signals) its edges
    virtual EditResult setNodeName(const QString& id, const QString& name) = 0;
    virtual EditResult setParameter(const QString& id, const QString& name, const QVariant& value) = 0;
    virtual void setPosition(const QString& id, const QPointF& pos) = 0;
    // Judges an edge as if `to` were free: the editor removes an edge already on `to` in the
    // same undo step. Called on every mouse move while dragging, so keep it cheap.
    virtual EditResult canConnect(const PortRef& from, const PortRef& to) const = 0;
    virtual EditResult connectPorts(const PortRef& from, const PortRef& to) = 0;  // fails if `to` is taken
    virtual bool disconnectPorts(const EdgeInfo& edge) = 0;

Q_SIGNALS:
    void nodeTypesChanged();
    void nodeAdded(const QString& id);
    void nodeRemoved(const QString& id);   // after its edges' edgeRemoved
    void nodeChanged(const QString& id);   // name, parameters or ports
    void nodeMoved(const QString& id);
    void edgeAdded(const kiln::widgets::EdgeInfo& edge);
    void edgeRemoved(const kiln::widgets::EdgeInfo& edge);
    void nodeAnnotationChanged(const QString& id);
    void edgeAnnotationChanged(const kiln::widgets::EdgeInfo& edge);
    void annotationsChanged();  // many at once (after shape inference): the editor re-reads all
    void modelReset();          // everything (a file was loaded)
};

}  // namespace kiln::widgets
