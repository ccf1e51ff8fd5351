# CLIP ViT-L/14 text encoder, AutoencoderKL (VAE) and their LDM single-file key mapping (engine/diffusion).
# Paths relative to engine/.
list(APPEND KILN_DIFFUSION_TORCH_SOURCES diffusion/clip_text_model.cpp diffusion/vae.cpp)
list(APPEND KILN_DIFFUSION_SOURCES diffusion/ldm_keys_clip_vae.cpp)
