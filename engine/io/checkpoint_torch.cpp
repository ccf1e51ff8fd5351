#include "io/checkpoint_torch.h"

#include "io/safetensors_torch.h"

namespace kiln::io {

Result<torch::Tensor> toTorch(const TorchCheckpoint& checkpoint, const CheckpointTensor& tensor)
{
    const auto type = torchTypeOf(tensor.dtype);
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
        // The tensor takes the gathered buffer over (its deleter keeps it alive): no second copy.
        return torch::from_blob(buffer->data(), tensor.shape, [buffer](void*) {}, torch::TensorOptions().dtype(*type));
    } catch (const std::exception& e) {
        return makeError("cannot make a torch tensor of '" + tensor.name + "': " + e.what(), checkpoint.name());
    }
}

}  // namespace kiln::io
