// img2img, inpainting (standard and 9-channel UNets), a separate VAE file and the memory check, with the tests'
// tiny seeded SD models written to disk and loaded through the public loader.
#include "diffusion/image_conditioning.h"
#include "diffusion/memory_estimate.h"
#include "diffusion/model_loader.h"
#include "diffusion/run_parameters.h"
#include "diffusion/txt2img.h"
#include "io/png_file.h"
#include "io/safetensors_torch.h"
#include "sd_test_models.h"

#include <QTemporaryDir>
#include <QTest>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using namespace kiln::diffusion;
using namespace kiln::sdtest;
namespace fs = std::filesystem;

class TestSdImg2Img : public QObject {
    Q_OBJECT

    QTemporaryDir dir_;
    fs::path root_;
    TinySd tiny_;
    torch::Tensor init_;  // uint8 [64, 64, 3]: a smooth colour field with a bright square

    StableDiffusionModel load(const fs::path& path, const std::string& vaePath = {})
    {
        LoadOptions options;
        options.vaePath = vaePath;
        auto model = loadStableDiffusion(path.string(), options);
        if (!model) qFatal("load failed: %s", model.error().message().c_str());
        return std::move(*model);
    }

    static GenerateRequest request()
    {
        GenerateRequest r;
        r.prompt = "a (bc:1.2)";
        r.negative = "b";
        r.steps = 4;
        r.cfg = 5.0;
        r.seed = 7;
        r.sampler = "Euler";
        r.width = 64;
        r.height = 64;
        return r;
    }

    static torch::Tensor leftHalfMask()
    {
        torch::Tensor m = torch::zeros({64, 64}, torch::kUInt8);
        m.narrow(1, 0, 32).fill_(255);
        return m;
    }

    // A 9-channel copy of the tiny UNet: conv_in's first 4 input channels as the 4-channel one's, the 5 extra
    // (mask, masked-image latent) filled with `extra`.
    fs::path writeInpaintingModel(const std::string& name, double extra)
    {
        UNetConfig config = unetConfig();
        config.inChannels = 9;
        auto unet = createUNet(config);
        if (!unet) qFatal("createUNet: %s", unet.error().message().c_str());
        {
            torch::NoGradGuard noGrad;
            auto source = tiny_.unet->named_parameters(true);
            for (auto& item : (*unet)->named_parameters(true)) {
                const torch::Tensor& from = source[item.key()];
                if (item.key() == "conv_in.weight") {
                    item.value().narrow(1, 0, 4).copy_(from);
                    item.value().narrow(1, 4, 5).fill_(extra);
                } else {
                    item.value().copy_(from);
                }
            }
        }
        TinySd m{tiny_.clip, *unet, tiny_.vae};
        const fs::path folder = root_ / name;
        if (!writeTinySdDiffusers(folder, m).ok()) qFatal("could not write %s", name.c_str());
        return folder;
    }

    static torch::Tensor run(const StableDiffusionModel& m, const GenerateRequest& r, bool fromImage = true)
    {
        auto out = fromImage ? img2img(m, r) : txt2img(m, r);
        if (!out) qFatal("generation failed: %s", out.error().message().c_str());
        return out->images[0];
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(dir_.isValid());
        root_ = fs::path(dir_.path().toStdString());
        auto tiny = makeTinySd(1234);
        QVERIFY(tiny.ok());
        tiny_ = *tiny;
        QVERIFY(writeTinySdDiffusers(root_ / "plain", tiny_).ok());
        auto ys = torch::arange(64, torch::kFloat).view({64, 1, 1});
        auto xs = torch::arange(64, torch::kFloat).view({1, 64, 1});
        auto channel = torch::tensor({1.0f, 2.0f, 3.0f}).view({1, 1, 3});
        torch::Tensor img = (ys * 2 + xs * channel).remainder(200) + 20;
        img.narrow(0, 20, 16).narrow(1, 36, 16).fill_(250);
        init_ = img.to(torch::kUInt8).contiguous();
    }

