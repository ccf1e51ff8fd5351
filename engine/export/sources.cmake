# Exporters (engine/export): the graph as PyTorch code, its weights as safetensors, ONNX.
# Paths are relative to engine/.
# Standard library only (kiln_engine_base): the PyTorch code generator, so the editor can show
# the code without LibTorch.
set(KILN_EXPORT_SOURCES
  export/python_export.cpp
  export/python_layers.cpp
  export/python_prelude.cpp
  export/graph_output.cpp
)
# LibTorch and Debian's ONNX library (kiln_engine).
set(KILN_EXPORT_TORCH_SOURCES
  export/weights_export.cpp
  export/onnx_export.cpp
  export/onnx_graph.cpp
  export/onnx_ops.cpp
  export/export_files.cpp
)

# ONNX's imported targets need protobuf's; LibTorch links the same system protobuf and libonnx.
if(NOT TARGET protobuf::libprotobuf)
  find_package(Protobuf REQUIRED)
endif()
find_package(ONNX REQUIRED)
# Linking the `onnx` target would put its compile definitions (ONNX_NAMESPACE, ONNX_ML) on every
# file of kiln_engine and rebuild them all with their precompiled header; only the two files that
# include ONNX's headers get them, and they skip the torch PCH they do not use.
set(_kiln_onnx_files export/onnx_graph.cpp export/onnx_ops.cpp)
set_source_files_properties(${_kiln_onnx_files} PROPERTIES
  COMPILE_DEFINITIONS "ONNX_NAMESPACE=onnx;ONNX_ML=1" SKIP_PRECOMPILE_HEADERS ON)
add_library(kiln_onnx_link INTERFACE)
target_link_libraries(kiln_onnx_link INTERFACE "$<LINK_ONLY:onnx>" "$<LINK_ONLY:onnx_proto>"
  "$<LINK_ONLY:protobuf::libprotobuf>")
set(KILN_EXPORT_TORCH_LIBS kiln_onnx_link)
