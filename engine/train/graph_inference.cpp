#include "kiln/graph_inference.h"

#include "graph/compiler.h"
#include "train/batches.h"
#include "train/checkpoint.h"
#include "train/dataset.h"
#include "train/evaluate.h"
#include "train/graph_loss.h"

#if KILN_WITH_VULKAN
#include "vulkan/executor/graph_executor.h"
#endif

#include <chrono>

namespace kiln::train {

JobBody makeGraphInferenceJob(graph::Graph graph, InferenceConfig config,
                              std::function<void(const InferenceReport&)> onDone)
{
    return [graph = std::move(graph), config = std::move(config), onDone = std::move(onDone)](JobContext& ctx)
               -> Result<void> {
        try {
            ctx.report(0, "compiling the graph");
            torch::manual_seed(static_cast<std::uint64_t>(config.data.seed));
            auto compiled = graph::compileGraph(graph);
            if (!compiled) return compiled.error();
            auto model = *compiled;
            const auto loss = trainerLossOf(model->lossKind());
            if (!loss)
                return makeError("the graph has no loss node, so Kiln cannot tell what to score", "graph",
                                 "connect the prediction to a CrossEntropyLoss, MSELoss or BCEWithLogitsLoss node");
            if (model->inputNames().size() != 1)
                return makeError("running over a dataset needs a graph with exactly one input node", "graph");
            if (!config.weights.empty()) {
                ctx.report(0, "loading the weights");
                if (auto ok = loadModuleState(config.weights, *model); !ok) return ok.error();
            }
            model->eval();

            InferenceReport report;
            report.device = "CPU (LibTorch)";
            TrainModel tm;
            tm.module = model;
            tm.loss = [model](const torch::Tensor& p, const torch::Tensor& t) { return model->loss(p, t); };
            std::function<Result<torch::Tensor>(const torch::Tensor&)> run = [model](const torch::Tensor& x) -> Result<torch::Tensor> {
                return model->forward(x);
            };
#if KILN_WITH_VULKAN
            std::shared_ptr<vk::GraphExecutor> exec;
#endif
            const bool wantVulkan = config.device.rfind("vulkan", 0) == 0;
            if (wantVulkan) {
#if KILN_WITH_VULKAN
                ctx.report(0, "opening the Vulkan device");
                const std::string preferred =
                    config.device.size() > 7 && config.device[6] == ':' ? config.device.substr(7) : config.vulkanPreferred;
                auto vctx = vk::Context::create(preferred);
                if (!vctx) {
                    report.fallback = "Vulkan is not available (" + vctx.error().message() + "); ran on the CPU";
                } else {
                    ctx.report(0, "uploading the weights");
                    vk::ExecutorOptions options;
                    options.halfWeights = config.halfWeights;
                    auto made = vk::GraphExecutor::create(vctx.value(), graph, *model, options);
                    if (!made) {
                        report.fallback = "the Vulkan backend cannot run this graph (" + made.error().message() +
                                          "); ran on the CPU";
                    } else {
                        exec = std::move(made.value());
                        report.device = "Vulkan: " + vctx.value()->deviceInfo().name;
                        if (config.halfWeights)
                            report.device += exec->halfWeightsActive() ? " (fp16 weights)"
                                                                       : " (fp32 weights: the device lacks fp16 storage)";
                        run = [exec](const torch::Tensor& x) { return exec->forward({x}); };
                    }
                }
#else
                report.fallback = "this Kiln was built without Vulkan; ran on the CPU";
#endif
            } else if (config.device != "cpu") {
                return makeError("unknown device '" + config.device + "'", "device", "use cpu, vulkan or vulkan:<device>");
            }

            ctx.report(0, "loading the data");
            auto data = loadData(config.data, [&ctx] { return ctx.cancelled(); });
            if (!data) return data.error();
            Dataset set = data.value().validation;
            if (config.maxItems > 0 && set.size() > config.maxItems)
                set = set.subset(torch::arange(config.maxItems, torch::kInt64));
            if (set.size() == 0) return makeError("the dataset has no items to run", "data");
            report.classNames = data.value().info.classNames;

            if (config.compareWithCpu && wantVulkan && report.fallback.empty()) {
                torch::NoGradGuard noGrad;
                const auto len = std::min<std::int64_t>(config.batchSize, set.size());
                const auto x = prepareInputs(set.inputs.narrow(0, 0, len), config.data.augment, nullptr);
                auto got = run(x);
                if (!got) return got.error();
                report.maxDifferenceVsCpu = (got.value() - model->forward(x)).abs().max().item<double>();
            }

            const std::int64_t total = set.size();
            std::int64_t done = 0;
            tm.forward = [&](const torch::Tensor& x) {
                auto out = run(x);
                if (!out) throw std::runtime_error(out.error().message());
                done += x.size(0);
                ctx.report(double(done) / double(total), std::to_string(done) + " of " + std::to_string(total));
                return out.value();
            };
            EvalOptions eo;
            eo.loss = *loss;
            eo.augment = config.data.augment;
            eo.batchSize = config.batchSize;
            const bool images = set.imageInputs() && *loss == LossKind::CrossEntropy && !report.classNames.empty();
            if (images) {
                eo.numClasses = static_cast<int>(report.classNames.size());
                eo.keepPredictions = config.previewTiles;
            }
            eo.cancelled = [&ctx] { return ctx.cancelled(); };
            const auto start = std::chrono::steady_clock::now();
            auto ev = evaluate(tm, set, eo);
            if (!ev) return ev.error();
            report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            report.evaluation = ev.value();
            report.itemsPerSecond = report.seconds > 0 ? double(total) / report.seconds : 0;
#if KILN_WITH_VULKAN
            if (exec) {
                report.dispatchesPerForward = exec->dispatchesPerForward();
                report.deviceMemoryBytes = exec->weightMemory().reservedBytes + exec->activationMemory().reservedBytes;
            }
#endif
            if (images && config.previewTiles > 0)
                report.predictions = std::make_shared<const Preview>(
                    predictionGrid(set, report.evaluation.predictions, config.previewTiles));
            ctx.report(1, report.device);
            if (onDone) onDone(report);
            return success();
        } catch (const std::exception& ex) {
            return makeError(std::string("the run failed: ") + ex.what(), "inference");
        }
    };
}

}  // namespace kiln::train