    // The k-diffusion tables are issue 4's: 4 steps 'normal' σ = [14.6146, 2.9183, 0.9324, 0.0292, 0],
    // 'karras' [14.6146, 3.1686, 0.4469, 0.0292, 0]; t = int(min(s, 0.999) * steps) picks the tail.
    void img2imgStepsFollowA1111()
    {
        auto steps = [](const char* sampler, const char* schedule, int n, double s) {
            auto choice = resolveSampler(sampler, schedule);
            if (!choice) qFatal("%s", choice.error().message().c_str());
            auto out = img2imgSteps(*choice, n, s);
            if (!out) qFatal("%s", out.error().message().c_str());
            return *out;
        };
        auto same = [](const std::vector<double>& got, const std::vector<double>& want) {
            if (got.size() != want.size()) return false;
            for (std::size_t i = 0; i < got.size(); ++i)
                if (std::abs(got[i] - want[i]) > 1e-4) return false;
            return true;
        };
        Img2ImgSteps half = steps("Euler", "Normal", 4, 0.5);  // t = 2: sigmas[1:]
        QVERIFY(same(half.sigmas, {2.9183, 0.9324, 0.0292, 0.0}));
        QCOMPARE(half.steps, 3);
        QVERIFY(same(steps("Euler a", "Karras", 4, 0.5).sigmas, {3.1686, 0.4469, 0.0292, 0.0}));
        QVERIFY(same(steps("Euler", "Normal", 4, 1.0).sigmas, {14.6146, 2.9183, 0.9324, 0.0292, 0.0}));  // 3.996 -> 3
        QCOMPARE(steps("Euler", "Normal", 4, 0.74).steps, 3);  // int(2.96) = 2
        Img2ImgSteps none = steps("Heun", "Normal", 4, 0.0);
        QVERIFY(same(none.sigmas, {0.0292, 0.0}));
        QCOMPARE(none.steps, 1);
        // DDIM on 1, 101, ..., 901: t = 5 walks [1, 101, 201, 301, 401] after noising to 501.
        Img2ImgSteps ddim = steps("DDIM", "Automatic", 10, 0.5);
        QCOMPARE(ddim.timesteps, (std::vector<int>{1, 101, 201, 301, 401}));
        QCOMPARE(ddim.noiseTimestep, 501);
        QCOMPARE(ddim.steps, 4);
        auto ddimChoice = resolveSampler("DDIM", "Automatic");
        QVERIFY(!img2imgSteps(*ddimChoice, 2, 0.5).ok());
        QVERIFY(!img2imgSteps(*resolveSampler("Euler"), 4, 1.5).ok());
    }

    void img2imgIsSeededAndStrengthSetsHowFarItMoves()
    {
        StableDiffusionModel m = load(root_ / "plain");
        GenerateRequest r = request();
        r.initImage = init_;
        // The init latent, computed here on its own: the VAE's mean for the image, scaled.
        torch::Tensor initLatent;
        {
            torch::NoGradGuard noGrad;
            torch::Tensor x = init_.permute({2, 0, 1}).unsqueeze(0).to(torch::kFloat) / 127.5 - 1.0;
            initLatent = m.vae->encodeMoments(x).chunk(2, 1)[0] * m.vae->config().scalingFactor;
        }
        auto distance = [&](double strength) {
            GenerateRequest q = r;
            q.strength = strength;
            torch::Tensor last;
            int calls = 0;
            auto out = img2img(m, q, {}, [&](int, const torch::Tensor& latent) { last = latent, ++calls; });
            if (!out) qFatal("%s", out.error().message().c_str());
            auto steps = img2imgSteps(*resolveSampler(q.sampler), q.steps, strength);
            if (calls != steps->steps + 1 || out->stepsRun != steps->steps) qFatal("wrong step count");
            return (last - initLatent).abs().mean().item<double>();
        };
        const double low = distance(0.25), high = distance(1.0);
        QVERIFY2(low < high, (std::to_string(low) + " vs " + std::to_string(high)).c_str());
        QVERIFY(torch::equal(run(m, r), run(m, r)));
        GenerateRequest other = r;
        other.seed = 8;
        QVERIFY(!torch::equal(run(m, r), run(m, other)));
    }

    void inpaintingKeepsTheUnmaskedPixels()
    {
        StableDiffusionModel m = load(root_ / "plain");
        GenerateRequest r = request();
        r.initImage = init_;
        r.mask = leftHalfMask();
        r.strength = 1.0;
        for (int blur : {0, 4}) {
            r.maskBlur = blur;
            torch::Tensor out = run(m, r);
            // a = clamp(2 * blurred mask) is 0 beyond the blur's reach (kernel radius int(2.5 * blur + 0.5))
            const int keepFrom = 32 + (blur ? static_cast<int>(2.5 * blur + 0.5) : 0);
            QVERIFY2(torch::equal(out.narrow(1, keepFrom, 64 - keepFrom), init_.narrow(1, keepFrom, 64 - keepFrom)),
                     ("blur " + std::to_string(blur)).c_str());
            QVERIFY(!torch::equal(out.narrow(1, 0, 16), init_.narrow(1, 0, 16)));
        }
        // The mask's size must be the init image's.
        r.mask = torch::zeros({32, 32}, torch::kUInt8);
        auto bad = img2img(m, r);
        QVERIFY(!bad.ok());
        QVERIFY(bad.error().message().find("mask") != std::string::npos);
    }

