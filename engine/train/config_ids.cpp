#include "kiln/train_config.h"

#include <array>
#include <utility>

namespace kiln::train {

namespace {

template <typename E, std::size_t N>
std::optional<E> lookup(const std::array<std::pair<E, std::string_view>, N>& table, std::string_view id)
{
    for (const auto& [k, name] : table)
        if (name == id) return k;
    return std::nullopt;
}

template <typename E, std::size_t N>
std::string_view name(const std::array<std::pair<E, std::string_view>, N>& table, E k)
{
    for (const auto& [key, n] : table)
        if (key == k) return n;
    return "?";
}

constexpr std::array<std::pair<DatasetKind, std::string_view>, 4> kDatasets{{
    {DatasetKind::FashionMnist, "dataset.fashion_mnist"},
    {DatasetKind::ImageFolder, "dataset.image_folder"},
    {DatasetKind::Text, "dataset.text"},
    {DatasetKind::Custom, "dataset.custom"},
}};
constexpr std::array<std::pair<LossKind, std::string_view>, 3> kLosses{{
    {LossKind::CrossEntropy, "loss.cross_entropy"},
    {LossKind::Mse, "loss.mse"},
    {LossKind::BceWithLogits, "loss.bce_with_logits"},
}};
constexpr std::array<std::pair<OptimizerKind, std::string_view>, 3> kOptimizers{{
    {OptimizerKind::Sgd, "optimizer.sgd"},
    {OptimizerKind::Adam, "optimizer.adam"},
    {OptimizerKind::AdamW, "optimizer.adamw"},
}};
constexpr std::array<std::pair<ScheduleKind, std::string_view>, 3> kSchedules{{
    {ScheduleKind::Constant, "schedule.constant"},
    {ScheduleKind::Step, "schedule.step"},
    {ScheduleKind::Cosine, "schedule.cosine"},
}};

}  // namespace

std::string_view toId(DatasetKind k) { return name(kDatasets, k); }
std::string_view toId(LossKind k) { return name(kLosses, k); }
std::string_view toId(OptimizerKind k) { return name(kOptimizers, k); }
std::string_view toId(ScheduleKind k) { return name(kSchedules, k); }
std::optional<DatasetKind> datasetKindFromId(std::string_view id) { return lookup(kDatasets, id); }
std::optional<LossKind> lossKindFromId(std::string_view id) { return lookup(kLosses, id); }
std::optional<OptimizerKind> optimizerKindFromId(std::string_view id) { return lookup(kOptimizers, id); }
std::optional<ScheduleKind> scheduleKindFromId(std::string_view id) { return lookup(kSchedules, id); }

}  // namespace kiln::train
