// Turns an unpickled checkpoint value into TorchCheckpoint's tensors and entries.
// Internal to the checkpoint reader.
#pragma once

#include "io/pickle.h"
#include "io/torch_checkpoint.h"

#include <functional>

namespace kiln::io::detail {

// The bytes of a storage as the file holds them (already size-checked against its numel).
using StorageResolver = std::function<Result<std::span<const std::uint8_t>>(const pickle::StorageInfo&)>;

// Walks the value graph from `root` without recursion: dicts, lists and inert objects'
// state become dotted names, tensors are checked against their storage, everything else is
// summarised. Each container is listed once (a second path to it becomes an entry saying
// so), so shared and cyclic values cost linear time.
Result<void> collectCheckpoint(const pickle::PickleGraph& graph, pickle::Ref root, const StorageResolver& resolve,
                               const std::string& where, std::vector<CheckpointTensor>& tensors,
                               std::vector<CheckpointEntry>& entries);

}  // namespace kiln::io::detail
