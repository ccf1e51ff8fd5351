#include "diffusion/clip_tokenizer.h"

#include "diffusion/text_utf8.h"

#include <nlohmann/json.hpp>
#include <re2/re2.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <fstream>
#include <limits>
#include <mutex>
#include <sstream>
#include <system_error>
#include <unordered_map>
#include <utility>

namespace kiln::diffusion {

namespace fs = std::filesystem;

namespace {

constexpr const char* kStartToken = "<|startoftext|>";
constexpr const char* kEndToken = "<|endoftext|>";
constexpr const char* kEndOfWord = "</w>";

// CLIP's real files are ~1 MB; the limits only stop a hostile file from exhausting memory.
constexpr std::uintmax_t kMaxFileBytes = 64ull << 20;
constexpr std::size_t kMaxVocabEntries = 1u << 20;
constexpr std::uint64_t kMaxTokenId = (1u << 24) - 1;
// OpenAI and Hugging Face both read only this many merges (49152 ids less 256 bytes and 2 specials);
// a merges.txt with more lines is tokenized as CLIP would tokenize it.
constexpr std::size_t kClipMergeCount = 49152 - 256 - 2;
// Prompts reuse a few hundred words; the bound keeps a stream of unique words from growing memory.
constexpr std::size_t kMaxCacheEntries = 65536;
constexpr int kNoRank = std::numeric_limits<int>::max();

Result<std::string> readTokenizerFile(const fs::path& path, const char* role)
{
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) {
        return makeError(std::string("CLIP tokenizer ") + role + " not found", path.string(),
                         "choose a diffusers model's tokenizer/ folder, which holds vocab.json and merges.txt");
    }
    const auto size = fs::file_size(path, ec);
    if (ec) {
        return makeError(std::string("cannot read the CLIP tokenizer ") + role + ": " + ec.message(), path.string());
    }
    if (size > kMaxFileBytes) {
        return makeError(std::string("the CLIP tokenizer ") + role + " is " + std::to_string(size) +
                             " bytes, far more than a CLIP tokenizer holds (64 MiB at most)",
                         path.string(), "check that this is the right file");
    }
    std::ifstream in(path, std::ios::binary);
    std::string data(static_cast<std::size_t>(size), '\0');
    if (!in || !in.read(data.data(), static_cast<std::streamsize>(size))) {
        return makeError(std::string("cannot read the CLIP tokenizer ") + role, path.string(),
                         "check the file's permissions");
    }
    return data;
}

// Reads vocab.json as a SAX stream so that a hostile file (deep nesting, wrong types, millions of
// entries) is rejected at the first bad value instead of being built into a DOM first.
class VocabReader : public nlohmann::json_sax<nlohmann::json> {
public:
    std::unordered_map<std::string, int> tokens;
    std::unordered_map<int, std::string> byId;
    std::string problem;

    bool null() override { return wrongType("null"); }
    bool boolean(bool) override { return wrongType("a boolean"); }
    bool number_integer(number_integer_t v) override
    {
        if (v < 0) return fail("token \"" + shortened(key_) + "\" has a negative id " + std::to_string(v));
        return add(static_cast<std::uint64_t>(v));
    }
    bool number_unsigned(number_unsigned_t v) override { return add(v); }
    bool number_float(number_float_t, const string_t&) override { return wrongType("a fraction"); }
    bool string(string_t&) override { return wrongType("a string"); }
    bool binary(binary_t&) override { return wrongType("binary data"); }
    bool start_object(std::size_t) override
    {
        if (depth_++ == 0) return true;
        return wrongType("an object");
    }
    bool end_object() override
    {
        --depth_;
        return true;
    }
    bool start_array(std::size_t) override { return wrongType("an array"); }
    bool end_array() override { return true; }
    bool key(string_t& k) override
    {
        key_ = k;
        return true;
    }
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& ex) override
    {
        if (problem.empty()) problem = std::string("not valid JSON: ") + ex.what();
        return false;
    }

private:
    bool add(std::uint64_t id)
    {
        if (depth_ != 1) return wrongType("a number");
        if (id > kMaxTokenId) {
            return fail("token \"" + shortened(key_) + "\" has id " + std::to_string(id) +
                        ", beyond any CLIP vocabulary");
        }
        if (tokens.size() >= kMaxVocabEntries) {
            return fail("more than " + std::to_string(kMaxVocabEntries) + " tokens, far more than CLIP's 49408");
        }
        const int i = static_cast<int>(id);
        if (!tokens.emplace(key_, i).second) return fail("token \"" + shortened(key_) + "\" is listed twice");
        const auto [it, fresh] = byId.emplace(i, key_);
        if (!fresh) {
            return fail("id " + std::to_string(i) + " is given to both \"" + shortened(it->second) + "\" and \"" +
                        shortened(key_) + "\"");
        }
        return true;
    }
    bool wrongType(const char* what)
    {
        if (depth_ == 0) return fail(std::string("the top level is ") + what + ", not an object of token -> id");
        return fail("the value of \"" + shortened(key_) + "\" is " + what + ", not a token id");
    }
    bool fail(std::string why)
    {
        if (problem.empty()) problem = std::move(why);
        return false;
    }
    static std::string shortened(const std::string& s) { return s.size() <= 40 ? s : s.substr(0, 40) + "..."; }

