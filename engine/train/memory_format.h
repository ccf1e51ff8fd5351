// Channels-last (NHWC) memory for convolutional models trained on the CPU. oneDNN, ATen's batch
// norm and max pooling all run faster on NHWC tensors than on NCHW ones (max pooling ~8x); a
// ConvNet step of the Fashion-MNIST sample takes ~30 % less time.
//
// The conversion must give every 4-D tensor canonical NHWC strides. `t.contiguous(ChannelsLast)`
// does not: a tensor with one channel (the first conv's weight [16, 1, 3, 3], a grey image batch)
// already counts as channels-last contiguous and comes back unchanged, still NCHW-strided, and
// then the first convolution -- the biggest block of the net -- keeps producing NCHW.
#pragma once

#include <torch/nn/module.h>
#include <torch/types.h>

#include <vector>

namespace kiln::train {

// Whether training `module` on `device` should use channels-last: a CPU device and at least one
// 4-D floating-point parameter (a convolution).
bool prefersChannelsLast(const torch::nn::Module& module, const torch::Device& device);

// The same values with canonical NHWC strides for 4-D tensors; other tensors pass unchanged.
torch::Tensor toChannelsLast(const torch::Tensor& t);

// Puts the module's 4-D parameters and buffers in channels-last while it lives (before the
// optimizer makes its state, so the moments follow), and back to plain contiguous memory at its
// end, so saved weights, exporters and other backends see the usual layout. The tensors keep their
// identity (set_data), so optimizers and layers holding them stay valid. Their gradients are
// dropped at both ends (the trainer zeroes them before every backward anyway).
class ChannelsLastScope {
public:
    ChannelsLastScope() = default;
    explicit ChannelsLastScope(torch::nn::Module& module);
    ~ChannelsLastScope();
    ChannelsLastScope(const ChannelsLastScope&) = delete;
    ChannelsLastScope& operator=(const ChannelsLastScope&) = delete;

    bool active() const { return !converted_.empty(); }
    // The model's input in the layout the model runs in.
    torch::Tensor input(const torch::Tensor& x) const { return active() ? toChannelsLast(x) : x; }

private:
    std::vector<torch::Tensor> converted_;
};

}  // namespace kiln::train
