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
};

}  // namespace kiln::train