    std::string key_;
    int depth_ = 0;
};

// GPT-2/CLIP's reversible byte -> printable code point table, so BPE never sees whitespace or
// control characters: printable Latin-1 bytes map to themselves, the rest to U+0100 upwards.
std::array<char32_t, 256> byteToCodePoint()
{
    std::array<char32_t, 256> table{};
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
        const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        table[static_cast<std::size_t>(b)] = printable ? static_cast<char32_t>(b) : next++;
    }
    return table;
}

// Python's str.lower() for the cased scripts whose letters appear in CLIP's vocabulary. Simple
// (one-to-one) mappings, plus the one one-to-two mapping Python applies on lower(): U+0130.
void appendLower(std::u32string& out, char32_t c)
{
    const auto evenUp = [&](char32_t lo, char32_t hi) { return c >= lo && c <= hi && (c % 2) == (lo % 2); };
    char32_t r = c;
    if ((c >= 'A' && c <= 'Z') || (c >= 0xC0 && c <= 0xDE && c != 0xD7)) r = c + 32;
    else if (c == 0x130) {
        out += U'i';
        out += char32_t(0x307);
        return;
    }
    else if (evenUp(0x100, 0x12F) || evenUp(0x132, 0x137) || evenUp(0x139, 0x148) || evenUp(0x14A, 0x177) ||
             evenUp(0x179, 0x17E) || evenUp(0x1CD, 0x1DC) || evenUp(0x1DE, 0x1EF) || evenUp(0x1F8, 0x21F) ||
             evenUp(0x222, 0x233) || evenUp(0x3D8, 0x3EF) || evenUp(0x460, 0x481) || evenUp(0x48A, 0x4BF) ||
             evenUp(0x4C1, 0x4CE) || evenUp(0x4D0, 0x52F) || evenUp(0x1E00, 0x1E95) || evenUp(0x1EA0, 0x1EFF))
        r = c + 1;
    else if (c == 0x178) r = 0xFF;
    else if (c == 0x1C4 || c == 0x1C7 || c == 0x1CA || c == 0x1F1) r = c + 2;
    else if (c == 0x1C5 || c == 0x1C8 || c == 0x1CB || c == 0x1F2) r = c + 1;
    else if (c == 0x386) r = 0x3AC;
    else if (c >= 0x388 && c <= 0x38A) r = c + 37;
    else if (c == 0x38C) r = 0x3CC;
    else if (c == 0x38E || c == 0x38F) r = c + 63;
    else if ((c >= 0x391 && c <= 0x3A1) || (c >= 0x3A3 && c <= 0x3AB)) r = c + 32;
    else if (c >= 0x400 && c <= 0x40F) r = c + 80;
    else if (c >= 0x410 && c <= 0x42F) r = c + 32;
    else if (c == 0x4C0) r = 0x4CF;
    else if (c >= 0x531 && c <= 0x556) r = c + 48;
    else if ((c >= 0x10A0 && c <= 0x10C5) || c == 0x10C7 || c == 0x10CD) r = c + 0x1C60;
    else if (c == 0x1E9E) r = 0xDF;
    else if (c == 0x2126) r = 0x3C9;
    else if (c == 0x212A) r = 'k';
    else if (c == 0x212B) r = 0xE5;
    else if (c >= 0x2160 && c <= 0x216F) r = c + 16;
    else if (c >= 0x24B6 && c <= 0x24CF) r = c + 26;
    out += r;
}

