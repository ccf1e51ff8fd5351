// 2-D convolution and transposed convolution (NCHW, fp32), with torch's meaning.
#pragma once

#include "vulkan/ops/op_common.h"

namespace kiln::vk {

struct Conv2dParams {
    std::uint32_t batch = 1, inChannels = 1, inH = 1, inW = 1, outChannels = 1;
    std::uint32_t kernelH = 1, kernelW = 1, strideH = 1, strideW = 1, padH = 0, padW = 0;
    std::uint32_t dilationH = 1, dilationW = 1, groups = 1;
    std::uint32_t outputPadH = 0, outputPadW = 0;  // transposed convolution only

    // Square kernel, stride, padding and dilation, as the designer's nodes and most models have them.
    static Conv2dParams square(std::uint32_t batch, std::uint32_t inChannels, std::uint32_t inH, std::uint32_t inW,
                               std::uint32_t outChannels, std::uint32_t kernel, std::uint32_t stride = 1,
                               std::uint32_t pad = 0, std::uint32_t dilation = 1, std::uint32_t groups = 1,
                               std::uint32_t outputPad = 0)
    {
        Conv2dParams p;
        p.batch = batch;
        p.inChannels = inChannels;
        p.inH = inH;
        p.inW = inW;
        p.outChannels = outChannels;
        p.kernelH = p.kernelW = kernel;
        p.strideH = p.strideW = stride;
        p.padH = p.padW = pad;
        p.dilationH = p.dilationW = dilation;
        p.groups = groups;
        p.outputPadH = p.outputPadW = outputPad;
        return p;
    }

    // torch's output sizes; 0 when the input is too small for the kernel.
    std::uint32_t outH() const;
    std::uint32_t outW() const;
    std::uint32_t transposedOutH() const;
    std::uint32_t transposedOutW() const;
};

// out = act(conv2d(x, weight, bias)): x [batch, inC, inH, inW], weight [outC, inC/groups, kH, kW],
// bias [outC] or null, out [batch, outC, outH, outW]. An implicit GEMM over shared-memory tiles.
// `wType` is how the weight is stored; F16 is refused on a device without fp16 storage.
Result<void> conv2dVulkan(Recorder& rec, const Region& x, const Region& weight, const Region* bias, const Region& out,
                          const Conv2dParams& p, Activation act = Activation::None, float actParam = 0.01f,
                          WeightType wType = WeightType::F32);

// out = conv_transpose2d(x, weight, bias): weight [inC, outC/groups, kH, kW], out
// [batch, outC, transposedOutH, transposedOutW].
Result<void> convTranspose2dVulkan(Recorder& rec, const Region& x, const Region& weight, const Region* bias,
                                   const Region& out, const Conv2dParams& p, WeightType wType = WeightType::F32);

}  // namespace kiln::vk
