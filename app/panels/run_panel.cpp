#include "panels/run_panel.h"

#include "designer/graph_editor_model.h"
#include "kiln/weights.h"
#include "panels/evaluation_view.h"
#include "qt/engine_thread.h"
#include "system_facts.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>
#include <QSplitter>
#include <QTableWidget>
#include <QVBoxLayout>

namespace kiln::app {

using namespace kiln::train;

RunPanel::RunPanel(kiln::qt::EngineThread& engine, GraphEditorModel& graph, SystemFacts& facts, QWidget* parent)
    : QWidget(parent), engine_(engine), graph_(graph), facts_(facts)
{
    auto* box = new QGroupBox(tr("Run the graph"), this);
    device_ = new QComboBox(box);
    device_->setObjectName(QStringLiteral("runDeviceCombo"));
    weights_ = new QLineEdit(box);
    weights_->setObjectName(QStringLiteral("runWeightsEdit"));
    weights_->setPlaceholderText(tr("fresh weights (seeded); pick a checkpoint saved by training"));
    auto* browse = new QPushButton(tr("…"), box);
    connect(browse, &QPushButton::clicked, this, [this] {
        const QString f = QFileDialog::getOpenFileName(this, tr("Weights"), weights_->text(), tr("Checkpoints (*.safetensors)"));
        if (!f.isEmpty()) weights_->setText(f);
    });
    auto* weightsRow = new QHBoxLayout;
    weightsRow->addWidget(weights_, 1);
    weightsRow->addWidget(browse);
    dataset_ = new QComboBox(box);
    dataset_->addItem(tr("Fashion-MNIST test set"), int(DatasetKind::FashionMnist));
    dataset_->addItem(tr("Image folder (validation split)"), int(DatasetKind::ImageFolder));
    dataset_->addItem(tr("Text file (validation split)"), int(DatasetKind::Text));
    dataPath_ = new QLineEdit(box);
    dataPath_->setPlaceholderText(tr("the default location"));
    batch_ = new QSpinBox(box);
    batch_->setRange(1, 4096);
    batch_->setValue(256);
    limit_ = new QSpinBox(box);
    limit_->setObjectName(QStringLiteral("runLimitSpin"));
    limit_->setRange(0, 10'000'000);
    limit_->setSpecialValueText(tr("all"));
    compare_ = new QCheckBox(tr("compare the first batch with LibTorch"), box);
    compare_->setChecked(true);
    halfWeights_ = new QCheckBox(tr("fp16 weights (Vulkan)"), box);
    halfWeights_->setObjectName(QStringLiteral("runHalfWeightsCheck"));
    halfWeights_->setToolTip(tr("Store convolution and Linear weights as fp16 on the device: half the memory, "
                                "fp32 arithmetic. Devices without fp16 storage keep fp32."));
    run_ = new QPushButton(tr("Run"), box);
    run_->setObjectName(QStringLiteral("runButton"));
    cancel_ = new QPushButton(tr("Cancel"), box);
    state_ = new QLabel(tr("Ready."), box);
    state_->setWordWrap(true);
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(run_);
    buttons->addWidget(cancel_);
    buttons->addStretch();
    auto* form = new QFormLayout(box);
    form->addRow(tr("Device:"), device_);
    form->addRow(tr("Weights:"), weightsRow);
    form->addRow(tr("Data:"), dataset_);
    form->addRow(tr("Data path:"), dataPath_);
    form->addRow(tr("Batch:"), batch_);
    form->addRow(tr("Items:"), limit_);
    form->addRow(compare_);
    form->addRow(halfWeights_);
    form->addRow(buttons);
    form->addRow(state_);
    box->setMaximumWidth(380);

    summary_ = new QLabel(this);
    summary_->setObjectName(QStringLiteral("runSummary"));
    summary_->setWordWrap(true);
    summary_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    runs_ = new QTableWidget(0, 6, this);
    runs_->setObjectName(QStringLiteral("runsTable"));
    runs_->setHorizontalHeaderLabels({tr("Device"), tr("Items"), tr("Items/s"), tr("Accuracy"), tr("Max |Δ| vs LibTorch"), tr("Dispatches")});
    runs_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    runs_->horizontalHeader()->setStretchLastSection(true);
    runs_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    runs_->setMaximumHeight(120);
    confusion_ = new QTableWidget(this);
    confusion_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    confusion_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    predictions_ = new QLabel(this);
    predictions_->setObjectName(QStringLiteral("runPredictions"));
    predictions_->setAlignment(Qt::AlignCenter);
    predictions_->setMinimumSize(280, 200);
    auto* eval = new QSplitter(this);
    eval->addWidget(confusion_);
    eval->addWidget(predictions_);
    eval->setStretchFactor(0, 3);
    eval->setStretchFactor(1, 2);

    auto* results = new QVBoxLayout;
    results->addWidget(summary_);
    results->addWidget(runs_);
    results->addWidget(eval, 1);
    auto* layout = new QHBoxLayout(this);
    layout->addWidget(box);
    layout->addLayout(results, 1);

    connect(run_, &QPushButton::clicked, this, &RunPanel::start);
    connect(cancel_, &QPushButton::clicked, this, &RunPanel::cancel);
    connect(&facts_, &SystemFacts::reportReady, this, &RunPanel::fillDevices);
    fillDevices();
    updateButtons();
}

void RunPanel::fillDevices()
{
    const QString current = device_->currentData().toString();
    device_->clear();
    device_->addItem(tr("CPU (LibTorch)"), QStringLiteral("cpu"));
    if (const auto& r = facts_.report())
        for (const auto& d : r->vulkan.devices)
            if (d.unusable.empty())
                device_->addItem(tr("Vulkan: %1").arg(QString::fromStdString(d.name)), QStringLiteral("vulkan:%1").arg(d.index));
    device_->setCurrentIndex(std::max(0, device_->findData(current)));
}

bool RunPanel::selectDevice(const QString& part)
{
    for (int i = 0; i < device_->count(); ++i)
        if (device_->itemText(i).contains(part, Qt::CaseInsensitive)) {
            device_->setCurrentIndex(i);
            return true;
        }
    return false;
}

void RunPanel::setWeights(const QString& path)
{
    weights_->setText(path);
}

InferenceConfig RunPanel::config() const
{
    InferenceConfig c;
    c.device = device_->currentData().toString().toStdString();
    c.vulkanPreferred = QSettings().value(QStringLiteral("vulkan/device")).toString().toStdString();
    c.weights = weights_->text().trimmed().toStdString();
    c.data.kind = static_cast<DatasetKind>(dataset_->currentData().toInt());
    c.data.path = dataPath_->text().trimmed().toStdString();
    c.batchSize = batch_->value();
    c.maxItems = limit_->value();
    c.compareWithCpu = compare_->isChecked();
    c.halfWeights = halfWeights_->isChecked();
    return c;
}

void RunPanel::start()
{
    if (job_ && !job_->isFinished()) return;
    if (graph_.info().firstError) {
        state_->setText(tr("The graph has a shape error: %1").arg(QString::fromStdString(graph_.info().firstError->message())));
        return;
    }
    const InferenceConfig cfg = config();
    QPointer<RunPanel> self(this);
    auto onDone = [self](const InferenceReport& r) {
        QMetaObject::invokeMethod(self.data(), [self, r] { if (self) self->showReport(r); }, Qt::QueuedConnection);
    };
    job_ = engine_.submit(tr("Run on %1").arg(device_->currentText()), makeGraphInferenceJob(graph_.graph(), cfg, onDone));
    connect(job_, &kiln::qt::JobHandle::progressChanged, this, [this] {
        if (job_ && !job_->isFinished()) state_->setText(tr("Running… %1").arg(job_->message()));
    });
    connect(job_, &kiln::qt::JobHandle::finished, this, [this](JobState s) {
        if (s == JobState::Failed) state_->setText(tr("Failed: %1").arg(job_->errorText()));
        else if (s == JobState::Cancelled) state_->setText(tr("Cancelled."));
        else state_->setText(tr("Finished."));
        updateButtons();
        Q_EMIT finishedRun(s == JobState::Succeeded);
    });
    state_->setText(tr("Queued."));
    updateButtons();
}

void RunPanel::cancel()
{
    if (job_) job_->cancel();
}

void RunPanel::showReport(const InferenceReport& r)
{
    const auto& ev = r.evaluation;
    QString text = tr("<b>%1</b>: %2 items in %3 s, <b>%4 items/s</b>")
                       .arg(QString::fromStdString(r.device).toHtmlEscaped())
                       .arg(ev.items)
                       .arg(r.seconds, 0, 'f', 2)
                       .arg(r.itemsPerSecond, 0, 'f', 0);
    if (ev.accuracy >= 0) text += tr(", accuracy <b>%1%</b>").arg(ev.accuracy * 100, 0, 'f', 2);
    text += tr(", loss %1").arg(ev.loss, 0, 'f', 4);
    if (r.maxDifferenceVsCpu >= 0) text += tr("<br>Largest difference from LibTorch over the first batch: %1").arg(r.maxDifferenceVsCpu, 0, 'g', 3);
    if (r.dispatchesPerForward)
        text += tr("<br>%1 dispatches per forward (one submit), %2 of device memory")
                    .arg(r.dispatchesPerForward)
                    .arg(QString::fromStdString(kiln::formatBytes(r.deviceMemoryBytes)));
    if (!r.fallback.empty()) text += tr("<br><i>%1</i>").arg(QString::fromStdString(r.fallback).toHtmlEscaped());
    summary_->setText(text);

    const int row = runs_->rowCount();
    runs_->insertRow(row);
    const QStringList cells = {QString::fromStdString(r.device), QString::number(ev.items), QString::number(r.itemsPerSecond, 'f', 0),
                               ev.accuracy >= 0 ? QStringLiteral("%1%").arg(ev.accuracy * 100, 0, 'f', 2) : QStringLiteral("–"),
                               r.maxDifferenceVsCpu >= 0 ? QString::number(r.maxDifferenceVsCpu, 'g', 3) : QStringLiteral("–"),
                               r.dispatchesPerForward ? QString::number(r.dispatchesPerForward) : QStringLiteral("–")};
    for (int c = 0; c < cells.size(); ++c) runs_->setItem(row, c, new QTableWidgetItem(cells[c]));
    showConfusion(confusion_, ev, r.classNames);
    if (r.predictions) showPreview(predictions_, *r.predictions);
    Q_EMIT statusMessage(tr("Ran on %1: %2 items/s").arg(QString::fromStdString(r.device)).arg(r.itemsPerSecond, 0, 'f', 0));
}

void RunPanel::updateButtons()
{
    const bool running = job_ && !job_->isFinished();
    run_->setEnabled(!running);
    cancel_->setEnabled(running);
}

}  // namespace kiln::app
