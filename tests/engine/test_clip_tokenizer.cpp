// The CLIP BPE tokenizer: the real CLIP vocabulary against ids from OpenAI's reference tokenizer
// (clip/simple_tokenizer.py run on the same vocab.json/merges.txt), a tiny vocabulary whose results
// follow by hand from its merge order, and broken or hostile files.
#include "clip_test_support.h"
#include "diffusion/clip_tokenizer.h"

#include <QTemporaryDir>
#include <QTest>

#include <thread>
#include <vector>

using kiln::diffusion::ClipTokenizer;
using Ids = std::vector<int>;
using namespace clip_test;

namespace {

QByteArray describe(const Ids& ids)
{
    QByteArray out;
    for (const int id : ids) out += QByteArray::number(id) + ' ';
    return out;
}

#define COMPARE_IDS(actual, expected) QCOMPARE(describe(actual), describe(expected))

Ids padded(Ids ids, int pad = 49407)
{
    ids.resize(ClipTokenizer::kContextLength, pad);
    return ids;
}

}  // namespace

class TestClipTokenizer : public QObject {
    Q_OBJECT

private:
    std::optional<ClipTokenizer> real_;
    std::optional<ClipTokenizer> tiny_;
    QTemporaryDir tinyDir_;

    const ClipTokenizer* real()
    {
        return real_ ? &*real_ : nullptr;
    }

    QString errorFor(const QString& vocab, const QString& merges)
    {
        auto tok = ClipTokenizer::fromFiles(vocab.toStdString(), merges.toStdString());
        if (tok) return {};
        return QString::fromStdString(tok.error().message());
    }

private Q_SLOTS:
    void initTestCase()
    {
        if (const auto dir = realTokenizerDir(); !dir.empty()) {
            auto tok = ClipTokenizer::fromFolder(dir);
            QVERIFY2(tok.ok(), tok.ok() ? "" : tok.error().message().c_str());
            real_ = *tok;
        }
        QVERIFY(tinyDir_.isValid());
        QVERIFY(writeTinyTokenizer(tinyDir_.path()));
        auto tok = ClipTokenizer::fromFolder(tinyDir_.path().toStdString());
        QVERIFY2(tok.ok(), tok.ok() ? "" : tok.error().message().c_str());
        tiny_ = *tok;
    }

    // --- the real CLIP vocabulary -------------------------------------------------------------

    void realVocabularyShape()
    {
        if (!real()) QSKIP(kNoRealVocab);
        QCOMPARE(real()->vocabSize(), std::size_t(49408));
        QCOMPARE(real()->startId(), 49406);
        QCOMPARE(real()->endId(), 49407);
        QCOMPARE(real()->padId(), 49407);  // SD 1.x pads with <|endoftext|>
        QCOMPARE(real()->idOf("cat</w>").value_or(-1), 2368);
        QCOMPARE(real()->idOf(",</w>").value_or(-1), 267);
        QVERIFY(!real()->idOf("no such token").has_value());
    }

    void realPhotoOfACat()
    {
        if (!real()) QSKIP(kNoRealVocab);
        COMPARE_IDS(real()->encode("a photo of a cat"), (Ids{320, 1125, 539, 320, 2368}));
        COMPARE_IDS(real()->encodeWindow("a photo of a cat"), padded({49406, 320, 1125, 539, 320, 2368, 49407}));
    }

