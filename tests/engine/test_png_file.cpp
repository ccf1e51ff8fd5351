// engine/io/png_file: the PNG writer's files decode in OpenCV to the same pixels, text chunks round-trip
// (tEXt for Latin-1, iTXt otherwise, zTXt read), and damaged files give Errors.
#include "io/png_file.h"

#include <opencv2/imgcodecs.hpp>

#include <QTemporaryDir>
#include <QTest>

#include <zlib.h>

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

using kiln::io::PngTextChunks;

namespace {

std::vector<std::uint8_t> pattern(int width, int height, int channels)
{
    std::vector<std::uint8_t> p(static_cast<std::size_t>(width * height * channels));
    for (std::size_t i = 0; i < p.size(); ++i) p[i] = static_cast<std::uint8_t>((i * 37 + i / 7) & 0xff);
    return p;
}

std::vector<std::uint8_t> readAll(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void writeAll(const std::string& path, const std::vector<std::uint8_t>& bytes)
{
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                                static_cast<std::streamsize>(bytes.size()));
}

void putU32(std::vector<std::uint8_t>& out, std::uint32_t v)
{
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}

// A chunk built here, independently of the writer, to feed the reader what other tools write (zTXt).
std::vector<std::uint8_t> chunk(const std::string& type, const std::vector<std::uint8_t>& data)
{
    std::vector<std::uint8_t> out;
    putU32(out, static_cast<std::uint32_t>(data.size()));
    std::vector<std::uint8_t> typed(type.begin(), type.end());
    typed.insert(typed.end(), data.begin(), data.end());
    out.insert(out.end(), typed.begin(), typed.end());
    putU32(out, static_cast<std::uint32_t>(crc32(0, typed.data(), static_cast<uInt>(typed.size()))));
    return out;
}

}  // namespace

class TestPngFile : public QObject {
    Q_OBJECT

    QTemporaryDir dir_;
    std::string path(const char* name) const { return (dir_.path() + "/" + name).toStdString(); }

private Q_SLOTS:
    void decodesInOpenCv_data()
    {
        QTest::addColumn<int>("channels");
        QTest::newRow("rgb") << 3;
        QTest::newRow("rgba") << 4;
    }

    void decodesInOpenCv()
    {
        QFETCH(int, channels);
        const int w = 37, h = 19;  // odd sizes catch row-stride mistakes
        const auto pixels = pattern(w, h, channels);
        const std::string file = path(channels == 3 ? "rgb.png" : "rgba.png");
        auto ok = kiln::io::writePng(file, w, h, channels, pixels.data(), {{"parameters", "a cat"}});
        QVERIFY2(ok.ok(), ok.ok() ? "" : ok.error().message().c_str());
        cv::Mat m = cv::imread(file, cv::IMREAD_UNCHANGED);
        QVERIFY(!m.empty());
        QCOMPARE(m.cols, w);
        QCOMPARE(m.rows, h);
        QCOMPARE(m.channels(), channels);
        QCOMPARE(m.depth(), CV_8U);
        for (int y = 0; y < h; ++y)
            for (int x = 0; x < w; ++x)
                for (int c = 0; c < channels; ++c) {
                    // OpenCV holds BGR(A)
                    const int cvChannel = c < 3 ? 2 - c : c;
                    const auto want = pixels[static_cast<std::size_t>((y * w + x) * channels + c)];
                    if (m.ptr<std::uint8_t>(y)[x * channels + cvChannel] != want)
                        QFAIL(qPrintable(QString("pixel %1,%2 channel %3 differs").arg(x).arg(y).arg(c)));
                }
    }

    void textRoundTrip()
    {
        const PngTextChunks text = {
            {"parameters", "a cat\nNegative prompt: dog\nSteps: 20, Seed: 42"},
            {"latin", "caf\xc3\xa9 \xc2\xbd"},                // é ½: Latin-1, so tEXt
            {"utf8", "\xe7\x8c\xab \xf0\x9f\x90\x88 cat"},     // 猫 🐈: not Latin-1, so iTXt
            {"empty", ""},
        };
        const auto pixels = pattern(4, 4, 3);
        const std::string file = path("text.png");
        QVERIFY(kiln::io::writePng(file, 4, 4, 3, pixels.data(), text).ok());
        auto back = kiln::io::readPngText(file);
        QVERIFY2(back.ok(), back.ok() ? "" : back.error().message().c_str());
        QCOMPARE(back->size(), text.size());
        for (std::size_t i = 0; i < text.size(); ++i) {
            QCOMPARE(QString::fromStdString((*back)[i].first), QString::fromStdString(text[i].first));
            QCOMPARE(QString::fromStdString((*back)[i].second), QString::fromStdString(text[i].second));
        }
        // The chunk types: Latin-1 stored as Latin-1 bytes in tEXt, the rest in iTXt as UTF-8.
        const auto bytes = readAll(file);
        const std::string s(bytes.begin(), bytes.end());
        QVERIFY(s.find(std::string("tEXtlatin\0caf\xe9 \xbd", 16)) != std::string::npos);
        QVERIFY(s.find("iTXtutf8") != std::string::npos);
        // The same input gives the same bytes (kiln-cli's same-seed check relies on it).
        QVERIFY(kiln::io::writePng(path("text2.png"), 4, 4, 3, pixels.data(), text).ok());
        QVERIFY(readAll(path("text2.png")) == bytes);
    }

