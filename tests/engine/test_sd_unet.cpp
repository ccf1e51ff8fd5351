// The SD 1.x UNet's blocks against their formulas written out here with plain torch ops (group norm,
// SiLU, softmax attention, GEGLU, the sinusoidal timestep embedding), sliced attention against
// unsliced, forward shapes on tiny configs (odd latent sizes included), and the single-file (LDM) key
// mapping against the module's own names and a hand-written list of known pairs.
#include "diffusion/ldm_keys_unet.h"
#include "diffusion/unet.h"
#include "diffusion/unet_load.h"
#include "io/safetensors_torch.h"

#include <QTemporaryDir>
#include <QTest>

#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

using namespace kiln::diffusion;

namespace {

double maxDiff(const torch::Tensor& a, const torch::Tensor& b)
{
    return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

// Norm weights of 1 and biases of 0 would hide a swapped or missing affine term.
void randomize(torch::nn::Module& m, int64_t seed)
{
    torch::NoGradGuard noGrad;
    torch::manual_seed(static_cast<uint64_t>(seed));
    for (auto& p : m.parameters())
        p.uniform_(-0.5, 0.5);
}

torch::Tensor refSilu(const torch::Tensor& x) { return x * torch::sigmoid(x); }

torch::Tensor refGroupNorm(const torch::Tensor& x, int64_t groups, const torch::Tensor& w, const torch::Tensor& b,
    double eps)
{
    const auto n = x.size(0), c = x.size(1);
    auto g = x.reshape({n, groups, -1});
    auto mean = g.mean(-1, true);
    auto var = (g - mean).pow(2).mean(-1, true);
    auto y = ((g - mean) / (var + eps).sqrt()).reshape(x.sizes());
    return y * w.reshape({1, c, 1, 1}) + b.reshape({1, c, 1, 1});
}

torch::Tensor refLinear(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b = {})
{
    auto y = torch::matmul(x, w.t());
    return b.defined() ? y + b : y;
}

torch::Tensor exactGelu(const torch::Tensor& x) { return 0.5 * x * (1 + torch::erf(x / std::sqrt(2.0))); }

torch::Tensor refLayerNorm(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b)
{
    auto mean = x.mean(-1, true);
    auto var = (x - mean).pow(2).mean(-1, true);
    return (x - mean) / (var + 1e-5).sqrt() * w + b;
}

// softmax(Q K^T / sqrt(d)) V per head, heads side by side, then to_out.0.
torch::Tensor refAttention(AttentionImpl& attn, const torch::Tensor& x, const torch::Tensor& ctx)
{
    const int64_t heads = attn.heads(), headDim = attn.to_q->weight.size(0) / heads;
    auto q = refLinear(x, attn.to_q->weight), k = refLinear(ctx, attn.to_k->weight);
    auto v = refLinear(ctx, attn.to_v->weight);
    std::vector<torch::Tensor> perHead;
    for (int64_t h = 0; h < heads; ++h) {
        auto qh = q.narrow(2, h * headDim, headDim), kh = k.narrow(2, h * headDim, headDim);
        auto vh = v.narrow(2, h * headDim, headDim);
        auto scores = torch::matmul(qh, kh.transpose(1, 2)) / std::sqrt(static_cast<double>(headDim));
        perHead.push_back(torch::matmul(torch::softmax(scores, -1), vh));
    }
    auto* out = attn.to_out[0]->as<torch::nn::LinearImpl>();
    return refLinear(torch::cat(perHead, 2), out->weight, out->bias);
}

std::set<std::string> moduleNames(torch::nn::Module& m)
{
    std::set<std::string> names;
    for (const auto& item : m.named_parameters())
        names.insert(item.key());
    return names;
}

// The SD 1.x layout (4 levels, 2 layers, the same block types) at widths that build in milliseconds.
UNetConfig sdShaped()
{
    auto c = UNetConfig::sd15();
    c.blockOutChannels = {32, 32, 64, 64};
    c.normGroups = 8;
    c.crossAttentionDim = 32;
    return c;
}

}  // namespace

class TestSdUnet : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { torch::set_num_threads(2); }

