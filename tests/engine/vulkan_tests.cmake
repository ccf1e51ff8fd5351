# Vulkan tests: every op against LibTorch. No ICD is forced: on a machine without a GPU the
# loader finds Mesa's lavapipe; with a GPU the test runs there (set VK_DRIVER_FILES to
# /usr/share/vulkan/icd.d/lvp_icd.x86_64.json to test lavapipe anyway). Without any Vulkan
# device the suite skips with the reason.
kiln_add_qt_test(test_vulkan_add SOURCES test_vulkan_add.cpp LIBS kiln::engine LABELS vulkan)
include(vulkan_gemm_tests.cmake)
include(vulkan_elementwise_tests.cmake)
include(vulkan_movement_tests.cmake)
include(vulkan_executor_tests.cmake)
