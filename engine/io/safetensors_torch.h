// safetensors <-> torch::Tensor. The only safetensors code that includes torch.
#pragma once

#include "io/safetensors_file.h"

#include <optional>
#include <torch/types.h>
#include <utility>

namespace kiln::io {

std::optional<torch::ScalarType> torchTypeOf(DType t);  // nullopt where LibTorch 1.13 has no such type
std::optional<DType> dtypeOf(torch::ScalarType t);

// Reads one tensor (a copy, contiguous). `as` converts it, e.g. fp16 weights into fp32.
// U16/U32 widen to int32/int64, U64 to int64 when every value fits; F8 decode to float32.
Result<torch::Tensor> loadTensor(const SafetensorsFile& file, const SafetensorsEntry& entry,
                                 std::optional<torch::ScalarType> as = std::nullopt);
Result<torch::Tensor> loadTensor(const SafetensorsFile& file, std::string_view name,
                                 std::optional<torch::ScalarType> as = std::nullopt);

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;
Result<void> saveSafetensors(const std::string& path, const NamedTensors& tensors,
                             const std::map<std::string, std::string>& metadata = {});

}  // namespace kiln::io