    void timestepEmbeddingMatchesFormula()
    {
        const std::vector<double> ts = {0.0, 1.0, 500.5, 999.0};
        for (int64_t dim : {8, 320, 7}) {
            auto emb = timestepEmbedding(torch::tensor(ts), dim);
            QCOMPARE(emb.size(0), 4);
            QCOMPARE(emb.size(1), dim);
            const int64_t half = dim / 2;
            for (size_t r = 0; r < ts.size(); ++r) {
                for (int64_t i = 0; i < half; ++i) {
                    const double f = std::exp(-std::log(10000.0) * static_cast<double>(i) / static_cast<double>(half));
                    const auto row = static_cast<int64_t>(r);
                    QVERIFY(std::abs(emb[row][i].item<double>() - std::cos(ts[r] * f)) < 2e-4);
                    QVERIFY(std::abs(emb[row][half + i].item<double>() - std::sin(ts[r] * f)) < 2e-4);
                }
                if (dim % 2 == 1)
                    QCOMPARE(emb[static_cast<int64_t>(r)][dim - 1].item<double>(), 0.0);
            }
        }
    }

    void resnetBlockMatchesFormula()
    {
        for (auto [in, out] : {std::pair<int64_t, int64_t>{8, 16}, {16, 16}}) {
            ResnetBlock2D block(in, out, 12, 4, 1e-5);
            randomize(*block, in + out);
            auto x = torch::randn({2, in, 5, 7});
            auto temb = torch::randn({2, 12});
            torch::NoGradGuard noGrad;
            auto got = block(x, temb);

            auto h = refGroupNorm(x, 4, block->norm1->weight, block->norm1->bias, 1e-5);
            h = torch::conv2d(refSilu(h), block->conv1->weight, block->conv1->bias, 1, 1);
            auto tproj = refLinear(refSilu(temb), block->time_emb_proj->weight, block->time_emb_proj->bias);
            h = h + tproj.reshape({2, out, 1, 1});
            h = refGroupNorm(h, 4, block->norm2->weight, block->norm2->bias, 1e-5);
            h = torch::conv2d(refSilu(h), block->conv2->weight, block->conv2->bias, 1, 1);
            auto shortcut = in == out ? x : torch::conv2d(x, block->conv_shortcut->weight, block->conv_shortcut->bias);
            QCOMPARE(static_cast<bool>(block->conv_shortcut), in != out);
            QVERIFY2(maxDiff(got, shortcut + h) < 1e-5, std::to_string(maxDiff(got, shortcut + h)).c_str());
        }
    }

    void attentionMatchesFormula()
    {
        const int64_t heads = 2, headDim = 8, dim = 16, ctxDim = 12;
        for (bool cross : {true, false}) {
            Attention attn(dim, cross ? ctxDim : dim, heads, headDim);
            randomize(*attn, cross ? 3 : 4);
            auto x = torch::randn({2, 5, dim});
            auto ctx = cross ? torch::randn({2, 7, ctxDim}) : x;
            torch::NoGradGuard noGrad;
            auto got = cross ? attn(x, ctx) : attn(x);

            auto want = refAttention(*attn, x, ctx);
            QVERIFY2(maxDiff(got, want) < 1e-5, std::to_string(maxDiff(got, want)).c_str());
        }
    }

