# Sigma schedules, samplers and A1111 / ComfyUI PNG metadata (engine/diffusion). Paths relative to engine/.
list(APPEND KILN_DIFFUSION_SOURCES diffusion/png_parameters.cpp)
list(APPEND KILN_DIFFUSION_TORCH_SOURCES diffusion/schedule.cpp diffusion/samplers.cpp)
