// CLIP's byte-level BPE tokenizer (the text side of Stable Diffusion 1.x), read from a diffusers
// `tokenizer/` folder: vocab.json (token -> id) and merges.txt (merge rules, best first).
//
//     auto tok = kiln::diffusion::ClipTokenizer::fromFolder(modelDir / "tokenizer");
//     if (!tok) return tok.error();
//     std::vector<int> ids = tok->encode("a photo of a cat");       // 320 1125 539 320 2368
//     std::vector<int> window = tok->encodeWindow("a photo of a cat"); // 49406 ... 49407, padded to 77
//
// Text is cleaned the way CLIP (with ftfy, as Hugging Face's CLIPTokenizer and A1111 run it) cleans
// it, minus the parts that need Unicode tables Kiln does not carry:
//   - invalid UTF-8 becomes U+FFFD;
//   - HTML character references (&amp; &lt; &gt; &quot; &apos; &nbsp; &#NN; &#xNN;, with their ';')
//     are unescaped once, unless the text contains '<' (ftfy's "auto" rule: it may be HTML);
//   - curly quotes become ' and ", fullwidth ASCII becomes ASCII, the ﬀ ﬁ ﬂ ﬃ ﬄ ﬅ ﬆ ligatures are
//     spelled out, control characters and U+FEFF are dropped (ftfy's defaults);
//   - whitespace runs (Python's \s, so NBSP and U+3000 too) become one space, ends are stripped;
//   - text is lower-cased for Latin, Greek, Cyrillic, Armenian and Georgian (other scripts have
//     no case in CLIP's vocabulary, which was built from lower-cased text).
// Not done: ftfy's mojibake repair and NFC normalisation (a decomposed "e" + U+0301 stays two
// code points, so it tokenizes differently from a precomposed "é").
//
// A ClipTokenizer is cheap to copy (copies share the loaded tables) and safe to use from several
// threads at once; the BPE cache is guarded.
#pragma once

#include "kiln/result.h"

#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::diffusion {

class ClipTokenizer {
public:
    static constexpr int kContextLength = 77;  // the text encoder's positions: start + 75 + end
    static constexpr int kChunkLength = 75;    // prompt tokens that fit between start and end

    // Reads vocab.json and merges.txt from a diffusers `tokenizer/` folder; a model root that holds
    // `tokenizer/` is accepted too. The error names the file and every place Kiln looked.
    static Result<ClipTokenizer> fromFolder(const std::filesystem::path& dir);
    static Result<ClipTokenizer> fromFiles(const std::filesystem::path& vocabJson,
                                           const std::filesystem::path& mergesTxt);

    // The BPE ids of `text`, without start/end tokens and without a length limit. A literal
    // "<|startoftext|>" / "<|endoftext|>" in the text gives the special id, as CLIP does; a BPE piece
    // missing from the vocabulary gives endId() (Hugging Face's unk token for CLIP).
    std::vector<int> encode(std::string_view text) const;

    // The 77 ids a text encoder takes: start, the first 75 ids of encode(text), end, then padId().
    std::vector<int> encodeWindow(std::string_view text) const;

    // Text for ids (tokens joined, "</w>" read as a space, ends trimmed). skipSpecial leaves out the
    // start and end tokens, so a padded window decodes to its text. Fails on an id not in the vocab.
    Result<std::string> decode(std::span<const int> ids, bool skipSpecial = true) const;

    int startId() const;  // <|startoftext|>, 49406 in CLIP
    int endId() const;    // <|endoftext|>, 49407 in CLIP
    int padId() const;    // what fills a window after the end token: endId() for SD 1.x
    std::optional<int> idOf(std::string_view token) const;  // vocabulary lookup, e.g. ",</w>" -> 267
    std::size_t vocabSize() const;

    // The clean-up encode() applies before splitting into words; public so the prompt editor and
    // tests can show what the tokenizer actually sees.
    static std::string normalize(std::string_view text);

private:
    struct Impl;
    explicit ClipTokenizer(std::shared_ptr<Impl> impl);
    std::shared_ptr<Impl> impl_;
};

}  // namespace kiln::diffusion
