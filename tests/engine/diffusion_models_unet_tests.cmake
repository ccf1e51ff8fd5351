# The SD 1.x UNet: its blocks against formulas written out in the test, shapes, sliced attention and the
# single-file (LDM) key mapping, all on tiny configs (LibTorch, seconds).
kiln_add_qt_test(test_sd_unet SOURCES test_sd_unet.cpp LIBS kiln::engine LABELS unit diffusion)
target_precompile_headers(test_sd_unet REUSE_FROM kiln_engine)
target_compile_definitions(test_sd_unet PRIVATE KILN_VERSION="${PROJECT_VERSION}")
set_source_files_properties(${CMAKE_CURRENT_BINARY_DIR}/test_sd_unet_autogen/mocs_compilation.cpp
  PROPERTIES SKIP_PRECOMPILE_HEADERS ON)