    void maskBlurIsOpenCvsGaussianAsA1111Uses()
    {
        // A single white pixel blurred with sigma 2: kernel 2 * int(5.5) + 1 = 11 taps of exp(-d^2 / 8), normalised,
        // separably in x and y; the 8-bit result rounds.
        torch::Tensor dot = torch::zeros({21, 21}, torch::kUInt8);
        dot[10][10] = 255;
        torch::Tensor blurred = blurMask(dot, 2).view({21, 21}) * 255.0;
        std::vector<double> g;
        double sum = 0;
        for (int d = -5; d <= 5; ++d) g.push_back(std::exp(-d * d / 8.0)), sum += g.back();
        for (double& v : g) v /= sum;
        for (int dy : {0, 1, 3})
            for (int dx : {0, 2, 5}) {
                const double expected = 255.0 * g[static_cast<std::size_t>(dx + 5)] * g[static_cast<std::size_t>(dy + 5)];
                const double got = blurred[10 + dy][10 + dx].item<double>();
                QVERIFY2(std::abs(got - expected) <= 1.0, (std::to_string(got) + " vs " + std::to_string(expected)).c_str());
            }
        QCOMPARE(blurred[10][16].item<double>(), 0.0);  // beyond the kernel
        QVERIFY(torch::equal(blurMask(dot, 0).view({21, 21}) * 255.0, dot.to(torch::kFloat)));
    }

    void imagesAndMasksAreReadAsA1111Reads()
    {
        // RGBA: transparent black becomes white, half-transparent red half-way to white (A1111 flattens
        // img2img inputs onto its white background); as a mask, the alpha is what is repainted.
        std::vector<std::uint8_t> rgba(4 * 2 * 1);
        const std::uint8_t pixels[8] = {0, 0, 0, 0, 255, 0, 0, 128};
        std::copy(pixels, pixels + 8, rgba.begin());
        const std::string png = (root_ / "alpha.png").string();
        QVERIFY(kiln::io::writePng(png, 2, 1, 4, rgba.data()).ok());
        auto rgb = readRgbImage(png);
        QVERIFY2(rgb.ok(), rgb.ok() ? "" : rgb.error().message().c_str());
        QCOMPARE(rgb->pixels.sizes(), (torch::IntArrayRef{1, 2, 3}));
        auto px = [&](int x, int c) { return static_cast<int>(rgb->pixels[0][x][c].item<std::uint8_t>()); };
        QCOMPARE(px(0, 0), 255);
        QCOMPARE(px(0, 2), 255);
        QCOMPARE(px(1, 0), 255);
        QVERIFY(std::abs(px(1, 1) - 127) <= 1);
        auto mask = readMaskImage(png);
        QVERIFY(mask.ok());
        QCOMPARE(static_cast<int>(mask->pixels[0][0].item<std::uint8_t>()), 0);
        QCOMPARE(static_cast<int>(mask->pixels[0][1].item<std::uint8_t>()), 128);

        // A PNG that declares 20000 x 20000 pixels is refused from its header, before any decoding.
        std::string bomb("\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\x4e\x20\0\0\x4e\x20\x08\x02\0\0\0", 29);
        bomb += std::string(4, '\0') + std::string(100, '\0');
        const fs::path bombPath = root_ / "bomb.png";
        std::ofstream(bombPath, std::ios::binary) << bomb;
        auto refused = readRgbImage(bombPath.string());
        QVERIFY(!refused.ok());
        QVERIFY2(refused.error().message().find("100 megapixels") != std::string::npos, refused.error().message().c_str());
        QVERIFY(!readMaskImage((root_ / "missing.png").string()).ok());
    }

