#include "io/checkpoint_torch.h"

namespace kiln::io {
namespace {

std::optional<torch::ScalarType> scalarType(DType t)
{
    switch (t) {
    case DType::F64: return torch::kFloat64;
    case DType::F32: return torch::kFloat32;
    case DType::F16: return torch::kFloat16;
    case DType::BF16: return torch::kBFloat16;
    case DType::I64: return torch::kInt64;
    case DType::I32: return torch::kInt32;
    case DType::I16: return torch::kInt16;
    case DType::I8: return torch::kInt8;
    case DType::U8: return torch::kUInt8;
    case DType::Bool: return torch::kBool;
    default: return std::nullopt;  // unsigned 16/32/64 and float8 do not exist in torch 1.13
    }
}

}  // namespace

Result<torch::Tensor> toTorch(const TorchCheckpoint& checkpoint, const CheckpointTensor& tensor)
{
    const auto type = scalarType(tensor.dtype);
    if (!type)
        return makeError("tensor '" + tensor.name + "' has dtype " + std::string(dtypeName(tensor.dtype)) +
                             ", which this LibTorch cannot represent",
                         checkpoint.name(), "convert the checkpoint to a supported dtype with a newer PyTorch");
    // Gathering through contiguousBytes (bounds-checked memcpy) rather than viewing the
    // mapped storage with from_blob: storages in legacy files need not be aligned.
    auto bytes = checkpoint.contiguousBytes(tensor);
    if (!bytes) return bytes.error();
    try {
        auto buffer = std::make_shared<std::vector<std::uint8_t>>(std::move(bytes).value());
        // from_blob needs a valid pointer even for empty tensors.
        if (buffer->empty()) buffer->resize(1);
        return torch::from_blob(buffer->data(), tensor.shape, [buffer](void*) {}, torch::TensorOptions().dtype(*type)).clone();
    } catch (const std::exception& e) {
        return makeError("cannot make a torch tensor of '" + tensor.name + "': " + e.what(), checkpoint.name());
    }
}

}  // namespace kiln::io
