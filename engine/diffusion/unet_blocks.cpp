#include "diffusion/unet_blocks.h"

#include <torch/nn/functional/activation.h>
#include <torch/nn/functional/upsampling.h>
#include <torch/nn/modules/dropout.h>
#include <torch/torch.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>

namespace kiln::diffusion {

namespace F = torch::nn::functional;
namespace nn = torch::nn;

namespace {

nn::Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride = 1)
{
    return nn::Conv2d(nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2));
}

nn::GroupNorm groupNorm(int64_t groups, int64_t channels, double eps)
{
    return nn::GroupNorm(nn::GroupNormOptions(groups, channels).eps(eps).affine(true));
}

nn::Linear linear(int64_t in, int64_t out, bool bias = true)
{
    return nn::Linear(nn::LinearOptions(in, out).bias(bias));
}

// [B, N, heads*d] <-> [B*heads, N, d], diffusers' head_to_batch_dim / batch_to_head_dim.
torch::Tensor headsToBatch(const torch::Tensor& x, int64_t heads)
{
    const auto b = x.size(0), n = x.size(1), d = x.size(2) / heads;
    return x.reshape({b, n, heads, d}).permute({0, 2, 1, 3}).reshape({b * heads, n, d});
}

torch::Tensor batchToHeads(const torch::Tensor& x, int64_t heads)
{
    const auto bh = x.size(0), n = x.size(1), d = x.size(2);
    return x.reshape({bh / heads, heads, n, d}).permute({0, 2, 1, 3}).reshape({bh / heads, n, heads * d});
}

bool inplaceOk() { return !torch::GradMode::is_enabled(); }

}  // namespace

torch::Tensor siluFresh(torch::Tensor x) { return inplaceOk() ? at::silu_(x) : F::silu(x); }

torch::Tensor addFresh(torch::Tensor fresh, const torch::Tensor& other)
{
    return inplaceOk() ? fresh.add_(other) : fresh + other;
}

torch::Tensor computeCopy(const torch::Tensor& p, const torch::Tensor& x)
{
    return !p.defined() || p.scalar_type() == x.scalar_type() ? p : p.to(x.scalar_type());
}

namespace {

thread_local WideningScratch* tScratch = nullptr;

// computeCopy, into the thread's scratch buffer `slot` when there is one and no graph is recorded (a graph
// would save the widened weight for backward, and the next layer overwrites the buffer).
torch::Tensor widen(const torch::Tensor& p, const torch::Tensor& x, int slot)
{
    if (!p.defined() || p.scalar_type() == x.scalar_type()) return p;
    if (!tScratch || torch::GradMode::is_enabled()) return p.to(x.scalar_type());
    return tScratch->widen(p, x.scalar_type(), slot);
}

}  // namespace

WideningScratch::WideningScratch(int64_t capacity) : capacity_(capacity), previous_(tScratch) { tScratch = this; }

WideningScratch::~WideningScratch() { tScratch = previous_; }

torch::Tensor WideningScratch::widen(const torch::Tensor& p, torch::ScalarType dtype, int slot)
{
    auto& buffer = buffers_[slot == 0 ? 0 : 1];
    const int64_t n = p.numel();
    if (!buffer.defined() || buffer.scalar_type() != dtype || buffer.device() != p.device() || buffer.numel() < n)
        buffer = torch::empty({std::max(n, slot == 0 ? capacity_ : int64_t{0})}, p.options().dtype(dtype));
    auto out = buffer.narrow(0, 0, n).view(p.sizes());
    out.copy_(p);
    return out;
}

torch::Tensor applyConv(const nn::Conv2d& c, const torch::Tensor& x, int64_t stride)
{
    return torch::conv2d(x, widen(c->weight, x, 0), widen(c->bias, x, 1), stride, c->weight.size(2) / 2);
}

torch::Tensor applyLinear(const nn::Linear& l, const torch::Tensor& x)
{
    return torch::linear(x, widen(l->weight, x, 0), widen(l->bias, x, 1));
}

torch::Tensor applyGroupNorm(const nn::GroupNorm& g, const torch::Tensor& x)
{
    return torch::group_norm(x, g->options.num_groups(), widen(g->weight, x, 0), widen(g->bias, x, 1),
        g->options.eps());
}