// ftfy's remove_control_chars set (tabs and line breaks are whitespace, handled elsewhere).
bool isDroppedControl(char32_t c)
{
    return c <= 0x08 || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F || (c >= 0x206A && c <= 0x206F) ||
           c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFC) || (c >= 0x1D173 && c <= 0x1D17A) ||
           (c >= 0xE0000 && c <= 0xE007F);
}

// One HTML character reference starting at text[i] == '&' (ftfy's pattern: &#?[0-9A-Za-z]{1,24};).
// Returns the replacement and the length consumed, or 0 when it is not a reference Kiln knows.
std::size_t unescapeAt(const std::u32string& text, std::size_t i, std::u32string& out)
{
    std::size_t end = i + 1;
    const bool numeric = end < text.size() && text[end] == U'#';
    if (numeric) ++end;
    const std::size_t nameStart = end;
    while (end < text.size() && end - nameStart < 25 &&
           ((text[end] >= U'0' && text[end] <= U'9') || (text[end] >= U'a' && text[end] <= U'z') ||
            (text[end] >= U'A' && text[end] <= U'Z')))
        ++end;
    if (end == nameStart || end - nameStart > 24 || end >= text.size() || text[end] != U';') return 0;
    std::string name;
    for (std::size_t k = nameStart; k < end; ++k) name += static_cast<char>(text[k]);
    char32_t cp = 0;
    if (numeric) {
        const bool hex = name[0] == 'x' || name[0] == 'X';
        std::uint64_t v = 0;
        for (std::size_t k = hex ? 1 : 0; k < name.size(); ++k) {
            const char ch = name[k];
            int d = -1;
            if (ch >= '0' && ch <= '9') d = ch - '0';
            else if (hex && ch >= 'a' && ch <= 'f') d = ch - 'a' + 10;
            else if (hex && ch >= 'A' && ch <= 'F') d = ch - 'A' + 10;
            if (d < 0) return 0;
            v = std::min<std::uint64_t>(v * (hex ? 16 : 10) + static_cast<std::uint64_t>(d), 0x110000);
        }
        if (name.size() == (hex ? 1u : 0u)) return 0;
        cp = (v == 0 || v >= 0x110000 || (v >= 0xD800 && v <= 0xDFFF)) ? utf8::kReplacement : static_cast<char32_t>(v);
    } else {
        static const std::pair<const char*, char32_t> kNamed[] = {
            {"amp", U'&'}, {"lt", U'<'}, {"gt", U'>'}, {"quot", U'"'}, {"apos", U'\''}, {"nbsp", 0xA0}};
        for (const auto& [n, c] : kNamed)
            if (name == n) cp = c;
        if (cp == 0) return 0;
    }
    out += cp;
    return end - i + 1;
}

// ftfy's character fixes that need no tables: quotes, fullwidth ASCII, Latin ligatures.
void appendFixed(std::u32string& out, char32_t c)
{
    if (c == 0x2BC || (c >= 0x2018 && c <= 0x201B)) out += U'\'';
    else if (c >= 0x201C && c <= 0x201F) out += U'"';
    else if (c >= 0xFF01 && c <= 0xFF5E) out += c - 0xFF01 + U'!';
    else if (c == 0x3000) out += U' ';
    else if (c == 0x132) out += U"IJ";
    else if (c == 0x133) out += U"ij";
    else if (c == 0xFB00) out += U"ff";
    else if (c == 0xFB01) out += U"fi";
    else if (c == 0xFB02) out += U"fl";
    else if (c == 0xFB03) out += U"ffi";
    else if (c == 0xFB04) out += U"ffl";
    else if (c == 0xFB05) out += U"\u017Ft";
    else if (c == 0xFB06) out += U"st";
    else out += c;
}

const re2::RE2& wordPattern()
{
    // CLIP's pre-tokenizer. After normalize() the only whitespace left is ' ', so RE2's ASCII \s
    // agrees with Python's Unicode \s here.
    static const re2::RE2 pattern(
        R"((?i)<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+)");
    return pattern;
}

}  // namespace

struct ClipTokenizer::Impl {
    std::unordered_map<std::string, int> encoder;
    std::unordered_map<int, std::string> decoder;
    std::unordered_map<std::string, int> ranks;  // "first second" -> rank; symbols never hold a space
    std::array<std::string, 256> byteEncoder;
    std::unordered_map<char32_t, unsigned char> byteDecoder;
    int start = 0;
    int end = 0;

