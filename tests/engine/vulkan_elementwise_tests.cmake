# Element-wise ops and row reductions against LibTorch (included by vulkan_tests.cmake).
kiln_add_qt_test(test_vulkan_elementwise SOURCES test_vulkan_elementwise.cpp LIBS kiln::engine LABELS vulkan)
