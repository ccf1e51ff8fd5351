#include "qt/engine_thread.h"

#include <QMetaObject>

namespace kiln::qt {

// Runs on the engine thread; forwards everything to the handle's thread by queued invocation.
class HandleObserver final : public JobObserver {
public:
    explicit HandleObserver(JobHandle* handle) : handle_(handle) {}

    void jobStarted() override
    {
        QMetaObject::invokeMethod(handle_, [h = handle_] { h->applyStarted(); }, Qt::QueuedConnection);
    }
    void jobUpdated(JobUpdate update) override
    {
        QMetaObject::invokeMethod(
            handle_, [h = handle_, u = std::move(update)] { h->applyUpdate(u); }, Qt::QueuedConnection);
    }
    void jobFinished(JobState state, const std::optional<Error>& error) override
    {
        QMetaObject::invokeMethod(
            handle_, [h = handle_, state, error] { h->applyFinished(state, error); }, Qt::QueuedConnection);
    }

private:
    JobHandle* handle_;
};

EngineThread::EngineThread(QObject* parent) : QObject(parent), queue_(std::make_shared<JobQueue>()) {}

EngineThread::~EngineThread()
{
    queue_->cancelAll();
}

JobHandle* EngineThread::submit(const QString& title, JobBody body, QObject* owner)
{
    auto* handle = new JobHandle(queue_, title, owner);
    handle->id_ = queue_->submit(title.toStdString(), std::move(body), std::make_shared<HandleObserver>(handle));
    Q_EMIT jobSubmitted(handle);
    return handle;
}

}  // namespace kiln::qt
