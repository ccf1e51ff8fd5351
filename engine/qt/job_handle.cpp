#include "qt/job_handle.h"

namespace kiln::qt {

JobHandle::JobHandle(std::shared_ptr<JobQueue> queue, QString title, QObject* parent)
    : QObject(parent), queue_(std::move(queue)), title_(std::move(title))
{
}

JobHandle::~JobHandle()
{
    if (!kiln::isFinished(state_)) {
        queue_->cancel(id_);
        queue_->wait(id_);
    }
}

QString JobHandle::errorText() const
{
    return error_ ? QString::fromStdString(error_->message()) : QString();
}

double JobHandle::elapsedSeconds() const
{
    if (finalSeconds_ >= 0) return finalSeconds_;
    return clock_.isValid() ? clock_.elapsed() / 1000.0 : 0.0;
}

double JobHandle::etaSeconds() const
{
    if (state_ != JobState::Running || progress_ <= 0.01 || progress_ > 1) return -1;
    const double t = elapsedSeconds();
    return t * (1.0 - progress_) / progress_;
}

void JobHandle::cancel()
{
    if (!kiln::isFinished(state_)) queue_->cancel(id_);
}

void JobHandle::applyStarted()
{
    if (kiln::isFinished(state_)) return;
    state_ = JobState::Running;
    clock_.start();
    Q_EMIT started();
    Q_EMIT stateChanged(state_);
}

void JobHandle::applyUpdate(const JobUpdate& u)
{
    if (u.progress >= 0 || !u.message.empty()) {
        if (u.progress >= 0) progress_ = u.progress;
        if (!u.message.empty()) message_ = QString::fromStdString(u.message);
        Q_EMIT progressChanged(progress_, message_);
    }
    if (!u.metrics.empty()) Q_EMIT metricsArrived(u.metrics);
    if (u.preview) Q_EMIT previewArrived(u.preview);
}

void JobHandle::applyFinished(JobState state, const std::optional<Error>& error)
{
    finalSeconds_ = clock_.isValid() ? clock_.elapsed() / 1000.0 : 0.0;
    state_ = state;
    error_ = error;
    if (state == JobState::Succeeded) progress_ = 1.0;
    Q_EMIT stateChanged(state_);
    Q_EMIT finished(state_);
}

}  // namespace kiln::qt
