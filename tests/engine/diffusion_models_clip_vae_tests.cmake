# CLIP text encoder and VAE with tiny configs against formulas written out in the test, and the LDM key mapping.
kiln_add_qt_test(test_sd_clip_vae SOURCES test_sd_clip_vae.cpp LIBS kiln::engine LABELS unit diffusion)
# LibTorch's headers parse in ~25 s per file; the engine's precompiled <torch/torch.h> cuts that to a few.
target_precompile_headers(test_sd_clip_vae REUSE_FROM kiln_engine)
# The reused header was built with the engine's definitions; a differing set would void it.
target_compile_definitions(test_sd_clip_vae PRIVATE KILN_VERSION="${PROJECT_VERSION}")
set_source_files_properties(${CMAKE_CURRENT_BINARY_DIR}/test_sd_clip_vae_autogen/mocs_compilation.cpp
  PROPERTIES SKIP_PRECOMPILE_HEADERS ON)