    void realCases_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<Ids>("ids");
        // Expected ids: OpenAI's simple_tokenizer on this vocabulary.
        QTest::newRow("case") << "A Photo OF a CAT" << Ids{320, 1125, 539, 320, 2368};
        QTest::newRow("extra whitespace") << "  a   photo\tof\n a cat  " << Ids{320, 1125, 539, 320, 2368};
        QTest::newRow("unicode whitespace") << QString::fromUtf8("a\u00a0photo\u3000of\u2003a cat")
                                            << Ids{320, 1125, 539, 320, 2368};
        QTest::newRow("punctuation runs") << "hello!!! world..." << Ids{3306, 995, 1002, 678};
        QTest::newRow("brackets and colon") << "(masterpiece:1.2)" << Ids{263, 12066, 281, 272, 269, 273, 264};
        QTest::newRow("comma without spaces") << "a,b" << Ids{320, 267, 321};
        QTest::newRow("digits one by one") << "1234567890" << Ids{272, 273, 274, 275, 276, 277, 278, 279, 280, 271};
        QTest::newRow("decimals") << "3.14159 and 2024"
                                  << Ids{274, 269, 272, 275, 272, 276, 280, 537, 273, 271, 273, 275};
        QTest::newRow("ordinals") << "1st 2nd" << Ids{272, 545, 273, 1764};
        QTest::newRow("apostrophes") << "it's a dog's life, isn't it? we'll see"
                                     << Ids{585, 568, 320, 1929, 568, 970, 267, 2923, 713, 585, 286, 649, 1342, 862};
        QTest::newRow("contraction upper case") << "I'M HERE" << Ids{328, 880, 763};
        QTest::newRow("they're") << "they're" << Ids{889, 982};
        QTest::newRow("don't") << "don't" << Ids{847, 713};
        QTest::newRow("accents") << QString::fromUtf8("café naïve résumé")
                                 << Ids{15304, 1097, 35689, 563, 29106, 7054, 4166};
        QTest::newRow("accented capitals") << QString::fromUtf8("Ünïcödé ÄÖÜ")
                                           << Ids{6522, 77, 35689, 66, 7255, 67, 4166, 10896, 7255, 47177};
        QTest::newRow("cyrillic case") << QString::fromUtf8("МОСКВА москва")
                                       << Ids{38018, 13506, 23669, 27152, 39813, 27080,
                                              38018, 13506, 23669, 27152, 39813, 27080};
        QTest::newRow("greek case") << QString::fromUtf8("ΑΒΓ αβγ")
                                    << Ids{138, 109, 138, 110, 138, 367, 138, 109, 138, 110, 138, 367};
        QTest::newRow("cjk") << QString::fromUtf8("東京タワー") << Ids{48338, 21078, 105, 34941, 2429, 107, 30391};
        QTest::newRow("emoji") << QString::fromUtf8("emoji 🐱 cat") << Ids{16327, 22979, 2368};
        QTest::newRow("special tokens") << "<|startoftext|>a<|endoftext|>" << Ids{49406, 320, 49407};
        QTest::newRow("special token any case") << "a<|ENDOFTEXT|>" << Ids{320, 49407};
        QTest::newRow("empty") << "" << Ids{};
        QTest::newRow("only spaces") << " \t\n " << Ids{};
        QTest::newRow("negative prompt")
            << "lowres, bad anatomy, bad hands, text, error, missing fingers, extra digit, fewer digits, cropped, "
               "worst quality, low quality, normal quality, jpeg artifacts, signature, watermark, username, blurry"
            << Ids{1049,  934,  267,   2103, 15376, 267, 2103,  3500, 267,   4160,  267,  12097, 267,  3423, 9690,
                   267,   4231, 27472, 267,  19128, 31710, 267, 31139, 267,  5719,  3027, 267,   1042, 3027, 267,
                   5967,  3027, 267,   73,   11207, 30249, 267, 9189,  267,  2505,  2110, 267,   28162, 267, 21977};
    }

    void realCases()
    {
        if (!real()) QSKIP(kNoRealVocab);
        QFETCH(QString, text);
        QFETCH(Ids, ids);
        COMPARE_IDS(real()->encode(text.toStdString()), ids);
    }

    void realCleanupLikeFtfy()
    {
        if (!real()) QSKIP(kNoRealVocab);
        // Hugging Face's CLIPTokenizer runs ftfy first; Kiln does its table-free parts (see the header).
        const auto same = [&](const char* a, const char* b) { COMPARE_IDS(real()->encode(a), real()->encode(b)); };
        same("don\u2019t", "don't");
        same("\u201cquoted\u201d", "\"quoted\"");
        same("\ufb01ne", "fine");
        same("\uff21\uff22\uff23 \uff11", "abc 1");
        same("r&amp;b &#39;x&#x27;", "r&b 'x'");
        same("a\u200b\ufeffb", "a\u200bb");  // BOM dropped, zero-width space kept (ftfy keeps it)
        same("a\x01\x7f b", "a b");
        // A '<' means the text may be HTML, so ftfy (and Kiln) leave references alone.
        QVERIFY(real()->encode("a < b &amp; c") != real()->encode("a < b & c"));
    }

    void realWindowTruncatesAt75()
    {
        if (!real()) QSKIP(kNoRealVocab);
        QString text;
        for (int i = 0; i < 100; ++i) text += "cat ";
        const Ids window = real()->encodeWindow(text.toStdString());
        QCOMPARE(int(window.size()), 77);
        QCOMPARE(window.front(), 49406);
        QCOMPARE(window[75], 2368);
        QCOMPARE(window.back(), 49407);
    }

    void realDecode()
    {
        if (!real()) QSKIP(kNoRealVocab);
        for (const char* text : {"a photo of a cat", "café naïve résumé", "東京タワー 🐱"}) {
            auto decoded = real()->decode(real()->encode(text));
            QVERIFY(decoded.ok());
            QCOMPARE(QString::fromStdString(*decoded), QString::fromUtf8(text));
        }
        // Every word ends in </w>, so CLIP's decode puts a space after each piece (OpenAI's does too).
        QCOMPARE(QString::fromStdString(*real()->decode(real()->encode("don't stop, 3.14!"))),
                 QString("don 't stop , 3 . 1 4 !"));
        const Ids window = real()->encodeWindow("a photo of a cat");
        QCOMPARE(QString::fromStdString(*real()->decode(window)), QString("a photo of a cat"));
        const auto withSpecials = real()->decode(Ids{49406, 320, 2368, 49407}, false);
        QCOMPARE(QString::fromStdString(*withSpecials), QString("<|startoftext|>a cat <|endoftext|>"));
        const auto bad = real()->decode(Ids{320, 49408});
        QVERIFY(!bad.ok());
        QVERIFY(QString::fromStdString(bad.error().message()).contains("49408"));
    }

    void realConcurrentEncode()
    {
        if (!real()) QSKIP(kNoRealVocab);
        // Copies share one BPE cache; several threads must get the same ids as one.
        const Ids expected = real()->encode("masterpiece, best quality, 1girl, solo, intricate details");
        std::vector<std::thread> threads;
        std::vector<int> mismatches(4, 0);
        for (int t = 0; t < 4; ++t) {
            threads.emplace_back([&, t, tok = *real_] {
                for (int i = 0; i < 200; ++i) {
                    const std::string unique = "word" + std::to_string(t * 1000 + i);
                    (void)tok.encode(unique);
                    if (tok.encode("masterpiece, best quality, 1girl, solo, intricate details") != expected)
                        ++mismatches[static_cast<std::size_t>(t)];
                }
            });
        }
        for (auto& th : threads) th.join();
        QCOMPARE(mismatches, (std::vector<int>{0, 0, 0, 0}));
    }

    // --- a tiny vocabulary, results worked out by hand from the merge ranks --------------------

    void tinyBpe_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<Ids>("ids");
        // "b c</w>" (rank 0) beats "a b" (rank 1): a + bc</w>, although a left-to-right merger gives ab + c</w>.
        QTest::newRow("rank order, not position") << "abc" << Ids{kA, kBCw};
        // "a b" merges every occurrence; the last b carries </w>, so only the first pair merges.
        QTest::newRow("end of word blocks a merge") << "abab" << Ids{kAB, kA, kBw};
        // a a a a</w> -> (a a, rank 2, leftmost non-overlapping) aa a a</w> -> (rank 3) aa aa</w> -> aaaa</w>.
        QTest::newRow("merges chain") << "aaaa" << Ids{kAAAAw};
        // a a a</w> -> aa a</w>; no rule joins "aa" and "a</w>".
        QTest::newRow("no rule left") << "aaa" << Ids{kAA, kAw};
        QTest::newRow("no rule at all") << "cab" << Ids{kC, kA, kBw};
        QTest::newRow("single symbols") << "a b, c!" << Ids{kAw, kBw, kCommaW, kCw, kBangW};
        QTest::newRow("punctuation run") << "!!" << Ids{kBang, kBangW};
        QTest::newRow("digits split") << "12" << Ids{kOneW, kTwoW};
        QTest::newRow("lower-cased") << "ABC" << Ids{kA, kBCw};
        QTest::newRow("unknown piece is unk") << "d" << Ids{kEnd};
        // UTF-8 bytes through CLIP's byte table (see clip_test_support.h).
        QTest::newRow("two-byte letter") << QString::fromUtf8("é") << Ids{kAtilde, kCopyW};
        QTest::newRow("capital lower-cased") << QString::fromUtf8("É") << Ids{kAtilde, kCopyW};
        QTest::newRow("unprintable byte") << QString::fromUtf8("€") << Ids{kAcirc, kHcirc, kNotW};
    }

    void tinyBpe()
    {
        QFETCH(QString, text);
        QFETCH(Ids, ids);
        COMPARE_IDS(tiny_->encode(text.toStdString()), ids);
        COMPARE_IDS(tiny_->encode(text.toStdString()), ids);  // again, from the cache
    }

    void tinyWindowAndDecode()
    {
        Ids expected{kStart, kA, kBCw, kEnd};
        COMPARE_IDS(tiny_->encodeWindow("abc"), padded(expected, kEnd));
        QCOMPARE(QString::fromStdString(*tiny_->decode(Ids{kAB, kA, kBw, kCommaW, kAAAAw})), QString("abab , aaaa"));
        QCOMPARE(QString::fromStdString(*tiny_->decode(Ids{kAcirc, kHcirc, kNotW})), QString::fromUtf8("€"));
        // A lone continuation byte decodes to U+FFFD rather than failing.
        QCOMPARE(QString::fromStdString(*tiny_->decode(Ids{kHcirc})), QString::fromUtf8("\ufffd"));
    }

    void invalidUtf8Input()
    {
        // Bytes that are not UTF-8 become U+FFFD before splitting; nothing crashes or stalls.
        const std::string bad = std::string("a\xff\xc3") + "b" + std::string("\xe2\x82");
        QCOMPARE(QString::fromStdString(ClipTokenizer::normalize(bad)), QString::fromUtf8("a\ufffd\ufffdb\ufffd"));
        QVERIFY(!tiny_->encode(bad).empty());
    }

    void normalizeRules()
    {
        QCOMPARE(QString::fromStdString(ClipTokenizer::normalize("  A\t\tB \n")), QString("a b"));
        QCOMPARE(QString::fromStdString(ClipTokenizer::normalize("&lt;x&gt; &amp;amp; &#65;&#x42; &bogus;")),
                 QString("<x> &amp; ab &bogus;"));  // unescaped once, as ftfy does
        QCOMPARE(QString::fromStdString(ClipTokenizer::normalize("\u0130stanbul \u1E9E \u0401")),
                 QString::fromUtf8("i\u0307stanbul \u00df \u0451"));
    }

    // --- files that are missing, broken or hostile -------------------------------------------

    void missingFiles()
    {
        QTemporaryDir dir;
        auto none = ClipTokenizer::fromFolder((dir.path() + "/nowhere").toStdString());
        QVERIFY(!none.ok());
        QVERIFY(QString::fromStdString(none.error().message()).contains("nowhere"));

        QVERIFY(writeFile(dir.filePath("vocab.json"), tinyVocabJson()));
        auto noMerges = ClipTokenizer::fromFolder(dir.path().toStdString());
        QVERIFY(!noMerges.ok());
        const QString message = QString::fromStdString(noMerges.error().message());
        QVERIFY2(message.contains("merges.txt") && message.contains(dir.path()) && message.contains("tokenizer"),
                 qPrintable(message));

        const QString err = errorFor(dir.filePath("vocab.json"), dir.filePath("missing-merges.txt"));
        QVERIFY2(err.contains("missing-merges.txt"), qPrintable(err));
    }

    void modelRootIsAccepted()
    {
        QTemporaryDir root;
        QVERIFY(QDir(root.path()).mkdir("tokenizer"));
        QVERIFY(writeTinyTokenizer(root.filePath("tokenizer")));
        auto tok = ClipTokenizer::fromFolder(root.path().toStdString());
        QVERIFY2(tok.ok(), tok.ok() ? "" : tok.error().message().c_str());
        COMPARE_IDS(tok->encode("abc"), (Ids{kA, kBCw}));
    }

    void badVocab_data()
    {
        QTest::addColumn<QByteArray>("vocab");
        QTest::addColumn<QString>("mentions");
        QTest::newRow("truncated") << tinyVocabJson().left(60) << "not valid JSON";
        QTest::newRow("empty file") << QByteArray() << "not valid JSON";
        QTest::newRow("trailing garbage") << tinyVocabJson() + "}" << "not valid JSON";
        QTest::newRow("top-level array") << QByteArray("[1, 2, 3]") << "top level is an array";
        QTest::newRow("string id") << QByteArray(R"({"a": "0"})") << "\"a\" is a string";
        QTest::newRow("nested object") << QByteArray(R"({"a": {"b": 1}})") << "\"a\" is an object";
        QTest::newRow("fraction id") << QByteArray(R"({"a": 0.5})") << "fraction";
        QTest::newRow("negative id") << QByteArray(R"({"a": -3})") << "negative";
        QTest::newRow("huge id") << QByteArray(R"({"a": 123456789012})") << "beyond";
        QTest::newRow("shared id") << QByteArray(R"({"a": 1, "b": 1})") << "both";
        QTest::newRow("repeated token") << QByteArray(R"({"a": 1, "a": 2})") << "twice";
        QTest::newRow("no specials") << QByteArray(R"({"a": 0, "<|endoftext|>": 1})") << "<|startoftext|>";
        QTest::newRow("deep nesting") << QByteArray(200000, '[') << "top level is an array";
        QTest::newRow("deep nesting in a value") << QByteArray(R"({"a": )") + QByteArray(200000, '[') << "array";
    }

    void badVocab()
    {
        QFETCH(QByteArray, vocab);
        QFETCH(QString, mentions);
        QTemporaryDir dir;
        QVERIFY(writeFile(dir.filePath("vocab.json"), vocab));
        QVERIFY(writeFile(dir.filePath("merges.txt"), tinyMerges()));
        const QString err = errorFor(dir.filePath("vocab.json"), dir.filePath("merges.txt"));
        QVERIFY2(err.contains(dir.filePath("vocab.json")), qPrintable(err));
        QVERIFY2(err.contains(mentions), qPrintable(err));
    }

    void oversizedVocab()
    {
        QTemporaryDir dir;
        QFile big(dir.filePath("vocab.json"));
        QVERIFY(big.open(QIODevice::WriteOnly));
        QVERIFY(big.resize(65ll << 20));  // sparse: the size is refused before anything is read
        big.close();
        QVERIFY(writeFile(dir.filePath("merges.txt"), tinyMerges()));
        const QString err = errorFor(dir.filePath("vocab.json"), dir.filePath("merges.txt"));
        QVERIFY2(err.contains("64 MiB"), qPrintable(err));
    }

    void badMerges_data()
    {
        QTest::addColumn<QByteArray>("merges");
        QTest::addColumn<QString>("mentions");
        QTest::newRow("three symbols") << QByteArray("#version: 0.2\nb c</w>\na b c\n") << "line 3";
        QTest::newRow("one symbol") << QByteArray("#version: 0.2\nb c</w>\na b\ngarbage\n") << "line 4";
        QTest::newRow("binary junk") << QByteArray("#version: 0.2\n\x01\x02 \x03 \x04\n") << "line 2";
        QTest::newRow("no merges") << QByteArray("#version: 0.2\n") << "no merges";
        QTest::newRow("empty") << QByteArray() << "no merges";
    }

    void badMerges()
    {
        QFETCH(QByteArray, merges);
        QFETCH(QString, mentions);
        QTemporaryDir dir;
        QVERIFY(writeFile(dir.filePath("vocab.json"), tinyVocabJson()));
        QVERIFY(writeFile(dir.filePath("merges.txt"), merges));
        const QString err = errorFor(dir.filePath("vocab.json"), dir.filePath("merges.txt"));
        QVERIFY2(err.contains(dir.filePath("merges.txt")), qPrintable(err));
        QVERIFY2(err.contains(mentions), qPrintable(err));
    }

    void crlfMergesAndBlankLines()
    {
        QTemporaryDir dir;
        QVERIFY(writeFile(dir.filePath("vocab.json"), tinyVocabJson()));
        QByteArray merges = tinyMerges();
        merges.replace("\n", "\r\n");
        merges += "\r\n\r\n";
        QVERIFY(writeFile(dir.filePath("merges.txt"), merges));
        auto tok = ClipTokenizer::fromFiles(dir.filePath("vocab.json").toStdString(),
                                            dir.filePath("merges.txt").toStdString());
        QVERIFY2(tok.ok(), tok.ok() ? "" : tok.error().message().c_str());
        COMPARE_IDS(tok->encode("abc aaaa"), (Ids{kA, kBCw, kAAAAw}));
    }
};

QTEST_GUILESS_MAIN(TestClipTokenizer)
#include "test_clip_tokenizer.moc"
