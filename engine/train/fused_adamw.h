// AdamW with the update of each parameter done in one pass over its memory (parameter,
// gradient and both moments read and written once, no temporaries), the same rule as
// torch::optim::AdamW (decoupled weight decay, bias corrections, eps outside the square root).
// Float32 parameters on the CPU whose gradient and moments share their layout take that pass;
// anything else (other dtypes, amsgrad, mixed layouts) takes torch::optim::AdamW's tensor ops.
// The state is torch's AdamWParamState under torch's keys, so checkpoints are interchangeable.
#pragma once

#include <torch/optim/adamw.h>
#include <torch/optim/optimizer.h>

namespace kiln::train {

class FusedAdamW : public torch::optim::Optimizer {
public:
    explicit FusedAdamW(std::vector<torch::optim::OptimizerParamGroup> groups,
                        torch::optim::AdamWOptions defaults = {});
    explicit FusedAdamW(std::vector<torch::Tensor> params, torch::optim::AdamWOptions defaults = {})
        : FusedAdamW({torch::optim::OptimizerParamGroup(std::move(params))}, std::move(defaults))
    {
    }

    torch::Tensor step(LossClosure closure = nullptr) override;
};

}  // namespace kiln::train
