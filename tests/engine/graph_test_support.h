// Helpers the graph, compiler and export tests share: the shipped samples, and a small builder
// for graphs made in a test. Torch-free (test_graph links no torch).
#pragma once

#include "kiln/graph_file.h"

#include <QtGlobal>
#include <map>
#include <string>

namespace kiln::graph::testing {

inline std::string samplePath(const std::string& name) { return std::string(KILN_SAMPLES_DIR) + "/" + name + ".kgraph"; }

inline Graph loadSample(const std::string& name)
{
    auto g = loadGraph(samplePath(name));
    if (!g) qFatal("%s", g.error().message().c_str());
    return std::move(g).value();
}

struct GraphBuilder {
    Graph g;
    NodeId add(const std::string& type, const std::string& name, std::map<std::string, ParamValue> params = {})
    {
        auto id = addNodeOfType(g, builtinNodes(), type);
        if (!id) qFatal("%s", id.error().message().c_str());
        g.node(*id)->name = name;
        for (auto& [k, v] : params) g.node(*id)->params[k] = v;
        return *id;
    }
    void link(NodeId from, NodeId to, const std::string& port = "in") { g.connect({{from, "out"}, {to, port}}); }
};

}  // namespace kiln::graph::testing