torch::Tensor applyLayerNorm(const nn::LayerNorm& n, const torch::Tensor& x)
{
    return torch::layer_norm(x, n->options.normalized_shape(), widen(n->weight, x, 0), widen(n->bias, x, 1),
        n->options.eps());
}

namespace {

// Rows of one softmax piece when the caller left the choice to us: the scores of a piece (rows x nk floats)
// stay within about 4 MiB, so the matmul writes them, softmax rewrites them and the second matmul reads them
// in cache instead of streaming a [rows, nk] matrix through memory three times.
constexpr int64_t kCacheScoreBytes = int64_t{4} << 20;

// scores = softmax(q k^T * scale) in place in `scores` [.., rows, nk], then out = scores v.
void softmaxInPlace(torch::Tensor& scores)
{
    at::_softmax_out(scores, scores, -1, false);
}

}  // namespace

torch::Tensor slicedAttention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
    double scale, const AttentionSlicing& slicing)
{
    TORCH_CHECK(q.dim() == 3 && k.dim() == 3 && v.dim() == 3, "attention expects [batch*heads, tokens, dim] tensors");
    const int64_t bh = q.size(0), nq = q.size(1), nk = k.size(1);
    const int64_t budget = std::max<int64_t>(1, slicing.scoreBudgetBytes / static_cast<int64_t>(q.element_size()));
    const int64_t perRow = std::max<int64_t>(1, nq * nk);
    const int64_t slice = std::clamp<int64_t>(slicing.sliceSize > 0 ? slicing.sliceSize : budget / perRow, 1, bh);
    int64_t chunk = slicing.queryChunk;
    if (chunk <= 0)
        chunk = slice * perRow <= budget ? nq : std::max<int64_t>(1, budget / (slice * std::max<int64_t>(1, nk)));
    chunk = std::clamp<int64_t>(chunk, 1, std::max<int64_t>(1, nq));

    if (torch::GradMode::is_enabled() && (q.requires_grad() || k.requires_grad() || v.requires_grad())) {
        // out= kernels do not record autograd: the plain differentiable form, slice by slice.
        auto piece = [&](const torch::Tensor& qs, const torch::Tensor& ks, const torch::Tensor& vs) {
            return torch::bmm(torch::baddbmm(torch::empty({qs.size(0), qs.size(1), ks.size(1)}, qs.options()), qs,
                                  ks.transpose(1, 2), 0.0, scale)
                                  .softmax(-1),
                vs);
        };
        std::vector<torch::Tensor> rows;
        for (int64_t b0 = 0; b0 < bh; b0 += slice) {
            const int64_t bn = std::min(slice, bh - b0);
            std::vector<torch::Tensor> cols;
            for (int64_t r0 = 0; r0 < nq; r0 += chunk)
                cols.push_back(piece(q.narrow(0, b0, bn).narrow(1, r0, std::min(chunk, nq - r0)),
                    k.narrow(0, b0, bn), v.narrow(0, b0, bn)));
            rows.push_back(torch::cat(cols, 1));
        }
        return torch::cat(rows, 0);
    }

    auto out = torch::empty({bh, nq, v.size(2)}, q.options());
    const auto kt = k.transpose(1, 2);
    torch::Tensor buffer;
    for (int64_t b0 = 0; b0 < bh; b0 += slice) {
        const int64_t bn = std::min(slice, bh - b0);
        auto ks = kt.narrow(0, b0, bn), vs = v.narrow(0, b0, bn);
        for (int64_t r0 = 0; r0 < nq; r0 += chunk) {
            const int64_t rn = std::min(chunk, nq - r0);
            if (!buffer.defined() || buffer.size(0) != bn || buffer.size(1) != rn)
                buffer = torch::empty({bn, rn, nk}, q.options());
            // beta 0: the buffer's old contents are never read
            at::baddbmm_out(buffer, buffer, q.narrow(0, b0, bn).narrow(1, r0, rn), ks, 0.0, scale);
            softmaxInPlace(buffer);
            auto o = out.narrow(0, b0, bn).narrow(1, r0, rn);
            if (o.is_contiguous())
                at::bmm_out(o, buffer, vs);
            else
                o.copy_(torch::bmm(buffer, vs));
        }
    }
    return out;
}

