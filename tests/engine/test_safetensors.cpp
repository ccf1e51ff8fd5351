// safetensors: every dtype round-trips; every kind of malformed file is refused with a message.
#include "io/safetensors_torch.h"

#include <QTemporaryDir>
#include <QTest>
#include <cstring>
#include <fstream>
#include <torch/torch.h>

using kiln::io::DType;

namespace {

std::vector<std::uint8_t> fileWithHeader(const std::string& json, std::size_t dataBytes = 0)
{
    std::vector<std::uint8_t> out(8);
    const std::uint64_t n = json.size();
    for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(n >> (8 * i));
    out.insert(out.end(), json.begin(), json.end());
    out.resize(out.size() + dataBytes, 0);
    return out;
}

std::string errorOf(const std::vector<std::uint8_t>& bytes)
{
    auto r = kiln::io::parseSafetensors(bytes, "bad.safetensors");
    return r ? std::string("(accepted)") : r.error().message();
}

void writeBytes(const QString& path, const std::vector<std::uint8_t>& bytes)
{
    std::ofstream f(path.toStdString(), std::ios::binary);
    f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

class TestSafetensors : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void everyTorchDtypeRoundTrips()
    {
        QTemporaryDir dir;
        const std::string path = dir.filePath("all.safetensors").toStdString();
        torch::manual_seed(7);
        kiln::io::NamedTensors tensors;
        const std::vector<torch::ScalarType> types = {torch::kFloat64, torch::kFloat32, torch::kFloat16,
                                                      torch::kBFloat16, torch::kInt64, torch::kInt32,
                                                      torch::kInt16, torch::kInt8, torch::kUInt8, torch::kBool};
        for (auto t : types) {
            const std::string name = std::string("t.") + c10::toString(t);
            auto v = torch::randn({3, 5, 7}) * 50;
            tensors.emplace_back(name, t == torch::kBool ? (v > 0) : v.to(t));
        }
        tensors.emplace_back("scalar", torch::tensor(3.5));
        tensors.emplace_back("empty", torch::zeros({0, 4}));
        tensors.emplace_back("strided", torch::arange(24, torch::kFloat32).reshape({4, 6}).t());
        const std::map<std::string, std::string> meta = {{"format", "pt"}, {"ss_network_dim", "16"}};
        QVERIFY(kiln::io::saveSafetensors(path, tensors, meta).ok());

        auto file = kiln::io::SafetensorsFile::open(path);
        QVERIFY2(file.ok(), file ? "" : file.error().message().c_str());
        QCOMPARE(file->index().tensors.size(), tensors.size());
        QVERIFY(file->index().metadata == meta);
        for (const auto& [name, expected] : tensors) {
            auto got = kiln::io::loadTensor(*file, name);
            QVERIFY2(got.ok(), name.c_str());
            QCOMPARE(got->scalar_type(), expected.scalar_type());
            QCOMPARE(got->sizes().vec(), expected.sizes().vec());
            QVERIFY2(torch::equal(*got, expected.contiguous()), name.c_str());
        }
        // Every tensor's data starts aligned to its element size.
        for (const auto& e : file->index().tensors)
            QCOMPARE((file->index().dataOffset + e.begin) % kiln::io::dtypeSize(e.dtype), std::uint64_t{0});
    }

    void halfWeightsConvertOnRead()
    {
        QTemporaryDir dir;
        const std::string path = dir.filePath("half.safetensors").toStdString();
        auto w = torch::randn({16, 8});
        QVERIFY(kiln::io::saveSafetensors(path, {{"w", w.to(torch::kFloat16)}, {"b", w.to(torch::kBFloat16)}}).ok());
        auto file = kiln::io::SafetensorsFile::open(path);
        QVERIFY(file.ok());
        auto h = kiln::io::loadTensor(*file, "w", torch::kFloat32);
        auto b = kiln::io::loadTensor(*file, "b", torch::kFloat32);
        QCOMPARE(h->scalar_type(), torch::kFloat32);
        QVERIFY(torch::allclose(*h, w, 1e-3, 1e-3));
        QVERIFY(torch::allclose(*b, w, 1e-2, 1e-2));
        auto missing = kiln::io::loadTensor(*file, "nope");
        QVERIFY(!missing.ok());
        QVERIFY(missing.error().what.find("no tensor named 'nope'") != std::string::npos);
    }

    void typesLibTorchLacksAreWidenedOrDecoded()
    {
        const std::uint16_t u16[] = {0, 1, 65535};
        const std::uint32_t u32[] = {0, 4000000000u};
        const std::uint64_t u64[] = {5, 1ull << 62};
        // F8_E5M2 is a half's top byte: 0x3C = 1.0, 0xC0 = -2.0. E4M3FN: 0x38 = 1.0, 0x7E = 448,
        // 0x01 = 2^-9 (smallest subnormal), 0x7F = NaN.
        const std::uint8_t e5m2[] = {0x3C, 0xC0};
        const std::uint8_t e4m3[] = {0x38, 0x7E, 0x01, 0x7F};
        auto span = [](const auto& a) { return std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(a), sizeof a); };
        std::vector<kiln::io::TensorBlob> blobs = {
            {"u16", DType::U16, {3}, span(u16)}, {"u32", DType::U32, {2}, span(u32)}, {"u64", DType::U64, {2}, span(u64)},
            {"e5m2", DType::F8_E5M2, {2}, span(e5m2)}, {"e4m3", DType::F8_E4M3, {4}, span(e4m3)}};
        QTemporaryDir dir;
        const std::string path = dir.filePath("odd.safetensors").toStdString();
        QVERIFY(kiln::io::writeSafetensors(path, blobs).ok());
        auto f = kiln::io::SafetensorsFile::open(path);
        QVERIFY(f.ok());
        QVERIFY(torch::equal(*kiln::io::loadTensor(*f, "u16"), torch::tensor({0, 1, 65535}, torch::kInt32)));
        QVERIFY(torch::equal(*kiln::io::loadTensor(*f, "u32"), torch::tensor(std::vector<std::int64_t>{0, 4000000000}, torch::kInt64)));
        QCOMPARE(kiln::io::loadTensor(*f, "u64")->index({1}).item<std::int64_t>(), std::int64_t{1} << 62);
        QVERIFY(torch::equal(*kiln::io::loadTensor(*f, "e5m2"), torch::tensor({1.0f, -2.0f})));
        auto e4 = *kiln::io::loadTensor(*f, "e4m3");
        QCOMPARE(e4[0].item<float>(), 1.0f);
        QCOMPARE(e4[1].item<float>(), 448.0f);
        QCOMPARE(e4[2].item<float>(), std::ldexp(1.0f, -9));
        QVERIFY(std::isnan(e4[3].item<float>()));
    }