    void transformer2DMatchesFormula()
    {
        Transformer2DModel t(16, 2, 12, 4);
        randomize(*t, 7);
        auto x = torch::randn({2, 16, 3, 5});
        auto ctx = torch::randn({2, 7, 12});
        torch::NoGradGuard noGrad;
        auto got = t(x, ctx);

        auto* blk = t->transformer_blocks[0]->as<BasicTransformerBlockImpl>();
        auto h = refGroupNorm(x, 4, t->norm->weight, t->norm->bias, 1e-6);  // diffusers' fixed 1e-6 here
        h = torch::conv2d(h, t->proj_in->weight, t->proj_in->bias);
        auto tok = h.flatten(2).transpose(1, 2);  // [B, H*W, C], row-major over (h, w)
        auto n1 = refLayerNorm(tok, blk->norm1->weight, blk->norm1->bias);
        tok = refAttention(*blk->attn1, n1, n1) + tok;
        tok = refAttention(*blk->attn2, refLayerNorm(tok, blk->norm2->weight, blk->norm2->bias), ctx) + tok;
        auto* g = blk->ff->net[0]->as<GEGLUImpl>();
        auto* o = blk->ff->net[2]->as<torch::nn::LinearImpl>();
        auto y = refLinear(refLayerNorm(tok, blk->norm3->weight, blk->norm3->bias), g->proj->weight, g->proj->bias);
        const auto inner = y.size(-1) / 2;
        tok = refLinear(y.narrow(-1, 0, inner) * exactGelu(y.narrow(-1, inner, inner)), o->weight, o->bias) + tok;
        h = tok.transpose(1, 2).reshape({2, 16, 3, 5});
        auto want = torch::conv2d(h, t->proj_out->weight, t->proj_out->bias) + x;
        QVERIFY2(maxDiff(got, want) < 1e-5, std::to_string(maxDiff(got, want)).c_str());
    }

    void gegluMatchesFormula()
    {
        GEGLU geglu(6, 10);
        randomize(*geglu, 5);
        auto x = torch::randn({3, 4, 6});
        torch::NoGradGuard noGrad;
        auto y = refLinear(x, geglu->proj->weight, geglu->proj->bias);
        auto want = y.narrow(-1, 0, 10) * exactGelu(y.narrow(-1, 10, 10));
        QVERIFY(maxDiff(geglu(x), want) < 1e-6);

        // FeedForward is net.2(GEGLU(x)) with the 4x inner width.
        FeedForward ff(6);
        randomize(*ff, 6);
        auto* g = ff->net[0]->as<GEGLUImpl>();
        auto* out = ff->net[2]->as<torch::nn::LinearImpl>();
        QCOMPARE(g->proj->weight.size(0), 48);
        QVERIFY(maxDiff(ff(x), refLinear(g->forward(x), out->weight, out->bias)) < 1e-6);
    }

    void slicedAttentionEqualsUnsliced()
    {
        auto q = torch::randn({6, 37, 8}), k = torch::randn({6, 29, 8}), v = torch::randn({6, 29, 5});
        auto full = slicedAttention(q, k, v, 0.35, AttentionSlicing::none());
        for (auto s : {AttentionSlicing{4, 10, 0}, AttentionSlicing{1, 1, 0}, AttentionSlicing{0, 0, 1000},
                 AttentionSlicing{0, 0, 1}, AttentionSlicing{0, 5, 0}}) {
            auto sliced = slicedAttention(q, k, v, 0.35, s);
            QCOMPARE(sliced.sizes(), full.sizes());
            QVERIFY2(maxDiff(sliced, full) < 1e-6, std::to_string(maxDiff(sliced, full)).c_str());
        }

        auto unet = createUNet(UNetConfig::tiny());
        QVERIFY(unet.ok());
        auto latent = torch::randn({2, 4, 12, 10});
        auto ctx = torch::randn({2, 77, 32});
        torch::NoGradGuard noGrad;
        (*unet)->setAttentionSlicing(AttentionSlicing::none());
        auto a = (*unet)->forward(latent, torch::tensor({10.0, 700.0}), ctx);
        (*unet)->setAttentionSlicing({1, 7, 0});
        auto b = (*unet)->forward(latent, torch::tensor({10.0, 700.0}), ctx);
        QVERIFY2(maxDiff(a, b) < 1e-5, std::to_string(maxDiff(a, b)).c_str());
    }

