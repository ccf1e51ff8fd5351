# The model graph (engine/graph): torch-free IR, inference and files; the compiler against LibTorch.
kiln_add_qt_test(test_graph SOURCES test_graph.cpp LIBS kiln::engine_base LABELS unit)
kiln_add_qt_test(test_graph_compile SOURCES test_graph_compile.cpp LIBS kiln::engine LABELS unit model)
kiln_add_qt_test(test_norm_relu SOURCES test_norm_relu.cpp LIBS kiln::engine LABELS unit model)
foreach(t test_graph test_graph_compile test_norm_relu)
  target_compile_definitions(${t} PRIVATE KILN_SAMPLES_DIR="${PROJECT_SOURCE_DIR}/resources/samples")
endforeach()
