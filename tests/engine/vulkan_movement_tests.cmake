# Pooling, permute, concat, embedding, rotary and attention on Vulkan, against LibTorch.
kiln_add_qt_test(test_vulkan_movement SOURCES test_vulkan_movement.cpp LIBS kiln::engine LABELS vulkan)
