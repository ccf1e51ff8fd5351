// A small ONNX interpreter over LibTorch for the operators Kiln's exporter writes, following the
// ONNX operator specifications (opset 13). It checks that the exported file means what Kiln
// computes where OpenCV cannot load it (Embedding, broadcasts along the batch), and helps find
// which operator OpenCV reads differently when it can.
#pragma once

#include <map>
#include <string>
#include <torch/torch.h>

namespace kiln::test {

// Runs the model file at `path` on `inputs` (by graph input name); returns every tensor the graph
// computed by name, the graph's output under "@output". Throws std::runtime_error on an operator
// it does not know.
std::map<std::string, torch::Tensor> runOnnxWithTorch(const std::string& path,
                                                      const std::map<std::string, torch::Tensor>& inputs);

}  // namespace kiln::test
