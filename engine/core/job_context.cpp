#include "kiln/job.h"

namespace kiln {

std::string_view jobStateName(JobState s)
{
    switch (s) {
    case JobState::Queued: return "Queued";
    case JobState::Running: return "Running";
    case JobState::Succeeded: return "Succeeded";
    case JobState::Failed: return "Failed";
    case JobState::Cancelled: return "Cancelled";
    }
    return "?";
}

JobContext::JobContext(std::shared_ptr<std::atomic<bool>> cancelFlag, std::shared_ptr<JobObserver> observer)
    : cancel_(std::move(cancelFlag)), observer_(std::move(observer))
{
}

void JobContext::report(double progress, std::string message)
{
    pending_.progress = progress;
    if (!message.empty()) pending_.message = std::move(message);
    dirty_ = true;
    maybeFlush();
}

void JobContext::emitMetric(std::string name, std::int64_t step, double value)
{
    pending_.metrics.push_back({std::move(name), step, value});
    dirty_ = true;
    maybeFlush();
}

void JobContext::emitPreview(Preview preview)
{
    pending_.preview = std::make_shared<const Preview>(std::move(preview));
    dirty_ = true;
    maybeFlush();
}

void JobContext::maybeFlush()
{
    if (Clock::now() - lastSent_ >= kUpdateInterval) flush();
}

void JobContext::flush()
{
    if (!dirty_) return;
    lastSent_ = Clock::now();
    JobUpdate out;
    out.progress = pending_.progress;
    out.message = pending_.message;
    out.metrics.swap(pending_.metrics);
    out.preview = std::move(pending_.preview);
    pending_.preview.reset();
    dirty_ = false;
    if (observer_) observer_->jobUpdated(std::move(out));
}

}  // namespace kiln
