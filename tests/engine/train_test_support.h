// Shared by the trainer's tests: an observer that keeps every metric, a context around it,
// tiny models, and Fashion-MNIST loaded once per process.
#pragma once

#include "kiln/job.h"
#include "train/dataset.h"
#include "train/model.h"

#include <filesystem>
#include <map>
#include <mutex>
#include <torch/torch.h>

namespace kiln::train::testing {

struct MetricLog : JobObserver {
    std::mutex m;
    std::map<std::string, std::vector<std::pair<std::int64_t, double>>> series;
    std::vector<std::string> messages;
    std::shared_ptr<const Preview> preview;
    int previews = 0;

    void jobUpdated(JobUpdate u) override
    {
        std::lock_guard l(m);
        for (auto& x : u.metrics) series[x.name].emplace_back(x.step, x.value);
        if (!u.message.empty() && (messages.empty() || messages.back() != u.message)) messages.push_back(u.message);
        if (u.preview) {
            preview = u.preview;
            ++previews;
        }
    }
    void jobFinished(JobState, const std::optional<Error>&) override {}
    std::vector<std::pair<std::int64_t, double>> get(const std::string& name)
    {
        std::lock_guard l(m);
        return series[name];
    }
};

struct Harness {
    std::shared_ptr<std::atomic<bool>> cancel = std::make_shared<std::atomic<bool>>(false);
    std::shared_ptr<MetricLog> log = std::make_shared<MetricLog>();
    JobContext ctx{cancel, log};
};

struct MlpImpl : torch::nn::Module {
    torch::nn::Linear fc1{nullptr}, fc2{nullptr};
    MlpImpl(int in, int hidden, int out)
    {
        fc1 = register_module("fc1", torch::nn::Linear(in, hidden));
        fc2 = register_module("fc2", torch::nn::Linear(hidden, out));
    }
    torch::Tensor forward(const torch::Tensor& x) { return fc2(torch::relu(fc1(x.flatten(1)))); }
};
TORCH_MODULE(Mlp);

inline TrainModel mlpModel(int in, int hidden, int out, std::uint64_t seed)
{
    torch::manual_seed(seed);
    Mlp mlp(in, hidden, out);
    return {mlp.ptr(), [mlp](const torch::Tensor& x) mutable { return mlp->forward(x); }};
}

inline bool haveFashionMnist()
{
    return std::filesystem::exists(std::string(kFashionMnistDir) + "/train-images-idx3-ubyte.gz");
}

// The whole of Fashion-MNIST once; tests take subsets of it.
inline const TrainData& fashionMnist()
{
    static const TrainData data = [] {
        DataConfig c;
        auto r = loadFashionMnist(c);
        if (!r) throw std::runtime_error(r.error().message());
        return std::move(*r);
    }();
    return data;
}

inline TrainData fashionSubset(std::int64_t train, std::int64_t validation)
{
    const auto& all = fashionMnist();
    TrainData d = all;
    d.train = takeRandom(all.train, train, 11);
    d.validation = takeRandom(all.validation, validation, 12);
    return d;
}

}  // namespace kiln::train::testing