torch::Tensor headsAttention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, int64_t heads,
    double scale, const AttentionSlicing& slicing)
{
    TORCH_CHECK(q.dim() == 3 && k.dim() == 3 && v.dim() == 3 && q.size(0) == k.size(0) && k.size(0) == v.size(0)
            && k.size(1) == v.size(1) && q.size(2) == k.size(2) && q.size(2) % heads == 0
            && v.size(2) % heads == 0,
        "attention expects q [B, Nq, heads*d], k [B, Nk, heads*d], v [B, Nk, heads*dv]");
    const int64_t b = q.size(0), nq = q.size(1), nk = k.size(1), d = q.size(2) / heads, dv = v.size(2) / heads;
    const int64_t elem = static_cast<int64_t>(q.element_size());
    int64_t chunk = slicing.queryChunk;
    if (chunk <= 0)
        chunk = std::min(kCacheScoreBytes, slicing.scoreBudgetBytes) / (elem * std::max<int64_t>(1, nk));
    chunk = std::clamp<int64_t>(chunk, 1, std::max<int64_t>(1, nq));
    if (torch::GradMode::is_enabled() && (q.requires_grad() || k.requires_grad() || v.requires_grad())) {
        // out= kernels do not record autograd: the differentiable [B*heads, N, d] form.
        auto toBatch = [&](const torch::Tensor& x, int64_t width) {
            return x.reshape({b, x.size(1), heads, width}).permute({0, 2, 1, 3}).reshape({b * heads, x.size(1), width});
        };
        AttentionSlicing s = slicing;
        s.queryChunk = chunk;
        s.sliceSize = 1;
        auto o = slicedAttention(toBatch(q, d), toBatch(k, d), toBatch(v, dv), scale, s);
        return o.reshape({b, heads, nq, dv}).permute({0, 2, 1, 3}).reshape({b, nq, heads * dv});
    }
    // 2-D strided views of one head (row stride heads*d) go straight to BLAS: no head_to_batch copies of q, k,
    // v and no batch_to_head copy of the result, which is written in place into [B, Nq, heads*dv].
    auto qc = q.stride(2) == 1 ? q : q.contiguous();
    auto kc = k.stride(2) == 1 ? k : k.contiguous();
    auto vc = v.stride(2) == 1 ? v : v.contiguous();
    auto out = torch::empty({b, nq, heads * dv}, q.options());
    // One (batch item, head) per task across the intra-op threads, each with its own score buffer: the BLAS
    // calls and the softmax inside run single-threaded (nested parallelism is serial), so a layer has one
    // fork/join instead of three per chunk, and each core keeps its own chunk's scores in its cache.
    at::parallel_for(0, b * heads, 1, [&](int64_t begin, int64_t end) {
        auto buffer = torch::empty({chunk, nk}, q.options());
        for (int64_t task = begin; task < end; ++task) {
            const int64_t i = task / heads, h = task % heads;
            auto kt = kc[i].narrow(1, h * d, d).t();
            auto vh = vc[i].narrow(1, h * dv, dv);
            auto qh = qc[i].narrow(1, h * d, d);
            auto oh = out[i].narrow(1, h * dv, dv);
            for (int64_t r0 = 0; r0 < nq; r0 += chunk) {
                const int64_t rn = std::min(chunk, nq - r0);
                auto scores = buffer.narrow(0, 0, rn);
                at::addmm_out(scores, scores, qh.narrow(0, r0, rn), kt, 0.0, scale);
                softmaxInPlace(scores);
                auto o = oh.narrow(0, r0, rn);
                at::mm_out(o, scores, vh);
            }
        }
    });
    return out;
}

torch::Tensor timestepEmbedding(const torch::Tensor& timesteps, int64_t dim)
{
    TORCH_CHECK(timesteps.dim() == 1, "timesteps must be one value per batch item");
    const int64_t half = dim / 2;
    // The op order follows diffusers' get_timestep_embedding so the float32 rounding matches.
    auto exponent = torch::arange(0, half, torch::dtype(torch::kFloat32)).mul(-std::log(10000.0)).div(half);
    auto args = timesteps.to(torch::kFloat32).unsqueeze(1) * exponent.exp().unsqueeze(0);
    auto emb = torch::cat({args.cos(), args.sin()}, -1);  // flip_sin_to_cos: cos first
    if (dim % 2 == 1)
        emb = F::pad(emb, F::PadFuncOptions({0, 1}));
    return emb;
}

