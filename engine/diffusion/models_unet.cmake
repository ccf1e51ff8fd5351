# The SD 1.x UNet (diffusers' UNet2DConditionModel) and its single-file (LDM) key names. Paths relative to engine/.
list(APPEND KILN_DIFFUSION_TORCH_SOURCES diffusion/unet.cpp diffusion/unet_blocks.cpp diffusion/ldm_keys_unet.cpp
  diffusion/unet_load.cpp)
