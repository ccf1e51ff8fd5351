# Designed graphs on the Vulkan executor against LibTorch.
kiln_add_qt_test(test_vulkan_executor SOURCES test_vulkan_executor.cpp LIBS kiln::engine LABELS vulkan model)
target_compile_definitions(test_vulkan_executor PRIVATE KILN_SAMPLES_DIR="${PROJECT_SOURCE_DIR}/resources/samples")
kiln_add_qt_test(test_vulkan_recorder SOURCES test_vulkan_recorder.cpp LIBS kiln::engine LABELS vulkan)
