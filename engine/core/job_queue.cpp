#include "kiln/job.h"

#include <condition_variable>
#include <deque>
#include <exception>
#include <thread>
#include <unordered_map>

namespace kiln {

namespace {
struct Entry {
    JobId id = 0;
    std::string title;
    JobBody body;
    std::shared_ptr<JobObserver> observer;
    std::shared_ptr<std::atomic<bool>> cancel = std::make_shared<std::atomic<bool>>(false);
};
}  // namespace

struct JobQueue::Impl {
    mutable std::mutex mutex;
    std::condition_variable wake;      // the worker: a job arrived or we stop
    std::condition_variable finished;  // waiters: some job finished
    std::deque<Entry> queue;
    std::unordered_map<JobId, JobState> states;
    std::shared_ptr<std::atomic<bool>> runningCancel;
    JobId runningId = 0;
    JobId nextId = 1;
    bool stopping = false;
    std::thread worker;

    void run();
    void finish(JobId id, JobState s)
    {
        std::lock_guard lock(mutex);
        states[id] = s;
        if (runningId == id) {
            runningId = 0;
            runningCancel.reset();
        }
        finished.notify_all();
    }
};

void JobQueue::Impl::run()
{
    for (;;) {
        Entry e;
        {
            std::unique_lock lock(mutex);
            wake.wait(lock, [&] { return stopping || !queue.empty(); });
            if (stopping && queue.empty()) return;
            e = std::move(queue.front());
            queue.pop_front();
            states[e.id] = JobState::Running;
            runningId = e.id;
            runningCancel = e.cancel;
        }
        if (e.observer) e.observer->jobStarted();

        JobContext ctx(e.cancel, e.observer);
        std::optional<Error> error;
        try {
            Result<void> r = e.body(ctx);
            if (!r.ok()) error = r.error();
        } catch (const std::exception& ex) {
            error = makeError(std::string("unexpected error: ") + ex.what(), e.title);
        } catch (...) {
            error = makeError("unexpected error of unknown type", e.title);
        }
        ctx.flush();
        JobState s = e.cancel->load() ? JobState::Cancelled : error ? JobState::Failed : JobState::Succeeded;
        if (s == JobState::Cancelled) error.reset();
        if (e.observer) e.observer->jobFinished(s, error);
        finish(e.id, s);
    }
}

JobQueue::JobQueue() : d_(std::make_unique<Impl>())
{
    d_->worker = std::thread([this] { d_->run(); });
}

JobQueue::~JobQueue()
{
    cancelAll();
    {
        std::lock_guard lock(d_->mutex);
        d_->stopping = true;
    }
    d_->wake.notify_all();
    d_->worker.join();
}

JobId JobQueue::submit(std::string title, JobBody body, std::shared_ptr<JobObserver> observer)
{
    std::lock_guard lock(d_->mutex);
    Entry e;
    e.id = d_->nextId++;
    e.title = std::move(title);
    e.body = std::move(body);
    e.observer = std::move(observer);
    const JobId id = e.id;
    d_->states[id] = JobState::Queued;
    d_->queue.push_back(std::move(e));
    d_->wake.notify_one();
    return id;
}

void JobQueue::cancel(JobId id)
{
    std::shared_ptr<JobObserver> removedObserver;
    {
        std::lock_guard lock(d_->mutex);
        if (d_->runningId == id && d_->runningCancel) {
            d_->runningCancel->store(true);
            return;
        }
        for (auto it = d_->queue.begin(); it != d_->queue.end(); ++it) {
            if (it->id != id) continue;
            removedObserver = std::move(it->observer);
            d_->queue.erase(it);
            d_->states[id] = JobState::Cancelled;
            d_->finished.notify_all();
            break;
        }
    }
    if (removedObserver) removedObserver->jobFinished(JobState::Cancelled, std::nullopt);
}

void JobQueue::cancelAll()
{
    std::vector<JobId> ids;
    {
        std::lock_guard lock(d_->mutex);
        for (const Entry& e : d_->queue) ids.push_back(e.id);
        if (d_->runningId) ids.push_back(d_->runningId);
    }
    for (JobId id : ids) cancel(id);
}

void JobQueue::wait(JobId id)
{
    std::unique_lock lock(d_->mutex);
    d_->finished.wait(lock, [&] {
        auto it = d_->states.find(id);
        return it == d_->states.end() || isFinished(it->second);
    });
}

JobState JobQueue::state(JobId id) const
{
    std::lock_guard lock(d_->mutex);
    auto it = d_->states.find(id);
    return it == d_->states.end() ? JobState::Cancelled : it->second;
}

std::size_t JobQueue::pendingCount() const
{
    std::lock_guard lock(d_->mutex);
    return d_->queue.size() + (d_->runningId ? 1 : 0);
}

}  // namespace kiln
