# The gemm family: matrix multiply (Linear), convolution and transposed convolution.
list(APPEND KILN_VULKAN_SOURCES
  vulkan/ops/gemm_vulkan.cpp
  vulkan/ops/conv2d_vulkan.cpp
)
list(APPEND KILN_VULKAN_SHADERS
  vulkan/shaders/gemm.comp
  vulkan/shaders/gemv.comp
  vulkan/shaders/conv2d.comp
  vulkan/shaders/conv2d_direct.comp
  vulkan/shaders/conv_transpose2d.comp
)
# Built again with fp16 weights (shaders/weights.glsl): <stem>_f16w.spv.inc.
list(APPEND KILN_VULKAN_F16W_SHADERS
  vulkan/shaders/gemm.comp
  vulkan/shaders/gemv.comp
  vulkan/shaders/conv2d.comp
  vulkan/shaders/conv2d_direct.comp
  vulkan/shaders/conv_transpose2d.comp
)
