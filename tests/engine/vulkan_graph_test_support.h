// Shared by the tests that run designed graphs on the Vulkan executor against LibTorch.
#pragma once

#include "graph/compiler.h"

#include <algorithm>
#include <torch/torch.h>

namespace kiln::test {

// Batch-norm statistics and affine parameters away from their initial 0/1, so that folding
// them into the convolutions is really tested.
inline void randomizeBatchNorms(graph::CompiledModel& model)
{
    torch::NoGradGuard noGrad;
    for (auto& b : model.named_buffers(true)) {
        if (b.key().ends_with("running_mean")) b.value().uniform_(-0.5, 0.5);
        if (b.key().ends_with("running_var")) b.value().uniform_(0.5, 2.0);
    }
    for (auto& p : model.named_parameters(true))
        if (p.value().dim() == 1 && p.key().find("bn") != std::string::npos) p.value().uniform_(0.5, 1.5);
}

// A random batch for the model's (first) input: token ids below its vocabulary, or normal floats.
inline torch::Tensor inputFor(const graph::CompiledModel& model, std::int64_t batch)
{
    const graph::Shape& s = model.inputShapes().at(0);
    const auto sizes = s.concrete(batch);
    if (s.element == graph::ElementType::Int64) return torch::randint(0, std::max<std::int64_t>(s.vocab, 2), sizes, torch::kInt64);
    return torch::randn(sizes);
}

}  // namespace kiln::test
