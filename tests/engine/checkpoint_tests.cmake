# PyTorch checkpoint reader (engine/io/torch_checkpoint.*): fixtures in tests/data/checkpoints,
# written by tests/data/make_checkpoints.py.
kiln_add_qt_test(test_checkpoint_reader SOURCES test_checkpoint_reader.cpp LIBS kiln::engine_base LABELS unit)
kiln_add_qt_test(test_checkpoint SOURCES test_checkpoint.cpp LIBS kiln::engine LABELS unit)
