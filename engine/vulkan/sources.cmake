# Kiln's Vulkan compute layer, compiled into kiln_engine_base (std + Vulkan only; no torch, no Qt).
# Paths are relative to engine/. Each op is ops/<op>_vulkan.cpp + shaders/<op>.comp.
set(KILN_VULKAN_SOURCES
  vulkan/context.cpp
  vulkan/buffer.cpp
  vulkan/pipeline.cpp
  vulkan/dispatch.cpp
  vulkan/devices.cpp
  vulkan/ops/add_vulkan.cpp
)
set(KILN_VULKAN_SHADERS
  vulkan/shaders/add.comp
)
