#include "graph/compiler.h"

#include "graph/batch_norm_op.h"

#include <cstdio>
#include <cstdlib>

namespace kiln::graph {

Result<void> BuilderRegistry::add(std::string typeId, BuildFn build)
{
    if (!build) return makeError("the builder is empty", typeId);
    if (builders_.count(typeId)) return makeError("a builder for this node type is already registered", typeId);
    builders_.emplace(std::move(typeId), std::move(build));
    return success();
}

const BuildFn* BuilderRegistry::find(std::string_view typeId) const
{
    auto it = builders_.find(typeId);
    return it == builders_.end() ? nullptr : &it->second;
}

void build::mustAdd(BuilderRegistry& r, std::string typeId, BuildFn fn)
{
    const std::string id = typeId;
    if (auto ok = r.add(std::move(typeId), std::move(fn)); !ok) {
        std::fprintf(stderr, "kiln: built-in builder %s: %s\n", id.c_str(), ok.error().message().c_str());
        std::abort();
    }
}

void registerBuiltinBuilders(BuilderRegistry& registry)
{
    build::addLayerBuilders(registry);
    build::addNormBuilders(registry);
    build::addAttentionBuilders(registry);
    build::addSimpleBuilders(registry);
}

const BuilderRegistry& builtinBuilders()
{
    static const BuilderRegistry registry = [] {
        BuilderRegistry r;
        registerBuiltinBuilders(r);
        return r;
    }();
    return registry;
}

torch::Tensor CompiledModel::forward(torch::Tensor input)
{
    TORCH_CHECK(inputNames_.size() == 1, "this graph has ", inputNames_.size(),
                " inputs; pass one tensor per input node");
    return forward(std::vector<torch::Tensor>{std::move(input)});
}

torch::Tensor CompiledModel::forward(const std::vector<torch::Tensor>& inputs)
{
    TORCH_CHECK(inputs.size() == inputNames_.size(), "the graph takes ", inputNames_.size(), " inputs but got ",
                inputs.size());
    std::vector<std::vector<torch::Tensor>> values(steps_.size());
    std::vector<torch::Tensor> args;
    for (std::size_t i = 0; i < steps_.size(); ++i) {
        const Step& s = steps_[i];
        if (fuse_ && s.absorbed) {
            values[i] = values[static_cast<std::size_t>(s.inputs[0].step)];
            continue;
        }
        args.clear();
        if (s.inputSlot >= 0) args.push_back(inputs[static_cast<std::size_t>(s.inputSlot)]);
        for (const auto& src : s.inputs)
            args.push_back(src.step < 0 ? torch::Tensor()
                                        : values[static_cast<std::size_t>(src.step)][static_cast<std::size_t>(src.port)]);
        values[i] = fuse_ && s.fused ? runFused(*s.fused, args) : s.op->run(args);
    }
    return values[static_cast<std::size_t>(output_.step)][static_cast<std::size_t>(output_.port)];
}

torch::Tensor CompiledModel::loss(const torch::Tensor& prediction, const torch::Tensor& target) const
{
    namespace F = torch::nn::functional;
    switch (lossKind_) {
    case LossKind::CrossEntropy: {
        const auto classes = prediction.size(-1);
        TORCH_CHECK(target.numel() * classes == prediction.numel(), "CrossEntropyLoss: the prediction ",
                    prediction.sizes(), " needs ", prediction.numel() / classes, " class ids but the target ",
                    target.sizes(), " has ", target.numel());
        return F::cross_entropy(prediction.reshape({-1, classes}), target.reshape({-1}).to(torch::kLong),
                                F::CrossEntropyFuncOptions().label_smoothing(labelSmoothing_));
    }
    case LossKind::MSE:
        return F::mse_loss(prediction, target.to(prediction.scalar_type()));
    case LossKind::BCEWithLogits:
        return F::binary_cross_entropy_with_logits(prediction, target.to(prediction.scalar_type()));
    case LossKind::None:
        break;
    }
    TORCH_CHECK(false, "the graph has no loss node");
}

struct CompiledModel::Fusion {
    std::shared_ptr<BatchNorm2dOp> norm;
    std::shared_ptr<OpModule> relu, pool;  // pool: null when the chain ends at the ReLU
};

namespace {

// Max pooling that the fused op does: kernel 2, stride 2, no padding.
bool isPlainPool2(const Node& node, const NodeRegistry& nodes)
{
    if (node.type != "node.maxpool2d") return false;
    const ParamReader p(node, *nodes.find(node.type));
    const auto k = p.i("kernel_size"), s = p.i("stride");
    return k == 2 && (s == 0 || s == 2) && p.i("padding") == 0;
}

}  // namespace

void CompiledModel::fuseNormRelu(const std::vector<const Node*>& stepNodes, const NodeRegistry& nodes)
{
    // The steps that read a step's output (one entry per reading port); the model's output counts.
    auto readers = [&](int step) {
        std::vector<int> r;
        for (std::size_t j = 0; j < steps_.size(); ++j)
            for (const Source& src : steps_[j].inputs)
                if (src.step == step) r.push_back(static_cast<int>(j));
        if (output_.step == step) r.push_back(-1);
        return r;
    };
    for (std::size_t i = 0; i < steps_.size(); ++i) {
        auto norm = std::dynamic_pointer_cast<BatchNorm2dOp>(steps_[i].op);
        if (!norm) continue;
        const auto afterNorm = readers(static_cast<int>(i));
        if (afterNorm.size() != 1 || afterNorm[0] < 0 || stepNodes[static_cast<std::size_t>(afterNorm[0])]->type != "node.relu")
            continue;
        Step& relu = steps_[static_cast<std::size_t>(afterNorm[0])];
        auto fusion = std::make_shared<Fusion>(Fusion{norm, relu.op, nullptr});
        relu.absorbed = true;
        const auto afterRelu = readers(afterNorm[0]);
        if (afterRelu.size() == 1 && afterRelu[0] >= 0 &&
            isPlainPool2(*stepNodes[static_cast<std::size_t>(afterRelu[0])], nodes)) {
            Step& pool = steps_[static_cast<std::size_t>(afterRelu[0])];
            fusion->pool = pool.op;
            pool.absorbed = true;
        }
        steps_[i].fused = std::move(fusion);
    }
}

std::vector<torch::Tensor> CompiledModel::runFused(const Fusion& f, const std::vector<torch::Tensor>& args)
{
    const bool pool = f.pool != nullptr;
    if (f.norm->is_training() && normReluApplies(args[0], pool)) return {f.norm->runFusedRelu(args[0], pool)};
    std::vector<torch::Tensor> v = f.relu->run(f.norm->run(args));
    return pool ? f.pool->run(v) : v;
}

int CompiledModel::fusedChains() const
{
    int n = 0;
    for (const Step& s : steps_) n += s.fused ? 1 : 0;
    return n;
}

Result<std::shared_ptr<CompiledModel>> compileGraph(const Graph& g, const NodeRegistry& nodes,
                                                    const BuilderRegistry& builders)
{
    GraphInfo info = inferShapes(g, nodes);
    if (!info.ok()) return *info.firstError;
    if (info.order.empty()) return makeError("the graph is empty", {}, "add an input node and layers");

    // What forward() returns: the loss node's prediction, or the one node nothing consumes.
    PortRef out;
    if (info.loss) {
        out = g.edgeInto(PortRef{info.loss->node, "prediction"})->from;
    } else {
        std::vector<const Node*> ends;
        for (NodeId id : info.order) {
            const Node* n = g.node(id);
            bool consumed = false;
            for (const auto& e : g.edges) consumed = consumed || e.from.node == id;
            if (!consumed) ends.push_back(n);
        }
        if (ends.size() != 1) {
            std::string names;
            for (const Node* n : ends) names += (names.empty() ? "" : ", ") + n->name;
            return makeError("the graph has " + std::to_string(ends.size()) + " outputs (" + names +
                                 ") and no loss node, so it is unclear what the model returns",
                             {}, "add a loss node after the output, or remove the other branches");
        }
        const NodeType* t = nodes.find(ends[0]->type);
        if (t->outputs.empty()) return makeError("the graph produces nothing", ends[0]->name);
        out = PortRef{ends[0]->id, t->outputs[0].name};
    }

    auto model = std::make_shared<CompiledModel>();
    std::map<NodeId, int> stepOf;
    for (NodeId id : info.order) {
        const Node& node = *g.node(id);
        const NodeType& type = *nodes.find(node.type);
        const BuildFn* build = builders.find(type.id);
        if (!build)
            return makeError("this Kiln cannot run " + type.displayName + " nodes (" + type.id + ")", node.name,
                             "the plugin that adds it may be missing its compiler part");
        const NodeInfo& ni = info.nodes.at(id);
        BuildContext ctx{node, type, ParamReader(node, type), {}, ni.outputs};
        CompiledModel::Step step;
        for (const auto& port : type.inputs) {
            const Edge* e = g.edgeInto(PortRef{id, port.name});
            if (!e) {
                ctx.inputs.push_back(nullptr);
                step.inputs.push_back({});
                continue;
            }
            const NodeType& from = *nodes.find(g.node(e->from.node)->type);
            const int p = from.outputIndex(e->from.port);
            ctx.inputs.push_back(&info.nodes.at(e->from.node).outputs[static_cast<std::size_t>(p)]);
            step.inputs.push_back({stepOf.at(e->from.node), p});
        }
        try {
            step.op = (*build)(ctx);
            if (!step.op) return makeError("could not be built", node.name);
            model->register_module(node.name, step.op);
        } catch (const std::exception& ex) {
            return makeError(std::string("could not be built: ") + ex.what(), node.name);
        }
        if (type.role == NodeRole::Input) {
            step.inputSlot = static_cast<int>(model->inputNames_.size());
            model->inputNames_.push_back(node.name);
            model->inputShapes_.push_back(ni.outputs.at(0));
        }
        stepOf[id] = static_cast<int>(model->steps_.size());
        model->steps_.push_back(std::move(step));
    }
    model->output_ = {stepOf.at(out.node), nodes.find(g.node(out.node)->type)->outputIndex(out.port)};
    model->outputPort_ = out;
    std::vector<const Node*> stepNodes;
    for (NodeId id : info.order) stepNodes.push_back(g.node(id));
    model->fuseNormRelu(stepNodes, nodes);
    if (info.loss) {
        const Node& lossNode = *g.node(info.loss->node);
        const NodeType& t = *nodes.find(lossNode.type);
        ParamReader p(lossNode, t);
        model->lossKind_ = info.loss->kind;
        model->targetName_ = info.loss->targetName;
        if (t.param("label_smoothing")) model->labelSmoothing_ = p.f("label_smoothing");
    }
    model->info_ = std::move(info);
    return model;
}

}  // namespace kiln::graph