    void readsZtxtAndCompressedItxt()
    {
        auto bytes = readAll(path("text.png"));
        QVERIFY(!bytes.empty());
        const std::string body = "compressed \xe9";  // Latin-1 in zTXt
        std::vector<std::uint8_t> packed(compressBound(static_cast<uLong>(body.size())));
        uLongf n = static_cast<uLongf>(packed.size());
        QCOMPARE(compress(packed.data(), &n, reinterpret_cast<const Bytef*>(body.data()),
                          static_cast<uLong>(body.size())),
                 Z_OK);
        packed.resize(n);
        std::vector<std::uint8_t> z = {'z', 'k', 0, 0};
        z.insert(z.end(), packed.begin(), packed.end());
        const std::string utf8 = "\xe7\x8c\xab";
        std::vector<std::uint8_t> packed2(64);
        uLongf n2 = 64;
        QCOMPARE(compress(packed2.data(), &n2, reinterpret_cast<const Bytef*>(utf8.data()),
                          static_cast<uLong>(utf8.size())),
                 Z_OK);
        std::vector<std::uint8_t> it = {'i', 'k', 0, 1, 0, 'e', 'n', 0, 0};
        it.insert(it.end(), packed2.begin(), packed2.begin() + static_cast<std::ptrdiff_t>(n2));
        const std::size_t afterIhdr = 8 + 12 + 13;
        auto a = chunk("zTXt", z), b = chunk("iTXt", it);
        bytes.insert(bytes.begin() + static_cast<std::ptrdiff_t>(afterIhdr), b.begin(), b.end());
        bytes.insert(bytes.begin() + static_cast<std::ptrdiff_t>(afterIhdr), a.begin(), a.end());
        auto back = kiln::io::readPngText(bytes.data(), bytes.size());
        QVERIFY2(back.ok(), back.ok() ? "" : back.error().message().c_str());
        QVERIFY(back->size() >= 2);
        QCOMPARE(QString::fromStdString((*back)[0].first), QString("zk"));
        QCOMPARE(QString::fromStdString((*back)[0].second), QString::fromUtf8("compressed \xc3\xa9"));
        QCOMPARE(QString::fromStdString((*back)[1].first), QString("ik"));
        QCOMPARE(QString::fromStdString((*back)[1].second), QString::fromUtf8("\xe7\x8c\xab"));
    }

    void damagedFilesGiveErrors()
    {
        const auto good = readAll(path("text.png"));
        QVERIFY(good.size() > 60);
        QVERIFY(kiln::io::readPngText(good.data(), good.size()).ok());
        // every truncation
        for (std::size_t n = 0; n < good.size(); ++n)
            QVERIFY2(!kiln::io::readPngText(good.data(), n).ok(), qPrintable(QString("truncated to %1").arg(n)));
        // a flipped byte anywhere after the signature breaks a CRC or a length
        for (std::size_t i = 8; i < good.size(); ++i) {
            auto bad = good;
            bad[i] ^= 0x5a;
            auto r = kiln::io::readPngText(bad.data(), bad.size());
            QVERIFY2(!r.ok(), qPrintable(QString("flipped byte %1").arg(i)));
        }
        // a huge declared length
        auto huge = good;
        huge[8] = 0xff;
        QVERIFY(!kiln::io::readPngText(huge.data(), huge.size()).ok());
        // garbage, and an empty or missing file
        std::vector<std::uint8_t> garbage(4096);
        for (std::size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<std::uint8_t>(i * 131 + 7);
        writeAll(path("garbage.png"), garbage);
        auto r = kiln::io::readPngText(path("garbage.png"));
        QVERIFY(!r.ok());
        QVERIFY2(r.error().message().find("garbage.png") != std::string::npos, r.error().message().c_str());
        writeAll(path("empty.png"), {});
        QVERIFY(!kiln::io::readPngText(path("empty.png")).ok());
        QVERIFY(!kiln::io::readPngText(path("missing.png")).ok());
        // bad CRC in a file on disk
        auto crc = good;
        crc[8 + 4 + 4 + 13] ^= 1;  // IHDR's CRC
        writeAll(path("crc.png"), crc);
        r = kiln::io::readPngText(path("crc.png"));
        QVERIFY(!r.ok());
        QVERIFY2(r.error().message().find("CRC") != std::string::npos, r.error().message().c_str());
    }

    void writerRefusesBadInput()
    {
        const auto pixels = pattern(2, 2, 4);
        QVERIFY(!kiln::io::writePng(path("bad.png"), 0, 2, 3, pixels.data()).ok());
        QVERIFY(!kiln::io::writePng(path("bad.png"), 2, 2, 2, pixels.data()).ok());
        QVERIFY(!kiln::io::writePng(path("bad.png"), 2, 2, 3, pixels.data(), {{"", "x"}}).ok());
        QVERIFY(!kiln::io::writePng(path("bad.png"), 2, 2, 3, pixels.data(), {{"k", "bad \xff utf8"}}).ok());
        QVERIFY(!kiln::io::writePng(path("bad.png"), 2, 2, 3, pixels.data(), {{"k", std::string("a\0b", 3)}}).ok());
        QVERIFY(!QFile::exists(dir_.path() + "/bad.png"));
    }
};

QTEST_GUILESS_MAIN(TestPngFile)
#include "test_png_file.moc"
