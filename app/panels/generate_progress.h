// Seconds per step and time left from a generation job's "step i/N" reports. Apart from the panel so the
// arithmetic is tested with made-up clocks, not with however fast the test machine samples.
#pragma once

#include <QString>
#include <QtGlobal>

namespace kiln::app {

class StepEta {
public:
    void reset();
    // `message` as the job reports it ("step 5/20"); `nowMs` from a monotonic clock. Returns what to show:
    // "step 5/20 · 1.2 s/step · ETA 0:18" once two step reports are in, the message itself until then.
    QString update(const QString& message, qint64 nowMs);
    double secondsPerStep() const { return secondsPerStep_; }  // 0 until known

    static QString formatDuration(double seconds);  // 0:18, 12:05, 1:02:03

private:
    bool started_ = false;
    int firstStep_ = 0;
    qint64 firstMs_ = 0;
    double secondsPerStep_ = 0;
};

}  // namespace kiln::app
