#include "io/png_file.h"

#include "core/atomic_file.h"

#include <zlib.h>

#include <cstring>
#include <fstream>
#include <limits>

namespace kiln::io {
namespace {

constexpr std::uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
// Generous for any image Kiln writes or reads metadata from; beyond it the file is refused unread.
constexpr std::size_t kMaxFileBytes = std::size_t{1} << 30;
// A text larger than this is not metadata; the cap also bounds what a zTXt "zip bomb" can inflate to.
constexpr std::size_t kMaxTextBytes = std::size_t{16} << 20;

void putU32(std::vector<std::uint8_t>& out, std::uint32_t v)
{
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}

std::uint32_t getU32(const std::uint8_t* p)
{
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

void putChunk(std::vector<std::uint8_t>& out, const char type[4], const std::uint8_t* data, std::size_t size)
{
    putU32(out, static_cast<std::uint32_t>(size));
    const std::size_t start = out.size();
    out.insert(out.end(), type, type + 4);
    if (size) out.insert(out.end(), data, data + size);
    // The CRC covers the type and the data, not the length.
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, out.data() + start, static_cast<uInt>(out.size() - start));
    putU32(out, static_cast<std::uint32_t>(crc));
}

void putChunk(std::vector<std::uint8_t>& out, const char type[4], const std::string& data)
{
    putChunk(out, type, reinterpret_cast<const std::uint8_t*>(data.data()), data.size());
}

// UTF-8 to code points; false for malformed UTF-8.
bool decodeUtf8(const std::string& s, std::vector<char32_t>& out)
{
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        int extra = 0;
        char32_t cp = 0;
        if (c < 0x80) {
            cp = c;
        } else if ((c & 0xe0) == 0xc0) {
            extra = 1, cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            extra = 2, cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            extra = 3, cp = c & 0x07;
        } else {
            return false;
        }
        if (i + static_cast<std::size_t>(extra) >= s.size() + (extra ? 0 : 1)) return false;
        for (int k = 1; k <= extra; ++k) {
            const auto cc = static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]);
            if ((cc & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (cc & 0x3f);
        }
        static constexpr char32_t kMin[4] = {0, 0x80, 0x800, 0x10000};
        if (cp < kMin[extra] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
        out.push_back(cp);
        i += static_cast<std::size_t>(extra) + 1;
    }
    return true;
}

std::string latin1ToUtf8(const std::uint8_t* p, std::size_t n)
{
    std::string out;
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        if (p[i] < 0x80) {
            out.push_back(static_cast<char>(p[i]));
        } else {
            out.push_back(static_cast<char>(0xc0 | (p[i] >> 6)));
            out.push_back(static_cast<char>(0x80 | (p[i] & 0x3f)));
        }
    }
    return out;
}

Result<void> checkKeyword(const std::string& keyword)
{
    std::vector<char32_t> cps;
    if (keyword.empty() || !decodeUtf8(keyword, cps) || cps.size() > 79)
        return makeError("a PNG text keyword must be 1 to 79 Latin-1 characters", keyword);
    for (char32_t c : cps)
        if (c < 0x20 || (c > 0x7e && c < 0xa1) || c > 0xff)
            return makeError("a PNG text keyword may only hold printable Latin-1 characters", keyword);
    return success();
}

Result<std::vector<std::uint8_t>> deflate(const std::uint8_t* data, std::size_t size)
{
    uLongf bound = compressBound(static_cast<uLong>(size));
    std::vector<std::uint8_t> out(bound);
    if (compress2(out.data(), &bound, data, static_cast<uLong>(size), 6) != Z_OK)
        return makeError("could not compress the PNG image data");
    out.resize(bound);
    return out;
}

// Inflates a zlib stream; more than `cap` bytes of output is an Error (what a decompression bomb would give).
Result<std::string> inflateCapped(const std::uint8_t* data, std::size_t size, std::size_t cap)
{
    z_stream zs{};
    if (inflateInit(&zs) != Z_OK) return makeError("could not start zlib");
    zs.next_in = const_cast<Bytef*>(data);
    zs.avail_in = static_cast<uInt>(size);
    std::string out;
    char buffer[16384];
    int rc = Z_OK;
    while (rc == Z_OK) {
        zs.next_out = reinterpret_cast<Bytef*>(buffer);
        zs.avail_out = sizeof buffer;
        rc = inflate(&zs, Z_NO_FLUSH);
        if (rc != Z_OK && rc != Z_STREAM_END) break;
        out.append(buffer, sizeof buffer - zs.avail_out);
        if (out.size() > cap) {
            inflateEnd(&zs);
            return makeError("a compressed PNG text is larger than " + std::to_string(cap >> 20) + " MiB");
        }
        if (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0) {
            rc = Z_BUF_ERROR;  // the stream ended early
            break;
        }
    }
    inflateEnd(&zs);
    if (rc != Z_STREAM_END) return makeError("a compressed PNG text is corrupt");
    return out;
}

}  // namespace

