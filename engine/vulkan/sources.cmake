# Kiln's Vulkan compute layer, compiled into kiln_engine_base (std + Vulkan only; no torch, no Qt).
# Paths are relative to engine/. Each op is ops/<op>_vulkan.cpp + shaders/<op>.comp.
set(KILN_VULKAN_SOURCES
  vulkan/context.cpp
  vulkan/buffer.cpp
  vulkan/pipeline.cpp
  vulkan/dispatch.cpp
  vulkan/memory.cpp
  vulkan/recorder.cpp
  vulkan/devices.cpp
  vulkan/ops/add_vulkan.cpp
)
set(KILN_VULKAN_SHADERS
  vulkan/shaders/add.comp
)

# Op families, each in its own fragment (ops/<family>.cmake appends to both lists).
foreach(family gemm elementwise movement)
  if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/ops/${family}.cmake)
    include(${CMAKE_CURRENT_LIST_DIR}/ops/${family}.cmake)
  endif()
endforeach()
