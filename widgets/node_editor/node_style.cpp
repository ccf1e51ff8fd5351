#include "widgets/node_editor/node_style.h"

#include <QFontDatabase>
#include <QGuiApplication>
#include <QString>

namespace kiln::widgets {

NodeStyle NodeStyle::fromPalette(const QPalette& p)
{
    NodeStyle s;
    s.dark = p.color(QPalette::Window).lightness() < 128;
    const QColor text = p.color(QPalette::Text);
    if (s.dark) {
        s.canvas = QColor(0x1b, 0x1c, 0x1f);
        s.gridMinor = QColor(0x24, 0x25, 0x29);
        s.gridMajor = QColor(0x2d, 0x2f, 0x34);
        s.body = QColor(0x2e, 0x30, 0x35);
        s.bodyBorder = QColor(0x45, 0x48, 0x4f);
        s.mutedText = QColor(0xa9, 0xad, 0xb5);
        s.portFill = QColor(0x8c, 0x93, 0x9e);
        s.portBorder = QColor(0x1b, 0x1c, 0x1f);
        s.edge = QColor(0x7e, 0x85, 0x90);
        s.labelBackground = QColor(0x26, 0x28, 0x2c);
        s.labelBorder = QColor(0x40, 0x43, 0x4a);
        s.error = QColor(0xf0, 0x5a, 0x50);
        s.errorBackground = QColor(0x4a, 0x22, 0x22);
        s.ok = QColor(0x4c, 0xc2, 0x6a);
    } else {
        s.canvas = QColor(0xf3, 0xf4, 0xf6);
        s.gridMinor = QColor(0xe8, 0xe9, 0xec);
        s.gridMajor = QColor(0xdb, 0xdd, 0xe1);
        s.body = QColor(0xff, 0xff, 0xff);
        s.bodyBorder = QColor(0xc4, 0xc8, 0xce);
        s.mutedText = QColor(0x5f, 0x64, 0x6d);
        s.portFill = QColor(0x7d, 0x84, 0x8f);
        s.portBorder = QColor(0xff, 0xff, 0xff);
        s.edge = QColor(0x8a, 0x90, 0x99);
        s.labelBackground = QColor(0xff, 0xff, 0xff);
        s.labelBorder = QColor(0xcf, 0xd3, 0xd8);
        s.error = QColor(0xd3, 0x2f, 0x2f);
        s.errorBackground = QColor(0xfd, 0xe7, 0xe7);
        s.ok = QColor(0x2e, 0x9d, 0x4f);
    }
    s.text = text;
    s.titleText = QColor(Qt::white);
    s.labelText = s.dark ? QColor(0xd6, 0xd9, 0xde) : QColor(0x33, 0x37, 0x3d);
    s.accent = p.color(QPalette::Highlight);
    s.edgeSelected = s.accent;

    const QFont base = QGuiApplication::font();
    s.titleFont = base;
    s.titleFont.setPointSizeF(base.pointSizeF() > 0 ? base.pointSizeF() : 9);
    s.titleFont.setBold(true);
    s.typeFont = base;
    s.typeFont.setPointSizeF(s.titleFont.pointSizeF() * 0.82);
    s.portFont = base;
    s.portFont.setPointSizeF(s.titleFont.pointSizeF() * 0.88);
    s.monoFont = QFontDatabase::systemFont(QFontDatabase::FixedFont);
    s.monoFont.setPointSizeF(s.titleFont.pointSizeF() * 0.9);
    return s;
}

QColor NodeStyle::categoryColor(const QString& category, const QColor& explicitColor) const
{
    if (explicitColor.isValid()) return explicitColor;
    // Mid-saturation hues: white title text stays readable on each, in both themes.
    static const QColor hues[] = {
        QColor(0x3d, 0x7e, 0xc9), QColor(0x8a, 0x5c, 0xc7), QColor(0x2f, 0x9a, 0x8a),
        QColor(0xc2, 0x6a, 0x2a), QColor(0xb3, 0x47, 0x7c), QColor(0x5b, 0x8a, 0x32),
        QColor(0x4d, 0x62, 0xb8), QColor(0x9a, 0x7b, 0x22), QColor(0x3a, 0x8d, 0xb0),
    };
    // A fixed string hash (not qHash, which is seeded per process) keeps colours stable.
    quint32 h = 2166136261u;
    for (QChar c : category) h = (h ^ c.unicode()) * 16777619u;
    return hues[h % (sizeof(hues) / sizeof(hues[0]))];
}

}  // namespace kiln::widgets
