#include "preferences_dialog.h"

#include "system_facts.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QLabel>
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
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);

    auto* form = new QFormLayout(this);
    form->addRow(tr("Theme:"), theme_);
    form->addRow(tr("Vulkan device:"), device_);
    form->addRow(note);
    form->addRow(buttons);
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