    void malformedFilesAreRefusedWithAMessage_data()
    {
        QTest::addColumn<QByteArray>("bytes");
        QTest::addColumn<QString>("expected");
        auto row = [](const char* name, const std::vector<std::uint8_t>& b, const char* expected) {
            QTest::newRow(name) << QByteArray(reinterpret_cast<const char*>(b.data()), static_cast<int>(b.size()))
                                << QString::fromLatin1(expected);
        };
        const std::string ok = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
        row("empty", {}, "fewer than the 8-byte header length");
        row("short", {1, 2, 3, 4}, "fewer than the 8-byte header length");
        auto huge = fileWithHeader("{}");
        huge[6] = 1;  // 2^48 bytes
        row("huge header length", huge, "the header length is");
        auto claimed = fileWithHeader(ok, 8);
        claimed[0] = 0xff;
        row("header past the end", claimed, "(truncated?)");
        row("not json", fileWithHeader("{not json}"), "not valid JSON");
        row("json array", fileWithHeader("[1,2]"), "does not start with '{'");
        row("entry not object", fileWithHeader(R"({"a":3})"), "its entry is not an object");
        row("unknown dtype", fileWithHeader(R"({"a":{"dtype":"F17","shape":[1],"data_offsets":[0,4]}})", 4), "unknown dtype 'F17'");
        row("no dtype", fileWithHeader(R"({"a":{"shape":[1],"data_offsets":[0,4]}})", 4), "no dtype");
        row("negative dim", fileWithHeader(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4), "not a non-negative integer");
        row("shape overflow", fileWithHeader(R"({"a":{"dtype":"F32","shape":[4611686018427387904,4611686018427387904],"data_offsets":[0,4]}})", 4), "too large");
        row("offsets wrong arity", fileWithHeader(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", 4), "data_offsets is not [begin, end]");
        row("offsets reversed", fileWithHeader(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}})", 4), "end before they begin");
        row("truncated data", fileWithHeader(ok, 5), "(truncated?)");
        row("size mismatch", fileWithHeader(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8), "need 12 bytes but data_offsets span 8");
        row("overlap", fileWithHeader(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8), "overlaps");
        row("hole", fileWithHeader(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8), "belong to no tensor");
        row("trailing bytes", fileWithHeader(ok, 12), "4 bytes after the last tensor");
        row("metadata not strings", fileWithHeader(R"({"__metadata__":{"epoch":3}})"), "is not a string");
    }

    void malformedFilesAreRefusedWithAMessage()
    {
        QFETCH(QByteArray, bytes);
        QFETCH(QString, expected);
        const std::vector<std::uint8_t> v(bytes.begin(), bytes.end());
        const QString message = QString::fromStdString(errorOf(v));
        QVERIFY2(message.contains(expected), qPrintable(message));
        QVERIFY2(message.startsWith(QStringLiteral("bad.safetensors: not a valid safetensors file")), qPrintable(message));

        // The same through the file API, from disk.
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("bad.safetensors"));
        writeBytes(path, v);
        auto f = kiln::io::SafetensorsFile::open(path.toStdString());
        QVERIFY(!f.ok());
        QVERIFY(QString::fromStdString(f.error().message()).contains(expected));
    }

    void aFailedSaveLeavesTheOldFileIntact()
    {
        QTemporaryDir dir;
        const std::string path = dir.filePath("keep.safetensors").toStdString();
        QVERIFY(kiln::io::saveSafetensors(path, {{"w", torch::ones({2})}}).ok());
        auto bad = kiln::io::saveSafetensors(path, {{"x", torch::ones({2})}, {"x", torch::zeros({2})}});
        QVERIFY(!bad.ok());
        QVERIFY(bad.error().message().find("two tensors share the name 'x'") != std::string::npos);
        auto f = kiln::io::SafetensorsFile::open(path);
        QVERIFY(f.ok());
        QVERIFY(f->index().find("w"));
        QCOMPARE(QDir(dir.path()).entryList(QDir::Files).size(), 1);  // no temporary left behind
    }

    void missingFileSaysSo()
    {
        auto f = kiln::io::SafetensorsFile::open("/nonexistent/model.safetensors");
        QVERIFY(!f.ok());
        QVERIFY(f.error().message().find("cannot open the file") != std::string::npos);
    }
};

QTEST_GUILESS_MAIN(TestSafetensors)
#include "test_safetensors.moc"