Result<std::vector<std::uint8_t>> encodePng(int width, int height, int channels, const std::uint8_t* pixels,
                                            const PngTextChunks& textChunks)
{
    if (width < 1 || height < 1 || width > (1 << 24) || height > (1 << 24))
        return makeError("a PNG needs a size between 1 and 16777216 pixels per side, not " + std::to_string(width) +
                         "x" + std::to_string(height));
    if (channels != 3 && channels != 4) return makeError("a PNG is written with 3 or 4 channels");
    if (!pixels) return makeError("no pixels to write");
    const std::size_t rowBytes = static_cast<std::size_t>(width) * static_cast<std::size_t>(channels);
    if (rowBytes + 1 > kMaxFileBytes / static_cast<std::size_t>(height))
        return makeError("the image is too large to write as one PNG");

    std::vector<std::uint8_t> out(kSignature, kSignature + 8);
    std::vector<std::uint8_t> ihdr;
    putU32(ihdr, static_cast<std::uint32_t>(width));
    putU32(ihdr, static_cast<std::uint32_t>(height));
    // bit depth 8, colour type 2 (RGB) or 6 (RGBA), deflate, adaptive filtering, no interlace
    ihdr.insert(ihdr.end(), {8, static_cast<std::uint8_t>(channels == 3 ? 2 : 6), 0, 0, 0});
    putChunk(out, "IHDR", ihdr.data(), ihdr.size());

    // Text before the image data, where readers that stop early (and A1111's PIL) find it.
    for (const auto& [keyword, text] : textChunks) {
        if (auto ok = checkKeyword(keyword); !ok) return ok.error();
        if (text.find('\0') != std::string::npos) return makeError("a PNG text may not hold a NUL", keyword);
        std::vector<char32_t> cps;
        if (!decodeUtf8(text, cps)) return makeError("a PNG text is not valid UTF-8", keyword);
        bool latin1 = true;
        for (char32_t c : cps) latin1 = latin1 && c <= 0xff;
        std::vector<char32_t> keyCps;
        decodeUtf8(keyword, keyCps);
        std::string data;
        for (char32_t c : keyCps) data.push_back(static_cast<char>(static_cast<unsigned char>(c)));
        data.push_back('\0');
        if (latin1) {
            for (char32_t c : cps) data.push_back(static_cast<char>(static_cast<unsigned char>(c)));
            putChunk(out, "tEXt", data);
        } else {
            // compression flag 0, method 0, no language tag, no translated keyword
            data.append(std::string("\0\0\0\0", 4));
            data += text;
            putChunk(out, "iTXt", data);
        }
    }

    std::vector<std::uint8_t> raw;
    raw.reserve((rowBytes + 1) * static_cast<std::size_t>(height));
    for (int y = 0; y < height; ++y) {
        raw.push_back(0);  // filter type None: simple, and the output is the same on every machine
        const std::uint8_t* row = pixels + static_cast<std::size_t>(y) * rowBytes;
        raw.insert(raw.end(), row, row + rowBytes);
    }
    auto idat = deflate(raw.data(), raw.size());
    if (!idat) return idat.error();
    putChunk(out, "IDAT", idat->data(), idat->size());
    putChunk(out, "IEND", nullptr, 0);
    return out;
}

Result<void> writePng(const std::string& path, int width, int height, int channels, const std::uint8_t* pixels,
                      const PngTextChunks& textChunks)
{
    auto bytes = encodePng(width, height, channels, pixels, textChunks);
    if (!bytes) {
        Error e = bytes.error();
        if (e.where.empty()) e.where = path;
        return e;
    }
    return writeFileAtomically(path, *bytes);
}

