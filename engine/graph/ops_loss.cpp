// Loss nodes end a graph: the tensor on their prediction input is what the model outputs, and
// their `target` parameter names the dataset field it is compared against. They have no outputs;
// the trainer computes the loss through CompiledModel::loss().
#include "graph/ops_common.h"

namespace kiln::graph::ops {

Shape lossTarget(LossKind kind, const Shape& prediction)
{
    Shape t = prediction;
    if (kind == LossKind::CrossEntropy) {
        t.dims.pop_back();
        t.element = ElementType::Int64;
        t.vocab = prediction.dims.empty() ? 0 : prediction.dims.back().size;
    }
    for (auto& d : t.dims) d.origin.clear();
    return t;
}

namespace {

InferFn inferLoss(LossKind kind)
{
    return [kind](const InferContext& c) -> Result<InferResult> {
        if (auto ok = requireFloat(c, 0); !ok) return ok.error();
        if (c.params.s("target").empty())
            return fail("the loss needs the name of its target", "set target to the dataset field, e.g. labels");
        const auto& in = *c.inputs[0];
        if (kind == LossKind::CrossEntropy) {
            if (auto ok = requireMinRank(c, 0, 2, "[B, ..., classes]"); !ok) return ok.error();
            if (auto ok = requireKnown(c, 0, in.rank() - 1); !ok) return ok.error();
            if (in.dims.back().size < 2)
                return fail("CrossEntropyLoss needs a score for each of at least 2 classes in the last dimension, "
                                "but gets " + formatShape(in),
                            "end the network with a Linear whose out_features is the number of classes "
                            "(BCEWithLogitsLoss for one yes/no score)");
        }
        InferResult r;
        r.flops = 5.0 * static_cast<double>(in.perSample());
        return r;
    };
}

NodeType lossNode(std::string id, std::string name, std::string stem, LossKind kind, std::string description,
                  std::vector<ParamSpec> params)
{
    return NodeType{
        .id = std::move(id),
        .category = "Loss",
        .displayName = std::move(name),
        .nameStem = std::move(stem),
        .description = std::move(description),
        .inputs = {input("prediction", "the model's output")},
        .outputs = {},
        .params = std::move(params),
        .role = NodeRole::Loss,
        .loss = kind,
        .infer = inferLoss(kind),
    };
}

}  // namespace

void addLossNodes(NodeRegistry& r)
{
    mustAdd(r, lossNode("node.cross_entropy_loss", "CrossEntropyLoss", "loss", LossKind::CrossEntropy,
                        "Classification: raw class scores (logits) in the last dimension against integer class ids "
                        "(target has the prediction's shape without the last dimension).",
                        {choiceParam("target", "labels", {}, "the dataset field holding the class ids"),
                         floatParam("label_smoothing", 0.0, 0.0, 1.0, "spread this much of the target over all "
                                                                           "classes")}));
    mustAdd(r, lossNode("node.mse_loss", "MSELoss", "loss", LossKind::MSE,
                        "Regression: mean squared difference to a target of the prediction's shape.",
                        {choiceParam("target", "target", {}, "the dataset field holding the wanted values")}));
    mustAdd(r, lossNode("node.bce_with_logits_loss", "BCEWithLogitsLoss", "loss", LossKind::BCEWithLogits,
                        "Yes/no (multi-label) classification: raw scores against targets of 0 and 1 of the "
                        "prediction's shape.",
                        {choiceParam("target", "target", {}, "the dataset field holding the 0/1 targets")}));
}

}  // namespace kiln::graph::ops
