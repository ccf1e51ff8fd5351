#include "train/optim.h"

#include "train/fused_adamw.h"

#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>

namespace kiln::train {

namespace {

// LibTorch keys its per-parameter state by the address of the tensor's implementation.
std::string stateKey(const torch::Tensor& p) { return c10::guts::to_string(p.unsafeGetTensorImpl()); }

template <typename State>
State* stateOf(torch::optim::Optimizer& opt, const torch::Tensor& p)
{
    auto it = opt.state().find(stateKey(p));
    return it == opt.state().end() ? nullptr : static_cast<State*>(it->second.get());
}

Result<torch::Tensor> loadLike(const io::SafetensorsFile& file, const std::string& name, const torch::Tensor& like)
{
    auto t = loadTensor(file, name, like.scalar_type());
    if (!t) return t.error();
    if (t->sizes() != like.sizes()) return makeError("optimizer state of the wrong shape", file.path() + ": " + name);
    if (t->strides() == like.strides()) return std::move(*t);
    // In the parameter's memory layout (channels-last while training a ConvNet), which the fused
    // AdamW update needs.
    return torch::empty_like(like).copy_(*t);
}

template <typename State>
Result<void> restoreAdam(torch::optim::Optimizer& opt, const NamedParameters& params, const io::SafetensorsFile& file)
{
    for (const auto& [name, p] : params) {
        if (!file.index().find(name + ".exp_avg")) continue;  // never stepped when saved
        auto state = std::make_unique<State>();
        auto step = loadTensor(file, name + ".step", torch::kInt64);
        auto avg = loadLike(file, name + ".exp_avg", p);
        auto sq = loadLike(file, name + ".exp_avg_sq", p);
        if (!step) return step.error();
        if (!avg) return avg.error();
        if (!sq) return sq.error();
        state->step(step->template item<std::int64_t>());
        state->exp_avg(*avg);
        state->exp_avg_sq(*sq);
        if (file.index().find(name + ".max_exp_avg_sq")) {
            auto mx = loadLike(file, name + ".max_exp_avg_sq", p);
            if (!mx) return mx.error();
            state->max_exp_avg_sq(*mx);
        }
        opt.state()[stateKey(p)] = std::move(state);
    }
    return success();
}

template <typename State>
void saveAdam(torch::optim::Optimizer& opt, const NamedParameters& params, io::NamedTensors& out)
{
    for (const auto& [name, p] : params) {
        auto* s = stateOf<State>(opt, p);
        if (!s) continue;
        out.emplace_back(name + ".step", torch::tensor(s->step(), torch::kInt64));
        out.emplace_back(name + ".exp_avg", s->exp_avg());
        out.emplace_back(name + ".exp_avg_sq", s->exp_avg_sq());
        if (s->max_exp_avg_sq().defined()) out.emplace_back(name + ".max_exp_avg_sq", s->max_exp_avg_sq());
    }
}

}  // namespace

NamedParameters trainableParameters(const torch::nn::Module& module)
{
    NamedParameters out;
    for (const auto& item : module.named_parameters(/*recurse=*/true))
        if (item.value().requires_grad()) out.emplace_back(item.key(), item.value());
    return out;
}

Result<std::unique_ptr<torch::optim::Optimizer>> makeOptimizer(const OptimizerConfig& c, const NamedParameters& params)
{
    if (!(c.learningRate > 0)) return makeError("the learning rate must be above zero");
    if (c.weightDecay < 0) return makeError("weight decay cannot be negative");
    if (params.empty()) return makeError("the model has no trainable parameters", {}, "add a layer with weights");
    std::vector<torch::Tensor> tensors;
    for (const auto& [name, p] : params) tensors.push_back(p);
    try {
        switch (c.kind) {
        case OptimizerKind::Sgd: {
            if (c.nesterov && !(c.momentum > 0)) return makeError("Nesterov momentum needs a momentum above zero");
            auto o = torch::optim::SGDOptions(c.learningRate).momentum(c.momentum).nesterov(c.nesterov).weight_decay(c.weightDecay);
            return std::unique_ptr<torch::optim::Optimizer>(std::make_unique<torch::optim::SGD>(tensors, o));
        }
        case OptimizerKind::Adam: {
            auto o = torch::optim::AdamOptions(c.learningRate).betas({c.beta1, c.beta2}).eps(c.eps).weight_decay(c.weightDecay);
            return std::unique_ptr<torch::optim::Optimizer>(std::make_unique<torch::optim::Adam>(tensors, o));
        }
        case OptimizerKind::AdamW: {
            auto o = torch::optim::AdamWOptions(c.learningRate).betas({c.beta1, c.beta2}).eps(c.eps).weight_decay(c.weightDecay);
            // torch::optim::AdamW's rule and state, one pass over memory per parameter.
            return std::unique_ptr<torch::optim::Optimizer>(std::make_unique<FusedAdamW>(tensors, o));
        }
        }
    } catch (const std::exception& ex) {
        return makeError(std::string("cannot set up the optimizer: ") + ex.what());
    }
    return makeError("unknown optimizer");
}

void setLearningRate(torch::optim::Optimizer& optimizer, double lr)
{
    for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

io::NamedTensors optimizerState(torch::optim::Optimizer& opt, OptimizerKind kind, const NamedParameters& params)
{
    io::NamedTensors out;
    switch (kind) {
    case OptimizerKind::Sgd:
        for (const auto& [name, p] : params)
            if (auto* s = stateOf<torch::optim::SGDParamState>(opt, p); s && s->momentum_buffer().defined())
                out.emplace_back(name + ".momentum_buffer", s->momentum_buffer());
        break;
    case OptimizerKind::Adam: saveAdam<torch::optim::AdamParamState>(opt, params, out); break;
    case OptimizerKind::AdamW: saveAdam<torch::optim::AdamWParamState>(opt, params, out); break;
    }
    return out;
}

Result<void> restoreOptimizerState(torch::optim::Optimizer& opt, OptimizerKind kind, const NamedParameters& params,
                                   const io::SafetensorsFile& file)
{
    try {
        opt.state().clear();
        switch (kind) {
        case OptimizerKind::Sgd:
            for (const auto& [name, p] : params) {
                if (!file.index().find(name + ".momentum_buffer")) continue;
                auto buf = loadLike(file, name + ".momentum_buffer", p);
                if (!buf) return buf.error();
                auto state = std::make_unique<torch::optim::SGDParamState>();
                state->momentum_buffer(*buf);
                opt.state()[stateKey(p)] = std::move(state);
            }
            return success();
        case OptimizerKind::Adam: return restoreAdam<torch::optim::AdamParamState>(opt, params, file);
        case OptimizerKind::AdamW: return restoreAdam<torch::optim::AdamWParamState>(opt, params, file);
        }
    } catch (const std::exception& ex) {
        return makeError(std::string("cannot restore the optimizer state: ") + ex.what(), file.path());
    }
    return success();
}

}  // namespace kiln::train
