// Auto-layout: layers left to right by depth (the longest path from a source), nodes in a
// layer ordered by where their inputs sit so that edges cross less.
#pragma once

#include "widgets/node_editor/node_graph_model.h"

#include <QHash>
#include <QSizeF>

namespace kiln::widgets {

// Longest-path depth of every node; nodes on a cycle get a finite depth all the same.
QHash<QString, int> layerDepths(const QStringList& nodeIds, const QList<EdgeInfo>& edges);

// New top-left positions; the layout's top-left corner lands on `origin`.
QHash<QString, QPointF> layeredLayout(const QStringList& nodeIds, const QList<EdgeInfo>& edges,
                                      const QHash<QString, QSizeF>& sizes, const QPointF& origin,
                                      qreal columnGap = 90, qreal rowGap = 36);

}  // namespace kiln::widgets
