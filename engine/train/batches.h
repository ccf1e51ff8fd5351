// Batches of an in-memory dataset in a seeded order, and the image pipeline applied to them.
// Epoch e's order and step s's augmentation depend only on (seed, e) and (seed, s), so a run
// resumed from a checkpoint sees exactly the data it would have seen without the interruption.
#pragma once

#include "kiln/result.h"
#include "kiln/train_config.h"
#include "train/dataset.h"

#include <random>

namespace kiln::train {

class BatchPlan {
public:
    BatchPlan(std::int64_t items, std::int64_t batchSize, bool shuffle, bool dropLast, std::uint64_t seed);
    std::int64_t batchesPerEpoch() const { return batches_; }
    // The item indices of one batch (the epoch's permutation is computed once per epoch).
    torch::Tensor indices(std::int64_t epoch, std::int64_t batch);

private:
    std::int64_t items_, batchSize_, batches_;
    bool shuffle_;
    std::uint64_t seed_;
    std::int64_t cachedEpoch_ = -1;
    torch::Tensor order_;
};

// Checks mean/std against the images' channels before a run starts.
Result<void> validateAugment(const AugmentConfig& a, std::int64_t channels);

// uint8 images [B, C, H, W] -> float in [0, 1], then with `rng` the random flip and crop, then
// the normalisation. Without `rng` (evaluation) only the scaling and the normalisation.
// Inputs that are not uint8 images pass through unchanged.
torch::Tensor prepareInputs(const torch::Tensor& raw, const AugmentConfig& a, std::mt19937_64* rng);

// The generator for step s's augmentation.
std::mt19937_64 stepRng(std::uint64_t seed, std::int64_t step);

}  // namespace kiln::train
