// loadStableDiffusion and txt2img with tiny seeded models written in both layouts people have on disk: a single
// .safetensors file with LDM keys and a diffusers folder. Both must load to the same weights (checked against
// the modules that wrote them) and give bit-equal images.
#include "diffusion/ldm_keys_clip_vae.h"
#include "diffusion/ldm_keys_unet.h"
#include "diffusion/model_loader.h"
#include "diffusion/samplers.h"
#include "diffusion/schedule.h"
#include "diffusion/txt2img.h"
#include "io/safetensors_torch.h"
#include "sd_test_models.h"

#include <ATen/CPUGeneratorImpl.h>
#include <QTemporaryDir>
#include <QTest>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using namespace kiln::diffusion;
namespace fs = std::filesystem;

namespace {

using namespace kiln::sdtest;

bool sameParameters(torch::nn::Module& a, torch::nn::Module& b)
{
    auto pa = a.named_parameters(true);
    auto pb = b.named_parameters(true);
    if (pa.size() != pb.size()) return false;
    for (auto& item : pa) {
        auto* other = pb.find(item.key());
        if (!other || !torch::equal(item.value(), *other)) return false;
    }
    return true;
}

}  // namespace

class TestSdPipeline : public QObject {
    Q_OBJECT

private:
    QTemporaryDir dir_;
    fs::path root_, folder_, single_, tokenizer_;
    ClipTextModel clip_{nullptr};
    UNet2DConditionModel unet_{nullptr};
    AutoencoderKL vae_{nullptr};

    StableDiffusionModel load(const fs::path& path)
    {
        LoadOptions options;
        options.tokenizerDir = tokenizer_.string();
        auto model = loadStableDiffusion(path.string(), options);
        if (!model) qFatal("load failed: %s", model.error().message().c_str());
        return std::move(*model);
    }

    static GenerateRequest request(std::uint64_t seed)
    {
        GenerateRequest r;
        r.prompt = "a (bc:1.3), aa BREAK [c]";  // two chunks and weights other than 1
        r.negative = "b";
        r.steps = 3;
        r.cfg = 5.0;
        r.seed = seed;
        r.sampler = "Euler a";
        r.width = 64;
        r.height = 64;
        return r;
    }

    static torch::Tensor generate(const StableDiffusionModel& model, const GenerateRequest& r)
    {
        auto out = txt2img(model, r);
        if (!out) qFatal("txt2img failed: %s", out.error().message().c_str());
        return out->images;
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(dir_.isValid());
        root_ = fs::path(dir_.path().toStdString());
        folder_ = root_ / "diffusers";
        single_ = root_ / "single.safetensors";
        tokenizer_ = folder_ / "tokenizer";

        auto tiny = makeTinySd(1234);
        QVERIFY(tiny.ok());
        clip_ = tiny->clip;
        unet_ = tiny->unet;
        vae_ = tiny->vae;
        QVERIFY(writeTinySdDiffusers(folder_, *tiny).ok());

        // single file with LDM keys
        auto ldm = sdSingleFileTensors(clip_, unet_, vae_);
        QVERIFY2(ldm.ok(), ldm.ok() ? "" : ldm.error().message().c_str());
        QVERIFY(kiln::io::saveSafetensors(single_.string(), *ldm).ok());

        // The same as torch.save({"state_dict": sd}) writes it, as CompVis and A1111 .ckpt files hold it.
        c10::Dict<std::string, at::Tensor> sd;
        for (auto& [name, t] : *ldm) sd.insert(name, t);
        c10::Dict<std::string, c10::Dict<std::string, at::Tensor>> top;
        top.insert("state_dict", sd);
        const std::vector<char> bytes = torch::pickle_save(top);
        std::ofstream((root_ / "model.ckpt").string(), std::ios::binary).write(bytes.data(),
                                                                               static_cast<std::streamsize>(bytes.size()));
    }

