// File > Preferences: the look and the Vulkan device, kept in QSettings.
#pragma once

#include <QDialog>

class QComboBox;

namespace kiln::app {

class SystemFacts;

class PreferencesDialog : public QDialog {
    Q_OBJECT
public:
    PreferencesDialog(const SystemFacts& facts, QWidget* parent = nullptr);

    QString theme() const;          // "system", "light", "dark"
    QString vulkanDevice() const;   // "" for automatic, else the device's name

private:
    QComboBox* theme_;
    QComboBox* device_;
};

}  // namespace kiln::app
