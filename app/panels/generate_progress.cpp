#include "panels/generate_progress.h"

#include <QCoreApplication>
#include <QRegularExpression>

#include <algorithm>
#include <cmath>

namespace kiln::app {

void StepEta::reset() { *this = StepEta(); }

QString StepEta::update(const QString& message, qint64 nowMs)
{
    static const QRegularExpression stepRe(QStringLiteral("step (\\d+)/(\\d+)"));
    const auto m = stepRe.match(message);
    if (!m.hasMatch()) return message;
    const int step = m.captured(1).toInt();
    const int total = m.captured(2).toInt();
    // Timing starts at the first step report, after the model has loaded: loading is not sampling speed.
    // Reports are coalesced (~30 Hz), so steps may arrive in jumps; the average over all of them is what counts.
    if (!started_ || step < firstStep_) {
        started_ = true;
        firstStep_ = step;
        firstMs_ = nowMs;
        secondsPerStep_ = 0;
    } else if (step > firstStep_) {
        secondsPerStep_ = double(nowMs - firstMs_) / 1000.0 / (step - firstStep_);
    }
    if (secondsPerStep_ <= 0) return message;
    const double spp = secondsPerStep_;
    const QString rate = spp >= 10 ? QString::number(spp, 'f', 0)
                         : spp >= 1 ? QString::number(spp, 'f', 1)
                                    : QString::number(spp, 'f', 2);
    return QCoreApplication::translate("kiln::app::StepEta", "%1 · %2 s/step · ETA %3")
        .arg(message.trimmed(), rate, formatDuration(spp * std::max(0, total - step)));
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