    void loadsBothLayoutsToTheWrittenWeights()
    {
        for (const fs::path& path : {single_, folder_}) {
            StableDiffusionModel m = load(path);
            const LoadReport& r = m.report;
            QCOMPARE(r.variant, std::string("SD 1.x"));
            QCOMPARE(r.dtype, std::string("F32"));
            QVERIFY2(r.missing.empty(), r.missing.empty() ? "" : r.missing.front().c_str());
            QVERIFY(r.mismatched.empty());
            QVERIFY2(r.unused.empty(), r.unused.empty() ? "" : r.unused.front().c_str());
            QVERIFY(r.complete());
            QCOMPARE(r.tensorsLoaded, unet_->parameters().size() + vae_->parameters().size() +
                                          clip_->parameters().size());
            QCOMPARE(r.unetConfig.blockOutChannels, unetConfig().blockOutChannels);
            QCOMPARE(r.unetConfig.downBlockTypes, unetConfig().downBlockTypes);
            QCOMPARE(r.unetConfig.upBlockTypes, unetConfig().upBlockTypes);
            QCOMPARE(r.unetConfig.layersPerBlock, unetConfig().layersPerBlock);
            QCOMPARE(r.unetConfig.crossAttentionDim, int64_t{32});
            QCOMPARE(r.vaeConfig.blockOutChannels, vaeConfig().blockOutChannels);
            QCOMPARE(r.clipConfig.layers, clipConfig().layers);
            QVERIFY(sameParameters(*m.unet, *unet_));
            QVERIFY(sameParameters(*m.vae, *vae_));
            QVERIFY(sameParameters(*m.textEncoder, *clip_));
        }
    }

    void layoutsGiveBitEqualImages()
    {
        StableDiffusionModel a = load(single_);
        StableDiffusionModel b = load(folder_);
        StableDiffusionModel c = load(root_ / "model.ckpt");
        QVERIFY(c.report.complete());
        QCOMPARE(c.report.files, std::vector<std::string>{(root_ / "model.ckpt").string()});
        const torch::Tensor ia = generate(a, request(7));
        const torch::Tensor ib = generate(b, request(7));
        QVERIFY(torch::equal(ia, generate(c, request(7))));
        QCOMPARE(ia.sizes().vec(), (std::vector<int64_t>{1, 64, 64, 3}));
        QCOMPARE(ia.scalar_type(), torch::kUInt8);
        QVERIFY(torch::equal(ia, ib));
        // Not a flat image: the pipeline actually carries the noise through.
        QVERIFY(ia.to(torch::kFloat).std().item<float>() > 1.0f);
    }

    void seedDecidesTheImage()
    {
        StableDiffusionModel m = load(folder_);
        const torch::Tensor first = generate(m, request(11));
        QVERIFY(torch::equal(first, generate(m, request(11))));
        QVERIFY(!torch::equal(first, generate(m, request(12))));
        GenerateRequest dpm = request(11);
        dpm.sampler = "DPM++ 2M";
        dpm.batch = 2;
        auto out = txt2img(m, dpm);
        QVERIFY(out.ok());
        QCOMPARE(out->images.size(0), int64_t{2});
        QCOMPARE(out->seeds, (std::vector<std::uint64_t>{11, 12}));
        QVERIFY(!torch::equal(out->images[0], out->images[1]));
    }

