// The A1111 infotext of a generation run, as the studio's Generate job and `kiln-cli generate`
// write it into every PNG: one place, so both write the same keys, labels and names.
#pragma once

#include "diffusion/png_parameters.h"
#include "diffusion/txt2img.h"

#include <cstdint>
#include <string>

namespace kiln::diffusion {

// A1111's "Model": the checkpoint's file name without its extension, or a diffusers folder's name
// ("models/sd15/" names "sd15").
std::string checkpointName(const std::string& path);

struct RunFiles {
    std::string modelPath, vaePath;  // vaePath empty: the checkpoint's own VAE
    std::string modelHash, vaeHash;  // A1111's short hashes; empty ones are not written
};

// What every image of the run shares: prompt, negative prompt, steps, sampler and schedule as A1111
// labels them (the schedule in effect, so "DPM++ 2M" + Automatic reads Karras), CFG scale, model
// name and hash, Clip skip above 1, img2img's Denoising strength, inpainting's Mask blur, the VAE
// file and its hash.
GenerationParameters runParameters(const GenerateRequest& req, const RunFiles& files);

// One image's: the run's with its seed and size.
GenerationParameters imageParameters(GenerationParameters run, std::uint64_t seed, int width, int height);

}  // namespace kiln::diffusion
