#include "vulkan/executor/lowering.h"

#include "graph/ops_common.h"
#include "kiln/graph_registry.h"
#include "vulkan/ops/attention_vulkan.h"
#include "vulkan/ops/conv2d_vulkan.h"
#include "vulkan/ops/copy_vulkan.h"
#include "vulkan/ops/elementwise_vulkan.h"
#include "vulkan/ops/gemm_vulkan.h"
#include "vulkan/ops/norm_vulkan.h"
#include "vulkan/ops/pool2d_vulkan.h"

#include <cmath>
#include <numeric>
#include <optional>

namespace kiln::vk::lowering {

namespace {

using graph::Node;
using graph::NodeId;

const std::set<std::string>& supportedTypes()
{
    static const std::set<std::string> types = {
        "node.input_image", "node.input_tensor", "node.input_tokens", "node.conv2d", "node.conv_transpose2d",
        "node.linear", "node.embedding", "node.batchnorm2d", "node.groupnorm", "node.layernorm", "node.rmsnorm",
        "node.dropout", "node.relu", "node.gelu", "node.silu", "node.sigmoid", "node.tanh", "node.leaky_relu",
        "node.softmax", "node.maxpool2d", "node.avgpool2d", "node.adaptive_avgpool2d", "node.flatten", "node.reshape",
        "node.permute", "node.concat", "node.add", "node.multiply", "node.attention", "node.cross_entropy_loss",
        "node.mse_loss", "node.bce_with_logits_loss"};
    return types;
}

bool isLoss(const std::string& type)
{
    return type == "node.cross_entropy_loss" || type == "node.mse_loss" || type == "node.bce_with_logits_loss";
}

// The activation a node type applies, when it is one.
std::optional<std::pair<Activation, float>> activationOf(const Node& n)
{
    const graph::NodeType* t = graph::builtinNodes().find(n.type);
    if (!t) return std::nullopt;
    graph::ParamReader p(n, *t);
    if (n.type == "node.relu") return std::pair{Activation::ReLU, 0.0f};
    if (n.type == "node.gelu")
        return std::pair{p.s("approximate") == "tanh" ? Activation::GELUTanh : Activation::GELU, 0.0f};
    if (n.type == "node.silu") return std::pair{Activation::SiLU, 0.0f};
    if (n.type == "node.sigmoid") return std::pair{Activation::Sigmoid, 0.0f};
    if (n.type == "node.tanh") return std::pair{Activation::Tanh, 0.0f};
    if (n.type == "node.leaky_relu") return std::pair{Activation::LeakyReLU, float(p.f("negative_slope"))};
    return std::nullopt;
}

std::int64_t product(const std::vector<std::int64_t>& s, std::size_t from = 0, std::size_t to = SIZE_MAX)
{
    std::int64_t n = 1;
    for (std::size_t i = from; i < std::min(to, s.size()); ++i) n *= s[i];
    return n;
}

// The one node that reads `node`'s first output, when exactly one does and it is not the model's output.
const Node* soleConsumer(const graph::Graph& g, const Node& node, const graph::PortRef& output)
{
    const graph::NodeType* t = graph::builtinNodes().find(node.type);
    if (!t || t->outputs.empty()) return nullptr;
    const graph::PortRef from{node.id, t->outputs[0].name};
    if (from == output) return nullptr;
    const Node* only = nullptr;
    for (const auto& e : g.edges) {
        if (e.from != from) continue;
        if (only) return nullptr;
        only = g.node(e.to.node);
    }
    return only;
}

// Steps hold optional weights by value; ops take them as nullable pointers.
const Region* ptr(const std::optional<Region>& r)
{
    return r ? &*r : nullptr;
}

std::uint32_t u32(std::int64_t v)
{
    return std::uint32_t(v);
}

}  // namespace

bool supported(const std::string& nodeType)
{
    return supportedTypes().count(nodeType) > 0;
}

std::string formatSizes(const std::vector<std::int64_t>& sizes)
{
    std::string s = "[";
    for (std::size_t i = 0; i < sizes.size(); ++i) s += (i ? ", " : "") + std::to_string(sizes[i]);
    return s + "]";
}

Result<Fusion> prepareWeights(const graph::Graph& g, const graph::GraphInfo& info, const graph::PortRef& output,
                              std::map<std::string, torch::Tensor>& host, bool fuse)
{
    Fusion f;
    torch::NoGradGuard noGrad;
    auto get = [&](const std::string& key) -> torch::Tensor {
        auto it = host.find(key);
        return it == host.end() ? torch::Tensor() : it->second;
    };
    // Batch norm in inference is y = x * scale + shift per channel.
    auto bnScaleShift = [&](const Node& bn) -> std::pair<torch::Tensor, torch::Tensor> {
        const graph::NodeType* t = graph::builtinNodes().find(bn.type);
        graph::ParamReader p(bn, *t);
        const torch::Tensor mean = get(bn.name + ".running_mean").to(torch::kFloat64);
        const torch::Tensor var = get(bn.name + ".running_var").to(torch::kFloat64);
        torch::Tensor scale = torch::rsqrt(var + p.f("eps"));
        if (auto w = get(bn.name + ".weight"); w.defined()) scale = scale * w.to(torch::kFloat64);
        torch::Tensor shift = -mean * scale;
        if (auto b = get(bn.name + ".bias"); b.defined()) shift = shift + b.to(torch::kFloat64);
        return {scale, shift};
    };
    for (NodeId id : info.order) {
        const Node& n = *g.node(id);
        if (n.type == "node.batchnorm2d" && !f.absorbedBy.count(id)) {
            auto [scale, shift] = bnScaleShift(n);
            host[n.name + ".weight#scale"] = scale.to(torch::kFloat32).contiguous();
            host[n.name + ".bias#shift"] = shift.to(torch::kFloat32).contiguous();
        }
        if (!fuse || f.absorbedBy.count(id)) continue;
        const bool producer = n.type == "node.conv2d" || n.type == "node.linear" || n.type == "node.batchnorm2d";
        if (!producer) continue;
        const Node* tail = &n;
        if (n.type == "node.conv2d") {
            const Node* next = soleConsumer(g, n, output);
            if (next && next->type == "node.batchnorm2d") {
                auto [scale, shift] = bnScaleShift(*next);
                const torch::Tensor w = get(n.name + ".weight").to(torch::kFloat64);
                const torch::Tensor b = get(n.name + ".bias");
                host[n.name + ".weight#bn"] = (w * scale.reshape({-1, 1, 1, 1})).to(torch::kFloat32).contiguous();
                const torch::Tensor bias = b.defined() ? b.to(torch::kFloat64) * scale + shift : shift;
                host[n.name + ".bias#bn"] = bias.to(torch::kFloat32).contiguous();
                f.foldedBatchNorm.insert(id);
                f.absorbedBy[next->id] = id;
                tail = next;
            }
        }
        if (const Node* next = soleConsumer(g, *tail, output))
            if (auto act = activationOf(*next)) {
                f.activation[id] = *act;
                f.absorbedBy[next->id] = id;
            }
    }
    return f;
}

std::set<std::string> halfWeightCandidates(const graph::Graph& g, const graph::GraphInfo& info,
                                           const std::map<std::string, torch::Tensor>& host)
{
    std::set<std::string> keys;
    auto add = [&](const std::string& key) {
        if (host.count(key)) keys.insert(key);
    };
    for (NodeId id : info.order) {
        const Node& n = *g.node(id);
        if (n.type == "node.conv2d" || n.type == "node.conv_transpose2d" || n.type == "node.linear") {
            add(n.name + ".weight");
            add(n.name + ".weight#bn");
        } else if (n.type == "node.attention") {
            for (const char* part : {".q", ".k", ".v", ".o"}) add(n.name + part + ".weight");
        }
    }
    return keys;
}

// ---- Lowerer ----

Result<Lowerer::Slot> Lowerer::allocate(std::vector<std::int64_t> sizes, const std::string& label, bool ids)
{
    const std::int64_t n = product(sizes);
    auto a = plan_.pool->allocate(VkDeviceSize(n) * 4, label);
    if (!a) return a.error();
    Slot s;
    s.value = Value{a.value().region(), std::move(sizes), ids};
    s.alloc = int(allocs_.size());
    allocs_.push_back(std::move(a.value()));
    refs_.push_back(0);
    return s;
}

void Lowerer::release(int alloc)
{
    if (alloc < 0 || --refs_[std::size_t(alloc)] > 0) return;
    allocs_[std::size_t(alloc)] = Allocation();  // the range is free for the next node's outputs
}

Result<Region> Lowerer::weight(const std::string& key) const
{
    auto it = weights_.find(key);
    if (it == weights_.end()) return makeError("the model has no parameter " + key, "Vulkan executor");
    return it->second;
}

std::optional<Region> Lowerer::optionalWeight(const std::string& key) const
{
    auto it = weights_.find(key);
    return it == weights_.end() ? std::nullopt : std::optional<Region>(it->second);
}

int Lowerer::consumers(NodeId node, const std::string& port) const
{
    int n = 0;
    for (const auto& e : graph_.edges) n += e.from.node == node && e.from.port == port;
    return n;
}

Result<void> Lowerer::run()
{
    std::map<std::pair<NodeId, int>, Slot> values;
    const auto& registry = graph::builtinNodes();
    for (NodeId id : info_.order) {
        const Node& n = *graph_.node(id);
        const graph::NodeType* type = registry.find(n.type);
        std::vector<const Slot*> ins;
        for (const auto& port : type->inputs) {
            const graph::Edge* e = graph_.edgeInto(graph::PortRef{id, port.name});
            if (!e) {
                ins.push_back(nullptr);
                continue;
            }
            const int p = registry.find(graph_.node(e->from.node)->type)->outputIndex(e->from.port);
            ins.push_back(&values.at({e->from.node, p}));
        }
        std::vector<Slot> outs;
        if (auto ok = lowerNode(n, ins, outs); !ok) {
            Error err = ok.error();
            if (err.where.empty() || err.where.rfind("Vulkan", 0) == 0) err.where = n.name + " (" + err.where + ")";
            return err;
        }
        temporaries_.clear();
        for (std::size_t p = 0; p < outs.size(); ++p) {
            Slot& s = outs[p];
            if (s.alloc >= 0) refs_[std::size_t(s.alloc)] += consumers(id, type->outputs[p].name);
            if (graph::PortRef{id, type->outputs[p].name} == output_) {
                plan_.output = s.value;
                if (s.alloc >= 0) ++refs_[std::size_t(s.alloc)];  // read by the download at the end
            }
            values[{id, int(p)}] = s;
        }
        for (const Slot* in : ins)
            if (in) release(in->alloc);
        // An output nobody reads (a dead branch) is freed at once.
        for (auto& s : outs)
            if (s.alloc >= 0 && refs_[std::size_t(s.alloc)] == 0) allocs_[std::size_t(s.alloc)] = Allocation();
    }
    if (!plan_.output.region.valid()) return makeError("the graph's output was not planned", "Vulkan executor");
    for (auto& a : allocs_)
        if (a.valid()) plan_.pinned.push_back(std::move(a));
    return success();
}

Result<void> Lowerer::lowerNode(const Node& n, const std::vector<const Slot*>& in, std::vector<Slot>& out)
{
    const graph::NodeType& type = *graph::builtinNodes().find(n.type);
    const graph::ParamReader p(n, type);
    const graph::NodeInfo& ni = info_.nodes.at(n.id);
    std::vector<std::vector<std::int64_t>> outSizes;
    for (const auto& s : ni.outputs) outSizes.push_back(s.concrete(batch_));
    auto alias = [&](const Slot& src, std::vector<std::int64_t> sizes) {
        Slot s = src;
        s.value.sizes = std::move(sizes);
        out.push_back(s);
        return success();
    };
    auto fresh = [&](bool ids = false) -> Result<Slot*> {
        auto s = allocate(outSizes.at(0), n.name, ids);
        if (!s) return s.error();
        out.push_back(std::move(s.value()));
        return &out.back();
    };
    auto fused = [&]() {
        auto it = fusion_.activation.find(n.id);
        return it == fusion_.activation.end() ? std::pair{Activation::None, 0.0f} : it->second;
    };
    auto addStep = [&](GraphExecutor::Step s) { plan_.steps.push_back(std::move(s)); };

    if (isLoss(n.type)) return success();  // the loss is computed by the caller from the output
    if (auto it = fusion_.absorbedBy.find(n.id); it != fusion_.absorbedBy.end()) return alias(*in.at(0), outSizes.at(0));

    if (n.type == "node.input_image" || n.type == "node.input_tensor" || n.type == "node.input_tokens") {
        auto s = allocate(outSizes.at(0), n.name, n.type == "node.input_tokens");
        if (!s) return s.error();
        ++refs_[std::size_t(s.value().alloc)];  // written by the upload: never reused
        plan_.inputs.push_back(s.value().value);
        out.push_back(std::move(s.value()));
        return success();
    }
    if (n.type == "node.dropout" || n.type == "node.flatten" || n.type == "node.reshape")
        return alias(*in.at(0), outSizes.at(0));

    if (auto act = activationOf(n)) {
        auto o = fresh();
        if (!o) return o.error();
        const Value x = in.at(0)->value, y = o.value()->value;
        addStep([x, y, act = *act](Recorder& r) {
            return unaryVulkan(r, x.region, y.region, std::uint64_t(product(y.sizes)), act.first, act.second);
        });
        return success();
    }

    if (n.type == "node.conv2d" || n.type == "node.conv_transpose2d") {
        const Value x = in.at(0)->value;
        Conv2dParams c = Conv2dParams::square(u32(x.sizes[0]), u32(x.sizes[1]), u32(x.sizes[2]), u32(x.sizes[3]),
                                              u32(p.i("out_channels")), u32(p.i("kernel_size")), u32(p.i("stride")),
                                              u32(p.i("padding")), u32(p.i("dilation")), u32(p.i("groups")));
        const bool transposed = n.type == "node.conv_transpose2d";
        if (transposed) c.outputPadH = c.outputPadW = u32(p.i("output_padding"));
        const bool folded = fusion_.foldedBatchNorm.count(n.id) > 0;
        const std::string wKey = n.name + (folded ? ".weight#bn" : ".weight");
        auto w = weight(wKey);
        if (!w) return w.error();
        const WeightType wt = weightType(wKey);
        const std::optional<Region> b = optionalWeight(n.name + (folded ? ".bias#bn" : ".bias"));
        auto o = fresh();
        if (!o) return o.error();
        const Value y = o.value()->value;
        const auto act = fused();
        const Region wr = w.value();
        addStep([x, y, c, wr, wt, b, act, transposed](Recorder& r) {
            const Region* bp = ptr(b);
            if (transposed) return convTranspose2dVulkan(r, x.region, wr, bp, y.region, c, wt);
            return conv2dVulkan(r, x.region, wr, bp, y.region, c, act.first, act.second, wt);
        });
        return success();
    }

    if (n.type == "node.linear") {
        const Value x = in.at(0)->value;
        auto w = weight(n.name + ".weight");
        if (!w) return w.error();
        const WeightType wt = weightType(n.name + ".weight");
        const std::optional<Region> b = optionalWeight(n.name + ".bias");
        auto o = fresh();
        if (!o) return o.error();
        const Value y = o.value()->value;
        const GemmShape shape{u32(product(x.sizes) / p.i("in_features")), u32(p.i("out_features")), u32(p.i("in_features"))};
        const auto act = fused();
        const Region wr = w.value();
        addStep([x, y, wr, wt, b, shape, act](Recorder& r) {
            return gemmVulkan(r, x.region, wr, ptr(b), y.region, shape, /*transB=*/true, act.first,
                              act.second, wt);
        });
        return success();
    }

    if (n.type == "node.batchnorm2d") {
        const Value x = in.at(0)->value;
        auto scale = weight(n.name + ".weight#scale");
        auto shift = weight(n.name + ".bias#shift");
        if (!scale) return scale.error();
        if (!shift) return shift.error();
        auto o = fresh();
        if (!o) return o.error();
        const Value y = o.value()->value;
        const auto act = fused();
        const Region sc = scale.value(), sh = shift.value();
        addStep([x, y, sc, sh, act](Recorder& r) {
            return channelAffineVulkan(r, x.region, &sc, &sh, y.region, std::uint64_t(x.sizes[0]), u32(x.sizes[1]),
                                       std::uint64_t(product(x.sizes, 2)), act.first, act.second);
        });
        return success();
    }

    if (n.type == "node.layernorm" || n.type == "node.rmsnorm" || n.type == "node.groupnorm") {
        const Value x = in.at(0)->value;
        auto o = fresh();
        if (!o) return o.error();
        const Value y = o.value()->value;
        const std::optional<Region> wv = optionalWeight(n.name + ".weight"), bv = optionalWeight(n.name + ".bias");
        const float eps = float(p.f("eps"));
        const std::string kind = n.type;
        if (kind == "node.groupnorm") {
            const auto groups = u32(p.i("num_groups"));
            addStep([x, y, wv, bv, eps, groups](Recorder& r) {
                return groupNormVulkan(r, x.region, ptr(wv), ptr(bv), y.region, u32(x.sizes[0]),
                                       u32(x.sizes[1]), std::uint64_t(product(x.sizes, 2)), groups, eps);
            });
        } else {
            const auto cols = x.sizes.back();
            const auto rows = std::uint64_t(product(x.sizes) / cols);
            const bool rms = kind == "node.rmsnorm";
            addStep([x, y, wv, bv, eps, rows, cols, rms](Recorder& r) {
                if (rms) return rmsNormVulkan(r, x.region, ptr(wv), y.region, rows, u32(cols), eps);
                return layerNormVulkan(r, x.region, ptr(wv), ptr(bv), y.region, rows, u32(cols), eps);
            });
        }
        return success();
    }

    if (n.type == "node.softmax") {
        const Value x = in.at(0)->value;
        const auto d = graph::ops::normalizeDim(p.i("dim"), x.sizes.size());
        if (!d) return makeError("softmax dim is outside the input", n.name);
        auto o = fresh();
        if (!o) return o.error();
        const Value y = o.value()->value;
        const auto outer = std::uint64_t(product(x.sizes, 0, *d)), inner = std::uint64_t(product(x.sizes, *d + 1));
        const auto dim = u32(x.sizes[*d]);
        addStep([x, y, outer, dim, inner](Recorder& r) { return softmaxVulkan(r, x.region, y.region, outer, dim, inner); });
        return success();
    }

    if (n.type == "node.maxpool2d" || n.type == "node.avgpool2d" || n.type == "node.adaptive_avgpool2d") {
        const Value x = in.at(0)->value;
        auto o = fresh();
        if (!o) return o.error();
        const Value y = o.value()->value;
        const auto planes = u32(x.sizes[0] * x.sizes[1]);
        if (n.type == "node.adaptive_avgpool2d") {
            addStep([x, y, planes](Recorder& r) {
                return adaptiveAvgPool2dVulkan(r, x.region, y.region, planes, u32(x.sizes[2]), u32(x.sizes[3]),
                                               u32(y.sizes[2]), u32(y.sizes[3]));
            });
            return success();
        }
        Pool2dParams pp;
        pp.planes = planes;
        pp.inH = u32(x.sizes[2]);
        pp.inW = u32(x.sizes[3]);
        pp.kernel = u32(p.i("kernel_size"));
        pp.stride = p.i("stride") == 0 ? pp.kernel : u32(p.i("stride"));
        pp.pad = u32(p.i("padding"));
        const PoolKind kind = n.type == "node.maxpool2d" ? PoolKind::Max : PoolKind::Avg;
        addStep([x, y, pp, kind](Recorder& r) { return pool2dVulkan(r, x.region, y.region, pp, kind); });
        return success();
    }

    if (n.type == "node.permute") {
        const Value x = in.at(0)->value;
        auto o = fresh();
        if (!o) return o.error();
        const Value y = o.value()->value;
        std::vector<std::int64_t> dims = p.list("dims");
        for (auto& d : dims)
            if (d < 0) d += std::int64_t(x.sizes.size());
        addStep([x, y, dims](Recorder& r) { return permuteVulkan(r, x.region, x.sizes, dims, y.region); });
        return success();
    }

    if (n.type == "node.concat") {
        auto o = fresh();
        if (!o) return o.error();
        const Value y = o.value()->value;
        const auto d = graph::ops::normalizeDim(p.i("dim"), y.sizes.size());
        if (!d) return makeError("concat dim is outside the inputs", n.name);
        const auto outer = std::uint64_t(product(y.sizes, 0, *d)), after = std::uint64_t(product(y.sizes, *d + 1));
        const auto outInner = std::uint64_t(y.sizes[*d]) * after;
        std::uint64_t offset = 0;
        for (const Slot* s : in) {
            if (!s) continue;
            const Value x = s->value;
            const auto inner = std::uint64_t(x.sizes[*d]) * after;
            addStep([x, y, outer, inner, outInner, offset](Recorder& r) {
                return concatPartVulkan(r, x.region, y.region, outer, inner, outInner, offset);
            });
            offset += inner;
        }
        return success();
    }

    if (n.type == "node.add" || n.type == "node.multiply") {
        const Value a = in.at(0)->value, b = in.at(1)->value;
        auto o = fresh();
        if (!o) return o.error();
        const Value y = o.value()->value;
        const BinaryOp op = n.type == "node.add" ? BinaryOp::Add : BinaryOp::Mul;
        addStep([a, b, y, op](Recorder& r) { return binaryVulkan(r, a.region, a.sizes, b.region, b.sizes, y.region, op); });
        return success();
    }

    if (n.type == "node.embedding") {
        const Value ids = in.at(0)->value;
        auto table = weight(n.name + ".weight");
        if (!table) return table.error();
        auto o = fresh();
        if (!o) return o.error();
        const Value y = o.value()->value;
        if (!plan_.badIds.valid()) {
            auto counter = plan_.pool->allocate(4, "embedding id check");
            if (!counter) return counter.error();
            plan_.badIds = counter.value().region();
            plan_.pinned.push_back(std::move(counter.value()));
            const Region c = plan_.badIds;
            plan_.steps.insert(plan_.steps.begin(), [c](Recorder& r) {
                static const std::uint32_t zero = 0;
                return r.upload(c, std::as_bytes(std::span<const std::uint32_t>(&zero, 1)));
            });
        }
        const Region t = table.value(), bad = plan_.badIds;
        const auto dim = u32(p.i("embedding_dim")), vocab = u32(p.i("num_embeddings"));
        addStep([ids, t, y, dim, vocab, bad](Recorder& r) {
            return embeddingVulkan(r, ids.region, t, y.region, std::uint64_t(product(ids.sizes)), dim, vocab, &bad);
        });
        return success();
    }

    if (n.type == "node.attention") {
        const Value x = in.at(0)->value;
        const auto dim = p.i("dim"), heads = p.i("heads");
        const AttentionShape shape{u32(x.sizes[0]), u32(x.sizes[1]), u32(heads), u32(dim / heads)};
        const bool rope = p.b("rope"), causal = p.b("causal");
        const float base = float(p.f("rope_base"));
        const GemmShape proj{u32(x.sizes[0] * x.sizes[1]), u32(dim), u32(dim)};
        std::vector<Region> qkv;
        for (const char* part : {"q", "k", "v", "attn"}) {
            auto a = plan_.pool->allocate(VkDeviceSize(product(x.sizes)) * 4, n.name + "." + part);
            if (!a) return a.error();
            qkv.push_back(a.value().region());
            temporaries_.push_back(std::move(a.value()));
        }
        for (int i = 0; i < 3; ++i) {
            const std::string prefix = n.name + "." + "qkv"[i];
            auto w = weight(prefix + ".weight");
            if (!w) return w.error();
            const std::optional<Region> bv = optionalWeight(prefix + ".bias");
            const Region wr = w.value(), dst = qkv[std::size_t(i)];
            const WeightType wt = weightType(prefix + ".weight");
            addStep([x, wr, wt, bv, dst, proj](Recorder& r) {
                return gemmVulkan(r, x.region, wr, ptr(bv), dst, proj, true, Activation::None, 0.0f, wt);
            });
            if (rope && i < 2)
                addStep([dst, shape, base](Recorder& r) { return ropeVulkan(r, dst, dst, shape, base); });
        }
        const float scale = float(1.0 / std::sqrt(double(shape.headDim)));
        const Region q = qkv[0], k = qkv[1], v = qkv[2], att = qkv[3];
        addStep([q, k, v, att, shape, scale, causal](Recorder& r) {
            return attentionVulkan(r, q, k, v, att, shape, scale, causal);
        });
        auto w = weight(n.name + ".o.weight");
        if (!w) return w.error();
        const std::optional<Region> bv = optionalWeight(n.name + ".o.bias");
        auto o = fresh();
        if (!o) return o.error();
        const Value y = o.value()->value;
        const Region wr = w.value();
        const WeightType wt = weightType(n.name + ".o.weight");
        addStep([att, wr, wt, bv, y, proj](Recorder& r) {
            return gemmVulkan(r, att, wr, ptr(bv), y.region, proj, true, Activation::None, 0.0f, wt);
        });
        return success();
    }

    return makeError("the Vulkan backend cannot run " + n.type + " nodes yet", n.name, "run this graph on the CPU (LibTorch)");
}

}  // namespace kiln::vk::lowering
