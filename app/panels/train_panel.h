// Train: the graph in the Designer trained as a job, with live charts (loss, accuracy,
// learning rate, throughput; runs overlaid), and after each epoch the confusion matrix, the
// per-class accuracy, a grid of sample predictions or a text sample.
#pragma once

#include "kiln/train_config.h"
#include "kiln/train_run.h"
#include "qt/job_handle.h"

#include <QPointer>
#include <QWidget>
#include <memory>

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QPushButton;
class QSpinBox;
class QTableWidget;

namespace kiln::qt {
class EngineThread;
}
namespace kiln::widgets {
class MetricChart;
}

namespace kiln::app {

class GraphEditorModel;

class TrainPanel : public QWidget {
    Q_OBJECT
public:
    TrainPanel(kiln::qt::EngineThread& engine, GraphEditorModel& graph, QWidget* parent = nullptr);

    kiln::train::TrainConfig config() const;  // from the form
    void start();
    void togglePause();
    void stop();
    kiln::qt::JobHandle* job() const { return job_; }
    kiln::widgets::MetricChart& lossChart() { return *loss_; }
    kiln::widgets::MetricChart& accuracyChart() { return *accuracy_; }

Q_SIGNALS:
    void statusMessage(const QString& text);

private:
    QWidget* buildForm();
    QWidget* buildResults();
    void showEpoch(const kiln::train::EpochReport& r);
    void addMetrics(const std::vector<kiln::Metric>& metrics);
    void updateButtons();

    kiln::qt::EngineThread& engine_;
    GraphEditorModel& graph_;
    QPointer<kiln::qt::JobHandle> job_;
    std::shared_ptr<kiln::PauseControl> pause_;
    QString run_;
    int runCount_ = 0;

    QComboBox* dataset_;
    QLineEdit* dataPath_;
    QSpinBox* epochs_;
    QSpinBox* batch_;
    QComboBox* optimizer_;
    QDoubleSpinBox* lr_;
    QDoubleSpinBox* weightDecay_;
    QComboBox* schedule_;
    QSpinBox* warmup_;
    QDoubleSpinBox* clip_;
    QCheckBox* augment_;
    QSpinBox* maxTrain_;
    QLineEdit* checkpoints_;
    QCheckBox* resume_;
    QPushButton* start_;
    QPushButton* pauseButton_;
    QPushButton* stop_;
    QLabel* state_;

    kiln::widgets::MetricChart* loss_;
    kiln::widgets::MetricChart* accuracy_;
    kiln::widgets::MetricChart* lr_chart_;
    kiln::widgets::MetricChart* throughput_;
    QTableWidget* confusion_;
    QLabel* predictions_;
    QPlainTextEdit* textSample_;
};

}  // namespace kiln::app