    mutable std::mutex cacheMutex;
    mutable std::unordered_map<std::string, std::vector<int>> cache;

    int idOrUnknown(const std::string& token) const
    {
        const auto it = encoder.find(token);
        return it == encoder.end() ? end : it->second;
    }

    // BPE on one pre-token already mapped to byte code points: split into code points, mark the last
    // with </w>, then repeatedly merge every occurrence of the best-ranked adjacent pair.
    std::vector<int> bpe(const std::string& word) const
    {
        {
            std::lock_guard lock(cacheMutex);
            if (const auto it = cache.find(word); it != cache.end()) return it->second;
        }
        std::vector<std::string> symbols;
        for (std::size_t pos = 0; pos < word.size();) {
            const std::size_t from = pos;
            utf8::next(word, pos);
            symbols.emplace_back(word.substr(from, pos - from));
        }
        if (symbols.empty()) return {};
        symbols.back() += kEndOfWord;

        // pairRank[i] is the rank of (symbols[i], symbols[i + 1]). A merge pass changes only the pairs
        // that touch a merged symbol, so only those are looked up again: a long word (a pasted blob
        // without spaces) costs a scan of integers per pass rather than a hash lookup per pair.
        std::string key;
        const auto rankOf = [&](const std::string& a, const std::string& b) {
            key.assign(a).append(" ").append(b);
            const auto it = ranks.find(key);
            return it == ranks.end() ? kNoRank : it->second;
        };
        std::vector<int> pairRank(symbols.size() - 1);
        for (std::size_t i = 0; i + 1 < symbols.size(); ++i) pairRank[i] = rankOf(symbols[i], symbols[i + 1]);

        while (!pairRank.empty()) {
            const auto best = static_cast<std::size_t>(std::min_element(pairRank.begin(), pairRank.end()) -
                                                       pairRank.begin());
            if (pairRank[best] == kNoRank) break;
            // Every occurrence of the best pair merges, left to right without overlap, as in CLIP's bpe().
            const std::string first = symbols[best], second = symbols[best + 1];
            std::vector<std::string> merged;
            std::vector<std::ptrdiff_t> origin;  // the old index of a symbol that did not change, else -1
            merged.reserve(symbols.size());
            origin.reserve(symbols.size());
            for (std::size_t i = 0; i < symbols.size();) {
                if (i + 1 < symbols.size() && symbols[i] == first && symbols[i + 1] == second) {
                    merged.push_back(first + second);
                    origin.push_back(-1);
                    i += 2;
                } else {
                    merged.push_back(std::move(symbols[i]));
                    origin.push_back(static_cast<std::ptrdiff_t>(i));
                    ++i;
                }
            }
            std::vector<int> mergedRank(merged.size() - 1);
            for (std::size_t j = 0; j + 1 < merged.size(); ++j) {
                // Two unchanged neighbours were neighbours before, so their pair's rank is known.
                mergedRank[j] = origin[j] >= 0 && origin[j + 1] >= 0 ? pairRank[static_cast<std::size_t>(origin[j])]
                                                                     : rankOf(merged[j], merged[j + 1]);
            }
            symbols = std::move(merged);
            pairRank = std::move(mergedRank);
        }

        std::vector<int> ids;
        ids.reserve(symbols.size());
        for (const auto& s : symbols) ids.push_back(idOrUnknown(s));
        std::lock_guard lock(cacheMutex);
        if (cache.size() >= kMaxCacheEntries) cache.clear();
        cache.emplace(word, ids);
        return ids;
    }
};

ClipTokenizer::ClipTokenizer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<ClipTokenizer> ClipTokenizer::fromFolder(const fs::path& dir)
{
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
        return makeError("CLIP tokenizer folder not found", dir.string(),
                         "choose a diffusers model's tokenizer/ folder, which holds vocab.json and merges.txt");
    }
    // A model root is accepted too, since that is the folder people pick.
    const fs::path nested = dir / "tokenizer";
    if (!fs::exists(dir / "vocab.json", ec) && !fs::exists(dir / "merges.txt", ec) && fs::is_directory(nested, ec))
        return fromFiles(nested / "vocab.json", nested / "merges.txt");
    if (!fs::exists(dir / "vocab.json", ec) || !fs::exists(dir / "merges.txt", ec)) {
        const std::string missing = !fs::exists(dir / "vocab.json", ec) ? "vocab.json" : "merges.txt";
        return makeError("CLIP tokenizer " + missing + " not found", dir.string(),
                         "Kiln looked for vocab.json and merges.txt in " + dir.string() + " and in " + nested.string() +
                             "; choose a diffusers model's tokenizer/ folder");
    }
    return fromFiles(dir / "vocab.json", dir / "merges.txt");
}