TimestepEmbeddingImpl::TimestepEmbeddingImpl(int64_t inChannels, int64_t timeEmbedDim)
    : linear_1(register_module("linear_1", linear(inChannels, timeEmbedDim))),
      linear_2(register_module("linear_2", linear(timeEmbedDim, timeEmbedDim)))
{
}

torch::Tensor TimestepEmbeddingImpl::forward(const torch::Tensor& x)
{
    return applyLinear(linear_2, F::silu(applyLinear(linear_1, x)));
}

ResnetBlock2DImpl::ResnetBlock2DImpl(int64_t inChannels, int64_t outChannels, int64_t tembChannels, int64_t groups,
    double eps)
    : norm1(register_module("norm1", groupNorm(groups, inChannels, eps))),
      norm2(register_module("norm2", groupNorm(groups, outChannels, eps))),
      conv1(register_module("conv1", conv(inChannels, outChannels, 3))),
      conv2(register_module("conv2", conv(outChannels, outChannels, 3))),
      time_emb_proj(register_module("time_emb_proj", linear(tembChannels, outChannels)))
{
    if (inChannels != outChannels)
        conv_shortcut = register_module("conv_shortcut", conv(inChannels, outChannels, 1));
}

torch::Tensor ResnetBlock2DImpl::forward(const torch::Tensor& x, const torch::Tensor& temb)
{
    auto h = applyConv(conv1, siluFresh(applyGroupNorm(norm1, x)));
    h = addFresh(h, applyLinear(time_emb_proj, F::silu(temb)).unsqueeze(-1).unsqueeze(-1));
    h = applyConv(conv2, siluFresh(applyGroupNorm(norm2, h)));
    // x + h (float addition commutes exactly, so the fresh tensor may take the sum)
    return conv_shortcut ? addFresh(applyConv(conv_shortcut, x), h) : addFresh(h, x);
}

Downsample2DImpl::Downsample2DImpl(int64_t channels)
    : conv(register_module("conv", diffusion::conv(channels, channels, 3, 2)))
{
}

torch::Tensor Downsample2DImpl::forward(const torch::Tensor& x)
{
    return applyConv(conv, x, 2);
}

Upsample2DImpl::Upsample2DImpl(int64_t channels)
    : conv(register_module("conv", diffusion::conv(channels, channels, 3)))
{
}

torch::Tensor Upsample2DImpl::forward(const torch::Tensor& x, std::optional<std::vector<int64_t>> outputSize)
{
    auto opts = F::InterpolateFuncOptions().mode(torch::kNearest);
    if (outputSize)
        opts.size(*outputSize);
    else
        opts.scale_factor(std::vector<double>{2.0, 2.0});
    return applyConv(conv, F::interpolate(x.contiguous(), opts));
}

AttentionImpl::AttentionImpl(int64_t queryDim, int64_t contextDim, int64_t heads, int64_t headDim)
    : to_q(register_module("to_q", linear(queryDim, heads * headDim, false))),
      to_k(register_module("to_k", linear(contextDim, heads * headDim, false))),
      to_v(register_module("to_v", linear(contextDim, heads * headDim, false))),
      to_out(register_module("to_out", nn::ModuleList())),
      out_(linear(heads * headDim, queryDim)),
      heads_(heads),
      headDim_(headDim)
{
    to_out->push_back(out_);
    to_out->push_back(nn::Dropout(0.0));
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& context)
{
    const auto& ctx = context.defined() ? context : x;
    auto q = applyLinear(to_q, x);
    auto k = applyLinear(to_k, ctx);
    auto v = applyLinear(to_v, ctx);
    const double scale = 1.0 / std::sqrt(static_cast<double>(headDim_));
    torch::Tensor out;
    if (slicing.sliceSize > 0)  // an explicit batch*heads slicing: the [B*heads, N, d] form
        out = batchToHeads(slicedAttention(headsToBatch(q, heads_), headsToBatch(k, heads_), headsToBatch(v, heads_),
                                           scale, slicing),
            heads_);
    else
        out = headsAttention(q, k, v, heads_, scale, slicing);
    return applyLinear(out_, out);
}

