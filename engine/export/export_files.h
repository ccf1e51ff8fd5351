// Exporting from files, as kiln-cli does: a .kgraph, optionally its trained weights, and the
// files to write (PyTorch code, safetensors weights, ONNX). Torch-free header: the CLI and the
// studio call it without parsing LibTorch.
#pragma once

#include "kiln/result.h"

#include <cstdint>
#include <string>
#include <vector>

namespace kiln::exporting {

struct ExportRequest {
    std::string graphPath;        // the .kgraph
    std::string weightsPath;      // .safetensors with the model's keys; empty: fresh initialisation
    std::string pythonPath;       // each output is written when its path is set
    std::string safetensorsPath;
    std::string onnxPath;
    std::string className = "KilnModel";  // of the Python module and the ONNX graph
};

struct ExportReport {
    std::vector<std::string> written;  // the files, in the order written
    std::uint64_t parameters = 0;
    std::size_t weightsLoaded = 0;     // tensors taken from weightsPath
    std::vector<std::string> unusedWeights;  // keys in weightsPath the model does not have
    std::vector<Error> onnxBeyondOpenCv;     // nodes OpenCV 4.6 cannot load (see onnx_export.h)
};

// Loads and compiles the graph, loads the weights by key (strict: missing keys and wrong shapes
// are errors that name them), then writes each requested file atomically. Nothing is written
// when the graph, the weights or an exporter fails before the first file.
Result<ExportReport> exportFiles(const ExportRequest& request);

}  // namespace kiln::exporting
