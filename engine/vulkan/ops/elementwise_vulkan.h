// Element-wise ops: activations, broadcasting binary ops, per-channel affine (bias + activation,
// batch norm for inference).
#pragma once

#include "vulkan/ops/op_common.h"

#include <vector>

namespace kiln::vk {

// out[i] = act(x[i]) for i < n. `out` may be `x`.
Result<void> unaryVulkan(Recorder& rec, const Region& x, const Region& out, std::uint64_t n, Activation act,
                         float param = 0.01f);

enum class BinaryOp : std::uint32_t { Add = 0, Sub = 1, Mul = 2, Div = 3 };

// out = a op b with torch's broadcasting: sizes are aligned from the right, a size-1 dimension
// repeats. At most 8 dimensions. `outSizes` is the broadcast shape (broadcastSizes()).
Result<void> binaryVulkan(Recorder& rec, const Region& a, const std::vector<std::int64_t>& aSizes, const Region& b,
                          const std::vector<std::int64_t>& bSizes, const Region& out, BinaryOp op);
// The broadcast shape of two tensors, or an Error naming the sizes that do not match.
Result<std::vector<std::int64_t>> broadcastSizes(const std::vector<std::int64_t>& a, const std::vector<std::int64_t>& b);

// out[o, c, i] = act(x[o, c, i] * scale[c] + shift[c]) for x viewed as [outer, channels, inner].
// `scale` may be null (1), `shift` may be null (0). A bias + activation is scale null; batch norm
// for inference is scale = weight / sqrt(var + eps), shift = bias - mean * scale.
Result<void> channelAffineVulkan(Recorder& rec, const Region& x, const Region* scale, const Region* shift,
                                 const Region& out, std::uint64_t outer, std::uint32_t channels, std::uint64_t inner,
                                 Activation act = Activation::None, float param = 0.01f);

}  // namespace kiln::vk
