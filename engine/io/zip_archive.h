// A read-only view of a zip archive held in memory (usually a mapped file): the central
// directory is parsed and validated once; entries are read on demand. Stored entries come
// back as spans into the caller's buffer (no copy, so a multi-gigabyte checkpoint costs no
// memory); deflated entries are inflated into a buffer the returned ZipData owns.
//
// The caller's bytes must outlive the archive and every ZipData read from it.
#pragma once

#include "kiln/result.h"

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace kiln::io {

struct ZipEntry {
    std::string name;
    std::uint16_t method = 0;  // 0 stored, 8 deflate
    std::uint16_t flags = 0;
    std::uint32_t crc32 = 0;
    std::uint64_t compressedSize = 0;
    std::uint64_t uncompressedSize = 0;
    std::uint64_t localHeaderOffset = 0;
};

struct ZipData {
    std::span<const std::uint8_t> bytes;
    std::shared_ptr<const std::vector<std::uint8_t>> owned;  // set when the entry was inflated
};

class ZipArchive {
public:
    // Error when `bytes` is not a zip archive or its directory is damaged; nameForMessages
    // goes into every Error's `where`.
    static Result<ZipArchive> open(std::span<const std::uint8_t> bytes, std::string nameForMessages);

    // Cheap test of the leading signature, for callers that sniff formats.
    static bool looksLikeZip(std::span<const std::uint8_t> bytes);

    const std::vector<ZipEntry>& entries() const { return entries_; }
    const ZipEntry* find(std::string_view name) const;

    // The entry's uncompressed bytes, bounds- and size-checked (and CRC-checked when inflated).
    Result<ZipData> read(const ZipEntry& entry) const;

private:
    std::span<const std::uint8_t> bytes_;
    std::string name_;
    std::vector<ZipEntry> entries_;
    std::unordered_map<std::string, std::size_t> byName_;
};

}  // namespace kiln::io
