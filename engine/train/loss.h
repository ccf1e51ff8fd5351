// The losses a run can optimise and the accuracy that goes with them.
#pragma once

#include "kiln/result.h"
#include "kiln/train_config.h"

#include <torch/types.h>

namespace kiln::train {

// CrossEntropy: logits [B, C] vs classes [B], or a language model's logits [B, T, V] vs next
// tokens [B, T] (mean over every token). Mse and BceWithLogits: targets of the output's shape
// (or of its element count), converted to its dtype. Throws c10::Error on shapes that cannot
// pair up; checkLossShapes says why in words first.
torch::Tensor computeLoss(LossKind kind, const torch::Tensor& output, const torch::Tensor& target);
Result<void> checkLossShapes(LossKind kind, const torch::Tensor& output, const torch::Tensor& target);

struct Hits {
    std::int64_t correct = 0;
    std::int64_t count = 0;  // 0 where accuracy means nothing (MSE)
};
// Argmax against the class (every token for a language model); BCE thresholds the logit at 0.
Hits countHits(LossKind kind, const torch::Tensor& output, const torch::Tensor& target);

}  // namespace kiln::train
