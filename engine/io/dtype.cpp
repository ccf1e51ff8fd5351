#include "io/dtype.h"

namespace kiln::io {

std::size_t dtypeSize(DType t)
{
    switch (t) {
    case DType::F64: case DType::I64: case DType::U64: return 8;
    case DType::F32: case DType::I32: case DType::U32: return 4;
    case DType::F16: case DType::BF16: case DType::I16: case DType::U16: return 2;
    case DType::I8: case DType::U8: case DType::Bool: case DType::F8_E4M3: case DType::F8_E5M2: return 1;
    }
    return 1;
}

std::string_view dtypeName(DType t)
{
    switch (t) {
    case DType::F64: return "F64";
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::I64: return "I64";
    case DType::I32: return "I32";
    case DType::I16: return "I16";
    case DType::I8: return "I8";
    case DType::U8: return "U8";
    case DType::Bool: return "BOOL";
    case DType::U16: return "U16";
    case DType::U32: return "U32";
    case DType::U64: return "U64";
    case DType::F8_E4M3: return "F8_E4M3";
    case DType::F8_E5M2: return "F8_E5M2";
    }
    return "?";
}

std::optional<DType> parseDType(std::string_view name)
{
    for (DType t : kAllDTypes)
        if (dtypeName(t) == name) return t;
    return std::nullopt;
}

}  // namespace kiln::io
