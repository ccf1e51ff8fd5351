// Parameter names of the SD 1.x UNet in both layouts people have on disk:
//   diffusers (`unet/diffusion_pytorch_model.safetensors`; the names UNet2DConditionModel registers), and
//   the original LDM / CompVis single-file checkpoint (`model.diffusion_model.input_blocks.1.0.in_layers.2.weight`).
// The mapping is the one diffusers' convert_ldm_unet_checkpoint applies, for the SD 1.x block layout
// (one transformer per attention, 1x1-conv proj_in/proj_out):
//   time_embed.0/2                   -> time_embedding.linear_1/2
//   input_blocks.0.0                 -> conv_in
//   input_blocks.(1 + i*(L+1) + j).0 -> down_blocks.i.resnets.j        (L = layers_per_block)
//   input_blocks.(1 + i*(L+1) + j).1 -> down_blocks.i.attentions.j
//   input_blocks.((i+1)*(L+1)).0.op  -> down_blocks.i.downsamplers.0.conv
//   middle_block.0/1/2               -> mid_block.resnets.0 / attentions.0 / resnets.1
//   output_blocks.(i*(L+1) + j).0    -> up_blocks.i.resnets.j          (j = 0..L)
//   output_blocks.(i*(L+1) + j).1    -> up_blocks.i.attentions.j
//   output_blocks.(i*(L+1) + L).1|2.conv -> up_blocks.i.upsamplers.0.conv (2 when the block has attentions)
//   out.0/2                          -> conv_norm_out / conv_out
// and inside a ResBlock: in_layers.0/2 -> norm1/conv1, emb_layers.1 -> time_emb_proj,
// out_layers.0/3 -> norm2/conv2, skip_connection -> conv_shortcut. Names inside a SpatialTransformer
// (norm, proj_in, transformer_blocks.0.*, proj_out) are the same in both layouts.
#pragma once

#include "diffusion/unet.h"
#include "kiln/result.h"

#include <map>
#include <string>
#include <vector>

namespace kiln::diffusion {

// The prefix every UNet key has in an SD 1.x single-file checkpoint.
inline constexpr const char* kLdmUnetPrefix = "model.diffusion_model.";

// Every parameter name a UNet2DConditionModel with this config registers, computed from the config
// alone (no weights are allocated), grouped by module.
Result<std::vector<std::string>> unetParameterNames(const UNetConfig& config);

// diffusers name -> LDM single-file name (with kLdmUnetPrefix), one entry per parameter of the UNet;
// a bijection. To load a single file: for each (name, ldm) entry, take tensor `ldm` from the file as
// parameter `name`. Errors when the config is not an SD 1.x layout.
Result<std::map<std::string, std::string>> ldmToDiffusersUnetKeys(const UNetConfig& config);

}  // namespace kiln::diffusion
