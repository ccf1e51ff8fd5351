#include "train/char_vocab.h"

#include <algorithm>

namespace kiln::train {

std::vector<char32_t> decodeUtf8(std::string_view s)
{
    std::vector<char32_t> out;
    out.reserve(s.size());
    std::size_t i = 0;
    while (i < s.size()) {
        const auto b = static_cast<unsigned char>(s[i]);
        int len = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
        char32_t c = len == 1 ? b : len == 2 ? (b & 0x1F) : len == 3 ? (b & 0x0F) : (b & 0x07);
        bool ok = len > 0 && i + static_cast<std::size_t>(len) <= s.size();
        for (int k = 1; ok && k < len; ++k) {
            const auto cb = static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]);
            if ((cb >> 6) != 2) ok = false;
            else c = (c << 6) | (cb & 0x3F);
        }
        // Overlong forms and surrogates are invalid too.
        if (ok && ((len == 2 && c < 0x80) || (len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10FFFF)) ||
                   (c >= 0xD800 && c <= 0xDFFF)))
            ok = false;
        if (!ok) {
            out.push_back(0xFFFD);
            i += 1;
        } else {
            out.push_back(c);
            i += static_cast<std::size_t>(len);
        }
    }
    return out;
}

void appendUtf8(std::string& out, char32_t c)
{
    if (c < 0x80) {
        out.push_back(static_cast<char>(c));
    } else if (c < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (c >> 6)));
        out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else if (c < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (c >> 12)));
        out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (c >> 18)));
        out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
}

CharVocab CharVocab::fromText(std::string_view utf8)
{
    auto cps = decodeUtf8(utf8);
    std::sort(cps.begin(), cps.end());
    cps.erase(std::unique(cps.begin(), cps.end()), cps.end());
    CharVocab v;
    v.chars_ = std::move(cps);
    for (std::size_t i = 0; i < v.chars_.size(); ++i) v.index_[v.chars_[i]] = static_cast<std::int64_t>(i);
    return v;
}

CharVocab CharVocab::fromChars(std::string_view utf8Chars)
{
    CharVocab v;
    for (char32_t c : decodeUtf8(utf8Chars)) {
        if (v.index_.count(c)) continue;
        v.index_[c] = static_cast<std::int64_t>(v.chars_.size());
        v.chars_.push_back(c);
    }
    return v;
}

std::vector<std::int64_t> CharVocab::encode(std::string_view utf8) const
{
    std::vector<std::int64_t> out;
    for (char32_t c : decodeUtf8(utf8))
        if (auto it = index_.find(c); it != index_.end()) out.push_back(it->second);
    return out;
}

std::string CharVocab::decode(std::span<const std::int64_t> tokens) const
{
    std::string out;
    for (auto t : tokens)
        appendUtf8(out, t >= 0 && t < size() ? chars_[static_cast<std::size_t>(t)] : char32_t{0xFFFD});
    return out;
}

std::string CharVocab::toString() const
{
    std::string out;
    for (char32_t c : chars_) appendUtf8(out, c);
    return out;
}

}  // namespace kiln::train
