// The engine thread: owns the compute device and runs jobs one at a time, in order.
#pragma once

#include "kiln/job.h"
#include "qt/job_handle.h"

#include <QObject>
#include <memory>

namespace kiln::qt {

class EngineThread : public QObject {
    Q_OBJECT

public:
    explicit EngineThread(QObject* parent = nullptr);
    ~EngineThread() override;  // cancels every job and joins the thread

    // Queues `body`. The handle lives on the calling (UI) thread and is parented to `owner`
    // (nullptr: the caller owns it). Deleting the handle cancels the job and waits for it.
    JobHandle* submit(const QString& title, JobBody body, QObject* owner = nullptr);
    std::size_t pendingCount() const { return queue_->pendingCount(); }

Q_SIGNALS:
    void jobSubmitted(kiln::qt::JobHandle* handle);

private:
    std::shared_ptr<JobQueue> queue_;
};

}  // namespace kiln::qt
