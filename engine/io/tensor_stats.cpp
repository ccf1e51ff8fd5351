#include "io/checkpoint_torch.h"
#include "io/safetensors_torch.h"
#include "kiln/tensor_stats.h"

#include <functional>

namespace kiln {

namespace {
TensorStats statsOf(const std::string& name, const std::string& dtype, const torch::Tensor& raw)
{
    TensorStats s;
    s.name = name;
    s.dtype = dtype;
    s.elements = raw.numel();
    if (raw.numel() == 0) return s;
    auto t = raw.to(torch::kFloat64).flatten();
    auto finite = torch::isfinite(t);
    s.nonFinite = s.elements - finite.sum().item<std::int64_t>();
    auto values = t.masked_select(finite);
    if (values.numel() == 0) return s;
    s.min = values.min().item<double>();
    s.max = values.max().item<double>();
    s.mean = values.mean().item<double>();
    s.std = values.numel() > 1 ? values.std().item<double>() : 0.0;
    return s;
}
}  // namespace

Result<std::vector<TensorStats>> computeTensorStats(const std::string& path, JobContext& ctx)
{
    std::vector<TensorStats> out;
    // Both formats come down to: a count, and "load tensor i".
    std::size_t count = 0;
    std::function<Result<std::pair<std::string, torch::Tensor>>(std::size_t)> load;
    std::function<std::string(std::size_t)> dtypeAt;

    auto st = io::SafetensorsFile::open(path);
    std::optional<io::TorchCheckpoint> ckpt;
    if (st) {
        count = st->index().tensors.size();
        load = [&](std::size_t i) -> Result<std::pair<std::string, torch::Tensor>> {
            const auto& e = st->index().tensors[i];
            auto t = io::loadTensor(*st, e);
            if (!t) return t.error();
            return std::make_pair(e.name, std::move(*t));
        };
        dtypeAt = [&](std::size_t i) { return std::string(io::dtypeName(st->index().tensors[i].dtype)); };
    } else {
        auto c = io::TorchCheckpoint::open(path);
        if (!c)
            return makeError("neither a safetensors file nor a PyTorch checkpoint", path,
                             "as safetensors: " + st.error().what + "; as a checkpoint: " + c.error().what);
        ckpt = std::move(*c);
        count = ckpt->tensors().size();
        load = [&](std::size_t i) -> Result<std::pair<std::string, torch::Tensor>> {
            const auto& e = ckpt->tensors()[i];
            auto t = io::toTorch(*ckpt, e);
            if (!t) return t.error();
            return std::make_pair(e.name, std::move(*t));
        };
        dtypeAt = [&](std::size_t i) { return std::string(io::dtypeName(ckpt->tensors()[i].dtype)); };
    }

    for (std::size_t i = 0; i < count; ++i) {
        if (ctx.cancelled()) return out;
        auto loaded = load(i);
        if (!loaded) return loaded.error();
        out.push_back(statsOf(loaded->first, dtypeAt(i), loaded->second));
        ctx.report(static_cast<double>(i + 1) / static_cast<double>(count), loaded->first);
    }
    return out;
}

}  // namespace kiln
