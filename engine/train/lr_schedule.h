// The learning rate at an optimizer step. A pure function of the step, so a run resumed from a
// checkpoint gets exactly the rate it would have had without the interruption.
#pragma once

#include "kiln/train_config.h"

namespace kiln::train {

// s = step (0-based), W = warmupSteps, f = warmupStartFactor, base = learningRate:
//   s < W:  base * (f + (1 - f) * (s + 1) / W)       (the last warm-up step reaches base)
//   then with s' = s - W and T' = max(1, totalSteps - W):
//   Constant: base
//   Step:     base * gamma^floor(s' / stepSize)
//   Cosine:   min + (base - min) * (1 + cos(pi * min(s', T') / T')) / 2
double learningRate(const ScheduleConfig& schedule, double baseLearningRate, std::int64_t step,
                    std::int64_t totalSteps);

}  // namespace kiln::train
