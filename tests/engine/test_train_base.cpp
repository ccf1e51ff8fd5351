// The trainer's standard-library parts: the IDX reader against the packaged Fashion-MNIST and
// against broken files, learning-rate schedules against their formulas, the character
// vocabulary, and the checkpoint manifest.
#include "kiln/train_config.h"
#include "train/char_vocab.h"
#include "train/checkpoint_manifest.h"
#include "train/idx.h"
#include "train/lr_schedule.h"

#include <QTemporaryDir>
#include <QTest>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <zlib.h>

using namespace kiln::train;

namespace {

std::vector<std::uint8_t> idxBytes(std::uint8_t type, std::vector<std::uint32_t> dims, std::size_t payload)
{
    std::vector<std::uint8_t> b = {0, 0, type, static_cast<std::uint8_t>(dims.size())};
    for (auto d : dims)
        for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<std::uint8_t>(d >> s));
    for (std::size_t i = 0; i < payload; ++i) b.push_back(static_cast<std::uint8_t>(i % 10));
    return b;
}

std::vector<std::uint8_t> gzipped(const std::vector<std::uint8_t>& raw)
{
    z_stream zs{};
    deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    std::vector<std::uint8_t> out(deflateBound(&zs, raw.size()) + 64);
    zs.next_in = const_cast<Bytef*>(raw.data());
    zs.avail_in = static_cast<uInt>(raw.size());
    zs.next_out = out.data();
    zs.avail_out = static_cast<uInt>(out.size());
    deflate(&zs, Z_FINISH);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    return out;
}

void writeFile(const std::string& path, const std::vector<std::uint8_t>& bytes)
{
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

std::string parseError(const std::vector<std::uint8_t>& bytes)
{
    auto r = parseIdx(bytes, "bad.idx");
    return r ? std::string("(accepted)") : r.error().message();
}

bool haveFashionMnist() { return std::filesystem::exists(std::string(kFashionMnistDir) + "/train-images-idx3-ubyte.gz"); }

}  // namespace

