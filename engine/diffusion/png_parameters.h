// Generation parameters as other tools store them in PNG text chunks: A1111's `parameters` text
// (written and read exactly as A1111 does) and ComfyUI's `prompt` / `workflow` JSON (read only).
// Standard library only; the app reads and writes the chunks themselves (QImage::text/setText).
//
// Usage:
//     kiln::diffusion::GenerationParameters p;
//     p.prompt = "a cat"; p.steps = 20; p.sampler = "Euler a"; p.scheduleType = "Automatic";
//     p.cfgScale = 7; p.seed = 1234; p.width = p.height = 512;
//     image.setText("parameters", QString::fromStdString(kiln::diffusion::formatParameters(p)));
//     ...
//     auto back = kiln::diffusion::parametersFromPngText({{"parameters", text}});   // or prompt/workflow
//     if (back && back->steps) run(*back->steps);
#pragma once

#include "kiln/result.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kiln::diffusion {

struct GenerationParameters {
    std::string prompt;
    std::string negativePrompt;
    std::optional<int> steps;
    std::string sampler;       // A1111's label, "Euler a"; empty when unknown
    std::string scheduleType;  // "Automatic", "Karras", ...; empty: not written (A1111 before 1.9)
    std::optional<double> cfgScale;
    std::optional<std::uint64_t> seed;
    std::optional<int> width, height;
    std::string modelHash;  // A1111's short hash, the first 10 hex digits of the file's sha256
    std::string model;      // the checkpoint's file name without folder and extension
    // Every other key with its unquoted value, in the order read or to be written ("Clip skip",
    // "Denoising strength", "Hires upscale", "Lora hashes", "Version", keys nobody here knows).
    // Keys A1111 places at fixed positions are written there, whatever their place in this list.
    std::vector<std::pair<std::string, std::string>> extra;

    const std::string* find(std::string_view key) const;          // in `extra`
    void set(std::string_view key, std::string value);            // replaces in place or appends
};

// A1111's infotext: the prompt; "Negative prompt: ..." when there is one; then one line of
// "Key: value" pairs in A1111's key order, a value quoted as json.dumps does when it holds a
// comma, a colon or a line break; a value equal to its key is written as the key alone.
std::string formatParameters(const GenerationParameters& params);

// A number as the infotext writes it: whole numbers without a point ("7"), others shortest ("0.75").
std::string formatParameterNumber(double v);

// A1111's parse_generation_parameters: the last line is the key/value line when A1111's pattern
// finds at least 3 pairs in it, else it belongs to the prompt; lines before it are the prompt up to
// one that starts with "Negative prompt:". Quoted values are unquoted; "Size: WxH" fills width and
// height; a value that does not convert (Steps: many) stays in `extra`. Only text too large to be
// metadata (over 16 MiB) is an Error.
Result<GenerationParameters> parseParameters(std::string_view text);

// ComfyUI's API graph (`prompt` chunk), or its UI graph (`workflow`) where the prompt is absent:
// the KSampler's seed, steps, cfg, sampler and scheduler (mapped to A1111's labels where there is
// one), the CLIPTextEncode texts that feed its positive and negative inputs, the EmptyLatentImage
// size behind its latent and the checkpoint name behind its model. Whatever the graph lacks stays
// empty; JSON that does not parse, or a graph without a sampler, is an Error.
Result<GenerationParameters> parseComfyUi(std::string_view promptJson, std::string_view workflowJson = {});

// The parameters found in a PNG's text chunks (keyword, text): A1111's `parameters` first, then
// ComfyUI's `prompt` / `workflow`. An Error when there are none or they do not read.
Result<GenerationParameters> parametersFromPngText(const std::vector<std::pair<std::string, std::string>>& chunks);

}  // namespace kiln::diffusion