Result<PngTextChunks> readPngText(const std::uint8_t* data, std::size_t size, const std::string& where)
{
    auto bad = [&](const std::string& what) {
        return makeError(what, where, "the file is truncated or not a PNG");
    };
    if (size < 8 || std::memcmp(data, kSignature, 8) != 0) return bad("not a PNG file (wrong signature)");
    PngTextChunks chunks;
    std::size_t pos = 8;
    bool first = true;
    for (;;) {
        if (size - pos < 12) return bad("the PNG ends in the middle of a chunk");
        const std::uint32_t length = getU32(data + pos);
        if (length > 0x7fffffffu || length > size - pos - 12) return bad("a PNG chunk is longer than the file");
        const std::uint8_t* type = data + pos + 4;
        const std::uint8_t* body = type + 4;
        uLong crc = crc32(0L, Z_NULL, 0);
        crc = crc32(crc, type, static_cast<uInt>(length) + 4);
        if (static_cast<std::uint32_t>(crc) != getU32(body + length))
            return bad("a PNG chunk's CRC does not match (" + std::string(type, type + 4) + ")");
        const std::string t(type, type + 4);
        if (first && t != "IHDR") return bad("a PNG must start with its IHDR chunk");
        first = false;
        pos += 12 + length;
        if (t == "IEND") break;
        if (t != "tEXt" && t != "zTXt" && t != "iTXt") continue;

        const auto* end = body + length;
        const auto* nul = static_cast<const std::uint8_t*>(std::memchr(body, 0, length));
        if (!nul || nul == body || nul - body > 79) return bad("a PNG " + t + " chunk has no valid keyword");
        std::string keyword = latin1ToUtf8(body, static_cast<std::size_t>(nul - body));
        const std::uint8_t* p = nul + 1;
        if (t == "tEXt") {
            chunks.emplace_back(std::move(keyword), latin1ToUtf8(p, static_cast<std::size_t>(end - p)));
        } else if (t == "zTXt") {
            if (end - p < 1 || *p != 0) return bad("a PNG zTXt chunk uses an unknown compression method");
            auto text = inflateCapped(p + 1, static_cast<std::size_t>(end - p - 1), kMaxTextBytes);
            if (!text) return bad(text.error().what + " (" + keyword + ")");
            chunks.emplace_back(std::move(keyword), latin1ToUtf8(reinterpret_cast<const std::uint8_t*>(text->data()),
                                                                 text->size()));
        } else {
            if (end - p < 2) return bad("a PNG iTXt chunk is too short");
            const std::uint8_t compressed = p[0], method = p[1];
            p += 2;
            for (int field = 0; field < 2; ++field) {  // language tag, translated keyword
                const auto* z = static_cast<const std::uint8_t*>(std::memchr(p, 0, static_cast<std::size_t>(end - p)));
                if (!z) return bad("a PNG iTXt chunk is malformed");
                p = z + 1;
            }
            std::string text;
            if (compressed) {
                if (method != 0) return bad("a PNG iTXt chunk uses an unknown compression method");
                auto inflated = inflateCapped(p, static_cast<std::size_t>(end - p), kMaxTextBytes);
                if (!inflated) return bad(inflated.error().what + " (" + keyword + ")");
                text = std::move(*inflated);
            } else {
                text.assign(p, end);
            }
            chunks.emplace_back(std::move(keyword), std::move(text));
        }
    }
    return chunks;
}

Result<PngTextChunks> readPngText(const std::string& path)
{
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (!in) return makeError("cannot open the file", path, "check that it exists and is readable");
    const auto size = static_cast<std::streamoff>(in.tellg());
    if (size < 0) return makeError("cannot read the file", path);
    if (static_cast<std::uint64_t>(size) > kMaxFileBytes)
        return makeError("the file is larger than a PNG Kiln reads (1 GiB)", path);
    std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
    in.seekg(0);
    if (size > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), size))
        return makeError("cannot read the file", path);
    return readPngText(bytes.data(), bytes.size(), path);
}

}  // namespace kiln::io
