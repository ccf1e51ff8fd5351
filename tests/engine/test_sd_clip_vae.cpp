// The CLIP text encoder and the VAE with tiny configs against their formulas written out here with
// plain torch ops (attention, quick-GELU, encoder layer, ResnetBlock2D, VAE attention, resampling,
// clip skip), the encoder/decoder shapes, tiled decoding against plain decoding, and the LDM key
// mapping: tiny models written out under LDM names by an inverse written independently here, mapped
// back, loaded and run.
#include "diffusion/clip_text_model.h"
#include "diffusion/ldm_keys_clip_vae.h"
#include "diffusion/vae.h"

#include <ATen/CPUGeneratorImpl.h>
#include <QRegularExpression>
#include <QTest>

#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <string>

using namespace kiln::diffusion;

namespace {

double maxDiff(const torch::Tensor& a, const torch::Tensor& b) {
    return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

// Parameters drawn at a larger scale than the default init so every term of a formula shows.
void randomize(torch::nn::Module& m, std::uint64_t seed) {
    torch::NoGradGuard noGrad;
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    for (auto& p : m.parameters()) p.copy_(at::randn(p.sizes(), gen, p.options()) * 0.3);
}

torch::Tensor linear(const torch::nn::Linear& l, const torch::Tensor& x) {
    return torch::matmul(x, l->weight.t()) + l->bias;
}

torch::Tensor conv(const torch::nn::Conv2d& c, const torch::Tensor& x, int stride = 1, int pad = 0) {
    return torch::conv2d(x, c->weight, c->bias, stride, pad);
}

// Group norm spelled out: statistics over each group's channels and pixels, biased variance.
torch::Tensor groupNorm(const torch::nn::GroupNorm& g, const torch::Tensor& x) {
    const auto groups = g->options.num_groups();
    const auto b = x.size(0), c = x.size(1);
    auto v = x.reshape({b, groups, -1});
    auto mean = v.mean(-1, true);
    auto var = (v - mean).pow(2).mean(-1, true);
    auto n = ((v - mean) / torch::sqrt(var + g->options.eps())).reshape(x.sizes());
    return n * g->weight.view({1, c, 1, 1}) + g->bias.view({1, c, 1, 1});
}

torch::Tensor layerNorm(const torch::nn::LayerNorm& l, const torch::Tensor& x) {
    auto mean = x.mean(-1, true);
    auto var = (x - mean).pow(2).mean(-1, true);
    return (x - mean) / torch::sqrt(var + 1e-5) * l->weight + l->bias;
}

torch::Tensor directSilu(const torch::Tensor& x) { return x / (1 + torch::exp(-x)); }

// softmax(Q K^T / sqrt(d) + causal) V per head, the causal part as -inf above the diagonal.
torch::Tensor directClipAttention(ClipAttentionImpl& a, const torch::Tensor& x, std::int64_t heads) {
    const auto len = x.size(1), d = x.size(2) / heads;
    auto q = linear(a.q_proj, x), k = linear(a.k_proj, x), v = linear(a.v_proj, x);
    auto causal = torch::ones({len, len}, torch::kBool).triu(1);
    std::vector<torch::Tensor> outs;
    for (std::int64_t h = 0; h < heads; ++h) {
        auto qh = q.narrow(2, h * d, d), kh = k.narrow(2, h * d, d), vh = v.narrow(2, h * d, d);
        auto scores = torch::bmm(qh, kh.transpose(1, 2)) / std::sqrt(static_cast<double>(d));
        scores = scores.masked_fill(causal, -std::numeric_limits<double>::infinity());
        auto e = torch::exp(scores - std::get<0>(scores.max(-1, true)));
        outs.push_back(torch::bmm(e / e.sum(-1, true), vh));
    }
    return linear(a.out_proj, torch::cat(outs, 2));
}

torch::Tensor directQuickGelu(const torch::Tensor& x) { return x / (1 + torch::exp(-1.702 * x)); }

torch::Tensor directClipLayer(ClipEncoderLayerImpl& l, const torch::Tensor& x, std::int64_t heads) {
    auto h = x + directClipAttention(*l.self_attn, layerNorm(l.layer_norm1, x), heads);
    auto m = linear(l.mlp->fc2, directQuickGelu(linear(l.mlp->fc1, layerNorm(l.layer_norm2, h))));
    return h + m;
}

torch::Tensor directResnet(VaeResnetBlockImpl& r, const torch::Tensor& x) {
    auto h = conv(r.conv1, directSilu(groupNorm(r.norm1, x)), 1, 1);
    h = conv(r.conv2, directSilu(groupNorm(r.norm2, h)), 1, 1);
    return (r.conv_shortcut ? conv(r.conv_shortcut, x) : x) + h;
}

torch::Tensor directVaeAttention(VaeAttentionImpl& a, const torch::Tensor& x) {
    const auto b = x.size(0), c = x.size(1);
    auto t = groupNorm(a.group_norm, x).reshape({b, c, -1}).transpose(1, 2);
    auto q = linear(a.to_q, t), k = linear(a.to_k, t), v = linear(a.to_v, t);
    auto s = torch::bmm(q, k.transpose(1, 2)) / std::sqrt(static_cast<double>(c));
    auto e = torch::exp(s - std::get<0>(s.max(-1, true)));
    auto out = torch::bmm(e / e.sum(-1, true), v);
    auto proj = torch::matmul(out, a.to_out[0]->as<torch::nn::LinearImpl>()->weight.t()) +
                a.to_out[0]->as<torch::nn::LinearImpl>()->bias;
    return x + proj.transpose(1, 2).reshape(x.sizes());
}

// diffusers name -> LDM name, written from the LDM layout independently of the engine's mapping.
std::string toLdmVae(const std::string& name, int levels) {
    QString s = QString::fromStdString(name);
    static const QRegularExpression up(QStringLiteral("^decoder\\.up_blocks\\.(\\d+)\\."));
    auto m = up.match(s);
    if (m.hasMatch()) {
        const int ldm = levels - 1 - m.captured(1).toInt();
        s.replace(up, QStringLiteral("decoder.up.%1.").arg(ldm));
    }
    const std::pair<const char*, const char*> rules[] = {
        {"^encoder\\.down_blocks\\.", "encoder.down."},
        {"\\.resnets\\.(\\d+)\\.conv_shortcut\\.", ".block.\\1.nin_shortcut."},
        {"mid_block\\.resnets\\.0\\.", "mid.block_1."},
        {"mid_block\\.resnets\\.1\\.", "mid.block_2."},
        {"\\.resnets\\.(\\d+)\\.", ".block.\\1."},
        {"\\.downsamplers\\.0\\.conv\\.", ".downsample.conv."},
        {"\\.upsamplers\\.0\\.conv\\.", ".upsample.conv."},
        {"mid_block\\.attentions\\.0\\.group_norm\\.", "mid.attn_1.norm."},
        {"mid_block\\.attentions\\.0\\.to_q\\.", "mid.attn_1.q."},
        {"mid_block\\.attentions\\.0\\.to_k\\.", "mid.attn_1.k."},
        {"mid_block\\.attentions\\.0\\.to_v\\.", "mid.attn_1.v."},
        {"mid_block\\.attentions\\.0\\.to_out\\.0\\.", "mid.attn_1.proj_out."},
        {"\\.conv_norm_out\\.", ".norm_out."},
    };
    for (const auto& [from, to] : rules) {
        s.replace(QRegularExpression(QString::fromLatin1(from)), QString::fromLatin1(to));
    }
    return "first_stage_model." + s.toStdString();
}

std::map<std::string, torch::Tensor> params(torch::nn::Module& m) {
    std::map<std::string, torch::Tensor> out;
    for (const auto& item : m.named_parameters()) out[item.key()] = item.value();
    return out;
}

}  // namespace

class TestSdClipVae : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { torch::manual_seed(1234); }

