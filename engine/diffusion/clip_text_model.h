// The CLIP ViT-L/14 text encoder of Stable Diffusion 1.x, numerically as transformers' CLIPTextModel
// (pre-LayerNorm transformer, causal self-attention, quick-GELU MLP, final LayerNorm).
//
// Parameter names equal the keys of a diffusers `text_encoder/` folder (transformers' CLIPTextModel):
//     text_model.embeddings.token_embedding.weight            [vocab, hidden]
//     text_model.embeddings.position_embedding.weight         [maxPositions, hidden]
//     text_model.encoder.layers.N.self_attn.{q,k,v,out}_proj.{weight,bias}
//     text_model.encoder.layers.N.{layer_norm1,layer_norm2}.{weight,bias}
//     text_model.encoder.layers.N.mlp.{fc1,fc2}.{weight,bias}
//     text_model.final_layer_norm.{weight,bias}
// so a state dict loads by name. `text_model.embeddings.position_ids` (a buffer older transformers
// saved) is not a parameter here: the positions are always 0..len-1. Single-file (LDM) names map to
// these through ldmToDiffusersClipKey (diffusion/ldm_keys_clip_vae.h).
//
// Usage:
//     kiln::diffusion::ClipTextModel clip(kiln::diffusion::ClipTextConfig::sd15());
//     ... load weights by name ...
//     torch::NoGradGuard noGrad;
//     auto hidden = clip->encode(ids, clipSkip);   // ids: [B, 77] int64 from the CLIP tokenizer
//     if (!hidden) return hidden.error();          // *hidden: [B, 77, 768], the UNet's context
#pragma once

#include "kiln/result.h"

#include <cstdint>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

namespace kiln::diffusion {

struct ClipTextConfig {
    std::int64_t vocabSize = 49408;
    std::int64_t hidden = 768;
    std::int64_t layers = 12;
    std::int64_t heads = 12;
    std::int64_t intermediate = 3072;
    std::int64_t maxPositions = 77;
    double layerNormEps = 1e-5;
    // OpenAI CLIP's x * sigmoid(1.702 x); false gives the exact (erf) GELU of OpenCLIP models.
    bool quickGelu = true;

    static ClipTextConfig sd15() { return {}; }
    // A few thousand parameters with every structural feature of the real one, for tests.
    static ClipTextConfig tiny();
};

// x * sigmoid(1.702 x), the GELU approximation OpenAI trained CLIP with (transformers' "quick_gelu").
torch::Tensor quickGelu(const torch::Tensor& x);

// [len, len] additive mask: 0 on and below the diagonal, the dtype's lowest value above it. The
// lowest finite value rather than -inf, as transformers does, so no row can turn into NaN.
torch::Tensor causalMask(std::int64_t len, torch::ScalarType dtype, const torch::Device& device);

class ClipAttentionImpl : public torch::nn::Module {
public:
    ClipAttentionImpl(std::int64_t hidden, std::int64_t heads);
    // x: [B, L, hidden]; mask: additive, broadcastable to [B, heads, L, L] (undefined for none).
    torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask);

    torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, out_proj{nullptr};

private:
    std::int64_t heads_;
};
TORCH_MODULE(ClipAttention);

class ClipMlpImpl : public torch::nn::Module {
public:
    ClipMlpImpl(std::int64_t hidden, std::int64_t intermediate, bool quickGelu);
    torch::Tensor forward(const torch::Tensor& x);

    torch::nn::Linear fc1{nullptr}, fc2{nullptr};

private:
    bool quickGelu_;
};
TORCH_MODULE(ClipMlp);

class ClipEncoderLayerImpl : public torch::nn::Module {
public:
    explicit ClipEncoderLayerImpl(const ClipTextConfig& config);
    torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask);

    ClipAttention self_attn{nullptr};
    torch::nn::LayerNorm layer_norm1{nullptr}, layer_norm2{nullptr};
    ClipMlp mlp{nullptr};
};
TORCH_MODULE(ClipEncoderLayer);

class ClipTextEmbeddingsImpl : public torch::nn::Module {
public:
    explicit ClipTextEmbeddingsImpl(const ClipTextConfig& config);
    torch::Tensor forward(const torch::Tensor& ids);  // [B, L] -> [B, L, hidden]

    torch::nn::Embedding token_embedding{nullptr}, position_embedding{nullptr};
};
TORCH_MODULE(ClipTextEmbeddings);

class ClipEncoderImpl : public torch::nn::Module {
public:
    explicit ClipEncoderImpl(const ClipTextConfig& config);
    torch::nn::ModuleList layers{nullptr};
};
TORCH_MODULE(ClipEncoder);

class ClipTextTransformerImpl : public torch::nn::Module {
public:
    explicit ClipTextTransformerImpl(const ClipTextConfig& config);
    torch::Tensor forward(const torch::Tensor& ids, int clipSkip);

    ClipTextEmbeddings embeddings{nullptr};
    ClipEncoder encoder{nullptr};
    torch::nn::LayerNorm final_layer_norm{nullptr};

private:
    std::int64_t layerCount_;
};
TORCH_MODULE(ClipTextTransformer);

class ClipTextModelImpl : public torch::nn::Module {
public:
    explicit ClipTextModelImpl(const ClipTextConfig& config = ClipTextConfig::sd15());

    // ids: [B, L] integer token ids, L <= maxPositions (77 for SD). Returns [B, L, hidden].
    // clipSkip is A1111's "Clip skip": 1 takes the last layer's output, n > 1 stops after
    // layers - n + 1 layers (transformers' hidden_states[-n]); either way the result then goes through
    // final_layer_norm, as A1111 does. Throws c10::Error on bad input (encode() returns an Error).
    torch::Tensor forward(const torch::Tensor& ids, int clipSkip = 1);

    // forward() with every failure (shape, ids out of range, clipSkip out of 1..layers) as an Error.
    Result<torch::Tensor> encode(const torch::Tensor& ids, int clipSkip = 1);

    const ClipTextConfig& config() const { return config_; }

    ClipTextTransformer text_model{nullptr};

private:
    ClipTextConfig config_;
};
TORCH_MODULE(ClipTextModel);

}  // namespace kiln::diffusion
