// Node types and a toy shape inference for the node editor's tests: enough of a ConvNet
// vocabulary to draw real-looking labels, with a connect rule that refuses rank mismatches.
// The real op registry lives in the engine; this stands in for it, as the app's model will.
#pragma once

#include "widgets/node_editor/simple_node_graph_model.h"

#include <QLocale>
#include <optional>

namespace kiln::widgets::test {

using Type = ParamSpec::Type;

inline ParamSpec param(const QString& name, Type type, const QVariant& def, const QVariant& min = {},
                       const QVariant& max = {}, const QString& help = {}, const QStringList& choices = {})
{
    return ParamSpec{name, type, def, min, max, choices, help};
}

inline QList<NodeTypeInfo> convNetTypes()
{
    const QStringList io{QStringLiteral("in")}, out{QStringLiteral("out")};
    return {
        {"node.input_image", "Image Input", "Inputs", {}, {"image"},
         {param("channels", Type::Int, 1, 1, 4, "Colour channels"), param("height", Type::Int, 28, 1, 4096),
          param("width", Type::Int, 28, 1, 4096)},
         "A batch of images [B, C, H, W]", {}, {"data", "mnist"}},
        {"node.input_labels", "Labels", "Inputs", {}, {"labels"},
         {param("num_classes", Type::Int, 10, 2, 100000)}, "Class indices [B]", {}, {"target"}},
        {"node.conv2d", "Conv2d", "Layers", io, out,
         {param("out_channels", Type::Int, 32, 1, 4096, "Number of filters"),
          param("kernel_size", Type::IntList, QVariantList{3, 3}, 1, 15, "Kernel height, width"),
          param("stride", Type::Int, 1, 1, 8), param("padding", Type::Choice, "same", {}, {}, "", {"same", "valid"}),
          param("bias", Type::Bool, true)},
         "2-D convolution", {}, {"convolution"}},
        {"node.maxpool2d", "MaxPool2d", "Pooling", io, out, {param("kernel_size", Type::Int, 2, 1, 8)},
         "Max over windows", {}, {}},
        {"node.relu", "ReLU", "Activations", io, out, {}, "max(x, 0)", {}, {}},
        {"node.gelu", "GELU", "Activations", io, out,
         {param("approximate", Type::Choice, "none", {}, {}, "", {"none", "tanh"})}, "Gaussian error linear unit", {}, {}},
        {"node.dropout", "Dropout", "Regularization", io, out,
         {param("p", Type::Float, 0.5, 0.0, 1.0, "Probability of zeroing an element")}, "Random zeroing", {}, {}},
        {"node.flatten", "Flatten", "Shape", io, out, {}, "[B, C, H, W] -> [B, C*H*W]", {}, {"reshape"}},
        {"node.linear", "Linear", "Layers", io, out,
         {param("out_features", Type::Int, 128, 1, 65536, "Output size"), param("bias", Type::Bool, true)},
         "Fully connected layer", {}, {"dense", "fc"}},
        {"node.add", "Add", "Math", {"a", "b"}, out, {}, "Element-wise sum (residual)", {}, {"residual", "sum"}},
        {"node.cross_entropy", "Cross-Entropy Loss", "Losses", {"logits", "target"}, {"loss"},
         {param("label_smoothing", Type::Float, 0.0, 0.0, 1.0)}, "Classification loss", {}, {"loss"}},
    };
}

// The rank an output carries, following pass-through nodes upstream; nullopt: not known.
inline std::optional<int> outputRank(const NodeGraphModel& m, const QString& nodeId, int guard = 0)
{
    const NodeInfo n = m.node(nodeId);
    const QString t = n.typeId;
    if (t == "node.input_image" || t == "node.conv2d" || t == "node.maxpool2d") return 4;
    if (t == "node.flatten" || t == "node.linear") return 2;
    if (t == "node.input_labels") return 1;
    if (t == "node.cross_entropy") return 0;
    if (guard > 64) return std::nullopt;
    for (const EdgeInfo& e : m.edges())
        if (e.to.node == nodeId) return outputRank(m, e.from.node, guard + 1);
    return std::nullopt;
}

inline std::optional<int> wantedRank(const QString& typeId, const QString& port)
{
    if (typeId == "node.conv2d" || typeId == "node.maxpool2d") return 4;
    if (typeId == "node.linear") return 2;
    if (typeId == "node.cross_entropy") return port == "logits" ? 2 : 1;
    return std::nullopt;
}

inline EditResult rankRule(const NodeGraphModel& m, const PortRef& from, const PortRef& to)
{
    const NodeInfo target = m.node(to.node);
    const auto want = wantedRank(target.typeId, to.port);
    const auto have = outputRank(m, from.node);
    if (want && have && *want != *have)
        return EditResult::failure(QStringLiteral("%1 expects a %2-D input, but %3 gives %4-D")
                                       .arg(m.nodeType(target.typeId).displayName)
                                       .arg(*want)
                                       .arg(m.node(from.node).name)
                                       .arg(*have));
    return EditResult::success();
}

inline QString shapeText(const QList<int>& s)
{
    QStringList parts{QStringLiteral("B")};
    for (int d : s) parts << QString::number(d);
    return QLatin1Char('[') + parts.join(QLatin1String(", ")) + QLatin1Char(']');
}

inline QString countText(qint64 n)
{
    if (n >= 1000000) return QString::number(n / 1e6, 'f', 1) + QStringLiteral(" M");
    if (n >= 1000) return QString::number(n / 1e3, 'f', 1) + QStringLiteral(" K");
    return QString::number(n);
}

// Shapes without the batch dimension, in topological order; the first failure turns its
// node red with a message, and everything downstream of it stays unknown.
inline void inferShapes(SimpleNodeGraphModel& m)
{
    QHash<QString, NodeAnnotation> notes;
    QHash<EdgeInfo, QString> labels;
    QHash<QString, QList<int>> shape;  // of each node's (first) output
    QStringList pending = m.nodeIds();
    bool progressed = true;
    while (progressed) {
        progressed = false;
        for (const QString& id : QStringList(pending)) {
            const NodeInfo n = m.node(id);
            QHash<QString, QList<int>> in;
            bool ready = true, anyInput = false;
            for (const EdgeInfo& e : m.edges()) {
                if (e.to.node != id) continue;
                anyInput = true;
                if (!shape.contains(e.from.node)) ready = false;
                else in.insert(e.to.port, shape.value(e.from.node));
            }
            if (!ready) continue;
            pending.removeOne(id);
            progressed = true;
            NodeAnnotation a;
            QList<int> s;
            qint64 params = 0;
            const QList<int> x = in.value(n.inputs.value(0));
            auto fail = [&](const QString& why) { a = {NodeState::Error, {}, why}; };
            const QString t = n.typeId;
            if (!n.inputs.isEmpty() && (!anyInput || in.size() < n.inputs.size())) {
                QString missing;
                for (const QString& port : n.inputs)
                    if (!in.contains(port) && missing.isEmpty()) missing = port;
                fail(QStringLiteral("Input '%1' is not connected").arg(missing));
            } else if (t == "node.input_image") {
                s = {n.params["channels"].toInt(), n.params["height"].toInt(), n.params["width"].toInt()};
            } else if (t == "node.input_labels") {
                s = {};
            } else if (t == "node.conv2d") {
                if (x.size() != 3) {
                    fail(QStringLiteral("Conv2d expects a 4-D input [B, C, H, W], got %1. Move it before Flatten, "
                                        "or use Linear here.").arg(shapeText(x)));
                } else {
                    const QVariantList k = n.params["kernel_size"].toList();
                    const int kh = k.value(0).toInt(), kw = k.value(1, k.value(0)).toInt();
                    const int st = n.params["stride"].toInt(), oc = n.params["out_channels"].toInt();
                    const bool same = n.params["padding"].toString() == "same";
                    s = {oc, same ? (x[1] + st - 1) / st : (x[1] - kh) / st + 1, same ? (x[2] + st - 1) / st : (x[2] - kw) / st + 1};
                    params = qint64(oc) * x[0] * kh * kw + (n.params["bias"].toBool() ? oc : 0);
                }
            } else if (t == "node.maxpool2d") {
                const int k = n.params["kernel_size"].toInt();
                if (x.size() == 3) s = {x[0], x[1] / k, x[2] / k};
                else fail(QStringLiteral("MaxPool2d expects [B, C, H, W], got %1").arg(shapeText(x)));
            } else if (t == "node.flatten") {
                int prod = 1;
                for (int d : x) prod *= d;
                s = {prod};
            } else if (t == "node.linear") {
                if (x.size() != 1) {
                    fail(QStringLiteral("Linear expects [B, N], got %1: add a Flatten before it").arg(shapeText(x)));
                } else {
                    const int o = n.params["out_features"].toInt();
                    s = {o};
                    params = qint64(x[0]) * o + (n.params["bias"].toBool() ? o : 0);
                }
            } else if (t == "node.add") {
                if (in.value("a") != in.value("b"))
                    fail(QStringLiteral("Add needs equal shapes, got %1 and %2").arg(shapeText(in.value("a")), shapeText(in.value("b"))));
                else s = x;
            } else if (t == "node.cross_entropy") {
                s = {};
            } else {
                s = x;  // element-wise
            }
            if (a.state != NodeState::Error) {
                shape.insert(id, s);
                a.state = NodeState::Ok;
                a.subtitle = t == "node.cross_entropy" ? QStringLiteral("scalar loss") : shapeText(s);
                if (params) a.subtitle += QStringLiteral(" · %1 params").arg(countText(params));
            }
            notes.insert(id, a);
        }
    }
    for (const EdgeInfo& e : m.edges())
        if (shape.contains(e.from.node)) labels.insert(e, shapeText(shape.value(e.from.node)));
    m.setAnnotations(notes, labels);
}

}  // namespace kiln::widgets::test
