// BatchNorm2d at run time. It keeps PyTorch's buffers (running_mean, running_var,
// num_batches_tracked) so its state dict matches nn.BatchNorm2d's, and follows train()/eval().
// The compiler reads its parameters to run a BatchNorm -> ReLU (-> MaxPool) chain fused
// (graph/norm_relu.h).
#pragma once

#include "graph/builders.h"
#include "graph/norm_relu.h"

namespace kiln::graph {

class BatchNorm2dOp : public OpModule {
public:
    explicit BatchNorm2dOp(const BuildContext& c);
    std::vector<torch::Tensor> run(const std::vector<torch::Tensor>& x) override;

    // relu(this(x)), max-pooled 2x2 when `pool`, in one pass; only where normReluApplies(x, pool)
    // and in training mode.
    torch::Tensor runFusedRelu(const torch::Tensor& x, bool pool);

private:
    void countBatch();

    double eps_, momentum_;
    torch::Tensor weight_, bias_, runningMean_, runningVar_, batches_;
};

}  // namespace kiln::graph
