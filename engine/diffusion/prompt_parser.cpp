#include "diffusion/prompt_parser.h"

#include "diffusion/text_utf8.h"

#include <charconv>
#include <cstring>
#include <exception>

namespace kiln::diffusion {

namespace {

constexpr double kRoundMultiplier = 1.1;
constexpr double kSquareMultiplier = 1 / 1.1;

bool isAsciiDigit(char c) { return c >= '0' && c <= '9'; }

// Python's \w for the code points prompts contain: ASCII letters, digits and '_', and non-ASCII
// letters. Non-ASCII punctuation, symbol and emoji blocks count as non-word; that is an approximation
// of Unicode's categories, only used to find the edges of the word BREAK.
bool isWordChar(char32_t c)
{
    if (c < 0x80) return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (utf8::isSpace(c)) return false;
    const bool punctuationOrSymbol = (c >= 0x80 && c <= 0xBF && c != 0xAA && c != 0xB5 && c != 0xBA) || c == 0xD7 ||
                                     c == 0xF7 || (c >= 0x2000 && c <= 0x2BFF) || (c >= 0x3000 && c <= 0x303F) ||
                                     (c >= 0xFE30 && c <= 0xFE4F) || (c >= 0xFF00 && c <= 0xFF0F) ||
                                     (c >= 0xFF1A && c <= 0xFF20) || (c >= 0xFF3B && c <= 0xFF40) ||
                                     (c >= 0xFF5B && c <= 0xFF65) || (c >= 0x1F000 && c <= 0x1FAFF);
    return !punctuationOrSymbol && c != utf8::kReplacement;
}

std::size_t previousStart(std::string_view s, std::size_t pos)
{
    std::size_t p = pos - 1;
    while (p > 0 && pos - p < 4 && (static_cast<unsigned char>(s[p]) & 0xC0) == 0x80) --p;
    return p;
}

char32_t codePointBefore(std::string_view s, std::size_t pos)
{
    std::size_t p = previousStart(s, pos);
    return utf8::next(s, p);
}

char32_t codePointAt(std::string_view s, std::size_t pos) { return utf8::next(s, pos); }

// re.split(r"\s*\bBREAK\b\s*", text): the pieces between BREAK keywords, whitespace around them dropped.
std::vector<std::string_view> splitOnBreak(std::string_view s)
{
    std::vector<std::string_view> parts;
    std::size_t pieceStart = 0;
    std::size_t from = 0;
    for (std::size_t k; (k = s.find("BREAK", from)) != std::string_view::npos;) {
        const std::size_t after = k + 5;
        const bool wordStart = k == 0 || !isWordChar(codePointBefore(s, k));
        const bool wordEnd = after == s.size() || !isWordChar(codePointAt(s, after));
        if (!wordStart || !wordEnd) {
            from = k + 1;
            continue;
        }
        // The leftmost match starts where the whitespace before BREAK starts (not before the last match).
        std::size_t begin = k;
        while (begin > pieceStart && utf8::isSpace(codePointBefore(s, begin))) begin = previousStart(s, begin);
        std::size_t end = after;
        while (end < s.size()) {
            std::size_t next = end;
            if (!utf8::isSpace(utf8::next(s, next))) break;
            end = next;
        }
        parts.push_back(s.substr(pieceStart, begin - pieceStart));
        pieceStart = from = end;
    }
    parts.push_back(s.substr(pieceStart));
    return parts;
}

// The alternative `:\s*([+-]?[.\d]+)\s*\)` at s[pos] == ':'. Returns the number's text and sets `end`
// past the ')', or nothing when the alternative does not match there.
std::optional<std::string_view> matchWeight(std::string_view s, std::size_t pos, std::size_t& end)
{
    const auto skipSpace = [&](std::size_t p) {
        while (p < s.size()) {
            std::size_t next = p;
            if (!utf8::isSpace(utf8::next(s, next))) break;
            p = next;
        }
        return p;
    };
    std::size_t p = skipSpace(pos + 1);
    const std::size_t numberStart = p;
    if (p < s.size() && (s[p] == '+' || s[p] == '-')) ++p;
    const std::size_t digitsStart = p;
    while (p < s.size() && (isAsciiDigit(s[p]) || s[p] == '.')) ++p;
    if (p == digitsStart) return std::nullopt;
    const std::size_t numberEnd = p;
    p = skipSpace(p);
    if (p >= s.size() || s[p] != ')') return std::nullopt;
    end = p + 1;
    return s.substr(numberStart, numberEnd - numberStart);
}

// Python's float() on what the weight pattern admits: digits with at most one '.', optional sign.
std::optional<double> parsePythonFloat(std::string_view text)
{
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    if (!text.empty() && text.front() == '+') {
        text.remove_prefix(1);
        if (!text.empty() && (text.front() == '+' || text.front() == '-')) return std::nullopt;
    }
    if (text.empty()) return std::nullopt;
    double value = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
    return value;
}

Error badWeight(std::string_view what, std::string_view number)
{
    return makeError(std::string(what) + " has the weight \"" + std::string(number) + "\", which is not a number",
                     "prompt", "write a number such as 1.2");
}

}  // namespace

Result<std::vector<WeightedText>> parsePromptAttention(std::string_view text)
{
    try {
        std::vector<WeightedText> res;
        std::vector<std::size_t> round;
        std::vector<std::size_t> square;
        const auto multiplyRange = [&](std::size_t from, double multiplier) {
            for (std::size_t p = from; p < res.size(); ++p) res[p].weight *= multiplier;
        };
        const auto addText = [&](std::string_view piece) {
            const auto parts = splitOnBreak(piece);
            for (std::size_t i = 0; i < parts.size(); ++i) {
                if (i > 0) res.push_back({"BREAK", -1.0});
                res.push_back({std::string(parts[i]), 1.0});
            }
        };

        for (std::size_t i = 0; i < text.size();) {
            const char c = text[i];
            if (c == '\\') {
                // \( \) \[ \] \\ give the character; a lone backslash gives nothing, as in A1111.
                const bool escape = i + 1 < text.size() && std::strchr("()[]\\", text[i + 1]) != nullptr;
                res.push_back({escape ? std::string(1, text[i + 1]) : std::string(), 1.0});
                i += escape ? 2 : 1;
            } else if (c == '(') {
                round.push_back(res.size());
                ++i;
            } else if (c == '[') {
                square.push_back(res.size());
                ++i;
            } else if (c == ':') {
                std::size_t end = 0;
                if (const auto number = matchWeight(text, i, end)) {
                    if (!round.empty()) {
                        const auto value = parsePythonFloat(*number);
                        if (!value) return badWeight(text.substr(i, end - i), *number);
                        multiplyRange(round.back(), *value);
                        round.pop_back();
                    } else {
                        addText(text.substr(i, end - i));
                    }
                    i = end;
                } else {
                    addText(":");
                    ++i;
                }
            } else if (c == ')' && !round.empty()) {
                multiplyRange(round.back(), kRoundMultiplier);
                round.pop_back();
                ++i;
            } else if (c == ']' && !square.empty()) {
                multiplyRange(square.back(), kSquareMultiplier);
                square.pop_back();
                ++i;
            } else if (c == ')' || c == ']') {
                addText(text.substr(i, 1));
                ++i;
            } else {
                const std::size_t end = text.find_first_of("\\()[]:", i);
                const std::size_t stop = end == std::string_view::npos ? text.size() : end;
                addText(text.substr(i, stop - i));
                i = stop;
            }
        }
        for (const std::size_t pos : round) multiplyRange(pos, kRoundMultiplier);
        for (const std::size_t pos : square) multiplyRange(pos, kSquareMultiplier);
        if (res.empty()) res.push_back({"", 1.0});

        std::vector<WeightedText> merged;
        merged.reserve(res.size());
        for (auto& piece : res) {
            if (!merged.empty() && merged.back().weight == piece.weight) merged.back().text += piece.text;
            else merged.push_back(std::move(piece));
        }
        return merged;
    } catch (const std::exception& e) {
        return makeError(std::string("cannot parse the prompt: ") + e.what(), "prompt");
    }
}

Result<ExtraNetworkParse> extractExtraNetworks(std::string_view prompt)
{
    try {
        ExtraNetworkParse out;
        std::size_t copied = 0;
        for (std::size_t lt = prompt.find('<'); lt != std::string_view::npos; lt = prompt.find('<', lt + 1)) {
            // <(\w+):([^>]+)>
            std::size_t p = lt + 1;
            while (p < prompt.size()) {
                std::size_t next = p;
                if (!isWordChar(utf8::next(prompt, next))) break;
                p = next;
            }
            if (p == lt + 1 || p >= prompt.size() || prompt[p] != ':') continue;
            const std::size_t gt = prompt.find('>', p + 1);
            if (gt == std::string_view::npos || gt == p + 1) continue;

            ExtraNetworkTag tag;
            tag.type = std::string(prompt.substr(lt + 1, p - lt - 1));
            tag.source = std::string(prompt.substr(lt, gt - lt + 1));
            const std::string_view args = prompt.substr(p + 1, gt - p - 1);
            for (std::size_t from = 0;;) {
                const std::size_t colon = args.find(':', from);
                const std::string_view item = args.substr(from, colon == std::string_view::npos ? colon : colon - from);
                // Python's item.split('=', 2) is named only with exactly one '='.
                const std::size_t eq = item.find('=');
                if (eq != std::string_view::npos && item.find('=', eq + 1) == std::string_view::npos)
                    tag.named.emplace_back(std::string(item.substr(0, eq)), std::string(item.substr(eq + 1)));
                else
                    tag.positional.emplace_back(item);
                if (colon == std::string_view::npos) break;
                from = colon + 1;
            }
            if (!tag.positional.empty()) tag.name = tag.positional.front();

            if (tag.type == "lora" || tag.type == "lyco" || tag.type == "hypernet") {
                const auto named = [&](const char* key) -> const std::string* {
                    const std::string* found = nullptr;
                    for (const auto& [k, v] : tag.named)
                        if (k == key) found = &v;  // the last one wins, as in a Python dict
                    return found;
                };
                const auto number = [&](const std::string& s) -> Result<double> {
                    if (const auto v = parsePythonFloat(s)) return *v;
                    return badWeight(tag.source, s);
                };
                if (tag.positional.size() > 1) {
                    auto v = number(tag.positional[1]);
                    if (!v) return v.error();
                    tag.weight = *v;
                }
                if (const std::string* te = named("te")) {
                    auto v = number(*te);
                    if (!v) return v.error();
                    tag.weight = *v;
                }
                tag.unetWeight = tag.weight;
                if (tag.positional.size() > 2) {
                    auto v = number(tag.positional[2]);
                    if (!v) return v.error();
                    tag.unetWeight = *v;
                }
                if (const std::string* unet = named("unet")) {
                    auto v = number(*unet);
                    if (!v) return v.error();
                    tag.unetWeight = *v;
                }
            }
            out.prompt.append(prompt.substr(copied, lt - copied));
            copied = gt + 1;
            out.tags.push_back(std::move(tag));
            lt = gt;
        }
        out.prompt.append(prompt.substr(copied));
        return out;
    } catch (const std::exception& e) {
        return makeError(std::string("cannot parse the prompt's extra-network tags: ") + e.what(), "prompt");
    }
}

Result<TokenizedPrompt> tokenizePrompt(const ClipTokenizer& tokenizer, std::string_view prompt,
                                       const ChunkingOptions& options)
{
    try {
        TokenizedPrompt out;
        auto extra = extractExtraNetworks(prompt);
        if (!extra) return extra.error();
        out.extraNetworks = std::move(extra->tags);

        std::vector<WeightedText> pieces;
        if (options.parseAttention) {
            auto parsed = parsePromptAttention(extra->prompt);
            if (!parsed) return parsed.error();
            pieces = std::move(*parsed);
        } else {
            pieces.push_back({extra->prompt, 1.0});
        }

        const int chunkLength = ClipTokenizer::kChunkLength;
        const int comma = tokenizer.idOf(",</w>").value_or(-1);
        const int start = tokenizer.startId();
        const int end = tokenizer.endId();
        const int pad = options.padId.value_or(tokenizer.padId());
        std::vector<int> tokens;
        std::vector<float> weights;
        int lastComma = -1;

        // A1111's next_chunk: frame the tokens so far as one window and start an empty one.
        const auto closeChunk = [&](bool isLast) {
            out.tokenCount += isLast ? static_cast<int>(tokens.size()) : chunkLength;
            PromptChunk chunk;
            chunk.ids.reserve(ClipTokenizer::kContextLength);
            chunk.ids.push_back(start);
            chunk.ids.insert(chunk.ids.end(), tokens.begin(), tokens.end());
            chunk.ids.resize(ClipTokenizer::kContextLength, end);
            chunk.weights.reserve(ClipTokenizer::kContextLength);
            chunk.weights.push_back(1.0f);
            chunk.weights.insert(chunk.weights.end(), weights.begin(), weights.end());
            chunk.weights.resize(ClipTokenizer::kContextLength, 1.0f);
            // SD 2.x pads with a different id after the first end token (A1111's process_tokens).
            if (pad != end) {
                bool afterEnd = false;
                for (int& id : chunk.ids) {
                    if (afterEnd) id = pad;
                    else afterEnd = id == end;
                }
            }
            out.chunks.push_back(std::move(chunk));
            tokens.clear();
            weights.clear();
            lastComma = -1;
        };

        for (const WeightedText& piece : pieces) {
            if (piece.isBreak()) {
                closeChunk(false);
                continue;
            }
            const float weight = static_cast<float>(piece.weight);
            for (const int token : tokenizer.encode(piece.text)) {
                const int length = static_cast<int>(tokens.size());
                if (token == comma) {
                    lastComma = length;
                } else if (options.commaBacktrack != 0 && length == chunkLength && lastComma != -1 &&
                           length - lastComma <= options.commaBacktrack) {
                    // Move the words after the last comma to the next chunk rather than cut one in half.
                    const auto cut = static_cast<std::ptrdiff_t>(lastComma + 1);
                    std::vector<int> movedTokens(tokens.begin() + cut, tokens.end());
                    std::vector<float> movedWeights(weights.begin() + cut, weights.end());
                    tokens.resize(static_cast<std::size_t>(cut));
                    weights.resize(static_cast<std::size_t>(cut));
                    closeChunk(false);
                    tokens = std::move(movedTokens);
                    weights = std::move(movedWeights);
                }
                if (static_cast<int>(tokens.size()) == chunkLength) closeChunk(false);
                tokens.push_back(token);
                weights.push_back(weight);
            }
        }
        if (!tokens.empty() || out.chunks.empty()) closeChunk(true);
        return out;
    } catch (const std::exception& e) {
        return makeError(std::string("cannot tokenize the prompt: ") + e.what(), "prompt");
    }
}

}  // namespace kiln::diffusion