    void quickGeluIsTheFormula() {
        auto x = torch::linspace(-6, 6, 97, torch::kFloat64);
        QVERIFY(maxDiff(quickGelu(x), directQuickGelu(x)) < 1e-12);
        // Not the erf GELU: they differ by about 0.02 near |x| = 2.
        QVERIFY(maxDiff(quickGelu(x), torch::gelu(x)) > 0.01);
    }

    void clipAttentionMatchesFormula() {
        torch::NoGradGuard noGrad;
        ClipAttention attn(16, 2);
        randomize(*attn, 1);
        auto x = torch::randn({2, 6, 16});
        auto got = attn(x, causalMask(6, torch::kFloat, torch::kCPU));
        QVERIFY2(maxDiff(got, directClipAttention(*attn, x, 2)) < 1e-5, "attention differs from the formula");
        // Causal: token 2's output ignores tokens 3..5.
        auto y = x.clone();
        y.narrow(1, 3, 3).normal_();
        auto got2 = attn(y, causalMask(6, torch::kFloat, torch::kCPU));
        QVERIFY(maxDiff(got.narrow(1, 0, 3), got2.narrow(1, 0, 3)) < 1e-6);
        QVERIFY(maxDiff(got.narrow(1, 3, 3), got2.narrow(1, 3, 3)) > 1e-3);
    }

