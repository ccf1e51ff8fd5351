#include "io/zip_archive.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <limits>

namespace kiln::io {
namespace {

constexpr std::uint32_t kLocalSig = 0x04034b50;
constexpr std::uint32_t kCentralSig = 0x02014b50;
constexpr std::uint32_t kEndSig = 0x06054b50;
constexpr std::uint32_t kEnd64Sig = 0x06064b50;
constexpr std::uint32_t kEnd64LocatorSig = 0x07064b50;
constexpr std::size_t kEndSize = 22;
constexpr std::size_t kCentralSize = 46;
constexpr std::size_t kLocalSize = 30;
constexpr std::size_t kEnd64Size = 56;
constexpr std::size_t kLocatorSize = 20;
// Deflate cannot expand data by more than about 1032:1; a larger claim is a zip bomb or
// damage, and believing it would let a few bytes of input reserve gigabytes.
constexpr std::uint64_t kMaxDeflateRatio = 1032;

const char* kTruncatedHint = "the file may be truncated or damaged; copy or download it again";

std::uint16_t le16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] | (p[1] << 8)); }
std::uint32_t le32(const std::uint8_t* p)
{
    return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
           (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}
std::uint64_t le64(const std::uint8_t* p) { return le32(p) | (static_cast<std::uint64_t>(le32(p + 4)) << 32); }

// True when [offset, offset + length) lies inside a buffer of `size` bytes, without overflow.
bool fits(std::uint64_t offset, std::uint64_t length, std::size_t size)
{
    return offset <= size && length <= size - offset;
}

// Central directory fields that are 0xFFFF... are placeholders; the real values sit in
// the zip64 extra field (id 1) in a fixed order, each present only if its field saturated.
Result<void> applyZip64Extra(ZipEntry& e, const std::uint8_t* extra, std::size_t extraLen,
                             bool needU, bool needC, bool needOffset, const std::string& where)
{
    std::size_t pos = 0;
    while (pos + 4 <= extraLen) {
        const std::uint16_t id = le16(extra + pos);
        const std::uint16_t len = le16(extra + pos + 2);
        pos += 4;
        if (len > extraLen - pos)
            return makeError("damaged zip archive: an extra field of entry '" + e.name + "' runs past its header",
                             where, kTruncatedHint);
        if (id == 0x0001) {
            std::size_t q = 0;
            auto take = [&](std::uint64_t& out) -> bool {
                if (q + 8 > len) return false;
                out = le64(extra + pos + q);
                q += 8;
                return true;
            };
            if ((needU && !take(e.uncompressedSize)) || (needC && !take(e.compressedSize)) ||
                (needOffset && !take(e.localHeaderOffset)))
                return makeError("damaged zip archive: the zip64 field of entry '" + e.name +
                                     "' is too short for the sizes it should hold",
                                 where, kTruncatedHint);
            return success();
        }
        pos += len;
    }
    if (needU || needC || needOffset)
        return makeError("damaged zip archive: entry '" + e.name +
                             "' needs a zip64 extra field for its size or offset, but has none",
                         where, kTruncatedHint);
    return success();
}

}  // namespace

bool ZipArchive::looksLikeZip(std::span<const std::uint8_t> bytes)
{
    return bytes.size() >= 4 && (le32(bytes.data()) == kLocalSig || le32(bytes.data()) == kEndSig);
}

