#include "widgets/node_editor/node_graph_model.h"

#include <QRegularExpression>

#include <cmath>

namespace kiln::widgets {

const ParamSpec* NodeTypeInfo::param(const QString& name) const
{
    for (const ParamSpec& p : params)
        if (p.name == name) return &p;
    return nullptr;
}

namespace {

// Integers arrive as int, qlonglong or a whole double (from JSON); strings from text fields.
bool toWholeNumber(const QVariant& v, qlonglong* out)
{
    bool ok = false;
    if (v.typeId() == QMetaType::QString) {
        *out = v.toString().trimmed().toLongLong(&ok);
        return ok;
    }
    const double d = v.toDouble(&ok);
    if (!ok || !std::isfinite(d) || d != std::floor(d)) return false;
    *out = static_cast<qlonglong>(d);
    return true;
}

QString rangeText(const ParamSpec& spec)
{
    if (spec.min.isValid() && spec.max.isValid())
        return QStringLiteral("between %1 and %2").arg(spec.min.toString(), spec.max.toString());
    if (spec.min.isValid()) return QStringLiteral("at least %1").arg(spec.min.toString());
    return QStringLiteral("at most %1").arg(spec.max.toString());
}

bool inRange(const ParamSpec& spec, double v)
{
    return (!spec.min.isValid() || v >= spec.min.toDouble()) && (!spec.max.isValid() || v <= spec.max.toDouble());
}

QVariant fail(QString* error, const QString& why)
{
    if (error) *error = why;
    return {};
}

}  // namespace

QVariant normalizedParameter(const ParamSpec& spec, const QVariant& value, QString* error)
{
    switch (spec.type) {
    case ParamSpec::Type::Int: {
        qlonglong n = 0;
        if (!toWholeNumber(value, &n)) return fail(error, QStringLiteral("%1 must be a whole number").arg(spec.name));
        if (!inRange(spec, double(n)))
            return fail(error, QStringLiteral("%1 must be %2").arg(spec.name, rangeText(spec)));
        return QVariant(int(n));
    }
    case ParamSpec::Type::Float: {
        bool ok = false;
        const double d = value.typeId() == QMetaType::QString ? value.toString().trimmed().toDouble(&ok)
                                                               : value.toDouble(&ok);
        if (!ok || !std::isfinite(d)) return fail(error, QStringLiteral("%1 must be a number").arg(spec.name));
        if (!inRange(spec, d)) return fail(error, QStringLiteral("%1 must be %2").arg(spec.name, rangeText(spec)));
        return QVariant(d);
    }
    case ParamSpec::Type::Bool:
        if (value.typeId() == QMetaType::QString) {
            const QString s = value.toString().trimmed().toLower();
            if (s == QLatin1String("true") || s == QLatin1String("1")) return QVariant(true);
            if (s == QLatin1String("false") || s == QLatin1String("0")) return QVariant(false);
            return fail(error, QStringLiteral("%1 must be true or false").arg(spec.name));
        }
        return QVariant(value.toBool());
    case ParamSpec::Type::String:
        return QVariant(value.toString());
    case ParamSpec::Type::Choice: {
        const QString s = value.toString();
        if (!spec.choices.contains(s))
            return fail(error, QStringLiteral("%1 must be one of: %2").arg(spec.name, spec.choices.join(QLatin1String(", "))));
        return QVariant(s);
    }
    case ParamSpec::Type::IntList: {
        QVariantList items;
        if (value.typeId() == QMetaType::QString) {
            const QString text = value.toString().trimmed();
            const QString inner = text.startsWith(QLatin1Char('[')) && text.endsWith(QLatin1Char(']'))
                                      ? text.mid(1, text.size() - 2)
                                      : text;
            static const QRegularExpression separators(QStringLiteral("[,\\s]+"));
            for (const QString& part : inner.split(separators, Qt::SkipEmptyParts))
                items << part;
        } else {
            items = value.toList();
        }
        QVariantList out;
        for (const QVariant& item : items) {
            qlonglong n = 0;
            if (!toWholeNumber(item, &n))
                return fail(error, QStringLiteral("%1 must be whole numbers separated by commas").arg(spec.name));
            if (!inRange(spec, double(n)))
                return fail(error, QStringLiteral("each of %1 must be %2").arg(spec.name, rangeText(spec)));
            out << QVariant(int(n));
        }
        return QVariant(out);
    }
    }
    return {};
}

QString formatParameter(const ParamSpec& spec, const QVariant& value)
{
    switch (spec.type) {
    case ParamSpec::Type::IntList: {
        QStringList parts;
        for (const QVariant& v : value.toList()) parts << QString::number(v.toInt());
        return parts.join(QLatin1String(", "));
    }
    case ParamSpec::Type::Bool: return value.toBool() ? QStringLiteral("true") : QStringLiteral("false");
    case ParamSpec::Type::Float: return QString::number(value.toDouble(), 'g', 8);
    default: return value.toString();
    }
}

NodeTypeInfo NodeGraphModel::nodeType(const QString& typeId) const
{
    for (const NodeTypeInfo& t : nodeTypes())
        if (t.id == typeId) return t;
    return {};
}

QList<EdgeInfo> NodeGraphModel::edgesOf(const QString& nodeId) const
{
    QList<EdgeInfo> out;
    for (const EdgeInfo& e : edges())
        if (e.from.node == nodeId || e.to.node == nodeId) out << e;
    return out;
}

bool NodeGraphModel::hasNodeNamed(const QString& name) const
{
    for (const QString& id : nodeIds())
        if (node(id).name == name) return true;
    return false;
}

NodeAnnotation NodeGraphModel::nodeAnnotation(const QString&) const { return {}; }

QString NodeGraphModel::edgeLabel(const EdgeInfo&) const { return {}; }

QString NodeGraphModel::addNode(const QString& typeId, const QPointF& pos)
{
    NodeInfo n;
    n.typeId = typeId;
    n.pos = pos;
    return insertNode(n);
}

}  // namespace kiln::widgets
