# The model graph (engine/graph): torch-free IR, inference and files; the compiler against LibTorch.
kiln_add_qt_test(test_graph SOURCES test_graph.cpp LIBS kiln::engine_base LABELS unit)
kiln_add_qt_test(test_graph_compile SOURCES test_graph_compile.cpp LIBS kiln::engine LABELS unit model)
kiln_add_qt_test(test_norm_relu SOURCES test_norm_relu.cpp LIBS kiln::engine LABELS unit model)
foreach(t test_graph test_graph_compile test_norm_relu)
  target_compile_definitions(${t} PRIVATE KILN_SAMPLES_DIR="${PROJECT_SOURCE_DIR}/resources/samples")
endforeach()

# The fused batch norm's loops alone (torch-free, their own build) under AddressSanitizer and UBSan.
add_executable(norm_relu_kernels_asan norm_relu_kernels_asan.cpp ${PROJECT_SOURCE_DIR}/engine/graph/norm_relu_kernels.cpp)
target_include_directories(norm_relu_kernels_asan PRIVATE ${PROJECT_SOURCE_DIR}/engine)
target_compile_options(norm_relu_kernels_asan PRIVATE -O1 -ffp-contract=off -fno-omit-frame-pointer
  -fsanitize=address,undefined -fno-sanitize-recover=all)
target_link_options(norm_relu_kernels_asan PRIVATE -fsanitize=address,undefined)
add_test(NAME norm_relu_kernels_asan COMMAND norm_relu_kernels_asan)
set_tests_properties(norm_relu_kernels_asan PROPERTIES LABELS unit)
