# The node editor (widgets/node_editor): paths relative to widgets/.
set(KILN_NODE_EDITOR_SOURCES
  node_editor/node_graph_model.cpp
  node_editor/simple_node_graph_model.cpp
  node_editor/node_style.cpp
  node_editor/node_item.cpp
  node_editor/edge_item.cpp
  node_editor/node_scene.cpp
  node_editor/node_view.cpp
  node_editor/node_commands.cpp
  node_editor/node_clipboard.cpp
  node_editor/node_layout.cpp
  node_editor/node_palette.cpp
  node_editor/node_inspector.cpp
  node_editor/node_editor.cpp
)
