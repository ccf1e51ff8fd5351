// Characters as tokens for the small Llama-style model: the vocabulary is the sorted set of
// Unicode code points in the corpus. Standard library only.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace kiln::train {

class CharVocab {
public:
    CharVocab() = default;
    // Invalid UTF-8 bytes become U+FFFD rather than an error: a text file is never refused for them.
    static CharVocab fromText(std::string_view utf8);
    // Rebuilds one that was saved with toString() (e.g. beside a checkpoint).
    static CharVocab fromChars(std::string_view utf8Chars);

    std::int64_t size() const { return static_cast<std::int64_t>(chars_.size()); }
    // Characters the vocabulary lacks are dropped (a prompt may contain them).
    std::vector<std::int64_t> encode(std::string_view utf8) const;
    std::string decode(std::span<const std::int64_t> tokens) const;
    std::string toString() const;  // every character once, in token order
    const std::vector<char32_t>& chars() const { return chars_; }

private:
    std::vector<char32_t> chars_;
    std::unordered_map<char32_t, std::int64_t> index_;
};

std::vector<char32_t> decodeUtf8(std::string_view utf8);
void appendUtf8(std::string& out, char32_t c);

}  // namespace kiln::train
