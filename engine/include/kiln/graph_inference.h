// Running a designed graph's forward pass over a dataset on a chosen device: LibTorch on the CPU
// or Kiln's Vulkan executor. The one call the studio's Run panel and `kiln-cli run` make.
#pragma once

#include "kiln/graph.h"
#include "kiln/job.h"
#include "kiln/train_config.h"
#include "kiln/train_run.h"

#include <functional>
#include <memory>
#include <string>

namespace kiln::train {

struct InferenceConfig {
    // "cpu", "vulkan" (the device the settings prefer, else the best) or "vulkan:<index or name part>".
    std::string device = "cpu";
    std::string vulkanPreferred;  // the settings' device, used for plain "vulkan"
    std::string weights;          // a checkpoint saved by training (.safetensors); empty: fresh seeded weights
    DataConfig data;              // its validation split is run (Fashion-MNIST: the t10k test set)
    int batchSize = 256;
    std::int64_t maxItems = 0;    // 0: all of the split
    bool compareWithCpu = true;   // also run the first batch on LibTorch and report the difference
    // Vulkan: store convolution and Linear weights as fp16 where the device supports it (half the
    // memory, fp32 arithmetic); the report's device says whether it took effect.
    bool halfWeights = false;
    int previewTiles = 32;
};

struct InferenceReport {
    std::string device;              // "CPU (LibTorch)" or "Vulkan: llvmpipe (LLVM 15.0.6, 256 bits)"
    std::string fallback;            // why the CPU ran although Vulkan was asked for; empty otherwise
    Evaluation evaluation;
    double seconds = 0;              // the forward passes and scoring, without loading
    double itemsPerSecond = 0;
    double maxDifferenceVsCpu = -1;  // largest |Vulkan - LibTorch| over the first batch; -1: not compared
    std::size_t dispatchesPerForward = 0;
    std::uint64_t deviceMemoryBytes = 0;  // weights plus the activation plan
    std::shared_ptr<const Preview> predictions;  // image classification: a grid of sample predictions
    std::vector<std::string> classNames;
};

// Compiles the graph, loads the weights and data, runs and scores every batch (progress at
// ~30 Hz, cancellable between batches), then calls onDone. A missing Vulkan device or a node
// type the executor lacks falls back to the CPU with the reason in InferenceReport::fallback.
JobBody makeGraphInferenceJob(graph::Graph graph, InferenceConfig config,
                              std::function<void(const InferenceReport&)> onDone = {});

}  // namespace kiln::train
