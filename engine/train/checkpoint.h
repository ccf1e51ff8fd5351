// A run's checkpoint folder: step checkpoints (model + optimizer state, kept `keepLast`),
// best.safetensors, and checkpoint.json naming the complete ones (see checkpoint_manifest.h).
// Model files are plain safetensors whose keys are the module's named_parameters() and
// named_buffers(), so they load anywhere a state_dict would.
#pragma once

#include "io/safetensors_torch.h"
#include "kiln/train_config.h"
#include "train/checkpoint_manifest.h"

#include <torch/nn/module.h>

namespace kiln::train {

// Parameters, then buffers, under their module names.
io::NamedTensors moduleState(const torch::nn::Module& module);
Result<void> saveModuleState(const std::string& path, const torch::nn::Module& module,
                             const std::map<std::string, std::string>& metadata = {});
// Strict: every parameter and buffer must be in the file with its shape; names the first ones
// that are not. Copies into the module's tensors in place (optimizers keep pointing at them).
Result<void> loadModuleState(const std::string& path, torch::nn::Module& module);

class CheckpointFolder {
public:
    // Creates the folder if needed. With `resume`, keeps the manifest found there; otherwise
    // starts a fresh one (files of an earlier run stay until overwritten).
    static Result<CheckpointFolder> open(const std::string& dir, bool resume);

    const std::string& dir() const { return dir_; }
    CheckpointManifest& manifest() { return manifest_; }
    std::string pathOf(const std::string& file) const;
    std::string lastPath() const;  // the newest step checkpoint's model file, or "" when none
    std::string bestPath() const;

    // Writes step-NNNNNNNN(.optim).safetensors, then the manifest; then deletes the files of
    // step checkpoints beyond keepLast. A record with the same step is replaced.
    Result<std::string> saveStep(const torch::nn::Module& module, const io::NamedTensors& optimizerState,
                                 const CheckpointRecord& record, int keepLast);
    Result<std::string> saveBest(const torch::nn::Module& module, const CheckpointRecord& record);

private:
    std::string dir_;
    CheckpointManifest manifest_;
};

}  // namespace kiln::train
