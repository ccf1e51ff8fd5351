#include "preferences_dialog.h"

#include "system_facts.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSettings>
#include <algorithm>

namespace kiln::app {

PreferencesDialog::PreferencesDialog(const SystemFacts& facts, QWidget* parent)
    : QDialog(parent), theme_(new QComboBox(this)), device_(new QComboBox(this))
{
    setWindowTitle(tr("Preferences"));
    QSettings s;
    theme_->setObjectName(QStringLiteral("themeCombo"));
    theme_->addItem(tr("System"), QStringLiteral("system"));
    theme_->addItem(tr("Light"), QStringLiteral("light"));
    theme_->addItem(tr("Dark"), QStringLiteral("dark"));
    theme_->setCurrentIndex(std::max(0, theme_->findData(s.value(QStringLiteral("ui/theme"), QStringLiteral("system")))));

    device_->setObjectName(QStringLiteral("vulkanDeviceCombo"));
    device_->addItem(tr("Automatic (discrete, then integrated GPU, then CPU)"), QString());
    if (const auto& r = facts.report()) {
        for (const auto& d : r->vulkan.devices) {
            const QString name = QString::fromStdString(d.name);
            device_->addItem(QStringLiteral("%1 (%2)").arg(name, QString::fromStdString(d.type)), name);
        }
    }
    const QString current = s.value(QStringLiteral("vulkan/device")).toString();
    if (!current.isEmpty() && device_->findData(current) < 0) device_->addItem(current, current);
    device_->setCurrentIndex(std::max(0, device_->findData(current)));

    auto* note = new QLabel(tr("The environment variable KILN_VULKAN_DEVICE (an index or part of a name) "
                               "overrides this choice."),
                            this);
    note->setWordWrap(true);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    connect(buttons, &QDialogButtonBox::accepted, this, [this] {
        saveModelFolders();
        accept();
    });
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);

    auto* form = new QFormLayout(this);
    form->addRow(tr("Theme:"), theme_);
    form->addRow(tr("Vulkan device:"), device_);
    form->addRow(note);
    form->addRow(buildModelFolders());
    form->addRow(buttons);
}

QString PreferencesDialog::modelFolderKey(kiln::diffusion::ModelKind kind)
{
    return QStringLiteral("models/") + QString::fromLatin1(kiln::diffusion::modelKindId(kind));
}

QStringList PreferencesDialog::modelFolderKeys()
{
    QStringList keys;
    for (auto k : kiln::diffusion::kModelKinds) keys << modelFolderKey(k);
    return keys;
}

QWidget* PreferencesDialog::buildModelFolders()
{
    auto* group = new QGroupBox(tr("Model folders"), this);
    group->setObjectName(QStringLiteral("modelFoldersGroup"));
    auto* form = new QFormLayout(group);
    const QStringList labels = {tr("Checkpoints:"), tr("VAE:"), tr("LoRA:"), tr("Embeddings:")};
    const QStringList examples = {QStringLiteral("stable-diffusion-webui/models/Stable-diffusion"),
                                  QStringLiteral("stable-diffusion-webui/models/VAE"),
                                  QStringLiteral("stable-diffusion-webui/models/Lora"),
                                  QStringLiteral("stable-diffusion-webui/embeddings")};
    QSettings s;
    const QStringList keys = modelFolderKeys();
    for (int i = 0; i < keys.size(); ++i) {
        const QString& key = keys[i];
        auto* edit = new QLineEdit(s.value(key).toString(), group);
        edit->setObjectName(QStringLiteral("folderEdit_") + key.section(QLatin1Char('/'), 1));
        edit->setPlaceholderText(tr("e.g. %1").arg(examples[i]));
        edit->setClearButtonEnabled(true);
        auto* browse = new QPushButton(tr("Browse…"), group);
        browse->setObjectName(QStringLiteral("folderBrowse_") + key.section(QLatin1Char('/'), 1));
        connect(browse, &QPushButton::clicked, this, [this, edit, label = labels[i]] {
            const QString dir = QFileDialog::getExistingDirectory(this, label.chopped(1), edit->text());
            if (!dir.isEmpty()) edit->setText(dir);
        });
        auto* row = new QHBoxLayout;
        row->addWidget(edit, 1);
        row->addWidget(browse);
        form->addRow(labels[i], row);
        folders_.insert(key, edit);
    }
    auto* note = new QLabel(tr("Folders are searched with their subfolders for .safetensors, .ckpt, .pt, .pth and "
                               ".bin files and diffusers folders; A1111 and ComfyUI folders can be used as they are."),
                            group);
    note->setWordWrap(true);
    form->addRow(note);
    return group;
}

QString PreferencesDialog::modelFolder(const QString& key) const
{
    const auto* edit = folders_.value(key);
    return edit ? edit->text().trimmed() : QString();
}

void PreferencesDialog::setModelFolder(const QString& key, const QString& path)
{
    if (auto* edit = folders_.value(key)) edit->setText(path);
}

void PreferencesDialog::saveModelFolders() const
{
    QSettings s;
    for (auto it = folders_.cbegin(); it != folders_.cend(); ++it) {
        const QString path = it.value()->text().trimmed();
        if (path.isEmpty()) s.remove(it.key());
        else s.setValue(it.key(), path);
    }
}

QString PreferencesDialog::theme() const
{
    return theme_->currentData().toString();
}

QString PreferencesDialog::vulkanDevice() const
{
    return device_->currentData().toString();
}

}  // namespace kiln::app
