#include "diffusion/clip_text_model.h"

#include <cmath>
#include <exception>
#include <limits>
#include <string>

#include <torch/torch.h>

namespace kiln::diffusion {

namespace nn = torch::nn;

ClipTextConfig ClipTextConfig::tiny() {
    ClipTextConfig c;
    c.vocabSize = 64;
    c.hidden = 16;
    c.layers = 3;
    c.heads = 2;
    c.intermediate = 32;
    c.maxPositions = 8;
    return c;
}

torch::Tensor quickGelu(const torch::Tensor& x) {
    return x * torch::sigmoid(1.702 * x);
}

torch::Tensor causalMask(std::int64_t len, torch::ScalarType dtype, const torch::Device& device) {
    const auto options = torch::TensorOptions().dtype(dtype).device(device);
    double lowest = 0.0;
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, dtype, "causalMask", [&] {
        lowest = static_cast<double>(std::numeric_limits<scalar_t>::lowest());
    });
    return torch::full({len, len}, lowest, options).triu(1);
}

ClipAttentionImpl::ClipAttentionImpl(std::int64_t hidden, std::int64_t heads) : heads_(heads) {
    TORCH_CHECK(hidden % heads == 0, "CLIP hidden size ", hidden, " is not a multiple of the head count ", heads);
    q_proj = register_module("q_proj", nn::Linear(hidden, hidden));
    k_proj = register_module("k_proj", nn::Linear(hidden, hidden));
    v_proj = register_module("v_proj", nn::Linear(hidden, hidden));
    out_proj = register_module("out_proj", nn::Linear(hidden, hidden));
}

torch::Tensor ClipAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& mask) {
    const auto b = x.size(0), len = x.size(1), hidden = x.size(2);
    const auto headDim = hidden / heads_;
    auto split = [&](const torch::Tensor& t) { return t.view({b, len, heads_, headDim}).transpose(1, 2); };
    // transformers scales q before the product; the order matters in the last bits of fp16.
    auto q = split(q_proj(x) * (1.0 / std::sqrt(static_cast<double>(headDim))));
    auto k = split(k_proj(x));
    auto v = split(v_proj(x));
    auto scores = torch::matmul(q, k.transpose(-1, -2));
    if (mask.defined()) scores = scores + mask;
    // Softmax in float32 and back, as transformers does, so half-precision weights cannot overflow it.
    auto weights = torch::softmax(scores.to(torch::kFloat), -1).to(v.scalar_type());
    auto out = torch::matmul(weights, v).transpose(1, 2).reshape({b, len, hidden});
    return out_proj(out);
}

ClipMlpImpl::ClipMlpImpl(std::int64_t hidden, std::int64_t intermediate, bool quickGelu) : quickGelu_(quickGelu) {
    fc1 = register_module("fc1", nn::Linear(hidden, intermediate));
    fc2 = register_module("fc2", nn::Linear(intermediate, hidden));
}

torch::Tensor ClipMlpImpl::forward(const torch::Tensor& x) {
    auto h = fc1(x);
    h = quickGelu_ ? quickGelu(h) : torch::gelu(h);
    return fc2(h);
}

ClipEncoderLayerImpl::ClipEncoderLayerImpl(const ClipTextConfig& config) {
    auto ln = [&] { return nn::LayerNorm(nn::LayerNormOptions({config.hidden}).eps(config.layerNormEps)); };
    self_attn = register_module("self_attn", ClipAttention(config.hidden, config.heads));
    layer_norm1 = register_module("layer_norm1", ln());
    mlp = register_module("mlp", ClipMlp(config.hidden, config.intermediate, config.quickGelu));
    layer_norm2 = register_module("layer_norm2", ln());
}

torch::Tensor ClipEncoderLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& mask) {
    auto h = x + self_attn(layer_norm1(x), mask);
    return h + mlp(layer_norm2(h));
}

ClipTextEmbeddingsImpl::ClipTextEmbeddingsImpl(const ClipTextConfig& config) {
    token_embedding = register_module("token_embedding", nn::Embedding(config.vocabSize, config.hidden));
    position_embedding = register_module("position_embedding", nn::Embedding(config.maxPositions, config.hidden));
}

torch::Tensor ClipTextEmbeddingsImpl::forward(const torch::Tensor& ids) {
    const auto len = ids.size(1);
    TORCH_CHECK(len <= position_embedding->weight.size(0), "CLIP input has ", len, " tokens; the model takes at most ",
                position_embedding->weight.size(0));
    auto positions = torch::arange(len, torch::TensorOptions().dtype(torch::kLong).device(ids.device()));
    return token_embedding(ids) + position_embedding(positions).unsqueeze(0);
}

ClipEncoderImpl::ClipEncoderImpl(const ClipTextConfig& config) {
    layers = register_module("layers", nn::ModuleList());
    for (std::int64_t i = 0; i < config.layers; ++i) layers->push_back(ClipEncoderLayer(config));
}

ClipTextTransformerImpl::ClipTextTransformerImpl(const ClipTextConfig& config) : layerCount_(config.layers) {
    embeddings = register_module("embeddings", ClipTextEmbeddings(config));
    encoder = register_module("encoder", ClipEncoder(config));
    final_layer_norm = register_module(
        "final_layer_norm", nn::LayerNorm(nn::LayerNormOptions({config.hidden}).eps(config.layerNormEps)));
}

torch::Tensor ClipTextTransformerImpl::forward(const torch::Tensor& ids, int clipSkip) {
    TORCH_CHECK(ids.dim() == 2, "CLIP expects token ids shaped [batch, tokens], got ", ids.sizes());
    TORCH_CHECK(clipSkip >= 1 && clipSkip <= layerCount_, "Clip skip ", clipSkip, " is outside 1..", layerCount_);
    const auto vocab = embeddings->token_embedding->weight.size(0);
    if (ids.numel() > 0) {
        TORCH_CHECK(ids.min().item<std::int64_t>() >= 0 && ids.max().item<std::int64_t>() < vocab,
                    "a CLIP token id lies outside the vocabulary of ", vocab);
    }
    auto h = embeddings(ids.to(torch::kLong));
    const auto mask = causalMask(ids.size(1), h.scalar_type(), h.device());
    // A1111's clip skip n reads hidden_states[-n]: the output after layers - n + 1 layers, so the
    // layers past that point are never run.
    const auto run = layerCount_ - clipSkip + 1;
    for (std::int64_t i = 0; i < run; ++i) {
        h = encoder->layers[static_cast<size_t>(i)]->as<ClipEncoderLayerImpl>()->forward(h, mask);
    }
    return final_layer_norm(h);
}

ClipTextModelImpl::ClipTextModelImpl(const ClipTextConfig& config) : config_(config) {
    text_model = register_module("text_model", ClipTextTransformer(config));
}

torch::Tensor ClipTextModelImpl::forward(const torch::Tensor& ids, int clipSkip) {
    return text_model(ids, clipSkip);
}

Result<torch::Tensor> ClipTextModelImpl::encode(const torch::Tensor& ids, int clipSkip) {
    try {
        return forward(ids, clipSkip);
    } catch (const c10::Error& e) {
        return makeError("The CLIP text encoder failed: " + std::string(e.what_without_backtrace()), "text encoder",
                         "Check that the prompt was tokenized to at most " + std::to_string(config_.maxPositions) +
                             " tokens and that Clip skip lies in 1.." + std::to_string(config_.layers) + ".");
    } catch (const std::exception& e) {
        return makeError("The CLIP text encoder failed: " + std::string(e.what()), "text encoder");
    }
}

}  // namespace kiln::diffusion
