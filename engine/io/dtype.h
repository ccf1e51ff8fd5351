// Element types of stored tensors, named as safetensors names them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace kiln::io {

enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, Bool, U16, U32, U64, F8_E4M3, F8_E5M2 };

std::size_t dtypeSize(DType t);
std::string_view dtypeName(DType t);  // "F32", "BF16", ...
std::optional<DType> parseDType(std::string_view name);
inline constexpr DType kAllDTypes[] = {DType::F64, DType::F32, DType::F16, DType::BF16, DType::I64,
                                       DType::I32, DType::I16, DType::I8,  DType::U8,   DType::Bool,
                                       DType::U16, DType::U32, DType::U64, DType::F8_E4M3, DType::F8_E5M2};

}  // namespace kiln::io
