// libFuzzer target: the .kgraph reader and shape inference, on any bytes. A graph that loads must
// infer without crashing and survive a save and load unchanged.
#include "kiln/graph_file.h"
#include "kiln/graph_infer.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    using namespace kiln::graph;
    auto graph = parseGraph(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
    if (!graph) return 0;
    const GraphInfo info = inferShapes(*graph);
    if (info.nodes.size() != graph->nodes.size() || info.edges.size() != graph->edges.size()) __builtin_trap();
    auto again = parseGraph(graphToJson(*graph), "fuzz");
    if (!again || !(*again == *graph)) __builtin_trap();
    return 0;
}
