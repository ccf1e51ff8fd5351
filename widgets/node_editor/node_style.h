// Colours, fonts and metrics of the canvas, derived from the widget palette so that the
// light and dark themes both read well. One instance is shared by every item of a scene.
#pragma once

#include <QColor>
#include <QFont>
#include <QFontMetricsF>
#include <QPalette>

namespace kiln::widgets {

struct NodeStyle {
    bool dark = false;
    QColor canvas, gridMinor, gridMajor;
    QColor body, bodyBorder, titleText, text, mutedText;
    QColor portFill, portBorder;
    QColor edge, edgeSelected, labelBackground, labelText, labelBorder;
    QColor accent, error, errorBackground, ok;
    QFont titleFont, typeFont, portFont, monoFont;

    // Metrics in scene units (1 unit = 1 pixel at 100 % zoom).
    qreal minWidth = 150, titleHeight = 28, portRow = 20, portRadius = 5, pad = 10, radius = 7;

    static NodeStyle fromPalette(const QPalette& palette);
    // The title colour of a category: explicit when the model gives one, otherwise a
    // stable pick from a small set of hues that stay distinct on both themes.
    QColor categoryColor(const QString& category, const QColor& explicitColor = {}) const;
};

}  // namespace kiln::widgets
