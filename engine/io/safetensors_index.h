// The safetensors header: parsed and validated before any tensor byte is trusted.
// Layout: u64 little-endian N, N bytes of JSON, then the data buffer that the JSON's
// data_offsets index into.
#pragma once

#include "io/dtype.h"
#include "kiln/result.h"

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace kiln::io {

struct SafetensorsEntry {
    std::string name;
    DType dtype = DType::F32;
    std::vector<std::int64_t> shape;
    std::uint64_t begin = 0;  // byte offsets into the data buffer
    std::uint64_t end = 0;

    std::uint64_t byteSize() const { return end - begin; }
    std::int64_t numel() const;
};

struct SafetensorsIndex {
    std::uint64_t dataOffset = 0;  // where the data buffer starts in the file
    std::uint64_t dataSize = 0;
    std::vector<SafetensorsEntry> tensors;  // in the header's order
    std::map<std::string, std::string> metadata;

    const SafetensorsEntry* find(std::string_view name) const;
};

// Headers larger than this are refused before anything is parsed (the reference
// implementation's limit).
inline constexpr std::uint64_t kMaxSafetensorsHeader = 100'000'000;

// `file` is the whole file. `where` names it in messages.
Result<SafetensorsIndex> parseSafetensors(std::span<const std::uint8_t> file, const std::string& where);

}  // namespace kiln::io
