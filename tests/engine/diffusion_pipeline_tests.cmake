# Stable Diffusion loader (single-file LDM checkpoint and diffusers folder) and txt2img with tiny seeded models.
kiln_add_qt_test(test_sd_pipeline SOURCES test_sd_pipeline.cpp LIBS kiln::engine LABELS unit diffusion model)
# LibTorch's headers parse in ~25 s per file; the engine's precompiled <torch/torch.h> cuts that to a few.
target_precompile_headers(test_sd_pipeline REUSE_FROM kiln_engine)
# The reused header was built with the engine's definitions; a differing set would void it.
target_compile_definitions(test_sd_pipeline PRIVATE KILN_VERSION="${PROJECT_VERSION}")
set_source_files_properties(${CMAKE_CURRENT_BINARY_DIR}/test_sd_pipeline_autogen/mocs_compilation.cpp
  PROPERTIES SKIP_PRECOMPILE_HEADERS ON)

# img2img, inpainting (plain and 9-channel UNets), a separate VAE file and the memory check.
kiln_add_qt_test(test_sd_img2img SOURCES test_sd_img2img.cpp LIBS kiln::engine LABELS unit diffusion model)
target_precompile_headers(test_sd_img2img REUSE_FROM kiln_engine)
target_compile_definitions(test_sd_img2img PRIVATE KILN_VERSION="${PROJECT_VERSION}")
set_source_files_properties(${CMAKE_CURRENT_BINARY_DIR}/test_sd_img2img_autogen/mocs_compilation.cpp
  PROPERTIES SKIP_PRECOMPILE_HEADERS ON)
