// Key renaming from the single-file SD 1.x checkpoint layout (LDM / CompVis, as A1111 and civitai files
// have it) to the diffusers names the CLIP text encoder (clip_text_model.h) and the VAE (vae.h)
// register. Std-only: one key in, one key out, so the checkpoint loader can plan a load before it
// reads a tensor.
//
// Each function answers:
//   - the diffusers name, for a key of that model;
//   - an empty string, for a key of that model that carries no weight here (CLIP's position_ids
//     buffer, which the model recomputes); the loader skips it;
//   - an Error, for anything else (another model's key, or a name the layout does not have).
// The loader routes keys by prefix: `cond_stage_model.` to the CLIP function, `first_stage_model.`
// to the VAE one, `model.diffusion_model.` to the UNet's.
//
// Besides the names, one tensor changes shape: LDM's VAE attention q/k/v/proj_out are 1x1 convs
// [C,C,1,1] where diffusers has linear [C,C]; isVaeAttentionProjection tells which keys, and
// adaptLdmVaeTensor (vae.h) reshapes them.
#pragma once

#include "kiln/result.h"

#include <string>

namespace kiln::diffusion {

// `cond_stage_model.transformer.text_model.X` and the older `cond_stage_model.transformer.X` ->
// `text_model.X` (the transformers names are kept inside; SD 1.x wraps transformers' CLIPTextModel).
// Keys already in the diffusers form (`text_model.X`) come back unchanged.
Result<std::string> ldmToDiffusersClipKey(const std::string& key);

// `first_stage_model.X` (the prefix is optional) -> the diffusers AutoencoderKL name:
//     encoder.down.N.block.M.{norm1,conv1,norm2,conv2,nin_shortcut}
//                                        -> encoder.down_blocks.N.resnets.M.{norm1,..,conv_shortcut}
//     encoder.down.N.downsample.conv     -> encoder.down_blocks.N.downsamplers.0.conv
//     decoder.up.N.block.M / upsample.conv -> decoder.up_blocks.(levels-1-N).resnets.M / upsamplers.0.conv
//         (LDM numbers the decoder's levels as the encoder's, 0 = full resolution; diffusers in running order)
//     {encoder,decoder}.mid.block_1 / block_2 -> mid_block.resnets.0 / resnets.1
//     {encoder,decoder}.mid.attn_1.{norm,q,k,v,proj_out} -> mid_block.attentions.0.{group_norm,to_q,to_k,to_v,to_out.0}
//     {encoder,decoder}.norm_out -> conv_norm_out; conv_in, conv_out, quant_conv, post_quant_conv unchanged
// `levels` is the number of resolution levels (len(block_out_channels), 4 for SD 1.x).
// Keys already in the diffusers form come back unchanged, except the attention names diffusers used
// before 0.14 (attentions.0.{query,key,value,proj_attn}), which come back as the current ones.
Result<std::string> ldmToDiffusersVaeKey(const std::string& key, int levels = 4);

// True for the diffusers VAE keys whose LDM tensor is a 1x1 conv to be flattened to a linear weight.
bool isVaeAttentionProjection(const std::string& diffusersKey);

}  // namespace kiln::diffusion
