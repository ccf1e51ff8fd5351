#include "panels/train_panel.h"

#include "designer/graph_editor_model.h"
#include "kiln/graph_training.h"
#include "panels/evaluation_view.h"
#include "qt/engine_thread.h"
#include "widgets/charts/metric_chart.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDateTime>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QImage>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QScrollArea>
#include <QSpinBox>
#include <QSplitter>
#include <QStandardPaths>
#include <QTabWidget>
#include <QTableWidget>
#include <QVBoxLayout>
#include <cmath>

namespace kiln::app {

using namespace kiln::train;

namespace {
QDoubleSpinBox* doubleBox(double min, double max, double value, int decimals, QWidget* parent)
{
    auto* b = new QDoubleSpinBox(parent);
    b->setRange(min, max);
    b->setDecimals(decimals);
    b->setValue(value);
    return b;
}

QSpinBox* intBox(int min, int max, int value, QWidget* parent)
{
    auto* b = new QSpinBox(parent);
    b->setRange(min, max);
    b->setValue(value);
    return b;
}
}  // namespace

TrainPanel::TrainPanel(kiln::qt::EngineThread& engine, GraphEditorModel& graph, QWidget* parent)
    : QWidget(parent), engine_(engine), graph_(graph)
{
    auto* split = new QSplitter(Qt::Horizontal, this);
    split->addWidget(buildForm());
    split->addWidget(buildResults());
    split->setStretchFactor(1, 1);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addWidget(split);
    updateButtons();
}

QWidget* TrainPanel::buildForm()
{
    auto* box = new QGroupBox(tr("Run"), this);
    auto* form = new QFormLayout(box);
    dataset_ = new QComboBox(box);
    dataset_->setObjectName(QStringLiteral("datasetCombo"));
    dataset_->addItem(tr("Fashion-MNIST"), QString::fromLatin1(toId(DatasetKind::FashionMnist).data()));
    dataset_->addItem(tr("Image folder"), QString::fromLatin1(toId(DatasetKind::ImageFolder).data()));
    dataset_->addItem(tr("Text file (characters)"), QString::fromLatin1(toId(DatasetKind::Text).data()));
    dataPath_ = new QLineEdit(box);
    dataPath_->setPlaceholderText(tr("not needed for Fashion-MNIST"));
    auto* browse = new QPushButton(tr("…"), box);
    connect(browse, &QPushButton::clicked, this, [this] {
        const bool folder = dataset_->currentIndex() == 1;
        const QString p = folder ? QFileDialog::getExistingDirectory(this, tr("Image folder"))
                                 : QFileDialog::getOpenFileName(this, tr("Text file"));
        if (!p.isEmpty()) dataPath_->setText(p);
    });
    auto* pathRow = new QHBoxLayout;
    pathRow->addWidget(dataPath_);
    pathRow->addWidget(browse);
    epochs_ = intBox(1, 10000, 5, box);
    epochs_->setObjectName(QStringLiteral("epochsBox"));
    batch_ = intBox(1, 65536, 64, box);
    optimizer_ = new QComboBox(box);
    for (auto k : {OptimizerKind::AdamW, OptimizerKind::Adam, OptimizerKind::Sgd})
        optimizer_->addItem(QString::fromLatin1(toId(k).data()).section(QLatin1Char('.'), 1), QString::fromLatin1(toId(k).data()));
    lr_ = doubleBox(1e-6, 10, 1e-3, 6, box);
    lr_->setSingleStep(1e-4);
    weightDecay_ = doubleBox(0, 1, 0, 5, box);
    schedule_ = new QComboBox(box);
    for (auto k : {ScheduleKind::Cosine, ScheduleKind::Constant, ScheduleKind::Step})
        schedule_->addItem(QString::fromLatin1(toId(k).data()).section(QLatin1Char('.'), 1), QString::fromLatin1(toId(k).data()));
    warmup_ = intBox(0, 1000000, 0, box);
    clip_ = doubleBox(0, 1000, 0, 3, box);
    augment_ = new QCheckBox(tr("flip and crop images"), box);
    maxTrain_ = intBox(0, 100000000, 0, box);
    maxTrain_->setObjectName(QStringLiteral("maxTrainBox"));
    maxTrain_->setSpecialValueText(tr("all"));
    checkpoints_ = new QLineEdit(box);
    checkpoints_->setObjectName(QStringLiteral("checkpointsEdit"));
    checkpoints_->setPlaceholderText(tr("a new folder under Kiln's data folder"));
    resume_ = new QCheckBox(tr("resume from the folder's last checkpoint"), box);

    form->addRow(tr("Dataset:"), dataset_);
    form->addRow(tr("Data:"), pathRow);
    form->addRow(tr("Epochs:"), epochs_);
    form->addRow(tr("Batch size:"), batch_);
    form->addRow(tr("Optimizer:"), optimizer_);
    form->addRow(tr("Learning rate:"), lr_);
    form->addRow(tr("Weight decay:"), weightDecay_);
    form->addRow(tr("Schedule:"), schedule_);
    form->addRow(tr("Warm-up steps:"), warmup_);
    form->addRow(tr("Clip grad norm:"), clip_);
    form->addRow(tr("Augment:"), augment_);
    form->addRow(tr("Training samples:"), maxTrain_);
    form->addRow(tr("Checkpoints:"), checkpoints_);
    form->addRow(QString(), resume_);

    start_ = new QPushButton(tr("Start"), box);
    start_->setObjectName(QStringLiteral("startTrainingButton"));
    pauseButton_ = new QPushButton(tr("Pause"), box);
    pauseButton_->setObjectName(QStringLiteral("pauseTrainingButton"));
    stop_ = new QPushButton(tr("Stop"), box);
    stop_->setObjectName(QStringLiteral("stopTrainingButton"));
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(start_);
    buttons->addWidget(pauseButton_);
    buttons->addWidget(stop_);
    form->addRow(buttons);
    state_ = new QLabel(box);
    state_->setObjectName(QStringLiteral("trainState"));
    state_->setWordWrap(true);
    form->addRow(state_);
    connect(start_, &QPushButton::clicked, this, &TrainPanel::start);
    connect(pauseButton_, &QPushButton::clicked, this, &TrainPanel::togglePause);
    connect(stop_, &QPushButton::clicked, this, &TrainPanel::stop);
    box->setMaximumWidth(340);
    return box;
}

QWidget* TrainPanel::buildResults()
{
    auto* tabs = new QTabWidget(this);
    auto* charts = new QWidget(tabs);
    auto* grid = new QGridLayout(charts);
    auto chart = [&](const QString& title, const QString& y) {
        auto* c = new kiln::widgets::MetricChart(charts);
        c->setTitle(title);
        c->setValueLabel(y);
        return c;
    };
    loss_ = chart(tr("Loss"), tr("loss"));
    loss_->setObjectName(QStringLiteral("lossChart"));
    accuracy_ = chart(tr("Accuracy"), tr("accuracy"));
    accuracy_->setObjectName(QStringLiteral("accuracyChart"));
    lr_chart_ = chart(tr("Learning rate"), tr("lr"));
    throughput_ = chart(tr("Throughput"), tr("samples/s"));
    for (const char* s : {metric::kValLoss, metric::kTrainEpochLoss}) loss_->setSeriesPerEpoch(QString::fromLatin1(s));
    for (const char* s : {metric::kValAccuracy, metric::kTrainAccuracy}) accuracy_->setSeriesPerEpoch(QString::fromLatin1(s));
    grid->addWidget(loss_, 0, 0);
    grid->addWidget(accuracy_, 0, 1);
    grid->addWidget(lr_chart_, 1, 0);
    grid->addWidget(throughput_, 1, 1);
    // A scroll area keeps the four charts' toolbars from forcing the window wider than the screen.
    auto* scroll = new QScrollArea(tabs);
    scroll->setWidget(charts);
    scroll->setWidgetResizable(true);
    scroll->setFrameShape(QFrame::NoFrame);
    charts->setMinimumSize(720, 480);
    tabs->addTab(scroll, tr("Charts"));

    auto* eval = new QWidget(tabs);
    auto* evalLayout = new QHBoxLayout(eval);
    confusion_ = new QTableWidget(eval);
    confusion_->setObjectName(QStringLiteral("confusionMatrix"));
    confusion_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    confusion_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    predictions_ = new QLabel(eval);
    predictions_->setObjectName(QStringLiteral("predictionGrid"));
    predictions_->setAlignment(Qt::AlignCenter);
    evalLayout->addWidget(confusion_, 3);
    evalLayout->addWidget(predictions_, 2);
    tabs->addTab(eval, tr("Evaluation"));

    textSample_ = new QPlainTextEdit(tabs);
    textSample_->setObjectName(QStringLiteral("textSample"));
    textSample_->setReadOnly(true);
    tabs->addTab(textSample_, tr("Text samples"));
    return tabs;
}

TrainConfig TrainPanel::config() const
{
    TrainConfig c;
    c.data.kind = datasetKindFromId(dataset_->currentData().toString().toStdString()).value_or(DatasetKind::FashionMnist);
    c.data.path = dataPath_->text().toStdString();
    c.data.maxTrainSamples = maxTrain_->value();
    if (augment_->isChecked()) {
        c.data.augment.horizontalFlip = true;
        c.data.augment.cropPadding = 2;
    }
    c.epochs = epochs_->value();
    c.batchSize = batch_->value();
    c.optimizer.kind = optimizerKindFromId(optimizer_->currentData().toString().toStdString()).value_or(OptimizerKind::AdamW);
    c.optimizer.learningRate = lr_->value();
    c.optimizer.weightDecay = weightDecay_->value();
    c.schedule.kind = scheduleKindFromId(schedule_->currentData().toString().toStdString()).value_or(ScheduleKind::Cosine);
    c.schedule.warmupSteps = warmup_->value();
    c.clipGradNorm = clip_->value();
    QString dir = checkpoints_->text();
    if (dir.isEmpty())
        dir = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation) + QStringLiteral("/runs/") +
              QDateTime::currentDateTime().toString(QStringLiteral("yyyyMMdd-HHmmss"));
    c.checkpoint.directory = dir.toStdString();
    c.checkpoint.resume = resume_->isChecked();
    return c;
}

