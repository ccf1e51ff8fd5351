# The model library (engine/diffusion/model_library*): folder scan, header detection, SHA-256 and its cache.
# std-only engine code, seconds; compares hashes with coreutils' sha256sum where it is installed.
kiln_add_qt_test(test_model_library SOURCES test_model_library.cpp LIBS kiln::engine_base LABELS unit diffusion)
