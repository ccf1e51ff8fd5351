// What a training run is asked to do: data, loss, optimizer, schedule, checkpoints. std types
// only, so the studio and the CLI can fill one in without paying for LibTorch's headers; the
// trainer itself (engine/train/trainer.h) takes it together with a module.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::train {

// Closed sets stay enums inside; settings and files store the string ids (toId / ...FromId).
enum class DatasetKind { FashionMnist, ImageFolder, Text, Custom };
enum class LossKind { CrossEntropy, Mse, BceWithLogits };
enum class OptimizerKind { Sgd, Adam, AdamW };
enum class ScheduleKind { Constant, Step, Cosine };

std::string_view toId(DatasetKind k);    // "dataset.fashion_mnist", "dataset.image_folder", "dataset.text", "dataset.custom"
std::string_view toId(LossKind k);       // "loss.cross_entropy", "loss.mse", "loss.bce_with_logits"
std::string_view toId(OptimizerKind k);  // "optimizer.sgd", "optimizer.adam", "optimizer.adamw"
std::string_view toId(ScheduleKind k);   // "schedule.constant", "schedule.step", "schedule.cosine"
std::optional<DatasetKind> datasetKindFromId(std::string_view id);
std::optional<LossKind> lossKindFromId(std::string_view id);
std::optional<OptimizerKind> optimizerKindFromId(std::string_view id);
std::optional<ScheduleKind> scheduleKindFromId(std::string_view id);

inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";
inline constexpr const char* kDefaultTextCorpus = "/usr/share/common-licenses/GPL-3";

struct AugmentConfig {
    bool horizontalFlip = false;  // each training image flipped with probability 1/2
    int cropPadding = 0;          // pad by this many zero pixels, then crop the original size at random (0: off)
    // Per channel, applied after scaling to [0, 1], in training and in evaluation alike. Empty: none.
    std::vector<float> mean;
    std::vector<float> std;
};

struct DataConfig {
    DatasetKind kind = DatasetKind::FashionMnist;
    // Fashion-MNIST: the folder with the four .gz files (empty: kFashionMnistDir).
    // Image folder: the root, one subfolder per class. Text: the file (empty: kDefaultTextCorpus).
    std::string path;
    double validationFraction = 0.1;     // carved from the training data at random (seeded)
    bool useTestSetForValidation = true;  // Fashion-MNIST: validate on t10k instead of a carved split
    std::int64_t maxTrainSamples = 0;     // 0: all; otherwise a random subset (quick runs, CI)
    std::int64_t maxValidationSamples = 0;
    int imageWidth = 0, imageHeight = 0;  // image folder: every image is resized to this (0: the first image's size)
    int imageChannels = 3;                // image folder: 1 (grey) or 3 (RGB)
    int sequenceLength = 64;              // text: tokens per training sequence
    int sequenceStride = 0;               // text: distance between sequence starts (0: sequenceLength, no overlap)
    std::uint64_t seed = 1;               // the split and the subsets
    AugmentConfig augment;
};

struct OptimizerConfig {
    OptimizerKind kind = OptimizerKind::AdamW;
    double learningRate = 1e-3;
    double weightDecay = 0;     // L2 for SGD and Adam, decoupled for AdamW (as in PyTorch)
    double momentum = 0.9;      // SGD
    bool nesterov = false;      // SGD
    double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // Adam, AdamW
};

// lr(step): linear warm-up from learningRate * warmupStartFactor to learningRate over
// warmupSteps, then the schedule over the remaining steps (see train/lr_schedule.h for formulas).
struct ScheduleConfig {
    ScheduleKind kind = ScheduleKind::Constant;
    std::int64_t warmupSteps = 0;
    double warmupStartFactor = 0.0;
    std::int64_t stepSize = 1000;  // Step: multiply by gamma every stepSize steps
    double gamma = 0.1;
    double minLearningRate = 0;    // Cosine: where it ends
};

struct CheckpointConfig {
    std::string directory;          // empty: no checkpoints
    std::int64_t everySteps = 500;  // 0: only at the end of each epoch
    int keepLast = 2;               // step checkpoints kept on disk (the best is kept apart)
    bool saveBest = true;           // best.safetensors, by validation loss
    bool saveOnStop = true;         // a checkpoint where a person pressed Stop, so Resume continues there
    bool resume = false;            // continue from the directory's last checkpoint when it has one
};

struct TrainConfig {
    DataConfig data;
    LossKind loss = LossKind::CrossEntropy;
    OptimizerConfig optimizer;
    ScheduleConfig schedule;
    CheckpointConfig checkpoint;
    int epochs = 1;
    std::int64_t maxSteps = 0;      // 0: epochs decide; otherwise stop after this many steps in all
    int batchSize = 64;
    int evalBatchSize = 256;
    bool dropLastBatch = false;
    double clipGradNorm = 0;        // clip the global gradient norm to this (0: off)
    int threads = 0;                // LibTorch intra-op threads for the run (0: every hardware thread)
    std::uint64_t seed = 1;         // shuffling and augmentation
    int previewTiles = 32;          // image classification: sample predictions drawn after each epoch (0: none)
    // Language models: a text sample after each epoch.
    std::string samplePrompt = "The ";
    int sampleLength = 160;
    double sampleTemperature = 0.8;  // 0: greedy
};

// Metric names the trainer emits through JobContext::emitMetric. `step` is always the global
// optimizer step, so per-epoch values line up with per-step ones on one axis.
namespace metric {
// every step
inline constexpr const char* kTrainLoss = "train/loss";
inline constexpr const char* kLearningRate = "lr";
inline constexpr const char* kThroughput = "throughput/samples_per_s";
inline constexpr const char* kGradNorm = "train/grad_norm";  // only with clipping (the norm before it)
// every epoch, at the step where the epoch ended
inline constexpr const char* kEpoch = "epoch";  // value: the epoch just finished, from 1
inline constexpr const char* kTrainEpochLoss = "train/epoch_loss";
inline constexpr const char* kTrainAccuracy = "train/accuracy";  // classification
inline constexpr const char* kValLoss = "val/loss";
inline constexpr const char* kValAccuracy = "val/accuracy";      // classification (tokens for a language model)
inline constexpr const char* kValPerplexity = "val/perplexity";  // language models
// once, at step 0, when an image folder had files that do not decode
inline constexpr const char* kSkippedImages = "data/skipped_images";

// Whether a chart should draw the metric as a per-epoch series (markers, no smoothing).
inline bool isPerEpoch(std::string_view name)
{
    return name == kEpoch || name == kTrainEpochLoss || name == kTrainAccuracy || name.substr(0, 4) == "val/";
}
}  // namespace metric

}  // namespace kiln::train
