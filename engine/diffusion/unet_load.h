// Loading SD 1.x UNet weights from a safetensors file in either layout: a diffusers
// `unet/diffusion_pytorch_model.safetensors` (names as the module registers them) or a single-file
// LDM checkpoint (`model.diffusion_model.*`, renamed through ldmToDiffusersUnetKeys). Tensors are
// converted to the dtype the module's parameters have: call unet->to(torch::kHalf) before loading to
// keep fp16 weights in half precision (see unet.h, "Precision").
#pragma once

#include "diffusion/unet.h"
#include "io/safetensors_file.h"
#include "kiln/result.h"

#include <string>
#include <vector>

namespace kiln::diffusion {

enum class UNetLayout { Diffusers, Ldm };

struct UNetLoadReport {
    UNetLayout layout = UNetLayout::Diffusers;
    size_t applied = 0;
    std::vector<std::string> missing;     // module parameters the file lacks (diffusers names)
    std::vector<std::string> unused;      // UNet tensors in the file the module has no place for (file names)
    std::vector<std::string> mismatched;  // "name: file [..] vs module [..]"; left at their initial values

    bool complete() const { return missing.empty() && mismatched.empty(); }
};

// Which layout the file holds the UNet in, judged by conv_in's name; an Error when it holds neither.
Result<UNetLayout> detectUNetLayout(const io::SafetensorsFile& file);

// The SD 1.5 config with in_channels read from conv_in's shape (4, or 9 for inpainting models).
Result<UNetConfig> detectUNetConfig(const io::SafetensorsFile& file);

// Copies every tensor the module has a place for; partial loads come back as a report, not an Error.
// Errors when no UNet is found or a tensor cannot be read.
Result<UNetLoadReport> loadUNetWeights(UNet2DConditionModel& unet, const io::SafetensorsFile& file);

}  // namespace kiln::diffusion
