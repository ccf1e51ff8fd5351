// LibTorch's optimizers (the same update rules as PyTorch's, so a recipe carries over), set up
// from an OptimizerConfig, with their state as named tensors for checkpoints.
#pragma once

#include "io/safetensors_torch.h"
#include "kiln/result.h"
#include "kiln/train_config.h"

#include <memory>
#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

namespace kiln::train {

using NamedParameters = std::vector<std::pair<std::string, torch::Tensor>>;

// The parameters an optimizer updates: those that require gradients, in the module's order.
NamedParameters trainableParameters(const torch::nn::Module& module);

Result<std::unique_ptr<torch::optim::Optimizer>> makeOptimizer(const OptimizerConfig& config,
                                                               const NamedParameters& params);
void setLearningRate(torch::optim::Optimizer& optimizer, double lr);

// "<param>.momentum_buffer" (SGD), "<param>.step", "<param>.exp_avg", "<param>.exp_avg_sq" and,
// with amsgrad, "<param>.max_exp_avg_sq" (Adam, AdamW). Parameters not yet stepped have none.
io::NamedTensors optimizerState(torch::optim::Optimizer& optimizer, OptimizerKind kind, const NamedParameters& params);
// Puts saved state back; the shapes must match the parameters.
Result<void> restoreOptimizerState(torch::optim::Optimizer& optimizer, OptimizerKind kind,
                                   const NamedParameters& params, const io::SafetensorsFile& file);

}  // namespace kiln::train
