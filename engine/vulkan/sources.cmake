# Kiln's Vulkan compute layer, compiled into kiln_engine_base (std + Vulkan only; no torch, no Qt).
# Paths are relative to engine/. Each op is ops/<op>_vulkan.cpp + shaders/<op>.comp.
set(KILN_VULKAN_SOURCES
  vulkan/loader.cpp
  vulkan/context.cpp
  vulkan/buffer.cpp
  vulkan/pipeline.cpp
  vulkan/pipeline_cache.cpp
  vulkan/dispatch.cpp
  vulkan/memory.cpp
  vulkan/recorder.cpp
  vulkan/devices.cpp
  vulkan/ops/add_vulkan.cpp
)
set(KILN_VULKAN_SHADERS
  vulkan/shaders/add.comp
)
set(KILN_VULKAN_F16W_SHADERS)  # compiled a second time with fp16 weights

# The executor runs compiled graphs, so it needs LibTorch: it goes into kiln_engine.
set(KILN_VULKAN_TORCH_SOURCES
  vulkan/executor/graph_executor.cpp
  vulkan/executor/lowering.cpp
)

# Op families, each in its own fragment (ops/<family>.cmake appends to both lists).
include(${CMAKE_CURRENT_LIST_DIR}/ops/gemm.cmake)         # GEMM/GEMV, convolution, transposed convolution
include(${CMAKE_CURRENT_LIST_DIR}/ops/elementwise.cmake)  # activations, broadcasting, affine, softmax, norms
include(${CMAKE_CURRENT_LIST_DIR}/ops/movement.cmake)     # pooling, permute, concat, embedding, rope, attention
