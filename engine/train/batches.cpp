#include "train/batches.h"

namespace kiln::train {

namespace {
std::uint64_t mix(std::uint64_t seed, std::uint64_t v)
{
    // splitmix64 of the pair: neighbouring epochs/steps get unrelated streams
    std::uint64_t z = seed + 0x9e3779b97f4a7c15ull * (v + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
}  // namespace

BatchPlan::BatchPlan(std::int64_t items, std::int64_t batchSize, bool shuffle, bool dropLast, std::uint64_t seed)
    : items_(items), batchSize_(std::max<std::int64_t>(batchSize, 1)), shuffle_(shuffle), seed_(seed)
{
    batches_ = dropLast ? items_ / batchSize_ : (items_ + batchSize_ - 1) / batchSize_;
    if (dropLast && batches_ == 0 && items_ > 0) batches_ = 1;  // fewer items than a batch: still train on them
}

torch::Tensor BatchPlan::indices(std::int64_t epoch, std::int64_t batch)
{
    if (epoch != cachedEpoch_) {
        if (shuffle_) {
            const auto p = seededPermutation(items_, mix(seed_, static_cast<std::uint64_t>(epoch)));
            order_ = torch::tensor(p, torch::kInt64);
        } else {
            order_ = torch::arange(items_, torch::kInt64);
        }
        cachedEpoch_ = epoch;
    }
    const auto start = batch * batchSize_;
    return order_.narrow(0, start, std::min(batchSize_, items_ - start));
}

std::mt19937_64 stepRng(std::uint64_t seed, std::int64_t step)
{
    return std::mt19937_64(mix(seed ^ 0xa0a0a0a0ull, static_cast<std::uint64_t>(step)));
}

Result<void> validateAugment(const AugmentConfig& a, std::int64_t channels)
{
    if (a.mean.size() != a.std.size())
        return makeError("normalisation needs as many std values as mean values (" + std::to_string(a.mean.size()) +
                         " and " + std::to_string(a.std.size()) + ")");
    if (!a.mean.empty() && a.mean.size() != 1 && static_cast<std::int64_t>(a.mean.size()) != channels)
        return makeError("normalisation has " + std::to_string(a.mean.size()) + " values for images with " +
                             std::to_string(channels) + " channels", {}, "give one value, or one per channel");
    for (float s : a.std)
        if (!(s > 0)) return makeError("a normalisation std must be above zero");
    if (a.cropPadding < 0) return makeError("crop padding cannot be negative");
    return success();
}

torch::Tensor prepareInputs(const torch::Tensor& raw, const AugmentConfig& a, std::mt19937_64* rng)
{
    if (raw.scalar_type() != torch::kUInt8 || raw.dim() != 4) return raw;
    auto x = raw.to(torch::kFloat32).div_(255.0f);
    const auto B = x.size(0), H = x.size(2), W = x.size(3);
    if (rng && a.horizontalFlip) {
        std::vector<std::uint8_t> flip(static_cast<std::size_t>(B));
        for (auto& f : flip) f = static_cast<std::uint8_t>((*rng)() & 1);
        auto mask = torch::tensor(flip, torch::kUInt8).to(torch::kBool).view({B, 1, 1, 1});
        x = torch::where(mask, x.flip({3}), x);
    }
    if (rng && a.cropPadding > 0) {
        const int p = a.cropPadding;
        auto padded = torch::constant_pad_nd(x, {p, p, p, p}, 0);
        std::vector<torch::Tensor> crops;
        crops.reserve(static_cast<std::size_t>(B));
        for (std::int64_t i = 0; i < B; ++i) {
            const auto dy = static_cast<std::int64_t>((*rng)() % static_cast<std::uint64_t>(2 * p + 1));
            const auto dx = static_cast<std::int64_t>((*rng)() % static_cast<std::uint64_t>(2 * p + 1));
            crops.push_back(padded[i].narrow(1, dy, H).narrow(2, dx, W));
        }
        x = torch::stack(crops);
    }
    if (!a.mean.empty()) {
        auto mean = torch::tensor(a.mean, torch::kFloat32), std = torch::tensor(a.std, torch::kFloat32);
        const auto n = mean.numel();
        x = (x - mean.view({1, n, 1, 1})) / std.view({1, n, 1, 1});
    }
    return x;
}

}  // namespace kiln::train
