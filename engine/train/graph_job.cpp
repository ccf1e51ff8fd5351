#include "graph/compiler.h"
#include "kiln/graph_training.h"
#include "train/graph_loss.h"
#include "train/trainer.h"

namespace kiln::train {

std::optional<LossKind> trainerLossOf(graph::LossKind k)
{
    switch (k) {
    case graph::LossKind::CrossEntropy: return LossKind::CrossEntropy;
    case graph::LossKind::MSE: return LossKind::Mse;
    case graph::LossKind::BCEWithLogits: return LossKind::BceWithLogits;
    case graph::LossKind::None: break;
    }
    return std::nullopt;
}

JobBody makeGraphTrainJob(graph::Graph graph, TrainConfig config, TrainHooks hooks)
{
    return [graph = std::move(graph), config = std::move(config), hooks = std::move(hooks)](JobContext& ctx) mutable
           -> Result<void> {
        auto compiled = graph::compileGraph(graph);
        if (!compiled) return compiled.error();
        auto model = *compiled;
        const auto loss = trainerLossOf(model->lossKind());
        if (!loss)
            return makeError("the graph has no loss node, so there is nothing to train", "graph",
                             "connect the prediction to a CrossEntropyLoss, MSELoss or BCEWithLogitsLoss node");
        if (model->inputNames().size() != 1)
            return makeError("training needs a graph with exactly one input node; this one has " +
                                 std::to_string(model->inputNames().size()),
                             "graph");
        config.loss = *loss;
        TrainModel tm;
        tm.module = model;
        tm.forward = [model](const torch::Tensor& x) { return model->forward(x); };
        tm.loss = [model](const torch::Tensor& p, const torch::Tensor& t) { return model->loss(p, t); };
        return makeTrainJob(config, std::move(tm), std::move(hooks))(ctx);
    };
}

}  // namespace kiln::train
