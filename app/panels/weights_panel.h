// Weights: open a safetensors file or a PyTorch checkpoint and see its tensors and metadata.
// The file is read by a job on the engine thread; the panel only shows the summary.
#pragma once

#include "kiln/weights.h"

#include <QPointer>
#include <QWidget>

class QLabel;
class QLineEdit;
class QTreeWidget;
class QTableWidget;

namespace kiln::qt {
class EngineThread;
class JobHandle;
}  // namespace kiln::qt

namespace kiln::app {

class WeightsPanel : public QWidget {
    Q_OBJECT
public:
    WeightsPanel(kiln::qt::EngineThread& engine, QWidget* parent = nullptr);

    void open(const QString& path);
    void chooseAndOpen();
    QString currentPath() const { return path_; }

Q_SIGNALS:
    void fileOpened(const QString& path);  // for the recent-files list
    void statusMessage(const QString& text);

protected:
    void dragEnterEvent(QDragEnterEvent* e) override;
    void dropEvent(QDropEvent* e) override;

private:
    void show(const WeightsSummary& s);
    void showError(const QString& text);
    void applyFilter(const QString& text);

    kiln::qt::EngineThread& engine_;
    QPointer<kiln::qt::JobHandle> job_;
    QString path_;
    QLabel* title_;
    QLabel* summary_;
    QLineEdit* filter_;
    QTreeWidget* tensors_;
    QTableWidget* metadata_;
};

}  // namespace kiln::app