    void nineChannelModelsTakeTheMaskAndMaskedImage()
    {
        // With the extra input channels at zero the inpainting UNet computes what the plain one does.
        StableDiffusionModel plain = load(root_ / "plain");
        StableDiffusionModel zero = load(writeInpaintingModel("inpaint-zero", 0.0));
        StableDiffusionModel live = load(writeInpaintingModel("inpaint-live", 0.05));
        QCOMPARE(QString::fromStdString(zero.report.variant), QStringLiteral("SD 1.x inpainting"));
        QCOMPARE(zero.unet->config().inChannels, 9);

        GenerateRequest r = request();
        r.initImage = init_;
        r.mask = leftHalfMask();
        r.maskBlur = 0;
        const torch::Tensor a = run(plain, r), b = run(zero, r), c = run(live, r);
        QVERIFY((a.to(torch::kInt) - b.to(torch::kInt)).abs().max().item<int>() <= 1);
        QVERIFY((a.to(torch::kInt) - c.to(torch::kInt)).abs().max().item<int>() > 1);  // the conditioning reaches it
        QVERIFY(torch::equal(c.narrow(1, 32, 32), init_.narrow(1, 32, 32)));

        // txt2img on an inpainting model (an all-ones mask and a grey image, as A1111 does) runs too.
        GenerateRequest t = request();
        QCOMPARE(run(live, t, false).sizes(), (torch::IntArrayRef{64, 64, 3}));
    }

    void aSeparateVaeReplacesTheModelsOwn()
    {
        auto other = makeTinySd(99);
        QVERIFY(other.ok());
        // A1111's *.vae.safetensors: LDM names without first_stage_model.
        kiln::io::NamedTensors bare;
        const int levels = static_cast<int>(vaeConfig().blockOutChannels.size());
        for (auto& item : other->vae->named_parameters(true)) {
            std::string key = vaeToLdm(item.key(), levels).substr(std::string("first_stage_model.").size());
            const torch::Tensor& t = item.value();
            const bool conv = isVaeAttentionProjection(item.key()) && t.dim() == 2;
            bare.emplace_back(key, (conv ? t.unsqueeze(-1).unsqueeze(-1) : t).detach().clone());
        }
        const fs::path file = root_ / "other.vae.safetensors";
        QVERIFY(kiln::io::saveSafetensors(file.string(), bare).ok());
        // the same as a torch.save({"state_dict": ...}) .pt
        c10::Dict<std::string, at::Tensor> sd;
        for (auto& [name, t] : bare) sd.insert(name, t);
        c10::Dict<std::string, c10::Dict<std::string, at::Tensor>> top;
        top.insert("state_dict", sd);
        const std::vector<char> bytes = torch::pickle_save(top);
        const fs::path pt = root_ / "other.vae.pt";
        std::ofstream(pt, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));

        for (const fs::path& path : {file, pt}) {
            StableDiffusionModel m = load(root_ / "plain", path.string());
            QCOMPARE(m.report.separateVae, path.string());
            auto params = m.vae->named_parameters(true);
            for (auto& item : other->vae->named_parameters(true))
                QVERIFY2(torch::equal(params[item.key()], item.value()), item.key().c_str());
        }
        StableDiffusionModel own = load(root_ / "plain");
        StableDiffusionModel swapped = load(root_ / "plain", file.string());
        GenerateRequest r = request();
        QVERIFY(!torch::equal(run(own, r, false), run(swapped, r, false)));

