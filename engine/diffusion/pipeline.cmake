# Stable Diffusion 1.x model loading (single file or diffusers folder) and the txt2img pipeline (engine/diffusion).
# Paths relative to engine/.
list(APPEND KILN_DIFFUSION_TORCH_SOURCES diffusion/model_loader.cpp diffusion/txt2img.cpp
  diffusion/image_conditioning.cpp diffusion/memory_estimate.cpp)
