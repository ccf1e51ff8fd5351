// Data movement: permute (a contiguous copy in the new order) and concat.
#pragma once

#include "vulkan/ops/op_common.h"

#include <vector>

namespace kiln::vk {

// out = x.permute(dims).contiguous() for x of `sizes` (at most 8 dimensions).
Result<void> permuteVulkan(Recorder& rec, const Region& x, const std::vector<std::int64_t>& sizes,
                           const std::vector<std::int64_t>& dims, const Region& out);

// Copies x viewed as [outer, inner] into out viewed as [outer, outInner] at column `offset`:
// one part of torch::cat along a dimension (inner = part's size along it times what follows).
Result<void> concatPartVulkan(Recorder& rec, const Region& x, const Region& out, std::uint64_t outer,
                              std::uint64_t inner, std::uint64_t outInner, std::uint64_t offset);

// out[i, :] = table[ids[i], :]; ids are uint32 (uploaded as bytes). An id >= vocab gives zeros
// and is counted in `badIds` (one uint32) when given, so the caller can report it.
Result<void> embeddingVulkan(Recorder& rec, const Region& ids, const Region& table, const Region& out,
                             std::uint64_t count, std::uint32_t dim, std::uint32_t vocab, const Region* badIds = nullptr);

}  // namespace kiln::vk