    void forwardShapes()
    {
        auto threeLevels = UNetConfig::tiny();
        threeLevels.blockOutChannels = {16, 32, 32};
        threeLevels.downBlockTypes = {"CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"};
        threeLevels.upBlockTypes = {"UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"};
        struct Case {
            UNetConfig config;
            int64_t h, w;
        };
        const std::vector<Case> cases = {{UNetConfig::tiny(4), 40, 48}, {UNetConfig::tiny(9), 24, 16},
            {UNetConfig::tiny(4), 9, 11}, {UNetConfig::tiny(9), 1, 1}, {threeLevels, 13, 7}, {threeLevels, 16, 24}};
        torch::NoGradGuard noGrad;
        for (const auto& c : cases) {
            auto unet = createUNet(c.config);
            QVERIFY(unet.ok());
            auto latent = torch::randn({2, c.config.inChannels, c.h, c.w});
            auto ctx = torch::randn({2, 77, c.config.crossAttentionDim});
            auto eps = predictNoise(*unet, latent, torch::tensor({999.0, 1.0}), ctx);
            QVERIFY2(eps.ok(), eps.ok() ? "" : eps.error().message().c_str());
            QCOMPARE(eps->sizes().vec(), (std::vector<int64_t>{2, 4, c.h, c.w}));
            QVERIFY(torch::isfinite(*eps).all().item<bool>());
        }

        // One timestep for the whole batch equals that timestep per item.
        auto unet = createUNet(UNetConfig::tiny());
        QVERIFY(unet.ok());
        auto latent = torch::randn({2, 4, 8, 8});
        auto ctx = torch::randn({2, 77, 32});
        auto one = (*unet)->forward(latent, torch::tensor(250.0), ctx);
        auto each = (*unet)->forward(latent, torch::tensor({250.0, 250.0}), ctx);
        QVERIFY(maxDiff(one, each) == 0.0);

        // Wrong inputs come back as Errors, not exceptions.
        auto bad = predictNoise(*unet, torch::randn({2, 3, 8, 8}), torch::tensor(1.0), ctx);
        QVERIFY(!bad.ok());
        QVERIFY(!predictNoise(*unet, latent, torch::tensor({1.0, 2.0, 3.0}), ctx).ok());
    }

    // The skip wiring of the tiny UNet spelled out in diffusers' order, block by block.
    void forwardWiringMatchesDiffusersOrder()
    {
        auto unet = createUNet(UNetConfig::tiny());
        QVERIFY(unet.ok());
        auto& u = **unet;
        randomize(u, 8);
        auto latent = torch::randn({2, 4, 7, 9});
        auto ctx = torch::randn({2, 77, 32});
        auto t = torch::tensor({3.0, 801.0});
        torch::NoGradGuard noGrad;
        auto got = u.forward(latent, t, ctx);

        auto res = [](torch::nn::ModuleList& l, size_t i) { return l[i]->as<ResnetBlock2DImpl>(); };
        auto att = [](torch::nn::ModuleList& l, size_t i) { return l[i]->as<Transformer2DModelImpl>(); };
        auto* d0 = u.down_blocks[0]->as<DownBlockImpl>();
        auto* d1 = u.down_blocks[1]->as<DownBlockImpl>();
        auto* u0 = u.up_blocks[0]->as<UpBlockImpl>();
        auto* u1 = u.up_blocks[1]->as<UpBlockImpl>();
        QCOMPARE(d1->attentions->size(), size_t{0});
        QCOMPARE(u0->attentions->size(), size_t{0});
        QCOMPARE(u1->upsamplers->size(), size_t{0});

        auto temb = u.time_embedding(timestepEmbedding(t, 32));
        auto s0 = u.conv_in(latent);
        auto s1 = att(d0->attentions, 0)->forward(res(d0->resnets, 0)->forward(s0, temb), ctx);
        auto s2 = d0->downsamplers[0]->as<Downsample2DImpl>()->forward(s1);  // 4x5
        auto s3 = res(d1->resnets, 0)->forward(s2, temb);
        auto x = u.mid_block(s3, temb, ctx);
        x = res(u0->resnets, 0)->forward(torch::cat({x, s3}, 1), temb);
        x = res(u0->resnets, 1)->forward(torch::cat({x, s2}, 1), temb);
        x = u0->upsamplers[0]->as<Upsample2DImpl>()->forward(x, std::vector<int64_t>{7, 9});
        x = att(u1->attentions, 0)->forward(res(u1->resnets, 0)->forward(torch::cat({x, s1}, 1), temb), ctx);
        x = att(u1->attentions, 1)->forward(res(u1->resnets, 1)->forward(torch::cat({x, s0}, 1), temb), ctx);
        auto want = u.conv_out(torch::silu(u.conv_norm_out(x)));
        QVERIFY2(maxDiff(got, want) < 1e-6, std::to_string(maxDiff(got, want)).c_str());

        // Nearest upsampling to an explicit even size is the same as a plain 2x.
        auto small = torch::randn({1, 64, 4, 5});
        auto* up = u0->upsamplers[0]->as<Upsample2DImpl>();
        QVERIFY(maxDiff(up->forward(small), up->forward(small, std::vector<int64_t>{8, 10})) == 0.0);
    }

