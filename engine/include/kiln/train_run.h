// What a training run reports back, and the hooks that receive it: standard types only, so the
// studio's panels and the CLI can show epochs, confusion matrices and text samples without
// including LibTorch. The trainer itself is engine/train/trainer.h.
#pragma once

#include "kiln/job.h"
#include "kiln/pause_control.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kiln::train {

using kiln::PauseControl;

struct Evaluation {
    double loss = 0;
    double accuracy = -1;                  // -1 where accuracy means nothing (MSE)
    std::int64_t items = 0;
    int numClasses = 0;                    // 0: no confusion matrix was asked for
    std::vector<std::int64_t> confusion;   // numClasses x numClasses, row = true class, column = predicted
    std::vector<double> perClassAccuracy;  // NaN for a class with no items
    std::vector<std::int64_t> predictions; // the first items' predicted classes (for the picture)
};

struct EpochReport {
    std::int64_t epoch = 0;      // the epoch just finished, from 1
    std::int64_t step = 0;
    double trainLoss = 0;        // mean over the epoch's batches
    double trainAccuracy = -1;   // -1 where it means nothing
    Evaluation validation;       // with the confusion matrix for classification
    bool best = false;           // a new best validation loss (saved when checkpoints are on)
    std::string textSample;      // character models
    std::shared_ptr<const Preview> predictions;  // image classification: a grid of sample predictions
};

struct TrainSummary {
    std::int64_t steps = 0;             // optimizer steps done in all (resumed ones included)
    std::int64_t resumedFromStep = -1;  // -1: started fresh
    std::int64_t epochsCompleted = 0;   // in this run
    bool cancelled = false;
    int threads = 0;                    // intra-op threads the run used
    std::optional<EpochReport> lastEpoch;
    std::string lastCheckpoint, bestCheckpoint;
    std::string dataDescription;
};

// Called on the engine thread; hand the data to your own thread as JobObserver does.
struct TrainHooks {
    std::shared_ptr<PauseControl> pause;
    std::function<void(const EpochReport&)> onEpoch;
    std::function<void(std::int64_t step, double loss)> onStep;  // after every optimizer step
    std::function<void(const TrainSummary&)> onFinished;         // makeTrainJob only
};

}  // namespace kiln::train