void TrainPanel::start()
{
    if (job_ && !job_->isFinished()) return;
    if (graph_.info().firstError) {
        state_->setText(tr("The graph has a shape error: %1").arg(QString::fromStdString(graph_.info().firstError->message())));
        return;
    }
    const TrainConfig cfg = config();
    QDir().mkpath(QString::fromStdString(cfg.checkpoint.directory));
    ++runCount_;
    run_ = tr("run %1 (%2, lr %3)").arg(runCount_).arg(optimizer_->currentText()).arg(lr_->value());
    pause_ = std::make_shared<PauseControl>();

    // Epoch reports come on the engine thread: hand them to this thread by queued call.
    TrainHooks hooks;
    hooks.pause = pause_;
    QPointer<TrainPanel> self(this);
    hooks.onEpoch = [self](const EpochReport& r) {
        QMetaObject::invokeMethod(self.data(), [self, r] { if (self) self->showEpoch(r); }, Qt::QueuedConnection);
    };
    job_ = engine_.submit(tr("Train %1").arg(run_), makeGraphTrainJob(graph_.graph(), cfg, hooks));
    connect(job_, &kiln::qt::JobHandle::metricsArrived, this, &TrainPanel::addMetrics);
    connect(job_, &kiln::qt::JobHandle::stateChanged, this, &TrainPanel::updateButtons);
    connect(job_, &kiln::qt::JobHandle::progressChanged, this, &TrainPanel::updateButtons);
    connect(job_, &kiln::qt::JobHandle::finished, this, [this, dir = QString::fromStdString(cfg.checkpoint.directory)](JobState s) {
        if (s == JobState::Failed) state_->setText(tr("Failed: %1").arg(job_->errorText()));
        else if (s == JobState::Succeeded) state_->setText(tr("Finished. Checkpoints in %1").arg(dir));
        else state_->setText(tr("Stopped. The last checkpoint is in %1 (tick resume to continue).").arg(dir));
        updateButtons();
    });
    checkpoints_->setText(QString::fromStdString(cfg.checkpoint.directory));
    updateButtons();
}