    // Weights written in both layouts (the LDM file in fp16 with foreign keys around it) load back
    // through the public loader with a report of what did not fit.
    void loadWeightsFromBothLayouts()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        auto source = createUNet(UNetConfig::tiny());
        QVERIFY(source.ok());
        randomize(**source, 9);
        auto keys = ldmToDiffusersUnetKeys(UNetConfig::tiny());
        QVERIFY(keys.ok());

        kiln::io::NamedTensors ldm, diffusers;
        for (const auto& item : (*source)->named_parameters()) {
            ldm.emplace_back(keys->at(item.key()), item.value().detach().to(torch::kHalf));
            if (item.key() != "conv_out.bias")
                diffusers.emplace_back(item.key(), item.value().detach().clone());
        }
        ldm.emplace_back("first_stage_model.decoder.conv_in.weight", torch::zeros({2, 2}));
        ldm.emplace_back(std::string(kLdmUnetPrefix) + "label_emb.0.0.weight", torch::zeros({2, 2}));
        const auto ldmPath = dir.filePath("single.safetensors").toStdString();
        const auto diffusersPath = dir.filePath("unet.safetensors").toStdString();
        QVERIFY(kiln::io::saveSafetensors(ldmPath, ldm).ok());
        QVERIFY(kiln::io::saveSafetensors(diffusersPath, diffusers).ok());

        auto ldmFile = kiln::io::SafetensorsFile::open(ldmPath);
        QVERIFY(ldmFile.ok());
        QCOMPARE(*detectUNetLayout(*ldmFile), UNetLayout::Ldm);
        QCOMPARE(detectUNetConfig(*ldmFile)->inChannels, int64_t{4});
        auto target = createUNet(UNetConfig::tiny());
        QVERIFY(target.ok());
        auto report = loadUNetWeights(*target, *ldmFile);
        QVERIFY2(report.ok(), report.ok() ? "" : report.error().message().c_str());
        QVERIFY(report->complete());
        QCOMPARE(report->applied, keys->size());
        QCOMPARE(report->unused, (std::vector<std::string>{std::string(kLdmUnetPrefix) + "label_emb.0.0.weight"}));
        auto want = (*source)->named_parameters();
        for (const auto& item : (*target)->named_parameters())
            QVERIFY(torch::equal(item.value(), want[item.key()].to(torch::kHalf).to(torch::kFloat)));

        auto diffusersFile = kiln::io::SafetensorsFile::open(diffusersPath);
        QVERIFY(diffusersFile.ok());
        QCOMPARE(*detectUNetLayout(*diffusersFile), UNetLayout::Diffusers);
        report = loadUNetWeights(*target, *diffusersFile);
        QVERIFY(report.ok());
        QCOMPARE(report->missing, (std::vector<std::string>{"conv_out.bias"}));
        QVERIFY(torch::equal((*target)->conv_in->weight, (*source)->conv_in->weight));

        // An inpainting model cannot take a 4-channel conv_in: reported, the rest still loads.
        auto inpaint = createUNet(UNetConfig::tiny(9));
        QVERIFY(inpaint.ok());
        report = loadUNetWeights(*inpaint, *diffusersFile);
        QVERIFY(report.ok());
        QCOMPARE(report->mismatched.size(), size_t{1});
        QVERIFY(report->mismatched[0].rfind("conv_in.weight", 0) == 0);

