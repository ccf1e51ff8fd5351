// Multi-head attention pieces for the Llama-style block: rotary encoding and
// softmax(QK^T * scale + causal mask) V. Tensors are in the layout a Linear produces,
// [batch, seq, heads, headDim], so no transposes are needed.
#pragma once

#include "vulkan/ops/op_common.h"

namespace kiln::vk {

struct AttentionShape {
    std::uint32_t batch = 1, seq = 1, heads = 1, headDim = 1;
};

// Rotary position encoding, half-split layout (Hugging Face Llama): pair (i, i + d/2) at position
// p turns by p * base^(-2i/d). headDim even. `out` may be `x`.
Result<void> ropeVulkan(Recorder& rec, const Region& x, const Region& out, AttentionShape s, float base);

// out[b, t, h, :] = sum_j softmax_j(q[b,t,h,:] . k[b,j,h,:] * scale (+ -inf for j > t when causal)) v[b,j,h,:].
// Any seq (scores are not held whole), headDim up to 256.
Result<void> attentionVulkan(Recorder& rec, const Region& q, const Region& k, const Region& v, const Region& out,
                             AttentionShape s, float scale, bool causal);

}  // namespace kiln::vk
