// The training loop, run as a job body on the engine thread. It stops within one batch when
// the job is cancelled, waits without spinning while paused, checkpoints as configured, resumes
// from the last checkpoint, and stops with a readable error when the loss stops being a number.
//
// From the studio or the CLI (engine side, where the module is built):
//
//   kiln::train::TrainConfig cfg;            // kiln/train_config.h, std types only
//   cfg.data.kind = kiln::train::DatasetKind::FashionMnist;
//   cfg.epochs = 10; cfg.checkpoint.directory = runDir;
//   auto pause = std::make_shared<kiln::PauseControl>();
//   queue.submit("Train", kiln::train::makeTrainJob(cfg, {module, forward}, {.pause = pause}), observer);
//
// Metrics are named in kiln/train_config.h (kiln::train::metric); reports, hooks and the pause
// control are in kiln/train_run.h, both free of LibTorch.
#pragma once

#include "kiln/job.h"
#include "kiln/train_config.h"
#include "kiln/train_run.h"
#include "train/dataset.h"
#include "train/evaluate.h"
#include "train/model.h"

namespace kiln::train {

// Trains `model` on `data`. A cancelled run is a success with summary.cancelled set.
Result<TrainSummary> train(const TrainConfig& config, const TrainModel& model, const TrainData& data,
                           JobContext& ctx, const TrainHooks& hooks = {});

// A job body that loads config.data and trains; for JobQueue::submit.
JobBody makeTrainJob(TrainConfig config, TrainModel model, TrainHooks hooks = {});

// Sets LibTorch's intra-op threads for the calling thread's parallel regions (0: every hardware
// thread) and returns the count in effect. See docs/architecture/decisions.md on why.
int applyThreadSetting(int requested);

}  // namespace kiln::train