        auto notUnet = dir.filePath("other.safetensors").toStdString();
        QVERIFY(kiln::io::saveSafetensors(notUnet, {{"weight", torch::zeros({1})}}).ok());
        auto other = kiln::io::SafetensorsFile::open(notUnet);
        QVERIFY(other.ok());
        QVERIFY(!loadUNetWeights(*target, *other).ok());
    }

    // Weights held in fp16 or bf16 compute in the latent's float32 and give what a float32 model with
    // the same (rounded) weights gives.
    void halfStorageComputesInFloat32()
    {
        auto latent = torch::randn({2, 4, 9, 6});
        auto ctx = torch::randn({2, 77, 32});
        auto t = torch::tensor({20.0, 640.0});
        for (auto storage : {torch::kHalf, torch::kBFloat16}) {
            auto reference = createUNet(UNetConfig::tiny());
            QVERIFY(reference.ok());
            randomize(**reference, 10);
            auto stored = createUNet(UNetConfig::tiny());
            QVERIFY(stored.ok());
            (*stored)->to(storage);
            {
                torch::NoGradGuard noGrad;
                auto src = (*reference)->named_parameters();
                for (auto& item : (*stored)->named_parameters()) {
                    item.value().copy_(src[item.key()]);
                    src[item.key()].copy_(item.value().to(torch::kFloat));
                }
            }
            QCOMPARE((*stored)->conv_in->weight.scalar_type(), storage);
            torch::NoGradGuard noGrad;
            auto got = (*stored)->forward(latent, t, ctx);
            QCOMPARE(got.scalar_type(), torch::kFloat);
            auto want = (*reference)->forward(latent, t, ctx);
            QVERIFY2(maxDiff(got, want) < 1e-6, std::to_string(maxDiff(got, want)).c_str());
        }
    }

    void invalidConfigs()
    {
        auto c = UNetConfig::tiny();
        c.upBlockTypes.pop_back();
        QVERIFY(!createUNet(c).ok());
        c = UNetConfig::tiny();
        c.downBlockTypes[0] = "SimpleCrossAttnDownBlock2D";
        QVERIFY(!createUNet(c).ok());
        QVERIFY(!ldmToDiffusersUnetKeys(c).ok());
        c = UNetConfig::tiny();
        c.blockOutChannels[0] = 36;  // not a multiple of 8 groups
        QVERIFY(!createUNet(c).ok());
    }

    void inChannelsFromConvIn()
    {
        QCOMPARE(*unetInChannelsFromConvIn({320, 4, 3, 3}), int64_t{4});
        QCOMPARE(*unetInChannelsFromConvIn({320, 9, 3, 3}), int64_t{9});
        QVERIFY(!unetInChannelsFromConvIn({320, 8, 3, 3}).ok());
        QVERIFY(!unetInChannelsFromConvIn({320, 4}).ok());
    }

    void keyMappingCoversModuleBijectively()
    {
        for (const auto& config : {UNetConfig::tiny(4), UNetConfig::tiny(9), sdShaped()}) {
            auto unet = createUNet(config);
            QVERIFY(unet.ok());
            const auto names = moduleNames(**unet);
            auto map = ldmToDiffusersUnetKeys(config);
            QVERIFY(map.ok());
            std::set<std::string> keys, ldm;
            for (const auto& [name, ldmName] : *map) {
                keys.insert(name);
                ldm.insert(ldmName);
                QVERIFY2(ldmName.rfind(kLdmUnetPrefix, 0) == 0, ldmName.c_str());
            }
            QCOMPARE(keys, names);
            QCOMPARE(ldm.size(), map->size());
            auto listed = unetParameterNames(config);
            QVERIFY(listed.ok());
            QCOMPARE(std::set<std::string>(listed->begin(), listed->end()), names);
        }
    }

    void keyMappingKnownPairsSd15()
    {
        auto map = ldmToDiffusersUnetKeys(UNetConfig::sd15());
        QVERIFY(map.ok());
        QCOMPARE(map->size(), size_t{686});  // the SD 1.5 UNet's tensor count in either layout
        const std::vector<std::pair<std::string, std::string>> known = {
            {"conv_in.weight", "input_blocks.0.0.weight"},
            {"time_embedding.linear_1.weight", "time_embed.0.weight"},
            {"time_embedding.linear_2.bias", "time_embed.2.bias"},
            {"down_blocks.0.resnets.0.conv1.weight", "input_blocks.1.0.in_layers.2.weight"},
            {"down_blocks.0.resnets.0.norm1.bias", "input_blocks.1.0.in_layers.0.bias"},
            {"down_blocks.0.attentions.1.transformer_blocks.0.attn2.to_k.weight",
                "input_blocks.2.1.transformer_blocks.0.attn2.to_k.weight"},
            {"down_blocks.0.downsamplers.0.conv.weight", "input_blocks.3.0.op.weight"},
            {"down_blocks.1.resnets.0.conv_shortcut.weight", "input_blocks.4.0.skip_connection.weight"},
            {"down_blocks.1.attentions.0.proj_in.weight", "input_blocks.4.1.proj_in.weight"},
            {"down_blocks.2.downsamplers.0.conv.bias", "input_blocks.9.0.op.bias"},
            {"down_blocks.3.resnets.1.time_emb_proj.bias", "input_blocks.11.0.emb_layers.1.bias"},
            {"mid_block.resnets.0.conv2.weight", "middle_block.0.out_layers.3.weight"},
            {"mid_block.attentions.0.proj_in.weight", "middle_block.1.proj_in.weight"},
            {"mid_block.resnets.1.norm2.weight", "middle_block.2.out_layers.0.weight"},
            {"up_blocks.0.resnets.0.conv_shortcut.weight", "output_blocks.0.0.skip_connection.weight"},
            {"up_blocks.0.upsamplers.0.conv.weight", "output_blocks.2.1.conv.weight"},
            {"up_blocks.1.attentions.2.proj_out.bias", "output_blocks.5.1.proj_out.bias"},
            {"up_blocks.1.upsamplers.0.conv.weight", "output_blocks.5.2.conv.weight"},
            {"up_blocks.2.upsamplers.0.conv.bias", "output_blocks.8.2.conv.bias"},
            {"up_blocks.3.resnets.2.conv_shortcut.weight", "output_blocks.11.0.skip_connection.weight"},
            {"up_blocks.3.attentions.2.transformer_blocks.0.ff.net.0.proj.weight",
                "output_blocks.11.1.transformer_blocks.0.ff.net.0.proj.weight"},
            {"up_blocks.3.attentions.2.transformer_blocks.0.attn1.to_out.0.bias",
                "output_blocks.11.1.transformer_blocks.0.attn1.to_out.0.bias"},
            {"conv_norm_out.weight", "out.0.weight"},
            {"conv_out.bias", "out.2.bias"},
        };
        for (const auto& [name, ldm] : known) {
            auto it = map->find(name);
            QVERIFY2(it != map->end(), name.c_str());
            QCOMPARE(it->second, std::string(kLdmUnetPrefix) + ldm);
        }
        // Same-width resnets have no shortcut, and no block past the last has an upsampler.
        QVERIFY(!map->count("down_blocks.0.resnets.0.conv_shortcut.weight"));
        QVERIFY(!map->count("mid_block.resnets.0.conv_shortcut.weight"));
        QVERIFY(!map->count("up_blocks.3.upsamplers.0.conv.weight"));
        QVERIFY(!map->count("down_blocks.3.downsamplers.0.conv.weight"));

        auto inpaint = ldmToDiffusersUnetKeys(UNetConfig::sd15(9));
        QVERIFY(inpaint.ok());
        QCOMPARE(inpaint->size(), map->size());
    }
};

QTEST_GUILESS_MAIN(TestSdUnet)
#include "test_sd_unet.moc"
