// IDX files (the MNIST family's format), gzipped or plain. Standard library + zlib only, so the
// parser also builds for the fuzzers. Every size is checked before it is trusted.
#pragma once

#include "kiln/result.h"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace kiln::train {

struct IdxArray {
    std::uint8_t type = 0;            // 0x08 ubyte, 0x09 sbyte, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64
    std::vector<std::int64_t> dims;   // e.g. {60000, 28, 28}
    std::vector<std::uint8_t> data;   // the payload as stored (big-endian for multi-byte types)
    std::int64_t count() const { return dims.empty() ? 0 : dims.front(); }
};

// Inflates a gzip stream; refuses truncated or corrupt streams and outputs beyond maxBytes.
Result<std::vector<std::uint8_t>> gunzip(std::span<const std::uint8_t> gz, const std::string& where,
                                         std::size_t maxBytes = std::size_t{1} << 30);
Result<IdxArray> parseIdx(std::span<const std::uint8_t> bytes, const std::string& where);
// Reads a .gz (by its magic bytes, whatever the name) or a plain IDX file.
Result<IdxArray> readIdxFile(const std::string& path);

// Fashion-MNIST from the Debian package dataset-fashion-mnist (or a folder with the same four
// files): checks the magic numbers, 28x28 images, as many labels as images, labels < 10.
struct FashionMnistPart {
    IdxArray images;  // {N, 28, 28} ubyte
    IdxArray labels;  // {N} ubyte
};
Result<FashionMnistPart> readFashionMnist(const std::string& dir, bool trainPart);
const std::vector<std::string>& fashionMnistClassNames();

}  // namespace kiln::train
