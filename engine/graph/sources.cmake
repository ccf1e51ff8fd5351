# The model graph. Paths are relative to engine/.
# Standard library + nlohmann-json only (kiln_engine_base): the IR, node types and their shape
# inference, the .kgraph reader and writer. The editor links these without paying for torch.
set(KILN_GRAPH_SOURCES
  graph/graph.cpp
  graph/registry.cpp
  graph/ops_common.cpp
  graph/ops_input.cpp
  graph/ops_conv.cpp
  graph/ops_linear.cpp
  graph/ops_attention.cpp
  graph/ops_norm.cpp
  graph/ops_activation.cpp
  graph/ops_tensor.cpp
  graph/ops_loss.cpp
  graph/infer.cpp
  graph/migrate.cpp
  graph/file.cpp
  graph/norm_relu_kernels.cpp
)
# The fused batch norm's loops (GCC vector types, AVX2 and baseline clones) at -O3; no
# contraction to FMA, so the forward and backward passes decide the pool's argmax on equal bits.
set_source_files_properties(graph/norm_relu_kernels.cpp PROPERTIES COMPILE_OPTIONS "-O3;-ffp-contract=off")
# The compiler: graph -> torch::nn::Module (kiln_engine).
set(KILN_GRAPH_TORCH_SOURCES
  graph/compiler.cpp
  graph/build_layers.cpp
  graph/build_norm.cpp
  graph/build_attention.cpp
  graph/build_simple.cpp
  graph/norm_relu.cpp
)