GEGLUImpl::GEGLUImpl(int64_t dimIn, int64_t dimOut)
    : proj(register_module("proj", linear(dimIn, dimOut * 2)))
{
}

torch::Tensor GEGLUImpl::forward(const torch::Tensor& x)
{
    auto halves = applyLinear(proj, x).chunk(2, -1);
    // gelu(gate) * hidden, multiplied into the fresh gelu output: one [.., dimOut] tensor fewer
    return inplaceOk() ? torch::gelu(halves[1]).mul_(halves[0]) : halves[0] * torch::gelu(halves[1]);
}

FeedForwardImpl::FeedForwardImpl(int64_t dim)
    : net(register_module("net", nn::ModuleList())), geglu_(GEGLU(dim, dim * 4)), out_(linear(dim * 4, dim))
{
    net->push_back(geglu_);
    net->push_back(nn::Dropout(0.0));
    net->push_back(out_);
}

torch::Tensor FeedForwardImpl::forward(const torch::Tensor& x)
{
    return applyLinear(out_, geglu_(x));
}

BasicTransformerBlockImpl::BasicTransformerBlockImpl(int64_t dim, int64_t heads, int64_t headDim, int64_t contextDim)
    : norm1(register_module("norm1", nn::LayerNorm(nn::LayerNormOptions({dim}).eps(1e-5)))),
      norm2(register_module("norm2", nn::LayerNorm(nn::LayerNormOptions({dim}).eps(1e-5)))),
      norm3(register_module("norm3", nn::LayerNorm(nn::LayerNormOptions({dim}).eps(1e-5)))),
      attn1(register_module("attn1", Attention(dim, dim, heads, headDim))),
      attn2(register_module("attn2", Attention(dim, contextDim, heads, headDim))),
      ff(register_module("ff", FeedForward(dim)))
{
}

torch::Tensor BasicTransformerBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& context)
{
    auto h = addFresh(attn1(applyLayerNorm(norm1, x)), x);
    h = addFresh(attn2(applyLayerNorm(norm2, h), context), h);
    return addFresh(ff(applyLayerNorm(norm3, h)), h);
}

Transformer2DModelImpl::Transformer2DModelImpl(int64_t channels, int64_t heads, int64_t contextDim, int64_t groups)
    // diffusers fixes this GroupNorm's eps at 1e-6, whatever the UNet's norm_eps.
    : norm(register_module("norm", groupNorm(groups, channels, 1e-6))),
      proj_in(register_module("proj_in", conv(channels, channels, 1))),
      proj_out(register_module("proj_out", conv(channels, channels, 1))),
      transformer_blocks(register_module("transformer_blocks", nn::ModuleList()))
{
    TORCH_CHECK(channels % heads == 0, "channels (", channels, ") must divide into ", heads, " attention heads");
    transformer_blocks->push_back(BasicTransformerBlock(channels, heads, channels / heads, contextDim));
}

torch::Tensor Transformer2DModelImpl::forward(const torch::Tensor& x, const torch::Tensor& context)
{
    const auto b = x.size(0), h = x.size(2), w = x.size(3);
    auto t = applyConv(proj_in, applyGroupNorm(norm, x));
    const auto inner = t.size(1);
    t = t.permute({0, 2, 3, 1}).reshape({b, h * w, inner});
    for (const auto& block : *transformer_blocks)
        t = block->as<BasicTransformerBlockImpl>()->forward(t, context);
    t = t.reshape({b, h, w, inner}).permute({0, 3, 1, 2}).contiguous();
    return addFresh(applyConv(proj_out, t), x);
}

