#include "train/memory_format.h"

namespace kiln::train {

namespace {

bool isCanonicalChannelsLast(const torch::Tensor& t)
{
    const auto s = t.sizes();
    // strides of an NHWC block of this shape
    const std::int64_t c = 1, w = s[1], h = s[1] * s[3], n = s[1] * s[3] * s[2];
    return t.stride(1) == c && t.stride(3) == w && t.stride(2) == h && t.stride(0) == n;
}

void convert(torch::Tensor& t, torch::MemoryFormat format)
{
    torch::NoGradGuard noGrad;
    t.set_data(torch::empty_like(t, format).copy_(t));
}

}  // namespace

bool prefersChannelsLast(const torch::nn::Module& module, const torch::Device& device)
{
    if (!device.is_cpu()) return false;
    for (const auto& p : module.parameters(/*recurse=*/true))
        if (p.dim() == 4 && p.is_floating_point() && p.device().is_cpu()) return true;
    return false;
}

torch::Tensor toChannelsLast(const torch::Tensor& t)
{
    if (!t.defined() || t.dim() != 4 || t.is_sparse() || isCanonicalChannelsLast(t)) return t;
    return torch::empty_like(t, torch::MemoryFormat::ChannelsLast).copy_(t);
}

ChannelsLastScope::ChannelsLastScope(torch::nn::Module& module)
{
    auto visit = [this](torch::Tensor t) {
        if (!t.defined() || t.dim() != 4 || !t.is_floating_point() || !t.device().is_cpu()) return;
        if (t.grad().defined()) t.mutable_grad().reset();  // a gradient left from an earlier run, NCHW
        if (!isCanonicalChannelsLast(t)) convert(t, torch::MemoryFormat::ChannelsLast);
        converted_.push_back(t);
    };
    for (auto& p : module.parameters(/*recurse=*/true)) visit(p);
    for (auto& b : module.buffers(/*recurse=*/true)) visit(b);
}

ChannelsLastScope::~ChannelsLastScope()
{
    for (auto& t : converted_) {
        try {
            if (t.grad().defined()) t.mutable_grad().reset();
            convert(t, torch::MemoryFormat::Contiguous);
        } catch (...) {
            // leaving one tensor channels-last is still correct, only another layout
        }
    }
}

}  // namespace kiln::train
