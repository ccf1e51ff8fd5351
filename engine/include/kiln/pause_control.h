// Pause and resume for a running job (training, sampling): shared between whoever pauses (the
// UI, the CLI) and the job body, which calls waitWhilePaused() before each step. Standard
// library only.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>

namespace kiln {

class PauseControl {
public:
    void pause();
    void resume();
    bool paused() const { return paused_.load(std::memory_order_acquire); }
    // Blocks while paused, sleeping on a condition variable: it wakes on resume() and every
    // `poll` to look at `cancelled` (a job's cancel flag is a plain atomic nobody notifies us of).
    // Returns false when cancelled.
    bool waitWhilePaused(const std::function<bool()>& cancelled,
                         std::chrono::milliseconds poll = std::chrono::milliseconds(50));

private:
    std::atomic<bool> paused_{false};
    std::mutex m_;
    std::condition_variable cv_;
};

}  // namespace kiln
