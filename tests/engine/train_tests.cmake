# The trainer (engine/train). `unit`: seconds, no training; `model`: trains tiny models on real
# data (Fashion-MNIST subsets, the GPL-3 text), each well under a minute on two cores.
kiln_add_qt_test(test_train_base SOURCES test_train_base.cpp LIBS kiln::engine_base LABELS unit)
kiln_add_qt_test(test_train_data SOURCES test_train_data.cpp LIBS kiln::engine LABELS unit)
kiln_add_qt_test(test_train_optim SOURCES test_train_optim.cpp LIBS kiln::engine LABELS unit)
kiln_add_qt_test(test_trainer SOURCES test_trainer.cpp LIBS kiln::engine LABELS model)
# The fused AdamW and channels-last against what they replace; a few ConvNet steps both ways.
kiln_add_qt_test(test_train_fast SOURCES test_train_fast.cpp LIBS kiln::engine LABELS unit)
target_compile_definitions(test_train_fast PRIVATE KILN_SAMPLES_DIR="${PROJECT_SOURCE_DIR}/resources/samples")
foreach(t test_train_data test_train_optim test_trainer test_train_fast)
  # LibTorch's headers parse in ~25 s per file; the engine's precompiled <torch/torch.h> cuts that
  # to a few. GCC uses it only if the macros it was built with are defined alike.
  target_precompile_headers(${t} REUSE_FROM kiln_engine)
  target_compile_definitions(${t} PRIVATE KILN_VERSION="${PROJECT_VERSION}")
  set_source_files_properties(${CMAKE_CURRENT_BINARY_DIR}/${t}_autogen/mocs_compilation.cpp
    PROPERTIES SKIP_PRECOMPILE_HEADERS ON)
endforeach()
