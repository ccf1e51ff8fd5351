# Element-wise ops (activations, broadcasting binary ops, per-channel affine) and the row
# reductions (softmax, layer/RMS/group norm). Included by vulkan/sources.cmake; paths relative to engine/.
list(APPEND KILN_VULKAN_SOURCES
  vulkan/ops/elementwise_vulkan.cpp
  vulkan/ops/norm_vulkan.cpp
)
list(APPEND KILN_VULKAN_SHADERS
  vulkan/shaders/unary.comp
  vulkan/shaders/binary.comp
  vulkan/shaders/channel_affine.comp
  vulkan/shaders/softmax.comp
  vulkan/shaders/softmax_columns.comp
  vulkan/shaders/normalize.comp
)
