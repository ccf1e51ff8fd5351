# The node editor, driven with mouse and keys on the real view (offscreen).
kiln_add_qt_test(test_node_editor
  SOURCES test_node_editor.cpp node_editor_fixture.h
  LIBS kiln::widgets
  LABELS gui
  GUI)