    void clipLayerAndClipSkip() {
        torch::NoGradGuard noGrad;
        const auto cfg = ClipTextConfig::tiny();
        ClipTextModel clip(cfg);
        randomize(*clip, 2);
        auto ids = torch::randint(0, cfg.vocabSize, {2, cfg.maxPositions}, torch::kLong);
        auto& tm = *clip->text_model;
        auto tokens = tm.embeddings->token_embedding->weight.index_select(0, ids.flatten());
        auto emb = tokens.view({2, cfg.maxPositions, -1}) +
                   tm.embeddings->position_embedding->weight.unsqueeze(0);
        std::vector<torch::Tensor> hidden{emb};  // transformers' hidden_states: embeddings, then each layer
        for (std::int64_t i = 0; i < cfg.layers; ++i) {
            auto* layer = tm.encoder->layers[static_cast<size_t>(i)]->as<ClipEncoderLayerImpl>();
            hidden.push_back(directClipLayer(*layer, hidden.back(), cfg.heads));
        }
        for (int skip = 1; skip <= cfg.layers; ++skip) {
            auto got = clip->encode(ids, skip);
            QVERIFY(got.ok());
            QCOMPARE(got->sizes().vec(), (std::vector<std::int64_t>{2, cfg.maxPositions, cfg.hidden}));
            // A1111: hidden_states[-skip] through final_layer_norm.
            auto want = layerNorm(tm.final_layer_norm, hidden[hidden.size() - static_cast<size_t>(skip)]);
            QVERIFY2(maxDiff(*got, want) < 1e-4, qPrintable(QStringLiteral("clip skip %1").arg(skip)));
        }
        QVERIFY(!clip->encode(ids, 0).ok());
        QVERIFY(!clip->encode(ids, static_cast<int>(cfg.layers) + 1).ok());
        QVERIFY(!clip->encode(torch::full({1, cfg.maxPositions + 1}, 1, torch::kLong)).ok());
        QVERIFY(!clip->encode(torch::full({1, 4}, cfg.vocabSize, torch::kLong)).ok());
        // Shorter inputs take the first positions.
        auto shortIds = ids.narrow(1, 0, 5);
        QVERIFY(maxDiff(*clip->encode(shortIds), clip->encode(ids)->narrow(1, 0, 5)) < 1e-5);
    }

