// Will a generation fit in memory? Refusing a run beforehand beats the OOM killer taking the studio (and
// the user's unsaved graph) down 40 seconds in. The estimate counts the working memory a run adds to the
// loaded model, from the configs and the request alone:
//   - UNet forward at batch 2B (CFG): the skip connections it keeps (conv_in and every down-block output)
//     plus a transformer's working set at the largest level (hidden, norms, q/k/v, GEGLU's 8x-wide
//     projection: 30 tensors of the level's width) plus the attention scores in flight (one head and
//     256 query rows per thread) plus the two buffers fp16 weights are widened into;
//   - the VAE decode of the batch (one tile at most per pass when tiled): the last level's resnets at the
//     tile's size (two tensors of their input width, four of their output width), and
//     the mid block's attention scores (one head, 256 query rows per thread);
//   - when the run encodes an image (img2img, and every run of a 9-channel inpainting model): the encoder
//     on the whole image at once, 4 tensors of its first width plus its attention scores as above;
//   - the latents, the noise and the float and uint8 images.
// The figure is compared with the memory the system has available (MemAvailable) less a margin for the
// rest of the desktop.
#pragma once

#include "diffusion/model_loader.h"
#include "kiln/result.h"

#include <cstdint>
#include <optional>

namespace kiln::diffusion {

struct MemoryEstimate {
    std::uint64_t unetBytes = 0;    // the UNet forward's peak working memory
    std::uint64_t vaeBytes = 0;     // the VAE decode's (or encode's, for img2img) peak working memory
    std::uint64_t otherBytes = 0;   // latents, noise, images
    std::uint64_t total() const;    // max(unet, vae) + other: the two never run at once
};

// From the configs; `widenedWeightBytes` is the largest UNet weight in float32 when the UNet is kept in half
// precision (each layer widens its weight for the call), 0 otherwise; `encodes`: the run encodes an image.
MemoryEstimate estimateGenerationMemory(const UNetConfig& unet, const VaeConfig& vae, std::uint64_t widenedWeightBytes,
                                        int width, int height, int batch, bool encodes);
MemoryEstimate estimateGenerationMemory(const StableDiffusionModel& model, int width, int height, int batch,
                                        bool fromImage);

// MemAvailable from /proc/meminfo, in bytes; nullopt where it cannot be read (then nothing is refused).
std::optional<std::uint64_t> availableMemoryBytes();

// What a run may plan to use of `available`: all but a margin left to the rest of the system (a tenth,
// at least 512 MiB).
std::uint64_t usableMemory(std::uint64_t available);

// An Error that says what the run needs, what is free and what to change, when `estimate` does not fit
// in usableMemory(available); success otherwise.
Result<void> checkFitsInMemory(const MemoryEstimate& estimate, std::uint64_t available, int width, int height,
                               int batch);

// "1.3 GB", "640 MB"
std::string formatBytes(std::uint64_t bytes);

}  // namespace kiln::diffusion
