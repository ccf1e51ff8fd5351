#include "kiln/pause_control.h"

namespace kiln {

void PauseControl::pause()
{
    std::lock_guard l(m_);
    paused_.store(true, std::memory_order_release);
}

void PauseControl::resume()
{
    {
        std::lock_guard l(m_);
        paused_.store(false, std::memory_order_release);
    }
    cv_.notify_all();
}

bool PauseControl::waitWhilePaused(const std::function<bool()>& cancelled, std::chrono::milliseconds poll)
{
    std::unique_lock l(m_);
    while (paused_.load(std::memory_order_acquire)) {
        if (cancelled && cancelled()) return false;
        cv_.wait_for(l, poll);
    }
    return !(cancelled && cancelled());
}

}  // namespace kiln
