#include "about_dialog.h"

#include "system_facts.h"

#include <QDialogButtonBox>
#include <QFontDatabase>
#include <QHBoxLayout>
#include <QIcon>
#include <QLabel>
#include <QPlainTextEdit>
#include <QVBoxLayout>

namespace kiln::app {

AboutDialog::AboutDialog(const SystemFacts& facts, const QStringList& plugins, QWidget* parent)
    : QDialog(parent), facts_(facts), plugins_(plugins), details_(new QPlainTextEdit(this))
{
    setWindowTitle(tr("About Kiln"));
    auto* icon = new QLabel(this);
    icon->setPixmap(QIcon(QStringLiteral(":/kiln/icons/kiln.svg")).pixmap(72, 72));
    auto* heading = new QLabel(tr("<h2>Kiln %1</h2><p>Design, train and run neural networks in one native "
                                  "window.<br>GPL-3.0-or-later.</p>")
                                   .arg(QStringLiteral(KILN_VERSION)),
                               this);
    auto* top = new QHBoxLayout;
    top->addWidget(icon);
    top->addWidget(heading, 1);

    details_->setObjectName(QStringLiteral("aboutDetails"));
    details_->setReadOnly(true);
    details_->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    details_->setLineWrapMode(QPlainTextEdit::NoWrap);

    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close, this);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(top);
    layout->addWidget(details_, 1);
    layout->addWidget(buttons);
    resize(760, 420);
    refresh();
    connect(&facts, &SystemFacts::reportReady, this, &AboutDialog::refresh);
}

void AboutDialog::refresh()
{
    QStringList lines = facts_.lines();
    lines << QString() << (plugins_.isEmpty() ? tr("Plugins: none loaded") : tr("Plugins:"));
    for (const QString& p : plugins_) lines << QStringLiteral("  ") + p;
    details_->setPlainText(lines.join(QLatin1Char('\n')));
}

QString AboutDialog::text() const
{
    return details_->toPlainText();
}

}  // namespace kiln::app
