#include "widgets/theme.h"

#include <QApplication>
#include <QPalette>
#include <QStyle>
#include <QStyleFactory>
#include <memory>

namespace kiln::widgets {

QString themeId(Theme t)
{
    switch (t) {
    case Theme::Light: return QStringLiteral("light");
    case Theme::Dark: return QStringLiteral("dark");
    case Theme::System: break;
    }
    return QStringLiteral("system");
}

Theme themeFromId(const QString& id)
{
    if (id == QLatin1String("light")) return Theme::Light;
    if (id == QLatin1String("dark")) return Theme::Dark;
    return Theme::System;
}

namespace {
QPalette darkPalette()
{
    QPalette p;
    const QColor window(0x2b, 0x2d, 0x31), base(0x1e, 0x1f, 0x22), text(0xdf, 0xe1, 0xe5);
    const QColor accent(0xe0, 0x7a, 0x2f);  // kiln orange
    p.setColor(QPalette::Window, window);
    p.setColor(QPalette::WindowText, text);
    p.setColor(QPalette::Base, base);
    p.setColor(QPalette::AlternateBase, QColor(0x26, 0x27, 0x2b));
    p.setColor(QPalette::ToolTipBase, base);
    p.setColor(QPalette::ToolTipText, text);
    p.setColor(QPalette::PlaceholderText, QColor(0x8a, 0x8d, 0x93));
    p.setColor(QPalette::Text, text);
    p.setColor(QPalette::Button, window);
    p.setColor(QPalette::ButtonText, text);
    p.setColor(QPalette::BrightText, Qt::white);
    p.setColor(QPalette::Highlight, accent);
    p.setColor(QPalette::HighlightedText, Qt::black);
    p.setColor(QPalette::Link, accent.lighter(120));
    p.setColor(QPalette::Mid, QColor(0x3c, 0x3f, 0x44));
    p.setColor(QPalette::Dark, QColor(0x18, 0x19, 0x1b));
    for (auto role : {QPalette::WindowText, QPalette::Text, QPalette::ButtonText})
        p.setColor(QPalette::Disabled, role, QColor(0x6f, 0x72, 0x78));
    return p;
}

QPalette lightPalette()
{
    const std::unique_ptr<QStyle> fusion(QStyleFactory::create(QStringLiteral("Fusion")));
    QPalette p = fusion->standardPalette();
    p.setColor(QPalette::Highlight, QColor(0xd0, 0x6a, 0x1f));
    p.setColor(QPalette::HighlightedText, Qt::white);
    return p;
}
}  // namespace

void applyTheme(QApplication& app, Theme t)
{
    app.setStyle(QStyleFactory::create(QStringLiteral("Fusion")));
    if (t == Theme::System) {
        // Qt 6.4 has no colour-scheme hint: the platform's own window colour tells.
        static const bool dark = QGuiApplication::palette().color(QPalette::Window).lightness() < 128;
        app.setPalette(dark ? darkPalette() : lightPalette());
    } else {
        app.setPalette(t == Theme::Dark ? darkPalette() : lightPalette());
    }
}

}  // namespace kiln::widgets
