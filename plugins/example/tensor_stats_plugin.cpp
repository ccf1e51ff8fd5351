// Example plugin: Tools > Tensor Statistics. Shows how a plugin adds an action that runs its
// work as a job on the engine thread and shows the result when the job finishes.
#include "kiln/plugin_api.h"
#include "kiln/tensor_stats.h"
#include "qt/engine_thread.h"

#include <QAction>
#include <QDialog>
#include <QFileDialog>
#include <QFileInfo>
#include <QHeaderView>
#include <QLabel>
#include <QMenu>
#include <QMessageBox>
#include <QTableWidget>
#include <QVBoxLayout>
#include <memory>

namespace {

class TensorStatsPlugin final : public QObject, public kiln::Plugin {
    Q_OBJECT
    Q_PLUGIN_METADATA(IID KILN_PLUGIN_IID)
    Q_INTERFACES(kiln::Plugin)

public:
    QString id() const override { return QStringLiteral("plugin.tensor_stats"); }
    QString name() const override { return QStringLiteral("Tensor statistics"); }
    QString version() const override { return QStringLiteral("1.0"); }

    void activate(kiln::StudioContext& studio) override
    {
        studio_ = &studio;
        auto* action = studio.toolsMenu()->addAction(tr("Tensor Statistics…"));
        action->setObjectName(QStringLiteral("actionTensorStats"));
        connect(action, &QAction::triggered, this, [this] {
            const QString path = QFileDialog::getOpenFileName(studio_->window(), tr("Check a weights file"), {},
                                                              tr("Weights (*.safetensors *.ckpt *.pt *.pth *.bin);;All files (*)"));
            if (!path.isEmpty()) run(path);
        });
    }

    void run(const QString& path)
    {
        auto result = std::make_shared<std::optional<kiln::Result<std::vector<kiln::TensorStats>>>>();
        const std::string file = path.toStdString();
        auto* job = studio_->engine().submit(
            tr("Tensor statistics of %1").arg(QFileInfo(path).fileName()),
            [file, result](kiln::JobContext& ctx) -> kiln::Result<void> {
                *result = kiln::computeTensorStats(file, ctx);
                if (!result->value()) return result->value().error();
                return kiln::success();
            },
            this);
        connect(job, &kiln::qt::JobHandle::finished, this, [this, job, result, path](kiln::JobState s) {
            job->deleteLater();
            if (s == kiln::JobState::Failed) {
                QMessageBox::warning(studio_->window(), tr("Tensor statistics"), job->errorText());
            } else if (s == kiln::JobState::Succeeded && *result) {
                show(path, result->value().value());
            }
        });
    }

    void show(const QString& path, const std::vector<kiln::TensorStats>& stats)
    {
        auto* dialog = new QDialog(studio_->window());
        dialog->setAttribute(Qt::WA_DeleteOnClose);
        dialog->setWindowTitle(tr("Tensor statistics — %1").arg(QFileInfo(path).fileName()));
        auto* layout = new QVBoxLayout(dialog);
        std::int64_t bad = 0;
        for (const auto& s : stats) bad += s.nonFinite;
        layout->addWidget(new QLabel(bad ? tr("%1 NaN or infinite values found.").arg(bad)
                                         : tr("All %1 tensors are finite.").arg(stats.size())));
        auto* table = new QTableWidget(static_cast<int>(stats.size()), 8, dialog);
        table->setHorizontalHeaderLabels({tr("Tensor"), tr("DType"), tr("Elements"), tr("NaN/Inf"), tr("Min"),
                                          tr("Max"), tr("Mean"), tr("Std")});
        for (int r = 0; r < static_cast<int>(stats.size()); ++r) {
            const auto& s = stats[static_cast<std::size_t>(r)];
            const QStringList cells = {QString::fromStdString(s.name), QString::fromStdString(s.dtype),
                                       QString::number(s.elements), QString::number(s.nonFinite),
                                       QString::number(s.min, 'g', 5), QString::number(s.max, 'g', 5),
                                       QString::number(s.mean, 'g', 5), QString::number(s.std, 'g', 5)};
            for (int c = 0; c < cells.size(); ++c) table->setItem(r, c, new QTableWidgetItem(cells[c]));
        }
        table->horizontalHeader()->setSectionResizeMode(0, QHeaderView::Stretch);
        layout->addWidget(table);
        dialog->resize(900, 500);
        dialog->show();
    }

private:
    kiln::StudioContext* studio_ = nullptr;
};

}  // namespace

#include "tensor_stats_plugin.moc"
