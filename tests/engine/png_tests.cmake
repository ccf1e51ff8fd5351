# engine/io/png_file: PNG writing and text chunks, checked against OpenCV's decoder.
kiln_add_qt_test(test_png_file SOURCES test_png_file.cpp LIBS kiln::engine_base ${OpenCV_LIBS} LABELS unit)
target_include_directories(test_png_file PRIVATE ${OpenCV_INCLUDE_DIRS})
