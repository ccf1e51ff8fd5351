// The building blocks of the SD 1.x UNet, written after diffusers (resnet.py, attention.py,
// attention_processor.py, transformer_2d.py, embeddings.py, unet_2d_blocks.py) so that the
// numbers and the registered parameter names equal a diffusers `unet/` folder's.
//
// Everything here may throw (c10::Error); the public entry points in unet.h catch.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>
#include <optional>

namespace kiln::diffusion {

// How attention scores are computed in pieces, so that a 768x768 image (9216 latent tokens, a
// 9216x9216 score matrix per head) fits in memory. Slices cover whole softmax rows, so the result
// equals the unsliced one up to float summation order.
// The UNet's default (sliceSize 0) is headsAttention: one head and a few hundred query rows per piece
// (about 4 MiB of scores, in cache), the fastest form on CPU; sliceSize > 0 selects the
// [batch*heads, N, d] form (slicedAttention) with that many batch*heads rows per piece.
struct AttentionSlicing {
    int64_t sliceSize = 0;    // batch*heads rows per piece; 0 = automatic (per head in the UNet, else fit the budget)
    int64_t queryChunk = 0;   // query rows per piece; 0 = automatic (fit the cache, and scoreBudgetBytes)
    int64_t scoreBudgetBytes = int64_t{512} << 20;  // only read when a field above is 0

    static AttentionSlicing none() { return {0, 0, INT64_MAX}; }
};

// Every layer runs through these, in the dtype of its input x: a parameter stored in another dtype
// (fp16/bf16 after module->to(torch::kHalf)) is widened for that call only. So a UNet can hold its
// weights in half precision and compute in float32 when given float32 latents.
torch::Tensor computeCopy(const torch::Tensor& parameter, const torch::Tensor& x);

// While one of these lives on a thread and no autograd graph is being recorded, the layers above widen their
// parameters into two buffers reused from layer to layer (weight, bias) instead of fresh tensors. A fresh
// 118 MB fp32 weight costs its page faults every call: widening SD 1.5's fp16 UNet into fresh tensors took
// about 4x as long as into a reused buffer (0.14 s vs 0.034 s per 107 M weights, 2 threads). The UNet's
// forward holds one for its duration, sized to its largest parameter; the buffers go with it.
// computeCopy itself always returns a fresh tensor.
class WideningScratch {
public:
    explicit WideningScratch(int64_t capacity = 0);
    ~WideningScratch();
    WideningScratch(const WideningScratch&) = delete;
    WideningScratch& operator=(const WideningScratch&) = delete;

    // `parameter` converted to `dtype` in buffer `slot` (0 or 1); valid until the slot's next use.
    torch::Tensor widen(const torch::Tensor& parameter, torch::ScalarType dtype, int slot);

private:
    int64_t capacity_;
    torch::Tensor buffers_[2];
    WideningScratch* previous_;
};
// In-place elementwise steps on tensors a layer has just made, where no autograd graph needs the
// originals (inference): an allocation and a pass over memory saved each. With gradients on, the
// out-of-place forms. `fresh` must be a tensor nothing else holds.
torch::Tensor siluFresh(torch::Tensor fresh);
torch::Tensor addFresh(torch::Tensor fresh, const torch::Tensor& other);  // fresh + other

torch::Tensor applyConv(const torch::nn::Conv2d& conv, const torch::Tensor& x, int64_t stride = 1);  // "same" padding
torch::Tensor applyLinear(const torch::nn::Linear& linear, const torch::Tensor& x);
torch::Tensor applyGroupNorm(const torch::nn::GroupNorm& norm, const torch::Tensor& x);
torch::Tensor applyLayerNorm(const torch::nn::LayerNorm& norm, const torch::Tensor& x);

// softmax(q k^T * scale) v over q [BH, Nq, d], k [BH, Nk, d], v [BH, Nk, dv], in pieces as `slicing` says.
torch::Tensor slicedAttention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
    double scale, const AttentionSlicing& slicing);

