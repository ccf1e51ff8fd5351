#include "train/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace kiln::train {

double learningRate(const ScheduleConfig& c, double base, std::int64_t step, std::int64_t totalSteps)
{
    step = std::max<std::int64_t>(step, 0);
    const std::int64_t warm = std::max<std::int64_t>(c.warmupSteps, 0);
    if (step < warm) {
        const double f = c.warmupStartFactor;
        return base * (f + (1.0 - f) * static_cast<double>(step + 1) / static_cast<double>(warm));
    }
    const auto s = static_cast<double>(step - warm);
    switch (c.kind) {
    case ScheduleKind::Constant: return base;
    case ScheduleKind::Step: {
        const auto size = static_cast<double>(std::max<std::int64_t>(c.stepSize, 1));
        return base * std::pow(c.gamma, std::floor(s / size));
    }
    case ScheduleKind::Cosine: {
        const auto t = static_cast<double>(std::max<std::int64_t>(totalSteps - warm, 1));
        const double progress = std::min(s, t) / t;
        return c.minLearningRate + (base - c.minLearningRate) * 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
    }
    }
    return base;
}

}  // namespace kiln::train
