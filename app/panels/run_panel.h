// Run: the Designer's graph run over a dataset on a chosen device — LibTorch on the CPU or
// Kiln's Vulkan executor on any GPU — with accuracy, throughput, the difference from LibTorch,
// the confusion matrix and sample predictions. Each run adds a row, so devices compare at a glance.
#pragma once

#include "kiln/graph_inference.h"
#include "qt/job_handle.h"

#include <QPointer>
#include <QWidget>

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QSpinBox;
class QTableWidget;

namespace kiln::qt {
class EngineThread;
}

namespace kiln::app {

class GraphEditorModel;
class SystemFacts;

class RunPanel : public QWidget {
    Q_OBJECT
public:
    RunPanel(kiln::qt::EngineThread& engine, GraphEditorModel& graph, SystemFacts& facts, QWidget* parent = nullptr);

    kiln::train::InferenceConfig config() const;  // from the form
    void start();
    void cancel();
    // Selects the device whose combo entry contains `part` ("cpu", "vulkan"); false if none does.
    bool selectDevice(const QString& part);
    void setWeights(const QString& path);
    kiln::qt::JobHandle* job() const { return job_; }

Q_SIGNALS:
    void statusMessage(const QString& text);
    void finishedRun(bool succeeded);  // after the job has ended, so the next run may start

private:
    void fillDevices();
    void showReport(const kiln::train::InferenceReport& r);
    void updateButtons();

    kiln::qt::EngineThread& engine_;
    GraphEditorModel& graph_;
    SystemFacts& facts_;
    QPointer<kiln::qt::JobHandle> job_;

    QComboBox* device_;
    QLineEdit* weights_;
    QComboBox* dataset_;
    QLineEdit* dataPath_;
    QSpinBox* batch_;
    QSpinBox* limit_;
    QCheckBox* compare_;
    QCheckBox* halfWeights_;
    QPushButton* run_;
    QPushButton* cancel_;
    QLabel* state_;
    QLabel* summary_;
    QTableWidget* runs_;
    QTableWidget* confusion_;
    QLabel* predictions_;
};

}  // namespace kiln::app