        LoadOptions notVae;
        notVae.vaePath = (root_ / "plain/text_encoder/model.safetensors").string();
        auto refused = loadStableDiffusion((root_ / "plain").string(), notVae);
        QVERIFY(!refused.ok());
        QVERIFY(refused.error().message().find("not a VAE") != std::string::npos);
    }

    // The infotext the Generate job and kiln-cli write (both call runParameters).
    void theRunsInfotextIsA1111s()
    {
        fs::create_directories(root_ / "sd-1.5");
        QCOMPARE(checkpointName((root_ / "sd-1.5").string() + "/"), std::string("sd-1.5"));  // a diffusers folder
        QCOMPARE(checkpointName("models/v1-5-pruned.safetensors"), std::string("v1-5-pruned"));

        GenerateRequest req = request();
        req.prompt = "a fox";
        req.sampler = "DPM++ 2M";
        req.schedule = "Automatic";
        req.steps = 20;
        req.cfg = 7;
        GenerationParameters run = runParameters(req, {"models/v1-5-pruned.safetensors", "", "6ce0161689", ""});
        const std::string txt = formatParameters(imageParameters(run, 42, 64, 48));
        QVERIFY2(txt.find("Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 42, Size: 64x48, "
                          "Model hash: 6ce0161689, Model: v1-5-pruned") != std::string::npos,
                 txt.c_str());
        QVERIFY(txt.find("Denoising strength") == std::string::npos);
        QVERIFY(txt.find("VAE") == std::string::npos);

        req.initImage = init_;
        req.strength = 0.75;
        req.mask = torch::zeros({64, 64}, torch::kUInt8);
        req.maskBlur = 4;
        req.clipSkip = 2;
        run = runParameters(req, {"models/v1-5-pruned.safetensors", "vae/ft-mse.pt", "", "735e4c3a44"});
        const std::string inpaint = formatParameters(imageParameters(run, 7, 64, 64));
        QVERIFY2(inpaint.find("VAE hash: 735e4c3a44, VAE: ft-mse.pt, Denoising strength: 0.75, Clip skip: 2") !=
                     std::string::npos,
                 inpaint.c_str());
        QVERIFY(inpaint.find("Mask blur: 4") != std::string::npos);
        QVERIFY(inpaint.find("Model hash") == std::string::npos);  // no hash known: none written
    }

    void aRunThatDoesNotFitIsRefusedWithAnEstimate()
    {
        StableDiffusionModel m = load(root_ / "plain");
        GenerateRequest r = request();
        r.memoryAvailable = std::uint64_t{1} << 20;
        auto refused = txt2img(m, r);
        QVERIFY(!refused.ok());
        const std::string message = refused.error().message();
        QVERIFY2(message.find("not enough memory") != std::string::npos && message.find("needs about") != std::string::npos,
                 message.c_str());
        r.memoryAvailable = std::uint64_t{8} << 30;
        QVERIFY(txt2img(m, r).ok());

        // Loading is checked too, before anything is allocated.
        LoadOptions tight;
        tight.memoryAvailable = std::uint64_t{1} << 20;
        auto notLoaded = loadStableDiffusion((root_ / "plain").string(), tight);
        QVERIFY(!notLoaded.ok());
        QVERIFY2(notLoaded.error().message().find("not enough memory to load") != std::string::npos,
                 notLoaded.error().message().c_str());

        // SD 1.5 at 512x512, batch 1 (CFG: UNet batch 2): the skip connections (6.6 M floats) and 30 tensors of
        // 320 x 64 x 64 are ~0.37 GB; the VAE's last level holds 2 x 256 + 4 x 128 channels at 512x512 (~1.1 GB).
        // bench_sd measured 0.45-0.76 and 1.1-1.2 GB; the estimate must be of that order and grow with size
        // and batch.
        const auto sd = [](int w, int h, int b) {
            return estimateGenerationMemory(UNetConfig::sd15(), VaeConfig::sd15(), 0, w, h, b, false);
        };
        const MemoryEstimate e = sd(512, 512, 1);
        const double gb = 1024.0 * 1024.0 * 1024.0;
        QVERIFY2(e.unetBytes / gb > 0.3 && e.unetBytes / gb < 0.8, formatBytes(e.unetBytes).c_str());
        QVERIFY2(e.vaeBytes / gb > 0.9 && e.vaeBytes / gb < 1.5, formatBytes(e.vaeBytes).c_str());
        QVERIFY(sd(768, 768, 1).total() > e.total());
        QVERIFY(sd(512, 512, 2).total() > e.total());
        QVERIFY(!checkFitsInMemory(e, std::uint64_t{1} << 30, 512, 512, 1).ok());
        QVERIFY(checkFitsInMemory(e, std::uint64_t{3} << 30, 512, 512, 1).ok());
        // img2img encodes the whole image at once: at 2048x2048 the encoder's first level holds 128 channels of
        // 2048x2048 floats (2 GiB a tensor, four of them); its attention runs in query chunks (a few MiB).
        const MemoryEstimate big = estimateGenerationMemory(UNetConfig::sd15(), VaeConfig::sd15(), 0, 2048, 2048, 1, true);
        QVERIFY2(big.vaeBytes / gb > 7.5 && big.vaeBytes / gb < 9.0, formatBytes(big.vaeBytes).c_str());
        QVERIFY(sd(2048, 2048, 1).vaeBytes < big.vaeBytes);  // txt2img decodes in 512-pixel tiles
        QVERIFY(checkFitsInMemory(e, std::uint64_t{16} << 30, 512, 512, 1).ok());
    }
};

QTEST_GUILESS_MAIN(TestSdImg2Img)
#include "test_sd_img2img.moc"
