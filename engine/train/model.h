// What the trainer trains: any torch::nn::Module (the graph compiler's, or one written in C++)
// and the function that runs it, kept apart so the module need not have a virtual forward.
#pragma once

#include <functional>
#include <memory>
#include <torch/nn/module.h>

namespace kiln::train {

struct TrainModel {
    std::shared_ptr<torch::nn::Module> module;
    std::function<torch::Tensor(const torch::Tensor&)> forward;
    // Optional: the mean loss of (output, target) in place of TrainConfig::loss's formula, e.g.
    // a graph's loss node with label smoothing. TrainConfig::loss still decides the shape check
    // and what accuracy means.
    std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&)> loss = {};
};

}  // namespace kiln::train
