#include "train/loss.h"

#include <sstream>

namespace kiln::train {

namespace {

std::string shapeOf(const torch::Tensor& t)
{
    std::ostringstream s;
    s << t.sizes();
    return s.str();
}

torch::Tensor asOutputShaped(const torch::Tensor& output, const torch::Tensor& target)
{
    return target.to(output.scalar_type()).reshape(output.sizes());
}

}  // namespace

Result<void> checkLossShapes(LossKind kind, const torch::Tensor& out, const torch::Tensor& target)
{
    const std::string shapes = "the model gives " + shapeOf(out) + " and the targets are " + shapeOf(target);
    if (kind == LossKind::CrossEntropy) {
        const bool classes = out.dim() == 2 && target.dim() == 1 && out.size(0) == target.size(0);
        const bool tokens = out.dim() == 3 && target.dim() == 2 && out.size(0) == target.size(0) && out.size(1) == target.size(1);
        if (!classes && !tokens)
            return makeError("cross-entropy needs logits [B, classes] with targets [B], or [B, T, vocab] with [B, T]; " + shapes,
                             {}, "end the model with a Linear layer whose outputs are the classes");
        if (torch::isFloatingType(target.scalar_type()))
            return makeError("cross-entropy needs class indices as targets, not floating-point values", {},
                             "use MSE or BCE for real-valued targets");
        return success();
    }
    if (out.numel() != target.numel()) {
        std::string what = kind == LossKind::Mse ? "MSE" : "BCE";
        what += " needs one target per output; ";
        what += shapes;
        return makeError(std::move(what));
    }
    return success();
}

torch::Tensor computeLoss(LossKind kind, const torch::Tensor& out, const torch::Tensor& target)
{
    switch (kind) {
    case LossKind::CrossEntropy:
        if (out.dim() == 3) return torch::cross_entropy_loss(out.reshape({-1, out.size(2)}), target.reshape({-1}));
        return torch::cross_entropy_loss(out, target);
    case LossKind::Mse: return torch::mse_loss(out, asOutputShaped(out, target));
    case LossKind::BceWithLogits:
        return torch::binary_cross_entropy_with_logits(out, asOutputShaped(out, target));
    }
    return {};
}

Hits countHits(LossKind kind, const torch::Tensor& out, const torch::Tensor& target)
{
    torch::NoGradGuard noGrad;
    switch (kind) {
    case LossKind::CrossEntropy: {
        const auto pred = out.argmax(-1);
        return {pred.eq(target.reshape(pred.sizes())).sum().item<std::int64_t>(), pred.numel()};
    }
    case LossKind::BceWithLogits: {
        const auto pred = out.gt(0);
        return {pred.eq(asOutputShaped(out, target).gt(0.5)).sum().item<std::int64_t>(), pred.numel()};
    }
    case LossKind::Mse: return {};
    }
    return {};
}

}  // namespace kiln::train