class TestTrainBase : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void fashionMnistHasItsKnownShape()
    {
        if (!haveFashionMnist()) QSKIP("dataset-fashion-mnist is not installed");
        auto train = readFashionMnist({}, true);
        QVERIFY2(train.ok(), train ? "" : train.error().message().c_str());
        QCOMPARE(train->images.dims, (std::vector<std::int64_t>{60000, 28, 28}));
        QCOMPARE(train->labels.dims, (std::vector<std::int64_t>{60000}));
        std::vector<int> histogram(10);
        for (auto l : train->labels.data) ++histogram[l];
        for (int c = 0; c < 10; ++c) QCOMPARE(histogram[static_cast<std::size_t>(c)], 6000);
        auto test = readFashionMnist({}, false);
        QVERIFY(test.ok());
        QCOMPARE(test->images.count(), 10000);
        QCOMPARE(test->labels.count(), 10000);
        QCOMPARE(fashionMnistClassNames().size(), std::size_t{10});
        QCOMPARE(fashionMnistClassNames()[9], std::string("Ankle boot"));
    }

    void missingPackageSaysWhatToInstall()
    {
        QTemporaryDir dir;
        auto r = readFashionMnist(dir.path().toStdString(), true);
        QVERIFY(!r.ok());
        QVERIFY2(r.error().message().find("install dataset-fashion-mnist") != std::string::npos, r.error().message().c_str());
        auto r2 = readFashionMnist(dir.path().toStdString() + "/nowhere", false);
        QVERIFY(!r2.ok());
        QVERIFY(r2.error().message().find("dataset-fashion-mnist") != std::string::npos);
    }

    void malformedIdxIsRefusedWithAReason()
    {
        QVERIFY(parseIdx(idxBytes(0x08, {3, 2, 2}, 12), "ok.idx").ok());
        QVERIFY(parseError({0, 0, 8}).find("only 3 bytes") != std::string::npos);
        QVERIFY(parseError({1, 0, 8, 1, 0, 0, 0, 0}).find("magic") != std::string::npos);
        QVERIFY(parseError(idxBytes(0x07, {4}, 4)).find("unknown element type 0x07") != std::string::npos);
        QVERIFY(parseError(idxBytes(0x08, {}, 0)).find("0 dimensions") != std::string::npos);
        const auto truncated = parseError(idxBytes(0x08, {10, 28, 28}, 700));
        QVERIFY2(truncated.find("truncated") != std::string::npos && truncated.find("10x28x28") != std::string::npos,
                 truncated.c_str());
        QVERIFY(parseError(idxBytes(0x08, {4}, 6)).find("2 bytes after") != std::string::npos);
        // A header promising 2^96 elements must not overflow into something that looks right.
        QVERIFY(parseError(idxBytes(0x08, {0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, 16)).find("truncated") != std::string::npos);
        auto header = idxBytes(0x08, {3, 3}, 0);
        header.resize(9);  // the second dimension cut in half
        QVERIFY(parseError(header).find("header is truncated") != std::string::npos);
        // Wider types carry their element size.
        QVERIFY(parseIdx(idxBytes(0x0C, {2}, 8), "i32.idx").ok());
        QVERIFY(parseError(idxBytes(0x0C, {2}, 7)).find("truncated") != std::string::npos);
    }

    void brokenGzipIsRefused()
    {
        QTemporaryDir dir;
        const auto raw = idxBytes(0x08, {100, 28, 28}, 100 * 28 * 28);
        const auto gz = gzipped(raw);
        const std::string good = dir.filePath("good.gz").toStdString();
        writeFile(good, gz);
        auto ok = readIdxFile(good);
        QVERIFY(ok.ok());
        QCOMPARE(ok->data.size(), raw.size() - 16);

        const std::string cut = dir.filePath("cut.gz").toStdString();
        writeFile(cut, std::vector<std::uint8_t>(gz.begin(), gz.begin() + static_cast<std::ptrdiff_t>(gz.size() / 2)));
        auto r = readIdxFile(cut);
        QVERIFY(!r.ok());
        QVERIFY2(r.error().message().find("truncated") != std::string::npos, r.error().message().c_str());

        auto garbled = gz;
        for (std::size_t i = 20; i < 60; ++i) garbled[i] ^= 0x5A;
        const std::string bad = dir.filePath("bad.gz").toStdString();
        writeFile(bad, garbled);
        auto r2 = readIdxFile(bad);
        QVERIFY(!r2.ok());
        QVERIFY2(r2.error().message().find("corrupt") != std::string::npos ||
                     r2.error().message().find("truncated") != std::string::npos,
                 r2.error().message().c_str());

        // A bomb: inflating beyond the cap is refused instead of eating the memory.
        auto big = gunzip(gzipped(std::vector<std::uint8_t>(1 << 20, 0)), "bomb.gz", 1 << 16);
        QVERIFY(!big.ok());
        QVERIFY(big.error().message().find("more than") != std::string::npos);
    }

    void wrongFilesInTheDatasetFolderAreNamed()
    {
        QTemporaryDir dir;
        const auto d = dir.path().toStdString();
        // Images of the wrong size.
        writeFile(d + "/train-images-idx3-ubyte.gz", gzipped(idxBytes(0x08, {2, 32, 32}, 2 * 32 * 32)));
        writeFile(d + "/train-labels-idx1-ubyte.gz", gzipped(idxBytes(0x08, {2}, 2)));
        auto r = readFashionMnist(d, true);
        QVERIFY(!r.ok());
        QVERIFY2(r.error().message().find("not 28x28") != std::string::npos, r.error().message().c_str());
        // Labels and images swapped: the magic number tells.
        writeFile(d + "/train-images-idx3-ubyte.gz", gzipped(idxBytes(0x08, {2}, 2)));
        r = readFashionMnist(d, true);
        QVERIFY(!r.ok());
        QVERIFY(r.error().message().find("0x00000803") != std::string::npos);
        // Counts that disagree, and a label out of range; plain (unpacked) files work too.
        std::filesystem::remove(d + "/train-images-idx3-ubyte.gz");
        writeFile(d + "/train-images-idx3-ubyte", idxBytes(0x08, {3, 28, 28}, 3 * 28 * 28));
        r = readFashionMnist(d, true);
        QVERIFY(!r.ok());
        QVERIFY(r.error().message().find("3 images but 2 labels") != std::string::npos);
        auto labels = idxBytes(0x08, {3}, 3);
        labels.back() = 12;
        writeFile(d + "/train-labels-idx1-ubyte.gz", gzipped(labels));
        r = readFashionMnist(d, true);
        QVERIFY(!r.ok());
        QVERIFY(r.error().message().find("label 12") != std::string::npos);
    }

    void schedulesFollowTheirFormulas()
    {
        const double base = 0.1;
        ScheduleConfig c;
        QCOMPARE(learningRate(c, base, 0, 100), base);
        QCOMPARE(learningRate(c, base, 99, 100), base);

        c.kind = ScheduleKind::Step;
        c.stepSize = 10;
        c.gamma = 0.5;
        QCOMPARE(learningRate(c, base, 9, 100), base);
        QCOMPARE(learningRate(c, base, 10, 100), base * 0.5);
        QCOMPARE(learningRate(c, base, 35, 100), base * 0.125);

        c.kind = ScheduleKind::Cosine;
        c.minLearningRate = 0.001;
        QCOMPARE(learningRate(c, base, 0, 100), base);
        QVERIFY(std::abs(learningRate(c, base, 50, 100) - (0.001 + (base - 0.001) * 0.5)) < 1e-12);
        for (std::int64_t s : {13, 77}) {
            const double want = 0.001 + (base - 0.001) * 0.5 * (1 + std::cos(std::numbers::pi * static_cast<double>(s) / 100.0));
            QVERIFY(std::abs(learningRate(c, base, s, 100) - want) < 1e-12);
        }
        QVERIFY(std::abs(learningRate(c, base, 100, 100) - 0.001) < 1e-12);
        QVERIFY(std::abs(learningRate(c, base, 500, 100) - 0.001) < 1e-12);  // past the end it stays at the floor

        // Warm-up, then cosine over the steps that remain.
        c.warmupSteps = 10;
        c.warmupStartFactor = 0.1;
        for (std::int64_t s = 0; s < 10; ++s)
            QVERIFY(std::abs(learningRate(c, base, s, 110) - base * (0.1 + 0.9 * static_cast<double>(s + 1) / 10.0)) < 1e-12);
        QVERIFY(std::abs(learningRate(c, base, 9, 110) - base) < 1e-12);
        QVERIFY(std::abs(learningRate(c, base, 10, 110) - base) < 1e-12);
        QVERIFY(std::abs(learningRate(c, base, 60, 110) - (0.001 + (base - 0.001) * 0.5)) < 1e-12);
        c.kind = ScheduleKind::Step;
        QCOMPARE(learningRate(c, base, 20, 110), base * 0.5);
    }

    void idsRoundTrip()
    {
        for (auto k : {OptimizerKind::Sgd, OptimizerKind::Adam, OptimizerKind::AdamW})
            QCOMPARE(optimizerKindFromId(toId(k)), std::optional<OptimizerKind>(k));
        for (auto k : {ScheduleKind::Constant, ScheduleKind::Step, ScheduleKind::Cosine})
            QCOMPARE(scheduleKindFromId(toId(k)), std::optional<ScheduleKind>(k));
        for (auto k : {LossKind::CrossEntropy, LossKind::Mse, LossKind::BceWithLogits})
            QCOMPARE(lossKindFromId(toId(k)), std::optional<LossKind>(k));
        QCOMPARE(datasetKindFromId("dataset.text"), std::optional<DatasetKind>(DatasetKind::Text));
        QVERIFY(!optimizerKindFromId("optimizer.lion"));
        QVERIFY(metric::isPerEpoch(metric::kValLoss) && metric::isPerEpoch(metric::kTrainAccuracy));
        QVERIFY(!metric::isPerEpoch(metric::kTrainLoss) && !metric::isPerEpoch(metric::kLearningRate));
    }

    void charVocabEncodesAndDecodes()
    {
        const std::string text = "héllo wörld\n";
        auto v = CharVocab::fromText(text);
        QCOMPARE(v.size(), std::int64_t{10});  // h é l o space w ö r d \n
        const auto tokens = v.encode(text);
        QCOMPARE(tokens.size(), std::size_t{12});
        QCOMPARE(v.decode(tokens), text);
        QCOMPARE(v.encode("hz?"), v.encode("h"));  // unknown characters are dropped
        auto again = CharVocab::fromChars(v.toString());
        QCOMPARE(again.chars(), v.chars());
        // Invalid UTF-8 becomes U+FFFD instead of failing.
        auto bad = CharVocab::fromText(std::string("a\xff\xc3", 3));
        QCOMPARE(bad.size(), std::int64_t{2});
        QCOMPARE(bad.chars().back(), char32_t{0xFFFD});
    }

    void manifestRoundTripsAndRefusesDamage()
    {
        QTemporaryDir dir;
        const auto d = dir.path().toStdString();
        auto none = readManifest(d);
        QVERIFY(none.ok() && !none->has_value());
        CheckpointManifest m;
        m.optimizerId = "optimizer.adamw";
        m.steps.push_back({"step-00000010.safetensors", "step-00000010.optim.safetensors", 10, 0, 10, 0, 2.5, 10, 70, 640});
        m.best = CheckpointRecord{"best.safetensors", "", 10, 0, 0, 0.75};
        m.classNames = {"cat", "dog"};
        m.vocab = "abc";
        QVERIFY(writeManifest(d, m).ok());
        auto back = readManifest(d);
        QVERIFY(back.ok() && back->has_value());
        const auto& b = **back;
        QCOMPARE(b.steps.size(), std::size_t{1});
        QCOMPARE(b.last()->step, std::int64_t{10});
        QCOMPARE(b.last()->epochCorrect, std::int64_t{70});
        QCOMPARE(b.best->valLoss, 0.75);
        QCOMPARE(b.classNames, m.classNames);

        writeFile(d + "/checkpoint.json", {'{', '"', 'v'});
        auto broken = readManifest(d);
        QVERIFY(!broken.ok());
        QVERIFY(broken.error().message().find("damaged") != std::string::npos);
        const std::string escape = R"({"version":1,"steps":[{"model":"../../etc/passwd","step":1,"epoch":0}]})";
        writeFile(d + "/checkpoint.json", std::vector<std::uint8_t>(escape.begin(), escape.end()));
        QVERIFY(!readManifest(d).ok());
        const std::string future = R"({"version":99,"steps":[]})";
        writeFile(d + "/checkpoint.json", std::vector<std::uint8_t>(future.begin(), future.end()));
        auto newer = readManifest(d);
        QVERIFY(!newer.ok());
        QVERIFY(newer.error().message().find("newer Kiln") != std::string::npos);
    }
};

QTEST_GUILESS_MAIN(TestTrainBase)
#include "test_train_base.moc"
