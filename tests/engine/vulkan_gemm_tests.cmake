# The gemm family (gemm, conv2d, conv_transpose2d) against LibTorch.
kiln_add_qt_test(test_vulkan_gemm SOURCES test_vulkan_gemm.cpp LIBS kiln::engine LABELS vulkan)
