# The model library (folders scanned, safetensors headers read, SHA-256 hashes cached): std-only.
# core/sha256 and core/cache_dir are shared with kiln-cli's model hash and the Vulkan pipeline cache.
list(APPEND KILN_DIFFUSION_SOURCES diffusion/model_library.cpp diffusion/model_library_hashes.cpp
  core/sha256.cpp core/cache_dir.cpp)