Result<ClipTokenizer> ClipTokenizer::fromFiles(const fs::path& vocabJson, const fs::path& mergesTxt)
{
    try {
        auto vocabText = readTokenizerFile(vocabJson, "vocabulary (vocab.json)");
        if (!vocabText) return vocabText.error();
        auto mergesText = readTokenizerFile(mergesTxt, "merge list (merges.txt)");
        if (!mergesText) return mergesText.error();

        auto impl = std::make_shared<Impl>();
        VocabReader reader;
        const std::string& vt = *vocabText;
        const bool parsed = nlohmann::json::sax_parse(vt.begin(), vt.end(), &reader);
        if (!parsed || !reader.problem.empty()) {
            return makeError("the CLIP vocabulary is malformed: " +
                                 (reader.problem.empty() ? std::string("not a JSON object") : reader.problem),
                             vocabJson.string(), "re-download the model's tokenizer/vocab.json");
        }
        impl->encoder = std::move(reader.tokens);
        impl->decoder = std::move(reader.byId);
        for (const char* special : {kStartToken, kEndToken}) {
            if (!impl->encoder.count(special)) {
                return makeError(std::string("the CLIP vocabulary has no ") + special + " token", vocabJson.string(),
                                 "this is not a CLIP tokenizer's vocab.json");
            }
        }
        impl->start = impl->encoder.at(kStartToken);
        impl->end = impl->encoder.at(kEndToken);

        std::istringstream lines(*mergesText);
        std::string line;
        std::size_t lineNo = 0;
        std::size_t rank = 0;
        while (rank < kClipMergeCount && std::getline(lines, line)) {
            ++lineNo;
            if (!line.empty() && line.back() == '\r') line.pop_back();
            if (lineNo == 1 && line.rfind("#version", 0) == 0) continue;
            const auto isBlank = [](char c) { return c == ' ' || c == '\t'; };
            std::vector<std::string> parts;
            for (std::size_t i = 0; i < line.size();) {
                while (i < line.size() && isBlank(line[i])) ++i;
                const std::size_t from = i;
                while (i < line.size() && !isBlank(line[i])) ++i;
                if (i > from) parts.push_back(line.substr(from, i - from));
            }
            if (parts.empty()) continue;
            if (parts.size() != 2) {
                const std::string shown = line.size() <= 40 ? line : line.substr(0, 40) + "...";
                return makeError("the CLIP merge list is malformed: line " + std::to_string(lineNo) +
                                     " should be two symbols separated by a space, not \"" + shown + "\"",
                                 mergesTxt.string(), "re-download the model's tokenizer/merges.txt");
            }
            // Later duplicates win, as in Python's dict(zip(merges, range(...))).
            impl->ranks[parts[0] + " " + parts[1]] = static_cast<int>(rank++);
        }
        if (impl->ranks.empty()) {
            return makeError("the CLIP merge list holds no merges", mergesTxt.string(),
                             "re-download the model's tokenizer/merges.txt");
        }

        const auto table = byteToCodePoint();
        for (std::size_t b = 0; b < 256; ++b) {
            utf8::append(impl->byteEncoder[b], table[b]);
            impl->byteDecoder.emplace(table[b], static_cast<unsigned char>(b));
        }
        if (!wordPattern().ok()) return makeError("CLIP's word pattern does not compile: " + wordPattern().error());
        return ClipTokenizer(std::move(impl));
    } catch (const std::exception& e) {
        return makeError(std::string("cannot load the CLIP tokenizer: ") + e.what(), vocabJson.string());
    }
}

