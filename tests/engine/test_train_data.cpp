// Datasets as tensors: Fashion-MNIST, an image folder with a file that does not decode, a text
// file as character sequences; splits, batches, augmentations and losses.
#include "train/batches.h"
#include "train/dataset.h"
#include "train/loss.h"
#include "train_test_support.h"

#include <QTemporaryDir>
#include <QTest>
#include <fstream>
#include <set>

using namespace kiln::train;

namespace {

// Netpbm files are a few bytes of header and raw pixels: no image library needed to make them.
void writePnm(const std::string& path, int w, int h, int channels, std::array<std::uint8_t, 3> rgb)
{
    std::ofstream f(path, std::ios::binary);
    f << (channels == 1 ? "P5" : "P6") << "\n" << w << " " << h << "\n255\n";
    for (int i = 0; i < w * h; ++i)
        for (int c = 0; c < channels; ++c) f.put(static_cast<char>(rgb[static_cast<std::size_t>(c)]));
}

void writeText(const std::string& path, const std::string& text)
{
    std::ofstream f(path, std::ios::binary);
    f << text;
}

std::set<std::int64_t> asSet(const torch::Tensor& t)
{
    auto c = t.contiguous();
    return {c.data_ptr<std::int64_t>(), c.data_ptr<std::int64_t>() + c.numel()};
}

}  // namespace

