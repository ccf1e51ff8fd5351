// The UI's view of one job. Lives on the UI thread; the engine reaches it only through
// queued invocations, so its state changes and signals always arrive on the UI thread.
#pragma once

#include "kiln/job.h"

#include <QElapsedTimer>
#include <QObject>
#include <QString>
#include <memory>
#include <optional>

namespace kiln::qt {

class JobHandle : public QObject {
    Q_OBJECT

public:
    ~JobHandle() override;  // cancels the job and waits until the engine has let go of it

    JobId id() const { return id_; }
    QString title() const { return title_; }
    JobState state() const { return state_; }
    bool isFinished() const { return kiln::isFinished(state_); }
    double progress() const { return progress_; }  // 0..1, or -1 while unknown
    QString message() const { return message_; }
    const std::optional<Error>& error() const { return error_; }
    QString errorText() const;
    double elapsedSeconds() const;
    double etaSeconds() const;  // -1 while it cannot be estimated

public Q_SLOTS:
    void cancel();

Q_SIGNALS:
    void started();
    void progressChanged(double progress, const QString& message);
    void metricsArrived(const std::vector<kiln::Metric>& metrics);
    void previewArrived(const std::shared_ptr<const kiln::Preview>& preview);
    void finished(kiln::JobState state);
    void stateChanged(kiln::JobState state);

private:
    friend class EngineThread;
    friend class HandleObserver;
    JobHandle(std::shared_ptr<JobQueue> queue, QString title, QObject* parent);

    void applyStarted();
    void applyUpdate(const JobUpdate& update);
    void applyFinished(JobState state, const std::optional<Error>& error);

    std::shared_ptr<JobQueue> queue_;
    JobId id_ = 0;
    QString title_;
    JobState state_ = JobState::Queued;
    double progress_ = -1;
    QString message_;
    std::optional<Error> error_;
    QElapsedTimer clock_;
    double finalSeconds_ = -1;
};

}  // namespace kiln::qt
