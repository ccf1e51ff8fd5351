// The bridge from a checkpoint tensor to LibTorch. Kept apart from torch_checkpoint.h so
// that the reader itself builds without torch (the fuzzers and kiln_engine_base).
#pragma once

#include "io/torch_checkpoint.h"

#include <torch/torch.h>

namespace kiln::io {

// A contiguous CPU tensor with the checkpoint tensor's dtype and shape, owning its memory
// (a clone: it does not point into the mapped file).
Result<torch::Tensor> toTorch(const TorchCheckpoint& checkpoint, const CheckpointTensor& tensor);

}  // namespace kiln::io
