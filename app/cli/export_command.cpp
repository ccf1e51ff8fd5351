// The CLI face of engine/export/export_files.h: parses the options, exports, and says in one line
// per file what was written (or in one line what went wrong).
#include "cli/export_command.h"

#include "export/export_files.h"

#include <algorithm>
#include <cstdio>
#include <string>

namespace kiln::cli {

namespace {

constexpr const char* kExportUsage =
    "usage: kiln-cli export GRAPH.kgraph [--weights CKPT.safetensors] [--py OUT.py] [--onnx OUT.onnx]\n"
    "                       [--safetensors OUT.safetensors] [--class NAME]\n";

int usageError(const std::string& message)
{
    std::fprintf(stderr, "kiln-cli: error: %s\n%s", message.c_str(), kExportUsage);
    return 2;
}

}  // namespace

int exportCommand(int argc, char** argv)
{
    exporting::ExportRequest request;
    for (int i = 0; i < argc; ++i) {
        const std::string arg = argv[i];
        auto value = [&](std::string& into) {
            if (i + 1 >= argc) return false;
            into = argv[++i];
            return true;
        };
        bool ok = true;
        if (arg == "--weights") ok = value(request.weightsPath);
        else if (arg == "--py") ok = value(request.pythonPath);
        else if (arg == "--onnx") ok = value(request.onnxPath);
        else if (arg == "--safetensors") ok = value(request.safetensorsPath);
        else if (arg == "--class") ok = value(request.className);
        else if (arg == "--help" || arg == "-h") {
            std::fputs(kExportUsage, stdout);
            return 0;
        } else if (arg.rfind("--", 0) == 0) return usageError("unknown option " + arg);
        else if (request.graphPath.empty()) request.graphPath = arg;
        else return usageError("export takes one graph, but got " + request.graphPath + " and " + arg);
        if (!ok) return usageError(arg + " needs a value");
    }
    if (request.graphPath.empty()) return usageError("export needs a graph file");
    if (request.pythonPath.empty() && request.onnxPath.empty() && request.safetensorsPath.empty())
        return usageError("nothing to export: give --py, --onnx or --safetensors");

    auto report = exporting::exportFiles(request);
    if (!report) {
        std::string line = report.error().message();
        std::replace(line.begin(), line.end(), '\n', ' ');
        std::fprintf(stderr, "kiln-cli: error: %s\n", line.c_str());
        return 1;
    }
    if (request.weightsPath.empty())
        std::printf("weights: freshly initialised (no --weights given)\n");
    else
        std::printf("weights: %zu tensors from %s\n", report->weightsLoaded, request.weightsPath.c_str());
    for (const auto& key : report->unusedWeights)
        std::printf("warning: %s is not part of this graph and was not used\n", key.c_str());
    for (const auto& path : report->written) std::printf("wrote %s\n", path.c_str());
    for (const auto& note : report->onnxBeyondOpenCv)
        std::printf("note: OpenCV's DNN module cannot load %s: %s (ONNX runtimes can)\n", note.where.c_str(),
                    note.what.c_str());
    return 0;
}

}  // namespace kiln::cli
