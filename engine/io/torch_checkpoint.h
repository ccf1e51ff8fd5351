// PyTorch checkpoints (.pt, .pth, .ckpt as torch.save writes them) read without running
// any of their code. Both of torch.save's formats are understood: the zip archive (the
// default since torch 1.6) and the legacy stream of pickles followed by raw storages.
//
// Opening parses the pickle into tensors (name, dtype, shape, stride, storage bytes) and
// entries (everything else, summarised as text); the tensors' bytes are not copied: they
// point into the mapped file, or into an owned buffer for deflated zip entries.
#pragma once

#include "io/dtype.h"
#include "kiln/result.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::io {

struct CheckpointTensor {
    std::string name;  // dotted path through dicts/lists: "state_dict.model.layer.weight", "layers.0.weight"
    DType dtype = DType::F32;
    std::vector<std::int64_t> shape, stride;
    std::int64_t storageOffset = 0;  // in elements
    std::string storageKey;
    std::span<const std::uint8_t> storage;  // all bytes of the storage (into the mapped file or an owned buffer)
};

// A value that is not a tensor: "epoch" -> "3",
// "callbacks.x" -> "inert object pytorch_lightning.callbacks.ModelCheckpoint".
struct CheckpointEntry {
    std::string name;
    std::string summary;
};

class TorchCheckpoint {
public:
    static Result<TorchCheckpoint> open(const std::string& path);
    // For fuzzing and tests; nameForMessages stands in for the path in errors.
    static Result<TorchCheckpoint> fromBytes(std::vector<std::uint8_t> bytes, std::string nameForMessages);

    const std::string& format() const { return format_; }  // "PyTorch zip checkpoint", "PyTorch legacy checkpoint"
    const std::string& name() const { return name_; }
    const std::vector<CheckpointTensor>& tensors() const { return tensors_; }
    const std::vector<CheckpointEntry>& entries() const { return entries_; }
    const CheckpointTensor* findTensor(std::string_view name) const;

    // The tensor's elements gathered into a contiguous row-major byte buffer (strided and
    // offset views handled, bounds checked).
    Result<std::vector<std::uint8_t>> contiguousBytes(const CheckpointTensor& t) const;

private:
    friend struct CheckpointLoader;
    std::string name_;
    std::string format_;
    std::shared_ptr<const void> source_;  // the mapped file or the byte vector the spans point into
    std::vector<std::shared_ptr<const std::vector<std::uint8_t>>> owned_;  // inflated zip entries
    std::vector<CheckpointTensor> tensors_;
    std::vector<CheckpointEntry> entries_;
};

// The elements a tensor view needs from its storage: 1 + the largest element index it
// touches, or 0 for an empty tensor; nullopt when the arithmetic overflows.
std::optional<std::int64_t> elementsSpanned(const std::vector<std::int64_t>& shape,
                                            const std::vector<std::int64_t>& stride, std::int64_t offset);

}  // namespace kiln::io
