// Help > About Kiln: versions of everything Kiln stands on, and the compute devices found.
#pragma once

#include <QDialog>

class QPlainTextEdit;

namespace kiln::app {

class SystemFacts;

class AboutDialog : public QDialog {
    Q_OBJECT
public:
    AboutDialog(const SystemFacts& facts, const QStringList& plugins, QWidget* parent = nullptr);
    QString text() const;

private:
    void refresh();
    const SystemFacts& facts_;
    QStringList plugins_;
    QPlainTextEdit* details_;
};

}  // namespace kiln::app
