#include "vulkan/executor/graph_executor.h"

#include "vulkan/executor/lowering.h"

#include <cstring>
#include <exception>
#include <sstream>

namespace kiln::vk {

GraphExecutor::~GraphExecutor() = default;

MemoryStats GraphExecutor::activationMemory() const
{
    return plan_ ? plan_->pool->stats() : MemoryStats{};
}

bool GraphExecutor::supports(const std::string& nodeType)
{
    return lowering::supported(nodeType);
}

Result<std::unique_ptr<GraphExecutor>> GraphExecutor::create(std::shared_ptr<Context> ctx, const graph::Graph& graph,
                                                             graph::CompiledModel& model, ExecutorOptions options)
{
    try {
        if (!ctx) return makeError("no Vulkan device", "Vulkan executor");
        if (auto usable = ctx->checkUsable(); !usable) return usable.error();
        std::unique_ptr<GraphExecutor> e(new GraphExecutor());
        e->ctx_ = ctx;
        e->graph_ = graph;
        e->info_ = model.info();
        e->output_ = model.outputPort();
        e->inputNames_ = model.inputNames();
        e->options_ = options;
        for (graph::NodeId id : e->info_.order) {
            const graph::Node& n = *graph.node(id);
            if (!lowering::supported(n.type))
                return makeError("the Vulkan backend cannot run " + n.type + " nodes yet", n.name,
                                 "run this graph on the CPU (LibTorch)");
        }

        // Inference weights: parameters and buffers as LibTorch holds them, plus folded copies.
        std::map<std::string, torch::Tensor> host;
        {
            torch::NoGradGuard noGrad;
            for (const auto& p : model.named_parameters(true)) host[p.key()] = p.value().detach().to(torch::kFloat32).contiguous();
            for (const auto& b : model.named_buffers(true))
                if (b.value().is_floating_point()) host[b.key()] = b.value().detach().to(torch::kFloat32).contiguous();
        }
        auto prepared = lowering::prepareWeights(e->graph_, e->info_, e->output_, host, options.fuse);
        if (!prepared) return prepared.error();
        // Without fp16 storage the weights stay fp32, silently: halfWeightsActive() says so.
        if (options.halfWeights && ctx->supportsFp16Storage())
            e->halfWeights_ = lowering::halfWeightCandidates(e->graph_, e->info_, host);
        e->hostWeights_ = std::move(host);

        e->weights_ = MemoryPool::create(*ctx, MemoryKind::Device);
        e->weights_->setCapacityLimit(options.memoryLimit);
        auto rec = Recorder::create(*ctx, options.profile);
        if (!rec) return rec.error();
        e->recorder_ = std::move(rec.value());
        for (auto& [name, t] : e->hostWeights_) {
            const bool half = e->halfWeights_.count(name) > 0;
            // The upload copies into staging memory at once, so the converted tensor may go.
            if (half) t = t.to(torch::kHalf).contiguous();
            const std::size_t count = std::size_t(t.numel());
            auto a = e->weights_->allocate(VkDeviceSize(count) * (half ? 2 : 4), name);
            if (!a) return a.error();
            const std::span<const std::byte> bytes =
                half ? std::as_bytes(std::span<const at::Half>(t.data_ptr<at::Half>(), count))
                     : std::as_bytes(std::span<const float>(t.data_ptr<float>(), count));
            if (auto up = e->recorder_->upload(a.value().region(), bytes); !up) return up.error();
            e->weightAllocs_.emplace(name, std::move(a.value()));
        }
        if (auto run = e->recorder_->submit(); !run) return run.error();
        e->hostWeights_.clear();  // on the device now; the model keeps its own copy
        for (auto& [name, a] : e->weightAllocs_) e->weightRegions_[name] = a.region();
        e->fusion_ = std::move(prepared.value());
        return e;
    } catch (const std::exception& ex) {
        return makeError(std::string("could not prepare the graph for Vulkan: ") + ex.what(), "Vulkan executor");
    }
}

Result<void> GraphExecutor::plan(const std::vector<torch::Tensor>& inputs)
{
    plan_.reset();
    const std::int64_t batch = inputs.at(0).size(0);
    auto p = std::make_unique<Plan>();
    p->pool = MemoryPool::create(*ctx_, MemoryKind::Device);
    if (options_.memoryLimit) {
        const auto held = weights_->stats().reservedBytes;
        if (held >= options_.memoryLimit)
            return makeError("device memory exhausted: the weights alone take the whole limit", "Vulkan executor",
                             "raise the memory limit or use a smaller model");
        p->pool->setCapacityLimit(options_.memoryLimit - held);
    }
    for (const auto& t : inputs) p->inputSizes.push_back(t.sizes().vec());
    lowering::Lowerer lower{graph_, info_, fusion_, weightRegions_, halfWeights_, *p, batch, output_};
    if (auto ok = lower.run(); !ok) return ok;
    plan_ = std::move(p);
    return success();
}

Result<torch::Tensor> GraphExecutor::forward(const std::vector<torch::Tensor>& inputs)
{
    const std::string where = "Vulkan forward";
    try {
        if (inputs.size() != inputNames_.size())
            return makeError("the graph takes " + std::to_string(inputNames_.size()) + " inputs but got " +
                                 std::to_string(inputs.size()),
                             where);
        for (std::size_t i = 0; i < inputs.size(); ++i) {
            const auto& t = inputs[i];
            if (!t.defined() || t.dim() == 0 || t.size(0) < 1)
                return makeError("input '" + inputNames_[i] + "' needs a batch of at least one", where);
            if (plan_ && i < plan_->inputSizes.size() && plan_->inputSizes[i] != t.sizes().vec()) plan_.reset();
        }
        if (!plan_)
            if (auto ok = plan(inputs); !ok) return ok.error();
        const Plan& p = *plan_;

        // Inputs: floats as they are, token ids as uint32 (what the embedding shader reads).
        std::vector<torch::Tensor> staged;
        for (std::size_t i = 0; i < inputs.size(); ++i) {
            const Value& v = p.inputs[i];
            if (inputs[i].sizes().vec() != v.sizes) {
                std::ostringstream got;
                got << inputs[i].sizes();
                return makeError("input '" + inputNames_[i] + "' must be " + lowering::formatSizes(v.sizes) +
                                     " on the Vulkan backend but got " + got.str(),
                                 where);
            }
            if (v.ids) {
                if (inputs[i].is_floating_point())
                    return makeError("input '" + inputNames_[i] + "' expects integer token ids", where);
                const torch::Tensor ids = inputs[i].to(torch::kInt64);
                // int32 has the bits the shader reads as uint32 for every id below 2^31.
                if (ids.numel() && (ids.min().item<std::int64_t>() < 0 || ids.max().item<std::int64_t>() > 0x7fffffffLL))
                    return makeError("input '" + inputNames_[i] + "' holds token ids outside 0..2^31-1", where);
                staged.push_back(ids.to(torch::kInt32).contiguous());
                const auto& s = staged.back();
                if (auto up = recorder_->upload(v.region, std::as_bytes(std::span<const std::int32_t>(
                                                              s.data_ptr<std::int32_t>(), std::size_t(s.numel()))));
                    !up)
                    return up.error();
            } else {
                if (!inputs[i].is_floating_point())
                    return makeError("input '" + inputNames_[i] + "' expects floating-point values", where);
                staged.push_back(inputs[i].to(torch::kFloat32).contiguous());
                const auto& s = staged.back();
                if (auto up = recorder_->upload(v.region, std::span<const float>(s.data_ptr<float>(), std::size_t(s.numel())));
                    !up)
                    return up.error();
            }
        }
        for (const Step& step : p.steps)
            if (auto ok = step(*recorder_); !ok) return ok.error();
        torch::Tensor result = torch::empty(p.output.sizes, torch::kFloat32);
        if (auto down = recorder_->download(p.output.region, std::span<float>(result.data_ptr<float>(),
                                                                              std::size_t(result.numel())));
            !down)
            return down.error();
        std::uint32_t badIds[1] = {0};
        if (p.badIds.valid())
            if (auto down = recorder_->download(p.badIds, std::span<float>(reinterpret_cast<float*>(badIds), 1)); !down)
                return down.error();
        lastDispatches_ = recorder_->stats().dispatches;
        lastBarriers_ = recorder_->stats().barriers;
        if (auto run = recorder_->submit(); !run) return run.error();
        if (badIds[0] > 0)
            return makeError(std::to_string(badIds[0]) + " token ids are not below the embedding's vocabulary size",
                             where, "check the tokenizer matches the model");
        return result;
    } catch (const std::exception& ex) {
        return makeError(std::string("the forward pass failed: ") + ex.what(), where);
    }
}

}  // namespace kiln::vk
