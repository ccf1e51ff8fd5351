// BatchNorm2d -> ReLU (-> MaxPool2d 2x2, stride 2) as one autograd operation, for training on
// channels-last CPU tensors. The compiler runs a conv block this way when the graph has that
// chain and nothing else reads the tensors inside it (graph/compiler.cpp, fuseNormRelu).
//
// Why: done as three ATen ops the block makes ~10 passes over the convolution's output
// (statistics, normalize, relu, pool, then a zeroed pool gradient, its scatter, relu's backward
// and batch norm's two backward passes) and keeps three full-size tensors alive. Fused, the
// forward reads the input twice and writes only the (pooled) output; the backward reads the input
// twice and writes the input's gradient once. The pool's argmax and the ReLU's mask are recomputed
// from the saved input with the same arithmetic instead of stored.
//
// Same results as the three ops up to float rounding (test_norm_relu compares values, running
// statistics and gradients, ties and odd sizes included); NaN and Inf propagate as there.
#pragma once

#include <torch/types.h>

namespace kiln::graph {

struct BatchNormParams {
    torch::Tensor weight, bias;            // may be undefined (affine=false)
    torch::Tensor runningMean, runningVar; // updated in place (contiguous); may be undefined
    double momentum = 0.1;
    double eps = 1e-5;
};

// Whether normReluTraining takes x: a 4-D float CPU tensor, dense channels-last, more than one
// value per channel, at least 2x2 when pooled.
bool normReluApplies(const torch::Tensor& x, bool pool);

// relu(batch_norm(x)) with the batch's statistics (training mode), then max_pool2d(kernel 2,
// stride 2) when `pool`; updates the running statistics as torch::batch_norm does. Channels-last
// output; gradients flow to x, weight and bias.
torch::Tensor normReluTraining(const torch::Tensor& x, const BatchNormParams& p, bool pool);

}  // namespace kiln::graph
