// Light and dark looks on the Fusion style, so Kiln looks the same on every desktop.
#pragma once

#include <QString>

class QApplication;

namespace kiln::widgets {

enum class Theme { System, Light, Dark };

QString themeId(Theme t);                 // "system", "light", "dark" (what settings store)
Theme themeFromId(const QString& id);     // unknown ids fall back to System
void applyTheme(QApplication& app, Theme t);

}  // namespace kiln::widgets
