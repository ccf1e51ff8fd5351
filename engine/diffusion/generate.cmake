# The Generate panel's job: model cache, txt2img with progress, previews and cancel (engine/diffusion).
list(APPEND KILN_DIFFUSION_TORCH_SOURCES diffusion/generate_job.cpp diffusion/run_parameters.cpp)
