// The compiled model's side of the ONNX export: its float parameters and buffers (as they are
// after training or loading) become the weights buildOnnx reads; the file is written atomically.
#include "export/onnx_export.h"

#include "core/atomic_file.h"
#include "graph/compiler.h"

namespace kiln::exporting {

Result<std::vector<Error>> exportOnnx(const graph::Graph& graph, const graph::CompiledModel& model, const std::string& path,
                        const OnnxOptions& options)
{
    OnnxWeights weights;
    try {
        auto add = [&](const std::string& name, const torch::Tensor& value) {
            if (!value.defined() || !value.is_floating_point()) return;  // num_batches_tracked: not for inference
            const torch::Tensor t = value.detach().to(torch::kCPU, torch::kFloat32).contiguous();
            const float* data = t.data_ptr<float>();
            weights[name] = OnnxWeight{t.sizes().vec(), std::vector<float>(data, data + t.numel())};
        };
        for (const auto& p : model.named_parameters()) add(p.key(), p.value());
        for (const auto& b : model.named_buffers()) add(b.key(), b.value());
    } catch (const std::exception& ex) {
        return makeError(std::string("cannot read the model's weights: ") + ex.what(), path);
    }
    auto onnx = buildOnnx(graph, weights, options);
    if (!onnx) return onnx.error();
    const auto* data = reinterpret_cast<const std::uint8_t*>(onnx->bytes.data());
    if (auto ok = writeFileAtomically(path, std::span<const std::uint8_t>(data, onnx->bytes.size())); !ok)
        return ok.error();
    return std::move(onnx->openCvUnsupported);
}

}  // namespace kiln::exporting