void TrainPanel::togglePause()
{
    if (!pause_ || !job_ || job_->isFinished()) return;
    if (pause_->paused()) pause_->resume();
    else pause_->pause();
    updateButtons();
}

void TrainPanel::stop()
{
    if (pause_) pause_->resume();
    if (job_) job_->cancel();
}

void TrainPanel::addMetrics(const std::vector<kiln::Metric>& metrics)
{
    for (const auto& m : metrics) {
        const QString name = QString::fromStdString(m.name);
        const double step = static_cast<double>(m.step);
        if (name == QLatin1String(metric::kTrainLoss) || name == QLatin1String(metric::kValLoss) ||
            name == QLatin1String(metric::kTrainEpochLoss))
            loss_->addPoint(run_, name, step, m.value);
        else if (name == QLatin1String(metric::kValAccuracy) || name == QLatin1String(metric::kTrainAccuracy))
            accuracy_->addPoint(run_, name, step, m.value);
        else if (name == QLatin1String(metric::kLearningRate))
            lr_chart_->addPoint(run_, name, step, m.value);
        else if (name == QLatin1String(metric::kThroughput))
            throughput_->addPoint(run_, name, step, m.value);
    }
}

void TrainPanel::showEpoch(const EpochReport& r)
{
    QString line = tr("Epoch %1: val loss %2").arg(r.epoch).arg(r.validation.loss, 0, 'f', 4);
    if (r.validation.accuracy >= 0) line += tr(", accuracy %1%").arg(r.validation.accuracy * 100, 0, 'f', 2);
    if (r.best) line += tr(" (best)");
    state_->setText(line);
    showConfusion(confusion_, r.validation);
    if (r.predictions) showPreview(predictions_, *r.predictions);
    if (!r.textSample.empty())
        textSample_->appendPlainText(tr("— epoch %1 —\n%2\n").arg(r.epoch).arg(QString::fromStdString(r.textSample)));
}

void TrainPanel::updateButtons()
{
    const bool running = job_ && !job_->isFinished();
    start_->setEnabled(!running);
    stop_->setEnabled(running);
    pauseButton_->setEnabled(running);
    pauseButton_->setText(pause_ && pause_->paused() ? tr("Resume") : tr("Pause"));
    if (running && job_->state() == JobState::Running && !(pause_ && pause_->paused()))
        state_->setText(state_->text().startsWith(tr("Epoch")) ? state_->text() : tr("Training…"));
    else if (running && pause_ && pause_->paused())
        state_->setText(tr("Paused"));
}

}  // namespace kiln::app