DownBlockImpl::DownBlockImpl(int64_t inChannels, int64_t outChannels, int64_t layers, bool withAttention,
    bool addDownsample, const UNetBlockParams& p)
    : resnets(register_module("resnets", nn::ModuleList())),
      attentions(register_module("attentions", nn::ModuleList())),
      downsamplers(register_module("downsamplers", nn::ModuleList()))
{
    for (int64_t j = 0; j < layers; ++j) {
        const int64_t in = j == 0 ? inChannels : outChannels;
        resnets->push_back(ResnetBlock2D(in, outChannels, p.tembChannels, p.groups, p.eps));
        if (withAttention)
            attentions->push_back(Transformer2DModel(outChannels, p.heads, p.contextDim, p.groups));
    }
    if (addDownsample)
        downsamplers->push_back(Downsample2D(outChannels));
}

torch::Tensor DownBlockImpl::forward(torch::Tensor x, const torch::Tensor& temb, const torch::Tensor& context,
    std::vector<torch::Tensor>& skips)
{
    for (size_t j = 0; j < resnets->size(); ++j) {
        x = resnets[j]->as<ResnetBlock2DImpl>()->forward(x, temb);
        if (!attentions->is_empty())
            x = attentions[j]->as<Transformer2DModelImpl>()->forward(x, context);
        skips.push_back(x);
    }
    if (!downsamplers->is_empty()) {
        x = downsamplers[0]->as<Downsample2DImpl>()->forward(x);
        skips.push_back(x);
    }
    return x;
}

MidBlockImpl::MidBlockImpl(int64_t channels, const UNetBlockParams& p)
    : resnets(register_module("resnets", nn::ModuleList())), attentions(register_module("attentions", nn::ModuleList()))
{
    resnets->push_back(ResnetBlock2D(channels, channels, p.tembChannels, p.groups, p.eps));
    attentions->push_back(Transformer2DModel(channels, p.heads, p.contextDim, p.groups));
    resnets->push_back(ResnetBlock2D(channels, channels, p.tembChannels, p.groups, p.eps));
}

torch::Tensor MidBlockImpl::forward(torch::Tensor x, const torch::Tensor& temb, const torch::Tensor& context)
{
    x = resnets[0]->as<ResnetBlock2DImpl>()->forward(x, temb);
    x = attentions[0]->as<Transformer2DModelImpl>()->forward(x, context);
    return resnets[1]->as<ResnetBlock2DImpl>()->forward(x, temb);
}

UpBlockImpl::UpBlockImpl(int64_t inChannels, int64_t prevOutChannels, int64_t outChannels, int64_t layers,
    bool withAttention, bool addUpsample, const UNetBlockParams& p)
    : resnets(register_module("resnets", nn::ModuleList())),
      attentions(register_module("attentions", nn::ModuleList())),
      upsamplers(register_module("upsamplers", nn::ModuleList()))
{
    for (int64_t j = 0; j < layers; ++j) {
        // The last resnet takes the skip from before the matching down block; the others skips of its width.
        const int64_t skipChannels = j == layers - 1 ? inChannels : outChannels;
        const int64_t resnetIn = j == 0 ? prevOutChannels : outChannels;
        resnets->push_back(ResnetBlock2D(resnetIn + skipChannels, outChannels, p.tembChannels, p.groups, p.eps));
        if (withAttention)
            attentions->push_back(Transformer2DModel(outChannels, p.heads, p.contextDim, p.groups));
    }
    if (addUpsample)
        upsamplers->push_back(Upsample2D(outChannels));
}

torch::Tensor UpBlockImpl::forward(torch::Tensor x, const torch::Tensor& temb, const torch::Tensor& context,
    std::vector<torch::Tensor>& skips)
{
    for (size_t j = 0; j < resnets->size(); ++j) {
        TORCH_CHECK(!skips.empty(), "UNet up block ran out of skip connections");
        x = torch::cat({x, skips.back()}, 1);
        skips.pop_back();
        x = resnets[j]->as<ResnetBlock2DImpl>()->forward(x, temb);
        if (!attentions->is_empty())
            x = attentions[j]->as<Transformer2DModelImpl>()->forward(x, context);
    }
    if (!upsamplers->is_empty()) {
        std::optional<std::vector<int64_t>> size;
        if (!skips.empty())
            size = std::vector<int64_t>{skips.back().size(2), skips.back().size(3)};
        x = upsamplers[0]->as<Upsample2DImpl>()->forward(x, size);
    }
    return x;
}

}  // namespace kiln::diffusion
