# Sigma schedules and samplers against formulas written out in the test (LibTorch, seconds), and
# A1111 / ComfyUI PNG metadata (std-only).
kiln_add_qt_test(test_diffusion_sampling SOURCES test_diffusion_sampling.cpp LIBS kiln::engine LABELS unit diffusion)
kiln_add_qt_test(test_png_parameters SOURCES test_png_parameters.cpp LIBS kiln::engine_base LABELS unit diffusion)
# LibTorch's headers parse in ~25 s per file; the engine's precompiled <torch/torch.h> cuts that to a few.
target_precompile_headers(test_diffusion_sampling REUSE_FROM kiln_engine)
target_compile_definitions(test_diffusion_sampling PRIVATE KILN_VERSION="${PROJECT_VERSION}")
set_source_files_properties(${CMAKE_CURRENT_BINARY_DIR}/test_diffusion_sampling_autogen/mocs_compilation.cpp
  PROPERTIES SKIP_PRECOMPILE_HEADERS ON)