class TestTrainData : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void fashionMnistAsTensors()
    {
        if (!testing::haveFashionMnist()) QSKIP("dataset-fashion-mnist is not installed");
        const auto& d = testing::fashionMnist();
        QCOMPARE(d.train.inputs.sizes().vec(), (std::vector<std::int64_t>{60000, 1, 28, 28}));
        QCOMPARE(d.train.inputs.scalar_type(), torch::kUInt8);
        QCOMPARE(d.train.targets.scalar_type(), torch::kInt64);
        QCOMPARE(d.validation.size(), std::int64_t{10000});
        QCOMPARE(torch::bincount(d.train.targets).min().item<std::int64_t>(), std::int64_t{6000});
        QCOMPARE(d.info.classNames.size(), std::size_t{10});
        QVERIFY(d.train.inputs.max().item<int>() == 255);

        DataConfig c;
        c.useTestSetForValidation = false;
        c.validationFraction = 0.1;
        c.maxTrainSamples = 5000;
        auto carved = loadFashionMnist(c);
        QVERIFY(carved.ok());
        QCOMPARE(carved->train.size(), std::int64_t{5000});
        QCOMPARE(carved->validation.size(), std::int64_t{6000});
        QVERIFY(carved->info.description.find("carved") != std::string::npos);
    }

    void imageFolderSkipsAndCountsBrokenFiles()
    {
        QTemporaryDir dir;
        const auto root = dir.path().toStdString();
        std::filesystem::create_directories(root + "/cat");
        std::filesystem::create_directories(root + "/dog");
        writePnm(root + "/cat/a.ppm", 8, 6, 3, {200, 10, 30});
        writePnm(root + "/cat/b.ppm", 16, 12, 3, {200, 10, 30});  // resized to the first image's size
        writePnm(root + "/dog/c.pgm", 8, 6, 1, {90, 90, 90});     // grey becomes RGB
        writeText(root + "/dog/broken.png", "\x89PNG\r\n\x1a\n this is not really a PNG");
        writeText(root + "/dog/empty.jpg", "");
        writeText(root + "/dog/notes.txt", "not an image, not counted");

        DataConfig c;
        c.kind = DatasetKind::ImageFolder;
        c.path = root;
        c.validationFraction = 0;
        auto r = loadData(c);
        QVERIFY2(r.ok(), r ? "" : r.error().message().c_str());
        QCOMPARE(r->info.classNames, (std::vector<std::string>{"cat", "dog"}));
        QCOMPARE(r->info.skippedFiles, std::int64_t{2});
        QCOMPARE(r->info.skippedExamples, (std::vector<std::string>{"dog/broken.png", "dog/empty.jpg"}));
        QVERIFY2(r->info.description.find("skipped 2 file(s) that do not decode (dog/broken.png") != std::string::npos,
                 r->info.description.c_str());
        QCOMPARE(r->train.inputs.sizes().vec(), (std::vector<std::int64_t>{3, 3, 6, 8}));
        QCOMPARE(r->validation.size(), std::int64_t{0});
        // Channels in RGB order whatever OpenCV's BGR, and each image under its class.
        for (std::int64_t i = 0; i < 3; ++i) {
            const auto img = r->train.inputs[i];
            const auto label = r->train.targets[i].item<std::int64_t>();
            if (label == 0) {
                QCOMPARE(img[0][0][0].item<int>(), 200);
                QCOMPARE(img[1][3][3].item<int>(), 10);
                QCOMPARE(img[2][5][7].item<int>(), 30);
            } else {
                QCOMPARE(img[2][2][2].item<int>(), 90);
            }
        }
        QCOMPARE(torch::bincount(r->train.targets).sum().item<std::int64_t>(), std::int64_t{3});

        c.imageChannels = 1;
        c.imageWidth = 4;
        c.imageHeight = 4;
        auto grey = loadData(c);
        QVERIFY(grey.ok());
        QCOMPARE(grey->train.inputs.sizes().vec(), (std::vector<std::int64_t>{3, 1, 4, 4}));
    }

    void imageFolderProblemsAreExplained()
    {
        QTemporaryDir dir;
        const auto root = dir.path().toStdString();
        DataConfig c;
        c.kind = DatasetKind::ImageFolder;
        c.path = root + "/missing";
        auto r = loadData(c);
        QVERIFY(!r.ok());
        QVERIFY(r.error().message().find("does not exist") != std::string::npos);
        c.path = root;
        r = loadData(c);
        QVERIFY(!r.ok());
        QVERIFY(r.error().message().find("no class subfolders") != std::string::npos);
        std::filesystem::create_directories(root + "/only");
        writeText(root + "/only/x.png", "garbage");
        r = loadData(c);
        QVERIFY(!r.ok());
        QVERIFY2(r.error().message().find("none of the 1 images decode") != std::string::npos, r.error().message().c_str());
    }

    void textBecomesNextCharacterSequences()
    {
        QTemporaryDir dir;
        const auto path = dir.filePath("t.txt").toStdString();
        writeText(path, "abcdefghij");
        DataConfig c;
        c.kind = DatasetKind::Text;
        c.path = path;
        c.sequenceLength = 3;
        c.validationFraction = 0;
        auto r = loadData(c);
        QVERIFY(r.ok());
        QCOMPARE(r->info.vocab->size(), std::int64_t{10});
        QCOMPARE(r->train.inputs.sizes().vec(), (std::vector<std::int64_t>{3, 3}));
        std::set<std::pair<std::string, std::string>> rows;
        for (std::int64_t i = 0; i < 3; ++i) {
            auto x = r->train.inputs[i].contiguous(), y = r->train.targets[i].contiguous();
            rows.emplace(r->info.vocab->decode({x.data_ptr<std::int64_t>(), 3}), r->info.vocab->decode({y.data_ptr<std::int64_t>(), 3}));
        }
        const std::set<std::pair<std::string, std::string>> want = {{"abc", "bcd"}, {"def", "efg"}, {"ghi", "hij"}};
        QCOMPARE(rows, want);

        c.sequenceStride = 1;  // overlapping windows
        r = loadData(c);
        QCOMPARE(r->train.size(), std::int64_t{7});

        // The default corpus: every Debian system has it.
        DataConfig g;
        g.kind = DatasetKind::Text;
        g.sequenceLength = 64;
        auto gpl = loadData(g);
        QVERIFY2(gpl.ok(), gpl ? "" : gpl.error().message().c_str());
        QCOMPARE(gpl->train.inputs.size(1), std::int64_t{64});
        QVERIFY(gpl->train.size() + gpl->validation.size() == (35149 - 1 - 64) / 64 + 1);
        QVERIFY(torch::equal(gpl->train.inputs.narrow(1, 1, 63), gpl->train.targets.narrow(1, 0, 63)));
        QVERIFY(gpl->info.vocab->size() > 60 && gpl->info.vocab->size() < 100);

        writeText(path, "ab");
        QVERIFY(!loadData(c).ok());
        c.path = dir.filePath("none.txt").toStdString();
        auto missing = loadData(c);
        QVERIFY(!missing.ok());
        QVERIFY(missing.error().message().find("does not exist") != std::string::npos);
    }

    void splitsAreSeededDisjointAndWhole()
    {
        Dataset d{torch::arange(100, torch::kInt64).view({100, 1}), torch::arange(100, torch::kInt64)};
        auto [train, val] = splitDataset(d, 0.2, 5);
        QCOMPARE(train.size(), std::int64_t{80});
        QCOMPARE(val.size(), std::int64_t{20});
        auto all = asSet(train.targets);
        for (auto v : asSet(val.targets)) QVERIFY(all.insert(v).second);
        QCOMPARE(all.size(), std::size_t{100});
        auto [train2, val2] = splitDataset(d, 0.2, 5);
        QVERIFY(torch::equal(val.targets, val2.targets));
        auto [train3, val3] = splitDataset(d, 0.2, 6);
        QVERIFY(!torch::equal(val.targets, val3.targets));
        QCOMPARE(splitDataset(d, 0.001, 1).second.size(), std::int64_t{1});  // never an empty side
        QCOMPARE(takeRandom(d, 10, 1).size(), std::int64_t{10});
    }

    void batchesCoverEveryItemOncePerEpoch()
    {
        BatchPlan plan(103, 10, true, false, 42);
        QCOMPARE(plan.batchesPerEpoch(), std::int64_t{11});
        std::vector<std::int64_t> first;
        for (std::int64_t epoch = 0; epoch < 2; ++epoch) {
            std::set<std::int64_t> seen;
            for (std::int64_t b = 0; b < plan.batchesPerEpoch(); ++b) {
                const auto idx = plan.indices(epoch, b);
                QCOMPARE(idx.numel(), b == 10 ? std::int64_t{3} : std::int64_t{10});
                for (auto v : asSet(idx)) QVERIFY(seen.insert(v).second);
                if (epoch == 0 && b == 0) first = std::vector<std::int64_t>(idx.data_ptr<std::int64_t>(), idx.data_ptr<std::int64_t>() + 10);
                if (epoch == 1 && b == 0)
                    QVERIFY(first != std::vector<std::int64_t>(idx.data_ptr<std::int64_t>(), idx.data_ptr<std::int64_t>() + 10));
            }
            QCOMPARE(seen.size(), std::size_t{103});
        }
        BatchPlan again(103, 10, true, false, 42);
        QVERIFY(torch::equal(again.indices(0, 0), torch::tensor(first)));
        QCOMPARE(BatchPlan(103, 10, true, true, 1).batchesPerEpoch(), std::int64_t{10});
    }

    void augmentationsFlipCropAndNormalise()
    {
        auto raw = torch::arange(2 * 1 * 4 * 5, torch::kInt64).remainder(200).to(torch::kUInt8).view({2, 1, 4, 5});
        AugmentConfig none;
        auto x = prepareInputs(raw, none, nullptr);
        QCOMPARE(x.scalar_type(), torch::kFloat32);
        QVERIFY(torch::allclose(x, raw.to(torch::kFloat32) / 255));

        AugmentConfig flip;
        flip.horizontalFlip = true;
        auto big = raw.repeat({32, 1, 1, 1});
        auto rng = stepRng(1, 0);
        auto f = prepareInputs(big, flip, &rng);
        const auto plain = big.to(torch::kFloat32) / 255;
        int flipped = 0;
        for (std::int64_t i = 0; i < f.size(0); ++i) {
            const bool same = torch::equal(f[i], plain[i]), mirrored = torch::equal(f[i], plain[i].flip({2}));
            QVERIFY(same || mirrored);
            flipped += mirrored;
        }
        QVERIFY(flipped > 8 && flipped < 56);
        // The same step draws the same augmentation (what makes a resumed run see the same data).
        auto rng2 = stepRng(1, 0);
        QVERIFY(torch::equal(prepareInputs(big, flip, &rng2), f));

        AugmentConfig crop;
        crop.cropPadding = 2;
        auto ones = torch::full({64, 1, 6, 6}, 255, torch::kUInt8);
        auto rng3 = stepRng(3, 7);
        auto cropped = prepareInputs(ones, crop, &rng3);
        QCOMPARE(cropped.sizes().vec(), (std::vector<std::int64_t>{64, 1, 6, 6}));
        const auto kept = cropped.sum({1, 2, 3});
        QVERIFY(kept.max().item<float>() == 36.0f);   // some crops land exactly on the image
        QVERIFY(kept.min().item<float>() <= 16.0f);   // some are shifted by the full padding both ways
        QVERIFY(kept.min().item<float>() >= 16.0f);

        AugmentConfig norm;
        norm.mean = {0.5f};
        norm.std = {0.25f};
        auto n = prepareInputs(raw, norm, nullptr);
        QVERIFY(torch::allclose(n, (raw.to(torch::kFloat32) / 255 - 0.5) / 0.25));
        QVERIFY(validateAugment(norm, 3).ok());
        norm.mean = {0.5f, 0.5f};
        norm.std = {0.2f, 0.2f};
        QVERIFY(!validateAugment(norm, 3).ok());
        norm.std = {0.2f};
        QVERIFY(!validateAugment(norm, 2).ok());
        // Token inputs pass through untouched.
        auto tokens = torch::arange(6, torch::kInt64).view({2, 3});
        QVERIFY(torch::equal(prepareInputs(tokens, norm, &rng), tokens));
    }

    void lossesMatchTheirDefinitions()
    {
        torch::manual_seed(3);
        auto logits = torch::randn({2, 5, 7});
        auto targets = torch::randint(0, 7, {2, 5}, torch::kInt64);
        auto lm = computeLoss(LossKind::CrossEntropy, logits, targets);
        auto flat = torch::cross_entropy_loss(logits.view({10, 7}), targets.view({10}));
        QVERIFY(torch::allclose(lm, flat));
        auto manual = -torch::log_softmax(logits, -1).gather(-1, targets.unsqueeze(-1)).mean();
        QVERIFY(torch::allclose(lm, manual));
        QVERIFY(checkLossShapes(LossKind::CrossEntropy, logits, targets).ok());
        auto bad = checkLossShapes(LossKind::CrossEntropy, torch::randn({4, 10}), torch::zeros({5}, torch::kInt64));
        QVERIFY(!bad.ok());
        QVERIFY(bad.error().message().find("[4, 10]") != std::string::npos);

        auto out = torch::tensor({0.5f, -1.0f, 2.0f}).view({3, 1});
        auto y = torch::tensor({1.0f, 0.0f, 0.0f});
        QVERIFY(std::abs(computeLoss(LossKind::Mse, out, y).item<float>() - (0.25f + 1.0f + 4.0f) / 3) < 1e-6f);
        const auto bce = computeLoss(LossKind::BceWithLogits, out, y).item<float>();
        const float want = -(std::log(1 / (1 + std::exp(-0.5f))) + std::log(1 - 1 / (1 + std::exp(1.0f))) +
                             std::log(1 - 1 / (1 + std::exp(-2.0f)))) / 3;
        QVERIFY(std::abs(bce - want) < 1e-5f);
        const auto hits = countHits(LossKind::BceWithLogits, out, y);
        QCOMPARE(hits.correct, std::int64_t{2});
        QCOMPARE(hits.count, std::int64_t{3});
        QCOMPARE(countHits(LossKind::Mse, out, y).count, std::int64_t{0});
        const auto cls = countHits(LossKind::CrossEntropy, torch::tensor({{1.0f, 2.0f}, {3.0f, 0.0f}}), torch::tensor({1, 1}));
        QCOMPARE(cls.correct, std::int64_t{1});
    }
};

QTEST_GUILESS_MAIN(TestTrainData)
#include "test_train_data.moc"