// The same over q [B, Nq, heads*d], k [B, Nk, heads*d], v [B, Nk, heads*dv] (the projections as they come),
// -> [B, Nq, heads*dv]: one head and one chunk of query rows at a time, through strided views, so nothing is
// permuted or copied and a chunk's scores stay in cache (about 4 MiB unless slicing.queryChunk says otherwise;
// never more than slicing.scoreBudgetBytes). slicing.sliceSize is not used: every piece is one head.
torch::Tensor headsAttention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, int64_t heads,
    double scale, const AttentionSlicing& slicing);

// diffusers' get_timestep_embedding with flip_sin_to_cos=True, downscale_freq_shift=0 (SD 1.x's Timesteps):
// [cos(t * f_i), sin(t * f_i)] with f_i = exp(-ln(10000) * i / (dim/2)), computed in float32.
torch::Tensor timestepEmbedding(const torch::Tensor& timesteps, int64_t dim);

// linear_1 -> SiLU -> linear_2 (diffusers' TimestepEmbedding).
class TimestepEmbeddingImpl : public torch::nn::Module {
public:
    TimestepEmbeddingImpl(int64_t inChannels, int64_t timeEmbedDim);
    torch::Tensor forward(const torch::Tensor& x);

    torch::nn::Linear linear_1{nullptr}, linear_2{nullptr};
};
TORCH_MODULE(TimestepEmbedding);

// GroupNorm -> SiLU -> conv3x3, + time embedding projection, GroupNorm -> SiLU -> conv3x3, + shortcut.
class ResnetBlock2DImpl : public torch::nn::Module {
public:
    ResnetBlock2DImpl(int64_t inChannels, int64_t outChannels, int64_t tembChannels, int64_t groups, double eps);
    torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& temb);

    torch::nn::GroupNorm norm1{nullptr}, norm2{nullptr};
    torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
    torch::nn::Linear time_emb_proj{nullptr};
    torch::nn::Conv2d conv_shortcut{nullptr};  // only when the channel count changes
};
TORCH_MODULE(ResnetBlock2D);

// 3x3 conv with stride 2 and padding 1 (the LDM `op`).
class Downsample2DImpl : public torch::nn::Module {
public:
    explicit Downsample2DImpl(int64_t channels);
    torch::Tensor forward(const torch::Tensor& x);

    torch::nn::Conv2d conv{nullptr};
};
TORCH_MODULE(Downsample2D);

// Nearest-neighbour upsampling to outputSize (diffusers' upsample_size: the matching skip's size, which
// is how odd latent sizes come back to their exact shape) or 2x when none is given, then a 3x3 conv.
class Upsample2DImpl : public torch::nn::Module {
public:
    explicit Upsample2DImpl(int64_t channels);
    torch::Tensor forward(const torch::Tensor& x, std::optional<std::vector<int64_t>> outputSize = std::nullopt);

    torch::nn::Conv2d conv{nullptr};
};
TORCH_MODULE(Upsample2D);

// Multi-head attention with diffusers' names: to_q/to_k/to_v (no bias), to_out.0 (with bias).
// Self-attention when forward gets no context.
class AttentionImpl : public torch::nn::Module {
public:
    AttentionImpl(int64_t queryDim, int64_t contextDim, int64_t heads, int64_t headDim);
    torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& context = {});

    int64_t heads() const { return heads_; }
    AttentionSlicing slicing;

    torch::nn::Linear to_q{nullptr}, to_k{nullptr}, to_v{nullptr};
    torch::nn::ModuleList to_out{nullptr};  // [Linear, Dropout] as diffusers registers it

private:
    torch::nn::Linear out_{nullptr};  // to_out.0
    int64_t heads_;
    int64_t headDim_;
};
TORCH_MODULE(Attention);

// proj(x) split in two halves along the last axis: hidden * gelu(gate), exact (erf) GELU.
class GEGLUImpl : public torch::nn::Module {
public:
    GEGLUImpl(int64_t dimIn, int64_t dimOut);
    torch::Tensor forward(const torch::Tensor& x);

    torch::nn::Linear proj{nullptr};
};
TORCH_MODULE(GEGLU);

