// Jobs: units of work that run on the engine thread, report progress, metrics and previews,
// and stop within one step when cancelled. std types only, so the UI and the CLI can use them.
#pragma once

#include "kiln/result.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln {

enum class JobState { Queued, Running, Succeeded, Failed, Cancelled };
std::string_view jobStateName(JobState s);
inline bool isFinished(JobState s) { return s == JobState::Succeeded || s == JobState::Failed || s == JobState::Cancelled; }

using JobId = std::uint64_t;

struct Metric {
    std::string name;
    std::int64_t step = 0;
    double value = 0;
};

struct Preview {
    int width = 0;
    int height = 0;
    std::vector<std::uint8_t> rgba;  // width * height * 4 bytes
};

// One coalesced batch of what a job said since the last batch. Progress and message keep only
// the latest value; metrics are all delivered (a chart must not lose points); previews the latest.
struct JobUpdate {
    double progress = -1;  // 0..1, or -1 while unknown
    std::string message;
    std::vector<Metric> metrics;
    std::shared_ptr<const Preview> preview;
};

// Receives a job's life. Called on the engine thread (or on the cancelling thread for a job
// cancelled while still queued); implementations hand the data over to their own thread.
class JobObserver {
public:
    virtual ~JobObserver() = default;
    virtual void jobStarted() {}
    virtual void jobUpdated(JobUpdate update) = 0;
    virtual void jobFinished(JobState state, const std::optional<Error>& error) = 0;
};

class JobContext {
public:
    using Clock = std::chrono::steady_clock;
    static constexpr auto kUpdateInterval = std::chrono::milliseconds(33);  // ~30 Hz

    JobContext(std::shared_ptr<std::atomic<bool>> cancelFlag, std::shared_ptr<JobObserver> observer);

    bool cancelled() const { return cancel_->load(std::memory_order_relaxed); }
    void report(double progress, std::string message = {});
    void emitMetric(std::string name, std::int64_t step, double value);
    void emitPreview(Preview preview);
    // Sends whatever is pending now, regardless of the interval (called when the job ends).
    void flush();

private:
    void maybeFlush();

    std::shared_ptr<std::atomic<bool>> cancel_;
    std::shared_ptr<JobObserver> observer_;
    JobUpdate pending_;
    bool dirty_ = false;
    Clock::time_point lastSent_{};
};

using JobBody = std::function<Result<void>(JobContext&)>;

// A FIFO of jobs run one at a time on a worker thread that owns the compute device.
class JobQueue {
public:
    JobQueue();
    ~JobQueue();  // cancels everything and joins the worker
    JobQueue(const JobQueue&) = delete;
    JobQueue& operator=(const JobQueue&) = delete;

    JobId submit(std::string title, JobBody body, std::shared_ptr<JobObserver> observer);
    // A queued job is removed at once; a running one is asked to stop at its next step.
    void cancel(JobId id);
    void cancelAll();
    // Blocks until the job has finished (returns at once for an unknown or finished id).
    void wait(JobId id);
    JobState state(JobId id) const;
    std::size_t pendingCount() const;

private:
    struct Impl;
    std::unique_ptr<Impl> d_;
};

}  // namespace kiln