    void sd15ClipHasTheTransformersParameters() {
        ClipTextModel clip(ClipTextConfig::sd15());
        auto p = params(*clip);
        std::int64_t count = 0;
        for (const auto& [name, t] : p) count += t.numel();
        QCOMPARE(count, std::int64_t{123060480});  // transformers' CLIPTextModel for ViT-L/14
        QCOMPARE(p.size(), size_t{2 + 12 * 16 + 2});
        using Shape = std::vector<std::int64_t>;
        QCOMPARE(p.at("text_model.embeddings.token_embedding.weight").sizes().vec(), (Shape{49408, 768}));
        QCOMPARE(p.at("text_model.embeddings.position_embedding.weight").sizes().vec(), (Shape{77, 768}));
        QVERIFY(p.count("text_model.encoder.layers.11.self_attn.out_proj.bias"));
        QCOMPARE(p.at("text_model.encoder.layers.0.mlp.fc1.weight").sizes().vec(), (Shape{3072, 768}));
        QVERIFY(p.count("text_model.final_layer_norm.weight"));
    }

    void resnetBlockMatchesFormula() {
        torch::NoGradGuard noGrad;
        for (auto [in, out] : {std::pair{8, 16}, std::pair{8, 8}}) {
            VaeResnetBlock block(in, out, 4, 1e-6);
            randomize(*block, 3);
            QCOMPARE(static_cast<bool>(block->conv_shortcut), in != out);
            auto x = torch::randn({2, in, 6, 5});
            QVERIFY(maxDiff(block(x), directResnet(*block, x)) < 1e-4);
        }
    }

    void vaeAttentionMatchesFormula() {
        torch::NoGradGuard noGrad;
        VaeAttention attn(16, 4, 1e-6);
        randomize(*attn, 4);
        auto x = torch::randn({2, 16, 5, 3});
        QVERIFY(maxDiff(attn(x), directVaeAttention(*attn, x)) < 1e-4);
    }

    void resamplingPadsAsDiffusers() {
        torch::NoGradGuard noGrad;
        VaeResample down(4, true), up(4, false);
        auto x = torch::randn({1, 4, 8, 7});
        // Zero row below and zero column right, then a 3x3 stride-2 convolution without padding.
        auto padded = torch::zeros({1, 4, 9, 8});
        padded.narrow(2, 0, 8).narrow(3, 0, 7).copy_(x);
        QVERIFY(maxDiff(down(x), conv(down->conv, padded, 2, 0)) < 1e-5);
        QCOMPARE(down(x).sizes().vec(), (std::vector<std::int64_t>{1, 4, 4, 3}));  // 7 + 1 columns -> 3
        auto doubled = x.repeat_interleave(2, 2).repeat_interleave(2, 3);
        QVERIFY(maxDiff(up(x), conv(up->conv, doubled, 1, 1)) < 1e-5);
    }

    void vaeShapesAndSampling() {
        torch::NoGradGuard noGrad;
        const auto cfg = VaeConfig::tiny();
        AutoencoderKL vae(cfg);
        auto image = torch::rand({2, 3, 16, 12}) * 2 - 1;
        auto moments = vae->encodeMoments(image);
        QCOMPARE(moments.sizes().vec(), (std::vector<std::int64_t>{2, 8, 8, 6}));
        auto mean = vae->encodeMean(image);
        QVERIFY(mean.ok());
        QVERIFY(maxDiff(*mean, moments.narrow(1, 0, 4)) == 0.0);
        auto g1 = at::make_generator<at::CPUGeneratorImpl>(7);
        auto g2 = at::make_generator<at::CPUGeneratorImpl>(7);
        auto sample = vae->encodeSample(image, g1);
        QVERIFY(sample.ok());
        auto logvar = moments.narrow(1, 4, 4).clamp(-30, 20);
        auto want = *mean + torch::exp(0.5 * logvar) * at::randn({2, 4, 8, 6}, g2, torch::kFloat);
        QVERIFY(maxDiff(*sample, want) < 1e-6);
        auto decoded = vae->decode(*mean);
        QVERIFY(decoded.ok());
        QCOMPARE(decoded->sizes().vec(), (std::vector<std::int64_t>{2, 3, 16, 12}));
        QVERIFY(!vae->encodeMean(torch::zeros({1, 3, 15, 16})).ok());
        QVERIFY(!vae->decode(torch::zeros({1, 3, 4, 4})).ok());
    }

