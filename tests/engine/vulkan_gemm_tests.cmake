# The gemm family (gemm, conv2d, conv_transpose2d) against LibTorch.
kiln_add_qt_test(test_vulkan_gemm SOURCES test_vulkan_gemm.cpp LIBS kiln::engine LABELS vulkan)
# The same ops and the executor with fp16 weights (16-bit storage).
kiln_add_qt_test(test_vulkan_fp16 SOURCES test_vulkan_fp16.cpp LIBS kiln::engine LABELS vulkan model)
target_compile_definitions(test_vulkan_fp16 PRIVATE KILN_SAMPLES_DIR="${PROJECT_SOURCE_DIR}/resources/samples")
