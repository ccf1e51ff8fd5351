// Loading a Stable Diffusion 1.x model, as people have it on disk, into Kiln's three modules plus the tokenizer:
//   - a single-file checkpoint (.safetensors or .ckpt; A1111 / civitai / CompVis layout) with the keys
//     `model.diffusion_model.*` (UNet), `first_stage_model.*` (VAE) and `cond_stage_model.transformer.*`
//     (CLIP text encoder, with or without `text_model.`);
//   - a diffusers folder: model_index.json, unet/, vae/, text_encoder/ (diffusion_pytorch_model.safetensors /
//     model.safetensors, or their .fp16 variants) and tokenizer/.
//
// Config: the sizes come from the tensors' shapes in both layouts, so SD 1.5, the inpainting model
// (UNet in_channels 9) and the tests' tiny models load through this one function:
//   UNet: in/out channels, block widths, layers per block, which levels have attention, cross-attention width;
//   VAE:  block widths, layers per block, latent channels;
//   CLIP: vocabulary, hidden width, layer count, MLP width, positions.
// What shapes cannot tell comes from a diffusers folder's config.json files where they are present
// (unet: attention_head_dim, norm_num_groups, norm_eps; vae: norm_num_groups, scaling_factor; text_encoder:
// num_attention_heads, hidden_act, layer_norm_eps) and otherwise keeps its SD 1.x value: UNet attention heads 8,
// norm groups 32 (UNet and VAE; where 32 does not divide every width, the largest common divisor of the widths
// below 32), CLIP head width 64 (heads = hidden / 64, at least 1), quick-GELU, VAE scaling 0.18215. Single
// files always take these values.
//
// Precision: every tensor is converted to float32, except that LoadOptions::keepUNetHalf keeps a fp16 / bf16
// UNet in its file dtype (the UNet then widens its weights per layer; see unet.h, "Precision"). The text
// encoder and VAE are small next to the UNet and always float32.
//
// .ckpt / .pt / .pth (torch.save of {"state_dict": ...} or of the bare state dict) go through the engine's
// PyTorch checkpoint reader (no code runs) into a temporary safetensors file, mapped and unlinked at once: the
// SD tensors are then held twice while converting (memory, then disk). Keys outside the three models, such as
// model_ema.* or alphas_cumprod, are not carried over and so not listed as unused for .ckpt files.
#pragma once

#include "diffusion/clip_text_model.h"
#include "diffusion/clip_tokenizer.h"
#include "diffusion/unet.h"
#include "diffusion/vae.h"
#include "kiln/result.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kiln::diffusion {

struct LoadOptions {
    // Where to find vocab.json + merges.txt when the model has no tokenizer/ of its own (single files).
    std::string tokenizerDir;
    // Keep a half-precision UNet in half (about half the memory); false converts it to float32.
    bool keepUNetHalf = false;
    // A separate VAE file (.safetensors, .pt, .ckpt; LDM or diffusers names, with or without
    // first_stage_model.) used instead of the model's own, as A1111's SD VAE setting does.
    std::string vaePath;
    // The memory the weights may take, in bytes; nullopt: what the system has available (MemAvailable).
    // A model whose weights would not fit is refused before its modules are allocated (a .ckpt is read
    // into memory for conversion before that check).
    std::optional<std::uint64_t> memoryAvailable;
};

// What a load found, for the UI to show. Names are the modules' (diffusers) parameter names for
// missing / mismatched and the file's keys for unused.
struct LoadReport {
    std::string layout;   // "single file" or "diffusers folder"
    std::string variant;  // "SD 1.x" or "SD 1.x inpainting"
    std::string dtype;    // the UNet weights' dtype in the file: "F32", "F16", "BF16"
    std::string unetDtype;  // what the UNet holds after loading, LibTorch's name: "Float", "Half", "BFloat16"
    UNetConfig unetConfig;
    VaeConfig vaeConfig;
    ClipTextConfig clipConfig;
    std::size_t tensorsLoaded = 0;
    std::vector<std::string> missing;
    std::vector<std::string> unused;
    std::vector<std::string> mismatched;
    std::vector<std::string> files;  // the weight files read, in order
    std::string separateVae;         // the VAE file used instead of the model's own; empty: its own

    bool complete() const { return missing.empty() && mismatched.empty(); }
};

// The loaded model. Treat it as immutable once loaded: the modules are shared handles, so copies of this
// struct share weights, and several generations may run on one model.
struct StableDiffusionModel {
    ClipTokenizer tokenizer;
    ClipTextModel textEncoder{nullptr};
    UNet2DConditionModel unet{nullptr};
    AutoencoderKL vae{nullptr};
    LoadReport report;
};

// `path`: a .safetensors single file or a diffusers folder. A partial load (missing or mismatched tensors) is
// not an Error; it is in the report. Errors: the path does not exist, a file is truncated or not safetensors,
// the checkpoint has no UNet (or no VAE / text encoder), the shapes are not an SD 1.x layout, no tokenizer.
Result<StableDiffusionModel> loadStableDiffusion(const std::string& path, const LoadOptions& options = {});

}  // namespace kiln::diffusion