Result<ZipArchive> ZipArchive::open(std::span<const std::uint8_t> bytes, std::string nameForMessages)
{
    const std::string& where = nameForMessages;
    const std::size_t size = bytes.size();
    const std::uint8_t* b = bytes.data();
    if (size < kEndSize)
        return makeError("not a zip archive: the file has only " + std::to_string(size) +
                             " bytes, fewer than a zip end record needs",
                         where, kTruncatedHint);

    // The end record sits at the very end unless a comment (at most 65535 bytes) follows it.
    std::size_t endPos = std::string::npos;
    const std::size_t lowest = size - kEndSize > 0xFFFF ? size - kEndSize - 0xFFFF : 0;
    for (std::size_t p = size - kEndSize + 1; p-- > lowest;) {
        if (le32(b + p) == kEndSig && le16(b + p + 20) <= size - p - kEndSize) {
            endPos = p;
            break;
        }
    }
    if (endPos == std::string::npos)
        return makeError("not a zip archive, or a truncated one: no zip end record (PK\\5\\6) in the last "
                         "64 KiB of the file",
                         where, kTruncatedHint);

    const std::uint8_t* end = b + endPos;
    if (le16(end + 4) != 0 || le16(end + 6) != 0)
        return makeError("zip archives split across several files are not supported", where);
    std::uint64_t count = le16(end + 10);
    std::uint64_t cdSize = le32(end + 12);
    std::uint64_t cdOffset = le32(end + 16);
    std::uint64_t cdLimit = endPos;  // the directory must end before the record that describes it

    if (endPos >= kLocatorSize && le32(end - kLocatorSize) == kEnd64LocatorSig) {
        const std::uint8_t* loc = end - kLocatorSize;
        const std::uint64_t end64Offset = le64(loc + 8);
        if (!fits(end64Offset, kEnd64Size, endPos - kLocatorSize) || le32(b + end64Offset) != kEnd64Sig)
            return makeError("damaged zip archive: the zip64 end record is missing or out of place (expected at "
                                 "byte " + std::to_string(end64Offset) + ")",
                             where, kTruncatedHint);
        const std::uint8_t* e64 = b + end64Offset;
        if (le32(e64 + 16) != 0 || le32(e64 + 20) != 0)
            return makeError("zip archives split across several files are not supported", where);
        count = le64(e64 + 32);
        cdSize = le64(e64 + 40);
        cdOffset = le64(e64 + 48);
        cdLimit = end64Offset;
    }

    if (!fits(cdOffset, cdSize, cdLimit))
        return makeError("damaged zip archive: the central directory (byte " + std::to_string(cdOffset) + ", " +
                             std::to_string(cdSize) + " bytes) runs past the end records at byte " +
                             std::to_string(cdLimit),
                         where, kTruncatedHint);
    if (count > cdSize / kCentralSize)
        return makeError("damaged zip archive: the end record promises " + std::to_string(count) +
                             " entries, more than a " + std::to_string(cdSize) + "-byte directory can hold",
                         where, kTruncatedHint);

    ZipArchive zip;
    zip.bytes_ = bytes;
    zip.name_ = nameForMessages;
    zip.entries_.reserve(static_cast<std::size_t>(count));
    std::uint64_t pos = cdOffset;
    const std::uint64_t cdEnd = cdOffset + cdSize;
    for (std::uint64_t i = 0; i < count; ++i) {
        if (!fits(pos, kCentralSize, cdEnd) || le32(b + pos) != kCentralSig)
            return makeError("damaged zip archive: central directory entry " + std::to_string(i) +
                                 " is missing or has the wrong signature at byte " + std::to_string(pos),
                             where, kTruncatedHint);
        const std::uint8_t* c = b + pos;
        const std::uint16_t nameLen = le16(c + 28), extraLen = le16(c + 30), commentLen = le16(c + 32);
        const std::uint64_t total = kCentralSize + std::uint64_t{nameLen} + extraLen + commentLen;
        if (!fits(pos, total, cdEnd))
            return makeError("damaged zip archive: central directory entry " + std::to_string(i) +
                                 " runs past the end of the directory",
                             where, kTruncatedHint);
        ZipEntry e;
        e.name.assign(reinterpret_cast<const char*>(c + kCentralSize), nameLen);
        e.flags = le16(c + 8);
        e.method = le16(c + 10);
        e.crc32 = le32(c + 16);
        e.compressedSize = le32(c + 20);
        e.uncompressedSize = le32(c + 24);
        e.localHeaderOffset = le32(c + 42);
        const bool needC = e.compressedSize == 0xFFFFFFFFu;
        const bool needU = e.uncompressedSize == 0xFFFFFFFFu;
        const bool needOffset = e.localHeaderOffset == 0xFFFFFFFFu;
        if (auto r = applyZip64Extra(e, c + kCentralSize + nameLen, extraLen, needU, needC, needOffset, where); !r)
            return r.error();
        zip.byName_.emplace(e.name, zip.entries_.size());  // the first of duplicate names wins
        zip.entries_.push_back(std::move(e));
        pos += total;
    }
    return zip;
}

const ZipEntry* ZipArchive::find(std::string_view name) const
{
    auto it = byName_.find(std::string(name));
    return it == byName_.end() ? nullptr : &entries_[it->second];
}

