// After (or during) training: loss and accuracy over a dataset, the confusion matrix, per-class
// accuracy, a picture of sample predictions, and text sampled from a character model.
#pragma once

#include "kiln/job.h"
#include "kiln/result.h"
#include "kiln/train_run.h"
#include "train/char_vocab.h"
#include "train/dataset.h"
#include "train/model.h"

namespace kiln::train {

struct EvalOptions {
    LossKind loss = LossKind::CrossEntropy;
    AugmentConfig augment;        // only its normalisation is applied
    int batchSize = 256;
    int numClasses = 0;           // > 0: fill the confusion matrix (classification only)
    int keepPredictions = 0;
    std::function<bool()> cancelled;
};

// Runs in eval mode without gradients and puts the module's mode back. An error if cancelled.
Result<Evaluation> evaluate(const TrainModel& model, const Dataset& data, const EvalOptions& options);

// A grid of the first tiles' images, each framed green (right) or red (wrong), with the
// predicted class under it and, when wrong, "/" and the true class. Images are shown as stored.
Preview predictionGrid(const Dataset& data, const std::vector<std::int64_t>& predicted, int tiles, int columns = 8);

struct SampleOptions {
    int length = 160;
    double temperature = 0.8;  // <= 0: greedy (always the likeliest character)
    int context = 64;          // at most this many of the latest tokens are fed to the model
    std::uint64_t seed = 1;
};
// The prompt followed by `length` characters, one forward pass per character.
Result<std::string> sampleText(const TrainModel& model, const CharVocab& vocab, std::string_view prompt,
                               const SampleOptions& options);

}  // namespace kiln::train
