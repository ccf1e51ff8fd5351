# Data movement, pooling and attention ops (appended to the lists in ../sources.cmake).
list(APPEND KILN_VULKAN_SOURCES
  vulkan/ops/pool2d_vulkan.cpp
  vulkan/ops/copy_vulkan.cpp
  vulkan/ops/attention_vulkan.cpp
)
list(APPEND KILN_VULKAN_SHADERS
  vulkan/shaders/pool2d.comp
  vulkan/shaders/adaptive_avg_pool2d.comp
  vulkan/shaders/permute.comp
  vulkan/shaders/concat.comp
  vulkan/shaders/embedding.comp
  vulkan/shaders/rope.comp
  vulkan/shaders/attention.comp
)
