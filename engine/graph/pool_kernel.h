// Max pooling with windows that do not overlap (stride = kernel, no padding) on contiguous
// float32 NCHW tensors on the CPU, the common "MaxPool2d(2)" of small ConvNets. ATen's NCHW
// kernel takes ~8x longer on it. Same values, same chosen element per window (the first maximum
// in row-major order; a NaN wins) and so the same gradient as torch::max_pool2d. Any other case
// goes to torch::max_pool2d.
#pragma once

#include <torch/torch.h>

namespace kiln::graph {

torch::Tensor maxPool2d(const torch::Tensor& x, std::int64_t kernel, std::int64_t stride, std::int64_t padding);

}  // namespace kiln::graph
