// Small UTF-8 helpers shared by the CLIP tokenizer and the prompt parser. Both mirror Python code,
// so "whitespace" here means what Python's str.isspace() / re's \s mean, not what <cctype> means.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace kiln::diffusion::utf8 {

inline constexpr char32_t kReplacement = 0xFFFD;

// Decodes one code point at `pos` and advances it. Malformed input (bad lead byte, truncated or
// overlong sequence, surrogate, > U+10FFFF) yields U+FFFD and skips the maximal bad prefix, as
// Python's errors="replace" does, so a hostile byte string can never stall or overrun a loop.
inline char32_t next(std::string_view s, std::size_t& pos)
{
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
    const unsigned char b0 = byte(pos);
    if (b0 < 0x80) {
        ++pos;
        return b0;
    }
    int len = 0;
    char32_t cp = 0;
    char32_t lo = 0x80, hi = 0xBF;  // the allowed range of the second byte (excludes overlongs/surrogates)
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        len = 2;
        cp = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        len = 3;
        cp = b0 & 0x0F;
        if (b0 == 0xE0) lo = 0xA0;
        if (b0 == 0xED) hi = 0x9F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        len = 4;
        cp = b0 & 0x07;
        if (b0 == 0xF0) lo = 0x90;
        if (b0 == 0xF4) hi = 0x8F;
    } else {
        ++pos;
        return kReplacement;
    }
    std::size_t i = pos + 1;
    for (int k = 1; k < len; ++k, ++i) {
        const unsigned char lower = k == 1 ? static_cast<unsigned char>(lo) : 0x80;
        const unsigned char upper = k == 1 ? static_cast<unsigned char>(hi) : 0xBF;
        if (i >= s.size() || byte(i) < lower || byte(i) > upper) {
            pos = i;
            return kReplacement;
        }
        cp = (cp << 6) | (byte(i) & 0x3F);
    }
    pos = i;
    return cp;
}

inline void append(std::string& out, char32_t cp)
{
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

// Python's str.isspace(): the code points re's \s matches in a str pattern.
inline bool isSpace(char32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

}  // namespace kiln::diffusion::utf8