    void sd15VaeHasTheDiffusersParameters() {
        AutoencoderKL vae(VaeConfig::sd15());
        auto p = params(*vae);
        std::int64_t count = 0;
        for (const auto& [name, t] : p) count += t.numel();
        QCOMPARE(count, std::int64_t{83653863});  // diffusers' AutoencoderKL for SD 1.x
        QVERIFY(p.count("encoder.down_blocks.1.resnets.0.conv_shortcut.weight"));
        QVERIFY(p.count("encoder.down_blocks.2.downsamplers.0.conv.weight"));
        QVERIFY(!p.count("encoder.down_blocks.3.downsamplers.0.conv.weight"));
        QVERIFY(p.count("decoder.up_blocks.0.upsamplers.0.conv.weight"));
        QVERIFY(!p.count("decoder.up_blocks.3.upsamplers.0.conv.weight"));
        QVERIFY(p.count("decoder.up_blocks.3.resnets.2.norm2.bias"));
        QCOMPARE(p.at("decoder.up_blocks.2.resnets.0.conv_shortcut.weight").sizes().vec(),
                 (std::vector<std::int64_t>{256, 512, 1, 1}));
        QCOMPARE(p.at("encoder.mid_block.attentions.0.to_out.0.weight").sizes().vec(),
                 (std::vector<std::int64_t>{512, 512}));
        QCOMPARE(p.at("encoder.conv_out.weight").sizes().vec(), (std::vector<std::int64_t>{8, 512, 3, 3}));
    }

    void tilingAndBlendingAreExactForAPointwiseDecoder() {
        // Tile borders cannot show through a decoder that looks at one latent pixel at a time, so
        // whatever tiles and blends are chosen the result must equal the untiled one.
        auto decodeTile = [](const torch::Tensor& t) {
            return torch::tanh(t.repeat_interleave(4, 2).repeat_interleave(4, 3) * 1.3);
        };
        auto z = torch::randn({2, 3, 21, 30});
        const auto want = decodeTile(z);
        for (auto tiling : {VaeTiling{8, 0.25}, VaeTiling{12, 0.25}, VaeTiling{8, 0.5}}) {
            auto got = tiledDecode(z, 4, tiling, decodeTile);
            QCOMPARE(got.sizes().vec(), want.sizes().vec());
            QVERIFY(maxDiff(got, want) < 1e-6);
        }
    }

    void blendRampsAsDiffusers() {
        // Tile k of a row decodes to the constant k. diffusers' blend_h gives column y of a seam the
        // value (k - 1) * (1 - y / extent) + k * y / extent; past the seam the tile's own k.
        int calls = 0;
        auto decodeTile = [&](const torch::Tensor& t) {
            return torch::full({t.size(0), 1, t.size(2) * 2, t.size(3) * 2}, static_cast<double>(calls++));
        };
        // Latent width 20, tiles of 8 every 6: image tiles of 16 columns, extent 4, kept 12 each;
        // the last tile is only 2 latent columns wide and blends over all its 4.
        auto got = tiledDecode(torch::zeros({1, 1, 3, 20}), 2, {8, 0.25}, decodeTile);
        QCOMPARE(calls, 4);
        QCOMPARE(got.sizes().vec(), (std::vector<std::int64_t>{1, 1, 6, 40}));
        auto want = torch::empty({40}, torch::kFloat64);
        for (int x = 0; x < 40; ++x) {
            const int k = x / 12, y = x % 12;
            want[x] = (k > 0 && y < 4) ? (k - 1) + y / 4.0 : static_cast<double>(k);
        }
        for (int row = 0; row < 6; ++row) QVERIFY(maxDiff(got[0][0][row], want) < 1e-6);
    }

