// Seconds per step and time left from a generation job's progress reports. Apart from the panel so the
// arithmetic is tested with made-up clocks, not with however fast the test machine samples.
//
// The job (engine/diffusion/generate_job.cpp) reports "step 0" once the model is loaded, then "step i/N" after
// each sampler step; with a Batch count n > 1 each batch's steps carry a prefix: "batch 2/3 · step 5/20".
#pragma once

#include <QString>
#include <QtGlobal>

namespace kiln::app {

class StepEta {
public:
    void reset();
    // `message` as the job reports it; `nowMs` from a monotonic clock. Returns what to show:
    // "step 5/20 · 1.2 s/step · ETA 0:18" once a step's time is known, the message itself until then. The ETA
    // counts the steps left in this batch and N steps for each batch still to come.
    QString update(const QString& message, qint64 nowMs);
    double secondsPerStep() const { return secondsPerStep_; }  // 0 until known

    static QString formatDuration(double seconds);  // 0:18, 12:05, 1:02:03

private:
    bool started_ = false;
    int firstStep_ = 0;  // where the timer started, in the current batch
    qint64 firstMs_ = 0;
    int lastStep_ = 0;
    int batch_ = 0;  // the current "batch i/n"; 0 before any prefixed report
    double secondsPerStep_ = 0;
};

}  // namespace kiln::app