    // One Euler step from sigma_max to 0 lands exactly on the denoiser's x0, so the image can be written out
    // with the formulas: CompVisDenoiser scaling, CFG on separate UNet calls, VAE decode of x0 / 0.18215.
    void oneEulerStepMatchesTheFormulas()
    {
        StableDiffusionModel m = load(folder_);
        GenerateRequest r = request(21);
        r.sampler = "Euler";
        r.steps = 1;
        const torch::Tensor image = generate(m, r);

        torch::NoGradGuard noGrad;
        auto cond = encodePrompt(m, r.prompt);
        auto uncond = encodePrompt(m, r.negative);
        auto empty = encodePrompt(m, "");
        QVERIFY(cond.ok() && uncond.ok() && empty.ok());
        QCOMPARE(cond->size(1), int64_t{154});
        // The negative is one chunk, padded with the empty prompt's encoding to the prompt's two.
        const torch::Tensor u = torch::cat({*uncond, *empty}, 1);
        const NoiseSchedule& sched = NoiseSchedule::sd1();
        const double sigma = sched.sigmaMax();
        at::Generator gen = at::detail::createCPUGenerator(21);
        const torch::Tensor x = torch::randn({1, 4, 16, 16}, gen) * sigma;
        const torch::Tensor xIn = x / std::sqrt(sigma * sigma + 1);
        const torch::Tensor t = torch::full({1}, sched.sigmaToT(sigma));
        const torch::Tensor x0c = x - sigma * m.unet->forward(xIn, t, *cond);
        const torch::Tensor x0u = x - sigma * m.unet->forward(xIn, t, u);
        const torch::Tensor x0 = x0u + r.cfg * (x0c - x0u);
        const torch::Tensor decoded = m.vae->decodeRaw(x0 / 0.18215);
        const torch::Tensor expected = ((decoded + 1) / 2).clamp(0, 1).mul(255).floor().permute({0, 2, 3, 1});
        // Batched and unbatched convolutions round differently; a uint8 step either way is all that allows.
        const double diff = (image.to(torch::kFloat) - expected).abs().max().item<double>();
        QVERIFY2(diff <= 1.0, std::to_string(diff).c_str());
    }

    void weightsChangeTheConditioning()
    {
        StableDiffusionModel m = load(folder_);
        auto plain = encodePrompt(m, "a bc");
        auto weighted = encodePrompt(m, "a (bc:1.5)");
        auto twoChunks = encodePrompt(m, "a BREAK bc");
        QVERIFY(plain.ok() && weighted.ok() && twoChunks.ok());
        QCOMPARE(plain->sizes().vec(), (std::vector<int64_t>{1, 77, 32}));
        QCOMPARE(twoChunks->size(1), int64_t{154});
        QVERIFY(!torch::equal(*plain, *weighted));
        // A1111 restores the unweighted mean after weighting.
        QVERIFY(std::abs(plain->mean().item<double>() - weighted->mean().item<double>()) < 1e-5);
    }

    void roundsSizeAndStops()
    {
        StableDiffusionModel m = load(folder_);
        GenerateRequest r = request(3);
        r.steps = 2;
        r.width = 61;
        r.height = 70;
        int calls = 0;
        auto out = txt2img(m, r, [&](int step, int steps, const torch::Tensor&) {
            ++calls;
            return step == calls && steps == 2;
        });
        QVERIFY(out.ok());
        QCOMPARE(calls, 2);
        QCOMPARE(out->width, 64);
        QCOMPARE(out->height, 72);
        QCOMPARE(out->images.sizes().vec(), (std::vector<int64_t>{1, 72, 64, 3}));
        QCOMPARE(out->notices.size(), size_t{1});

        auto stopped = txt2img(m, r, [](int, int, const torch::Tensor&) { return false; });
        QVERIFY(!stopped.ok());
        QVERIFY(isCancelled(stopped.error()));
    }

