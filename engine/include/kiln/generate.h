// Text-to-image as a job: the one call the studio's Generate panel makes. std types only, so the UI pays
// nothing for LibTorch's headers; the model, latents and tensors stay inside the engine.
#pragma once

#include "diffusion/png_parameters.h"
#include "kiln/job.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace kiln::diffusion {

struct GenerateJobConfig {
    std::string modelPath;     // a .safetensors / .ckpt single file or a diffusers folder
    std::string tokenizerDir;  // vocab.json + merges.txt for single files; empty: next to the model
    std::string prompt;
    std::string negative;
    std::string sampler = "Euler a";
    std::string schedule = "Automatic";
    int steps = 20;
    double cfg = 7.0;
    std::int64_t seed = -1;  // -1: a random seed, chosen when the job starts
    int width = 512;
    int height = 512;
    int batch = 1;             // images per run (one UNet batch)
    int batchCount = 1;        // runs one after another (A1111's "Batch count"); seeds go on counting
    std::string vaePath;       // a separate VAE (.safetensors / .ckpt / .pt); empty: the model's own

    // img2img and inpainting (A1111's "Just resize": the init image is scaled to width x height).
    // initRgb: initWidth * initHeight * 3 bytes, row-major RGB; empty: text-to-image.
    std::vector<std::uint8_t> initRgb;
    int initWidth = 0;
    int initHeight = 0;
    double strength = 0.75;  // A1111's "Denoising strength": 0 keeps the image, 1 replaces it
    // Inpainting: initWidth * initHeight bytes, 255 = repaint, 0 = keep (values between blend); empty: no mask.
    std::vector<std::uint8_t> mask;
    int maskBlur = 4;        // A1111's "Mask blur": the Gaussian's sigma in image pixels (it reaches ~2.5 sigma)
};

struct GenerateResult {
    int width = 0;
    int height = 0;
    std::vector<std::uint8_t> rgb;    // width * height * 3 bytes, row-major RGB
    GenerationParameters parameters;  // what made this image (its own seed), for the PNG `parameters` text
    std::vector<std::string> notices; // adjustments the pipeline made to the request
};

// Loads the model (the last one loaded is kept for the process, keyed by path and modification time, so a
// second run starts sampling at once), samples with progress "step i/N" and a cheap RGB preview of the x0
// latent after every step, stops within one step when cancelled, and hands each image to onImage (on the
// engine thread). The model hash is left empty: hashing a 2-4 GB checkpoint costs seconds per load.
JobBody makeGenerateJob(GenerateJobConfig config, std::function<void(const GenerateResult&)> onImage);

// Forgets the cached model (tests, or to free memory).
void clearGenerateModelCache();

}  // namespace kiln::diffusion