std::string ClipTokenizer::normalize(std::string_view text)
{
    std::u32string decoded;
    decoded.reserve(text.size());
    bool hasLessThan = false;
    for (std::size_t pos = 0; pos < text.size();) {
        const char32_t c = utf8::next(text, pos);
        hasLessThan = hasLessThan || c == U'<';
        decoded += c;
    }

    std::u32string fixed;
    fixed.reserve(decoded.size());
    for (std::size_t i = 0; i < decoded.size();) {
        std::u32string unescaped;
        const std::size_t used = (!hasLessThan && decoded[i] == U'&') ? unescapeAt(decoded, i, unescaped) : 0;
        if (used > 0) i += used;
        else unescaped = decoded[i++];
        for (const char32_t c : unescaped)
            if (!isDroppedControl(c)) appendFixed(fixed, c);
    }

    std::u32string lowered;
    lowered.reserve(fixed.size());
    bool pendingSpace = false;
    for (const char32_t c : fixed) {
        if (utf8::isSpace(c)) {
            pendingSpace = !lowered.empty();
            continue;
        }
        if (pendingSpace) lowered += U' ';
        pendingSpace = false;
        appendLower(lowered, c);
    }

    std::string out;
    out.reserve(lowered.size());
    for (const char32_t c : lowered) utf8::append(out, c);
    return out;
}

std::vector<int> ClipTokenizer::encode(std::string_view text) const
{
    const std::string clean = normalize(text);
    const re2::RE2& pattern = wordPattern();
    const re2::StringPiece input(clean.data(), clean.size());
    std::vector<int> ids;
    std::size_t pos = 0;
    re2::StringPiece match;
    while (pos < clean.size() && pattern.Match(input, pos, clean.size(), re2::RE2::UNANCHORED, &match, 1)) {
        const std::size_t from = static_cast<std::size_t>(match.data() - clean.data());
        pos = from + std::max<std::size_t>(match.size(), 1);
        const std::string_view piece(match.data(), match.size());
        if (piece == kStartToken) {
            ids.push_back(impl_->start);
            continue;
        }
        if (piece == kEndToken) {
            ids.push_back(impl_->end);
            continue;
        }
        std::string word;
        for (const char ch : piece) word += impl_->byteEncoder[static_cast<unsigned char>(ch)];
        const auto pieceIds = impl_->bpe(word);
        ids.insert(ids.end(), pieceIds.begin(), pieceIds.end());
    }
    return ids;
}

std::vector<int> ClipTokenizer::encodeWindow(std::string_view text) const
{
    const auto ids = encode(text);
    std::vector<int> window;
    window.reserve(kContextLength);
    window.push_back(impl_->start);
    const std::size_t kept = std::min<std::size_t>(ids.size(), kChunkLength);
    window.insert(window.end(), ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(kept));
    window.push_back(impl_->end);
    window.resize(kContextLength, padId());
    return window;
}

Result<std::string> ClipTokenizer::decode(std::span<const int> ids, bool skipSpecial) const
{
    std::string joined;
    for (const int id : ids) {
        if (skipSpecial && (id == impl_->start || id == impl_->end)) continue;
        const auto it = impl_->decoder.find(id);
        if (it == impl_->decoder.end()) {
            return makeError("token id " + std::to_string(id) + " is not in the CLIP vocabulary", {},
                             "the ids come from another tokenizer or are corrupt");
        }
        joined += it->second;
    }
    std::string bytes;
    for (std::size_t pos = 0; pos < joined.size();) {
        const std::size_t from = pos;
        const char32_t c = utf8::next(joined, pos);
        if (const auto it = impl_->byteDecoder.find(c); it != impl_->byteDecoder.end())
            bytes += static_cast<char>(it->second);
        else
            bytes.append(joined, from, pos - from);  // a vocabulary token outside the byte alphabet
    }
    std::string text;
    for (std::size_t pos = 0; pos < bytes.size();) {
        if (bytes.compare(pos, 4, kEndOfWord) == 0) {
            text += ' ';
            pos += 4;
            continue;
        }
        utf8::append(text, utf8::next(bytes, pos));
    }
    const auto first = text.find_first_not_of(' ');
    if (first == std::string::npos) return std::string();
    return text.substr(first, text.find_last_not_of(' ') - first + 1);
}

int ClipTokenizer::startId() const { return impl_->start; }
int ClipTokenizer::endId() const { return impl_->end; }
int ClipTokenizer::padId() const { return impl_->end; }

std::optional<int> ClipTokenizer::idOf(std::string_view token) const
{
    const auto it = impl_->encoder.find(std::string(token));
    if (it == impl_->encoder.end()) return std::nullopt;
    return it->second;
}

std::size_t ClipTokenizer::vocabSize() const { return impl_->encoder.size(); }

}  // namespace kiln::diffusion
