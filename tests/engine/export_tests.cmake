# Exporters (engine/export): the .py runs in Debian's python3-torch (skipped where /usr/bin/python3
# cannot import torch), the .onnx in OpenCV's DNN module and in a LibTorch reading of the ONNX
# specification (onnx_torch_runner.cpp); and kiln-cli export.
if(NOT TARGET onnx)
  find_package(ONNX REQUIRED)  # imported in engine/'s scope, not visible here
endif()
kiln_add_qt_test(test_export SOURCES test_export.cpp onnx_torch_runner.cpp LIBS kiln::engine ${OpenCV_LIBS} onnx
  LABELS model)
target_include_directories(test_export PRIVATE ${OpenCV_INCLUDE_DIRS})
target_compile_definitions(test_export PRIVATE KILN_SAMPLES_DIR="${PROJECT_SOURCE_DIR}/resources/samples"
  KILN_EXPORT_DRIVER="${CMAKE_CURRENT_SOURCE_DIR}/export_driver.py")

add_test(NAME cli_export COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/check_export_cli.sh $<TARGET_FILE:kiln-cli>
  ${PROJECT_SOURCE_DIR}/resources/samples)
set_tests_properties(cli_export PROPERTIES LABELS "cli;model" TIMEOUT 300 ENVIRONMENT "OMP_WAIT_POLICY=passive")
