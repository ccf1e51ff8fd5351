// AUTOMATIC1111's prompt syntax, so prompts copied from A1111 (or from images it made) mean the same
// in Kiln: attention weights, BREAK, extra-network tags, and 75-token chunking for long prompts.
//
//     auto tok = ClipTokenizer::fromFolder(dir);                        // see clip_tokenizer.h
//     auto prompt = tokenizePrompt(*tok, "a (red:1.3) cat <lora:ink:0.8>, BREAK night sky");
//     if (!prompt) return prompt.error();
//     for (const PromptChunk& c : prompt->chunks) encodeChunk(c.ids, c.weights);   // 77 each
//     prompt->extraNetworks[0];  // {type "lora", name "ink", weight 0.8}: applied by the caller
//
// The syntax, as A1111's parse_prompt_attention reads it:
//   (text) x1.1   ((text)) x1.21   [text] /1.1   (text:1.3) x1.3   \( \) \[ \] \\ literal characters
//   an unclosed ( or [ applies to the rest of the prompt; a stray ) or ] is ordinary text;
//   BREAK (a whole word, capitals) starts a new 77-token chunk. Inside brackets A1111 weights the
//   BREAK marker like text, after which it is no longer a break but the word "break"; Kiln does the same.
//   <type:args> tags (lora, lyco, hypernet, ...) are removed before any of this and listed.
// Not handled here: prompt editing [a:b:0.5], alternation [a|b], AND (composable prompts) and
// textual-inversion embeddings; those belong to the pipeline that schedules conditioning.
#pragma once

#include "diffusion/clip_tokenizer.h"
#include "kiln/result.h"

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kiln::diffusion {

// One piece of a prompt with its attention multiplier: one pair of parse_prompt_attention's list.
// A BREAK is the piece {"BREAK", -1.0}, exactly as A1111 marks it.
struct WeightedText {
    std::string text;
    double weight = 1.0;

    bool isBreak() const { return text == "BREAK" && weight == -1.0; }
    bool operator==(const WeightedText&) const = default;
};

// A1111's parse_prompt_attention: same pieces, same merging of equal neighbours, and the same
// double arithmetic, so weights compare equal to Python's (((sky))) = 1.4641000000000006. Fails only
// where A1111 raises: a weight such as (cat:1.2.3) that Python's float() rejects.
Result<std::vector<WeightedText>> parsePromptAttention(std::string_view prompt);

// An extra-network tag such as <lora:name:0.8>, <lora:name> (weight 1), <lora:name:0.8:0.5>,
// <lora:name:te=0.8:unet=0.5>, <lyco:name:0.6>, <hypernet:name:0.5>.
struct ExtraNetworkTag {
    std::string type;                                        // the word after '<': "lora", "lyco", ...
    std::string name;                                        // the first positional argument
    double weight = 1.0;                                     // 2nd positional or te=; the text encoder's
    double unetWeight = 1.0;                                 // 3rd positional or unet=; else `weight`
    std::vector<std::string> positional;                     // every argument without '=', name first
    std::vector<std::pair<std::string, std::string>> named;  // key=value arguments, in order
    std::string source;                                      // the tag as written

    bool operator==(const ExtraNetworkTag&) const = default;
};

struct ExtraNetworkParse {
    std::string prompt;                 // the prompt with every tag removed (A1111 leaves the gap)
    std::vector<ExtraNetworkTag> tags;  // in order of appearance
};

// A1111's extra_networks.parse_prompt (<word:args>). Weights are read for lora, lyco and hypernet
// tags and fail, as in A1111, when they are not numbers; other tag types are listed with weight 1.
Result<ExtraNetworkParse> extractExtraNetworks(std::string_view prompt);

// One text-encoder window: start, 75 prompt tokens or padding, end.
struct PromptChunk {
    std::vector<int> ids;        // kContextLength ids
    std::vector<float> weights;  // per id; 1 for start, end and padding
};

struct TokenizedPrompt {
    std::vector<PromptChunk> chunks;             // at least one; an empty prompt gives one of padding
    int tokenCount = 0;                          // A1111's count: 75 per earlier chunk + the last chunk's
    std::vector<ExtraNetworkTag> extraNetworks;  // tags found and removed; applying them is the caller's
};

struct ChunkingOptions {
    int commaBacktrack = 20;     // A1111's comma_padding_backtrack: a split moves back to a comma this
                                 // close; 0 turns it off
    bool parseAttention = true;  // false = A1111's emphasis "None": the text is taken literally
    std::optional<int> padId;    // ids after a chunk's end token; default the tokenizer's (SD 1.x: end)
};

// The whole of A1111's tokenize_line: tags out, attention parsed, each piece tokenized, tokens packed
// into 75-token chunks (a chunk that fills up moves its tail after the last comma within
// commaBacktrack tokens to the next chunk; BREAK closes a chunk early).
Result<TokenizedPrompt> tokenizePrompt(const ClipTokenizer& tokenizer, std::string_view prompt,
                                       const ChunkingOptions& options = {});

}  // namespace kiln::diffusion