    void tiledDecodeIsCloseToPlainDecode() {
        torch::NoGradGuard noGrad;
        AutoencoderKL vae(VaeConfig::tiny());
        auto z = torch::randn({1, 4, 48, 40});
        auto plain = vae->decode(z);
        QVERIFY(plain.ok());
        // A tile larger than the latent is the plain decode.
        QCOMPARE(maxDiff(*vae->decodeTiled(z, {48, 0.25}), *plain), 0.0);
        // Group norm statistics, attention and zero padding see one tile only, so the two agree only
        // roughly, and better the larger the tiles: the blending hides the tile borders, not the rest.
        const double scale = plain->abs().mean().item<double>();
        double previous = scale;
        for (std::int64_t tile : {12, 24}) {
            auto tiled = vae->decodeTiled(z, {tile, 0.25});
            QVERIFY(tiled.ok());
            QCOMPARE(tiled->sizes().vec(), plain->sizes().vec());
            const double err = (*tiled - *plain).abs().mean().item<double>();
            QVERIFY2(err < previous, qPrintable(QStringLiteral("tile %1: %2 of %3").arg(tile).arg(err).arg(scale)));
            previous = err;
        }
        QVERIFY2(previous < 0.2 * scale, qPrintable(QStringLiteral("%1 of %2").arg(previous).arg(scale)));
    }

    void ldmKeysMapToDiffusers() {
        const std::pair<const char*, const char*> clipPairs[] = {
            {"cond_stage_model.transformer.text_model.encoder.layers.11.mlp.fc2.bias",
             "text_model.encoder.layers.11.mlp.fc2.bias"},
            {"cond_stage_model.transformer.embeddings.token_embedding.weight",
             "text_model.embeddings.token_embedding.weight"},
            {"cond_stage_model.transformer.text_model.final_layer_norm.weight", "text_model.final_layer_norm.weight"},
            {"text_model.encoder.layers.0.self_attn.q_proj.weight",
             "text_model.encoder.layers.0.self_attn.q_proj.weight"},
            {"cond_stage_model.transformer.text_model.embeddings.position_ids", ""},
        };
        for (const auto& [ldm, diffusers] : clipPairs) {
            auto got = ldmToDiffusersClipKey(ldm);
            QVERIFY2(got.ok(), ldm);
            QCOMPARE(*got, std::string(diffusers));
        }
        QVERIFY(!ldmToDiffusersClipKey("model.diffusion_model.input_blocks.0.0.weight").ok());
        QVERIFY(!ldmToDiffusersClipKey("cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight").ok());

        const std::pair<const char*, const char*> vaePairs[] = {
            {"first_stage_model.decoder.up.1.block.0.nin_shortcut.weight",
             "decoder.up_blocks.2.resnets.0.conv_shortcut.weight"},
            {"first_stage_model.decoder.up.3.upsample.conv.bias", "decoder.up_blocks.0.upsamplers.0.conv.bias"},
            {"first_stage_model.encoder.down.1.block.0.nin_shortcut.bias",
             "encoder.down_blocks.1.resnets.0.conv_shortcut.bias"},
            {"first_stage_model.encoder.down.0.downsample.conv.weight",
             "encoder.down_blocks.0.downsamplers.0.conv.weight"},
            {"first_stage_model.encoder.mid.attn_1.proj_out.weight", "encoder.mid_block.attentions.0.to_out.0.weight"},
            {"first_stage_model.decoder.mid.block_2.norm1.weight", "decoder.mid_block.resnets.1.norm1.weight"},
            {"first_stage_model.decoder.norm_out.bias", "decoder.conv_norm_out.bias"},
            {"first_stage_model.post_quant_conv.weight", "post_quant_conv.weight"},
            {"encoder.mid_block.attentions.0.query.weight", "encoder.mid_block.attentions.0.to_q.weight"},
            {"decoder.mid_block.attentions.0.proj_attn.bias", "decoder.mid_block.attentions.0.to_out.0.bias"},
            {"decoder.up_blocks.3.resnets.2.conv2.weight", "decoder.up_blocks.3.resnets.2.conv2.weight"},
        };
        for (const auto& [ldm, diffusers] : vaePairs) {
            auto got = ldmToDiffusersVaeKey(ldm);
            QVERIFY2(got.ok(), ldm);
            QCOMPARE(*got, std::string(diffusers));
        }
        QVERIFY(!ldmToDiffusersVaeKey("first_stage_model.encoder.down.4.block.0.conv1.weight").ok());
        QVERIFY(!ldmToDiffusersVaeKey("first_stage_model.encoder.up.0.block.0.conv1.weight").ok());
        QVERIFY(!ldmToDiffusersVaeKey("first_stage_model.loss.logvar").ok());
        QVERIFY(!ldmToDiffusersVaeKey("model.diffusion_model.out.0.weight").ok());
        QVERIFY(isVaeAttentionProjection("decoder.mid_block.attentions.0.to_out.0.weight"));
        QVERIFY(!isVaeAttentionProjection("decoder.mid_block.attentions.0.to_out.0.bias"));
        QVERIFY(!isVaeAttentionProjection("decoder.mid_block.attentions.0.group_norm.weight"));
    }