// net.0 = GEGLU(dim -> 4*dim), net.1 = Dropout, net.2 = Linear(4*dim -> dim).
class FeedForwardImpl : public torch::nn::Module {
public:
    explicit FeedForwardImpl(int64_t dim);
    torch::Tensor forward(const torch::Tensor& x);

    torch::nn::ModuleList net{nullptr};

private:
    GEGLU geglu_{nullptr};
    torch::nn::Linear out_{nullptr};
};
TORCH_MODULE(FeedForward);

// Pre-LayerNorm self-attention, cross-attention and GEGLU feed-forward, each with a residual.
class BasicTransformerBlockImpl : public torch::nn::Module {
public:
    BasicTransformerBlockImpl(int64_t dim, int64_t heads, int64_t headDim, int64_t contextDim);
    torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& context);

    torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr}, norm3{nullptr};
    Attention attn1{nullptr}, attn2{nullptr};
    FeedForward ff{nullptr};
};
TORCH_MODULE(BasicTransformerBlock);

// SD 1.x's SpatialTransformer: GroupNorm (eps 1e-6), 1x1-conv proj_in, one transformer block over
// the H*W tokens, 1x1-conv proj_out, plus the input.
class Transformer2DModelImpl : public torch::nn::Module {
public:
    Transformer2DModelImpl(int64_t channels, int64_t heads, int64_t contextDim, int64_t groups);
    torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& context);

    torch::nn::GroupNorm norm{nullptr};
    torch::nn::Conv2d proj_in{nullptr}, proj_out{nullptr};
    torch::nn::ModuleList transformer_blocks{nullptr};
};
TORCH_MODULE(Transformer2DModel);

// What the down, mid and up blocks share.
struct UNetBlockParams {
    int64_t tembChannels = 0;
    int64_t groups = 32;
    double eps = 1e-5;
    int64_t heads = 8;
    int64_t contextDim = 768;
};

// CrossAttnDownBlock2D (withAttention) or DownBlock2D: `layers` resnets (each followed by its
// transformer), then a Downsample2D unless it is the last block.
class DownBlockImpl : public torch::nn::Module {
public:
    DownBlockImpl(int64_t inChannels, int64_t outChannels, int64_t layers, bool withAttention, bool addDownsample,
        const UNetBlockParams& p);
    // Appends every output that a skip connection takes to `skips`.
    torch::Tensor forward(torch::Tensor x, const torch::Tensor& temb, const torch::Tensor& context,
        std::vector<torch::Tensor>& skips);

    torch::nn::ModuleList resnets{nullptr}, attentions{nullptr}, downsamplers{nullptr};
};
TORCH_MODULE(DownBlock);

// UNetMidBlock2DCrossAttn: resnet, transformer, resnet.
class MidBlockImpl : public torch::nn::Module {
public:
    MidBlockImpl(int64_t channels, const UNetBlockParams& p);
    torch::Tensor forward(torch::Tensor x, const torch::Tensor& temb, const torch::Tensor& context);

    torch::nn::ModuleList resnets{nullptr}, attentions{nullptr};
};
TORCH_MODULE(MidBlock);

// CrossAttnUpBlock2D (withAttention) or UpBlock2D: `layers` resnets over [x, skip] concatenated on
// channels (each followed by its transformer), then an Upsample2D unless it is the last block.
class UpBlockImpl : public torch::nn::Module {
public:
    UpBlockImpl(int64_t inChannels, int64_t prevOutChannels, int64_t outChannels, int64_t layers,
        bool withAttention, bool addUpsample, const UNetBlockParams& p);
    // Takes its skips from the back of `skips`; upsamples to the size of the skip the next block takes.
    torch::Tensor forward(torch::Tensor x, const torch::Tensor& temb, const torch::Tensor& context,
        std::vector<torch::Tensor>& skips);

    torch::nn::ModuleList resnets{nullptr}, attentions{nullptr}, upsamplers{nullptr};
};
TORCH_MODULE(UpBlock);

}  // namespace kiln::diffusion
