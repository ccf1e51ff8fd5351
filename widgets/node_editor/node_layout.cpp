#include "widgets/node_editor/node_layout.h"

#include <QSet>

#include <algorithm>
#include <climits>

namespace kiln::widgets {

QHash<QString, int> layerDepths(const QStringList& nodeIds, const QList<EdgeInfo>& edges)
{
    const QSet<QString> present(nodeIds.cbegin(), nodeIds.cend());
    QHash<QString, QStringList> next;
    QHash<QString, int> indegree;
    for (const QString& id : nodeIds) indegree.insert(id, 0);
    for (const EdgeInfo& e : edges) {
        if (!present.contains(e.from.node) || !present.contains(e.to.node) || e.from.node == e.to.node) continue;
        next[e.from.node] << e.to.node;
        ++indegree[e.to.node];
    }
    // Kahn's order; whatever a cycle leaves unvisited is released in model order, so a
    // half-built cyclic graph still lays out instead of piling into column zero.
    QHash<QString, int> depth;
    QStringList ready;
    for (const QString& id : nodeIds)
        if (indegree.value(id) == 0) ready << id;
    QSet<QString> done;
    int cursor = 0;
    while (done.size() < nodeIds.size()) {
        if (ready.size() == cursor) {
            for (const QString& id : nodeIds)
                if (!done.contains(id) && !ready.mid(cursor).contains(id)) {
                    ready << id;
                    break;
                }
        }
        const QString id = ready[cursor++];
        if (done.contains(id)) continue;
        done.insert(id);
        const int d = depth.value(id, 0);
        depth.insert(id, d);
        for (const QString& to : next.value(id)) {
            if (done.contains(to)) continue;
            depth.insert(to, std::max(depth.value(to, 0), d + 1));
            if (--indegree[to] == 0) ready << to;
        }
    }
    // A source that feeds only late nodes (labels into a loss) moves up to just before its
    // first consumer, instead of dragging an edge across the whole graph from column zero.
    for (const QString& id : nodeIds) {
        bool isSource = true;
        for (const EdgeInfo& e : edges)
            if (e.to.node == id && present.contains(e.from.node) && e.from.node != id) isSource = false;
        const QStringList& outs = next.value(id);
        if (!isSource || outs.isEmpty()) continue;
        int first = INT_MAX;
        for (const QString& to : outs) first = std::min(first, depth.value(to));
        depth[id] = std::max(depth.value(id), first - 1);
    }
    return depth;
}

QHash<QString, QPointF> layeredLayout(const QStringList& nodeIds, const QList<EdgeInfo>& edges,
                                      const QHash<QString, QSizeF>& sizes, const QPointF& origin, qreal columnGap,
                                      qreal rowGap)
{
    const QHash<QString, int> depth = layerDepths(nodeIds, edges);
    int layers = 0;
    for (int d : depth) layers = std::max(layers, d + 1);
    QList<QStringList> columns(layers);
    for (const QString& id : nodeIds) columns[depth.value(id)] << id;  // model order is the tie-break

    QHash<QString, QStringList> inputsOf;
    for (const EdgeInfo& e : edges) inputsOf[e.to.node] << e.from.node;

    QHash<QString, qreal> rank;  // vertical order within the previous column
    QHash<QString, QPointF> out;
    qreal x = origin.x();
    qreal tallest = 0;
    QList<qreal> heights;
    for (int c = 0; c < layers; ++c) {
        QStringList& col = columns[c];
        // Barycentre of the inputs' ranks: a node sits level with what feeds it.
        QHash<QString, qreal> key;
        for (int i = 0; i < col.size(); ++i) {
            qreal sum = 0;
            int n = 0;
            for (const QString& from : inputsOf.value(col[i]))
                if (rank.contains(from)) sum += rank.value(from), ++n;
            key.insert(col[i], n ? sum / n : i);
        }
        std::stable_sort(col.begin(), col.end(), [&](const QString& a, const QString& b) { return key[a] < key[b]; });
        qreal width = 0, h = 0;
        for (int i = 0; i < col.size(); ++i) {
            rank.insert(col[i], i);
            const QSizeF s = sizes.value(col[i], QSizeF(160, 80));
            width = std::max(width, s.width());
            h += s.height() + (i ? rowGap : 0);
        }
        heights << h;
        tallest = std::max(tallest, h);
        qreal y = 0;
        for (const QString& id : col) {
            out.insert(id, QPointF(x, y));
            y += sizes.value(id, QSizeF(160, 80)).height() + rowGap;
        }
        x += width + columnGap;
    }
    // Centre each column on the tallest so a chain reads as a straight line.
    for (int c = 0; c < layers; ++c)
        for (const QString& id : columns[c]) out[id] += QPointF(0, origin.y() + (tallest - heights[c]) / 2);
    return out;
}

}  // namespace kiln::widgets