    void tinyModelsRoundTripThroughLdmNames() {
        torch::NoGradGuard noGrad;
        const auto vcfg = VaeConfig::tiny();
        const int levels = static_cast<int>(vcfg.blockOutChannels.size());
        AutoencoderKL vae(vcfg), vae2(vcfg);
        ClipTextModel clip(ClipTextConfig::tiny()), clip2(ClipTextConfig::tiny());
        randomize(*vae, 5);
        randomize(*clip, 6);

        // Write the state under LDM names, attention projections as 1x1 convs as LDM stores them.
        std::map<std::string, torch::Tensor> ldm;
        for (const auto& [name, t] : params(*vae)) {
            const bool projection = name.find("attentions.0.to_") != std::string::npos && name.ends_with("weight");
            ldm[toLdmVae(name, levels)] = projection ? t.clone().view({t.size(0), t.size(1), 1, 1}) : t.clone();
        }
        for (const auto& [name, t] : params(*clip)) ldm["cond_stage_model.transformer." + name] = t.clone();
        ldm["cond_stage_model.transformer.text_model.embeddings.position_ids"] = torch::arange(8).unsqueeze(0);
        QVERIFY(ldm.count("first_stage_model.decoder.up.0.block.0.nin_shortcut.weight"));  // up.0 is the last level
        QVERIFY(ldm.count("first_stage_model.encoder.mid.attn_1.q.weight"));

        // Map back and load: every key must land on a distinct parameter and every parameter be hit.
        auto vp = params(*vae2), cp = params(*clip2);
        std::set<std::string> hit;
        for (const auto& [key, t] : ldm) {
            const bool isVae = key.starts_with("first_stage_model.");
            auto mapped = isVae ? ldmToDiffusersVaeKey(key, levels) : ldmToDiffusersClipKey(key);
            QVERIFY2(mapped.ok(), key.c_str());
            if (mapped->empty()) continue;
            QVERIFY2(hit.insert(*mapped).second, mapped->c_str());
            auto& target = isVae ? vp : cp;
            QVERIFY2(target.count(*mapped), mapped->c_str());
            auto value = isVae ? adaptLdmVaeTensor(*mapped, t) : t;
            QCOMPARE(value.sizes().vec(), target.at(*mapped).sizes().vec());
            target.at(*mapped).copy_(value);
        }
        QCOMPARE(hit.size(), vp.size() + cp.size());

        auto z = torch::randn({1, 4, 6, 6});
        QCOMPARE(maxDiff(*vae2->decode(z), *vae->decode(z)), 0.0);
        auto image = torch::rand({1, 3, 8, 8});
        QCOMPARE(maxDiff(*vae2->encodeMean(image), *vae->encodeMean(image)), 0.0);
        auto ids = torch::randint(0, 64, {1, 8}, torch::kLong);
        QCOMPARE(maxDiff(*clip2->encode(ids, 2), *clip->encode(ids, 2)), 0.0);
    }
};

QTEST_GUILESS_MAIN(TestSdClipVae)
#include "test_sd_clip_vae.moc"
