#include "export/export_files.h"

#include "core/atomic_file.h"
#include "export/onnx_export.h"
#include "export/python_export.h"
#include "export/weights_export.h"
#include "kiln/graph_file.h"

namespace kiln::exporting {

Result<ExportReport> exportFiles(const ExportRequest& request)
{
    if (request.pythonPath.empty() && request.safetensorsPath.empty() && request.onnxPath.empty())
        return makeError("nothing to export", {}, "ask for at least one of --py, --onnx, --safetensors");
    auto graph = graph::loadGraph(request.graphPath);
    if (!graph) return graph.error();
    auto model = graph::compileGraph(*graph);
    if (!model) {
        Error e = model.error();
        if (e.where.empty()) e.where = request.graphPath;
        return e;
    }
    ExportReport report;
    report.parameters = (*model)->info().totalParams;
    if (!request.weightsPath.empty()) {
        auto loaded = loadWeights(**model, request.weightsPath);
        if (!loaded) return loaded.error();
        report.weightsLoaded = loaded->applied;
        report.unusedWeights = loaded->unused;
    }
    (*model)->eval();

    // Generated first, so a graph that cannot be written as code leaves no other file behind.
    std::string code;
    if (!request.pythonPath.empty()) {
        auto py = exportPython(*graph, request.className);
        if (!py) return py.error();
        code = std::move(*py);
    }
    if (!request.onnxPath.empty()) {
        OnnxOptions options;
        options.modelName = request.className;
        auto notes = exportOnnx(*graph, **model, request.onnxPath, options);
        if (!notes) return notes.error();
        report.onnxBeyondOpenCv = std::move(*notes);
        report.written.push_back(request.onnxPath);
    }
    if (!request.safetensorsPath.empty()) {
        if (auto ok = exportWeights(*graph, **model, request.safetensorsPath); !ok) return ok.error();
        report.written.push_back(request.safetensorsPath);
    }
    if (!request.pythonPath.empty()) {
        const auto* bytes = reinterpret_cast<const std::uint8_t*>(code.data());
        if (auto ok = writeFileAtomically(request.pythonPath, std::span<const std::uint8_t>(bytes, code.size())); !ok)
            return ok.error();
        report.written.push_back(request.pythonPath);
    }
    return report;
}

}  // namespace kiln::exporting