Result<ZipData> ZipArchive::read(const ZipEntry& e) const
{
    const std::size_t size = bytes_.size();
    const std::uint8_t* b = bytes_.data();
    const std::string what = "zip entry '" + e.name + "'";
    if (e.flags & 0x1)
        return makeError(what + " is encrypted; encrypted archives are not supported", name_);
    if (!fits(e.localHeaderOffset, kLocalSize, size) || le32(b + e.localHeaderOffset) != kLocalSig)
        return makeError("damaged zip archive: the local header of " + what + " is missing at byte " +
                             std::to_string(e.localHeaderOffset),
                         name_, kTruncatedHint);
    const std::uint8_t* l = b + e.localHeaderOffset;
    const std::uint64_t dataOffset = e.localHeaderOffset + kLocalSize + le16(l + 26) + le16(l + 28);
    if (!fits(dataOffset, e.compressedSize, size))
        return makeError("damaged zip archive: the data of " + what + " (" + std::to_string(e.compressedSize) +
                             " bytes at byte " + std::to_string(dataOffset) + ") runs past the end of the file (" +
                             std::to_string(size) + " bytes)",
                         name_, kTruncatedHint);
    const std::span<const std::uint8_t> raw(b + dataOffset, static_cast<std::size_t>(e.compressedSize));

    if (e.method == 0) {
        if (e.compressedSize != e.uncompressedSize)
            return makeError("damaged zip archive: stored " + what + " claims " + std::to_string(e.compressedSize) +
                                 " bytes on disk but " + std::to_string(e.uncompressedSize) + " bytes of content",
                             name_, kTruncatedHint);
        return ZipData{raw, nullptr};
    }
    if (e.method != 8)
        return makeError(what + " uses compression method " + std::to_string(e.method) +
                             ", expected 0 (stored) or 8 (deflate)",
                         name_, "re-save the file with torch.save, which stores entries uncompressed");

    if (e.uncompressedSize > e.compressedSize * kMaxDeflateRatio + 64 ||
        e.uncompressedSize > std::numeric_limits<std::size_t>::max() / 2)
        return makeError("damaged zip archive: deflated " + what + " claims to expand from " +
                             std::to_string(e.compressedSize) + " to " + std::to_string(e.uncompressedSize) +
                             " bytes, more than deflate can produce",
                         name_, kTruncatedHint);

    auto out = std::make_shared<std::vector<std::uint8_t>>(static_cast<std::size_t>(e.uncompressedSize));
    z_stream zs{};
    if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) return makeError("cannot start zlib to inflate " + what, name_);
    // zlib counts in 32-bit units, so feed and drain it in slices.
    constexpr std::size_t kSlice = 1u << 30;
    std::size_t inPos = 0, outPos = 0;
    int rc = Z_OK;
    while (rc == Z_OK) {
        if (zs.avail_in == 0 && inPos < raw.size()) {
            const std::size_t n = std::min(kSlice, raw.size() - inPos);
            zs.next_in = const_cast<Bytef*>(raw.data() + inPos);
            zs.avail_in = static_cast<uInt>(n);
            inPos += n;
        }
        if (zs.avail_out == 0 && outPos < out->size()) {
            const std::size_t n = std::min(kSlice, out->size() - outPos);
            zs.next_out = out->data() + outPos;
            zs.avail_out = static_cast<uInt>(n);
            outPos += n;
        }
        const uInt inBefore = zs.avail_in, outBefore = zs.avail_out;
        rc = inflate(&zs, Z_NO_FLUSH);
        if (rc == Z_BUF_ERROR || (rc == Z_OK && zs.avail_in == inBefore && zs.avail_out == outBefore)) {
            // No progress: input exhausted before the stream ended, or output full before it ended.
            if ((zs.avail_in == 0 && inPos >= raw.size()) || (zs.avail_out == 0 && outPos >= out->size())) break;
            if (rc == Z_BUF_ERROR) rc = Z_OK;
        }
    }
    const bool ended = rc == Z_STREAM_END;
    const std::uint64_t produced = zs.total_out;
    inflateEnd(&zs);
    if (!ended || produced != e.uncompressedSize)
        return makeError("damaged zip archive: deflated " + what + " does not inflate to its " +
                             std::to_string(e.uncompressedSize) + " bytes" +
                             (rc < 0 && rc != Z_BUF_ERROR ? " (zlib reports corrupt data)" : ""),
                         name_, kTruncatedHint);
    if (crc32_z(0, out->data(), out->size()) != e.crc32)
        return makeError("damaged zip archive: the CRC of " + what + " does not match its content", name_,
                         kTruncatedHint);
    return ZipData{std::span<const std::uint8_t>(out->data(), out->size()), std::move(out)};
}

}  // namespace kiln::io
