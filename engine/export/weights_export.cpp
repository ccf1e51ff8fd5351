// The checkpoint code (train/checkpoint.h) already defines "a module's state" for Kiln; the
// exporter uses the same definition so an exported file and a training checkpoint are alike.
#include "export/weights_export.h"

#include "kiln/graph_file.h"
#include "train/checkpoint.h"

#include <set>

namespace kiln::exporting {

Result<void> exportWeights(const graph::Graph& graph, const graph::CompiledModel& model, const std::string& path)
{
    return train::saveModuleState(path, model, {{"kiln.graph", graph::graphToJson(graph)}});
}

Result<WeightsLoad> loadWeights(graph::CompiledModel& model, const std::string& path)
{
    try {
        auto file = io::SafetensorsFile::open(path);
        if (!file) return file.error();
        if (auto ok = train::loadModuleState(path, model); !ok) return ok.error();
        WeightsLoad report;
        std::set<std::string> known;
        for (const auto& [name, tensor] : train::moduleState(model)) known.insert(name);
        report.applied = known.size();
        for (const auto& e : file->index().tensors)
            if (!known.count(e.name)) report.unused.push_back(e.name);
        return report;
    } catch (const std::exception& ex) {
        return makeError(std::string("cannot load the weights: ") + ex.what(), path);
    }
}

}  // namespace kiln::exporting