    // Heads and norm groups are not in any shape: a diffusers folder's config.json says them. The UNet here is
    // also stored in fp16, which keepUNetHalf keeps.
    void folderConfigAndHalfPrecision()
    {
        const fs::path custom = root_ / "custom";
        fs::copy(folder_, custom, fs::copy_options::recursive);
        UNetConfig config = UNetConfig::tiny();  // 2 heads, 8 groups
        config.crossAttentionDim = 32;
        torch::manual_seed(99);
        auto unet = createUNet(config);
        QVERIFY(unet.ok());
        kiln::io::NamedTensors half;
        for (auto& [name, t] : namedParameters(**unet)) half.emplace_back(name, t.to(torch::kHalf));
        QVERIFY(kiln::io::saveSafetensors((custom / "unet/diffusion_pytorch_model.safetensors").string(), half).ok());
        writeText(custom / "unet/config.json", R"({"attention_head_dim": 2, "norm_num_groups": 8})");

        LoadOptions options;
        options.keepUNetHalf = true;
        auto kept = loadStableDiffusion(custom.string(), options);
        QVERIFY2(kept.ok(), kept.ok() ? "" : kept.error().message().c_str());
        QCOMPARE(kept->report.dtype, std::string("F16"));
        QCOMPARE(kept->report.unetConfig.attentionHeads, int64_t{2});
        QCOMPARE(kept->report.unetConfig.normGroups, int64_t{8});
        QVERIFY(kept->report.complete());
        QCOMPARE(kept->unet->conv_in->weight.scalar_type(), torch::kHalf);
        QCOMPARE(kept->report.unetDtype, std::string("Half"));

        auto widened = loadStableDiffusion(custom.string(), {});
        QVERIFY(widened.ok());
        QCOMPARE(widened->unet->conv_in->weight.scalar_type(), torch::kFloat);
        for (auto& [name, t] : half)
            QVERIFY2(torch::equal(widened->unet->named_parameters()[name], t.to(torch::kFloat)), name.c_str());

        // The half UNet computes in the float32 latent's dtype, so both give the same image.
        GenerateRequest r = request(5);
        r.steps = 2;
        QVERIFY(torch::equal(generate(*kept, r), generate(*widened, r)));
    }

    void missingTokenizerSaysWhereKilnLooked()
    {
        auto model = loadStableDiffusion(single_.string(), {});
        QVERIFY(!model.ok());
        const std::string msg = model.error().message();
        QVERIFY2(msg.find("tokenizer") != std::string::npos, msg.c_str());
        QVERIFY2(msg.find((root_ / "tokenizer").string()) != std::string::npos, msg.c_str());
    }

    void truncatedFileSaysWhatWasExpected()
    {
        const fs::path cut = root_ / "cut.safetensors";
        fs::copy_file(single_, cut, fs::copy_options::overwrite_existing);
        fs::resize_file(cut, fs::file_size(single_) / 2);
        LoadOptions options;
        options.tokenizerDir = tokenizer_.string();
        auto model = loadStableDiffusion(cut.string(), options);
        QVERIFY(!model.ok());
        const std::string msg = model.error().message();
        QVERIFY2(msg.find("not a valid safetensors file") != std::string::npos, msg.c_str());
        QVERIFY2(msg.find("truncated") != std::string::npos, msg.c_str());
        QVERIFY2(msg.find(cut.string()) != std::string::npos, msg.c_str());

        const fs::path garbage = root_ / "garbage.safetensors";
        writeText(garbage, "this is not a checkpoint at all");
        auto bad = loadStableDiffusion(garbage.string(), options);
        QVERIFY(!bad.ok());
        QVERIFY2(bad.error().message().find("header") != std::string::npos, bad.error().message().c_str());
    }

    void checkpointWithoutUNetSaysSo()
    {
        kiln::io::NamedTensors tensors;
        for (auto& [name, t] : namedParameters(*clip_)) tensors.emplace_back("cond_stage_model.transformer." + name, t);
        const fs::path path = root_ / "no_unet.safetensors";
        QVERIFY(kiln::io::saveSafetensors(path.string(), tensors).ok());
        LoadOptions options;
        options.tokenizerDir = tokenizer_.string();
        auto model = loadStableDiffusion(path.string(), options);
        QVERIFY(!model.ok());
        QVERIFY2(model.error().message().find("no UNet") != std::string::npos, model.error().message().c_str());

        auto missing = loadStableDiffusion((root_ / "nowhere.safetensors").string(), options);
        QVERIFY(!missing.ok());
        auto ckpt = root_ / "broken.ckpt";
        writeText(ckpt, "PK");
        auto pickled = loadStableDiffusion(ckpt.string(), options);
        QVERIFY(!pickled.ok());
        QVERIFY2(pickled.error().message().find(ckpt.string()) != std::string::npos,
                 pickled.error().message().c_str());
    }
};

QTEST_GUILESS_MAIN(TestSdPipeline)
#include "test_sd_pipeline.moc"
