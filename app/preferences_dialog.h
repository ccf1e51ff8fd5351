// File > Preferences: the look, the Vulkan device and the model folders, kept in QSettings.
#pragma once

#include "diffusion/model_library.h"

#include <QDialog>
#include <QMap>

class QComboBox;
class QLineEdit;

namespace kiln::app {

class SystemFacts;

class PreferencesDialog : public QDialog {
    Q_OBJECT
public:
    PreferencesDialog(const SystemFacts& facts, QWidget* parent = nullptr);

    QString theme() const;          // "system", "light", "dark"
    QString vulkanDevice() const;   // "" for automatic, else the device's name
    // Folder per settings key ("models/checkpoints", "models/vae", "models/loras", "models/embeddings").
    QString modelFolder(const QString& key) const;
    void setModelFolder(const QString& key, const QString& path);
    // Writes the model folders to QSettings (done on OK).
    void saveModelFolders() const;

    static QString modelFolderKey(kiln::diffusion::ModelKind kind);  // "models/" + modelKindId(kind)
    static QStringList modelFolderKeys();                              // every kind's, in kModelKinds order

private:
    QWidget* buildModelFolders();

    QComboBox* theme_;
    QComboBox* device_;
    QMap<QString, QLineEdit*> folders_;
};

}  // namespace kiln::app
