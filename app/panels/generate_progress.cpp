#include "panels/generate_progress.h"

#include <QCoreApplication>
#include <QRegularExpression>

#include <algorithm>
#include <cmath>

namespace kiln::app {

void StepEta::reset() { *this = StepEta(); }

QString StepEta::update(const QString& message, qint64 nowMs)
{
    // "step 0", "step 5/20", "batch 2/3 · step 5/20".
    static const QRegularExpression stepRe(QStringLiteral("(?:batch (\\d+)/(\\d+)\\D+)?step (\\d+)(?:/(\\d+))?"));
    const auto m = stepRe.match(message);
    if (!m.hasMatch()) return message;
    const int batch = m.captured(1).isEmpty() ? 0 : m.captured(1).toInt();
    const int batches = m.captured(2).isEmpty() ? 1 : m.captured(2).toInt();
    const int step = m.captured(3).toInt();
    const bool hasTotal = !m.captured(4).isEmpty();
    const int total = m.captured(4).toInt();
    // Timing starts at the first step report ("step 0" once the model is in): loading is not sampling speed.
    // Reports are coalesced (~30 Hz), so steps may arrive in jumps; the average since the timer started is what
    // counts. A new batch, or a step number that goes down, starts the timer again: the time between batches
    // (decoding, the next seed's noise) is not a step. The last rate stays shown until the new one is measured.
    const bool newBatch = batch != 0 && batch_ != 0 && batch != batch_;
    if (!started_ || step < lastStep_ || newBatch) {
        started_ = true;
        firstStep_ = step;
        firstMs_ = nowMs;
    } else if (step > firstStep_) {
        secondsPerStep_ = double(nowMs - firstMs_) / 1000.0 / (step - firstStep_);
    }
    lastStep_ = step;
    if (batch != 0) batch_ = batch;
    if (secondsPerStep_ <= 0 || !hasTotal) return message;
    const double spp = secondsPerStep_;
    const QString rate = spp >= 10 ? QString::number(spp, 'f', 0)
                         : spp >= 1 ? QString::number(spp, 'f', 1)
                                    : QString::number(spp, 'f', 2);
    const int batchesLeft = batch != 0 ? std::max(0, batches - batch) : 0;
    const double left = spp * (std::max(0, total - step) + double(batchesLeft) * total);
    return QCoreApplication::translate("kiln::app::StepEta", "%1 · %2 s/step · ETA %3")
        .arg(message.trimmed(), rate, formatDuration(left));
}

QString StepEta::formatDuration(double seconds)
{
    const qint64 s = std::llround(std::max(0.0, seconds));
    const qint64 h = s / 3600, m = (s / 60) % 60, sec = s % 60;
    if (h > 0)
        return QStringLiteral("%1:%2:%3").arg(h).arg(m, 2, 10, QLatin1Char('0')).arg(sec, 2, 10, QLatin1Char('0'));
    return QStringLiteral("%1:%2").arg(m).arg(sec, 2, 10, QLatin1Char('0'));
}

}  // namespace kiln::app
