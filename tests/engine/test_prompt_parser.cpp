// A1111's prompt syntax: parse_prompt_attention's documented examples and edge cases, BREAK,
// extra-network tags, and tokenize_line's 75-token chunking with its comma rule.
#include "clip_test_support.h"
#include "diffusion/prompt_parser.h"

#include <QTemporaryDir>
#include <QTest>

using namespace kiln::diffusion;
using namespace clip_test;
using Pieces = std::vector<WeightedText>;

namespace {

QByteArray describe(const Pieces& pieces)
{
    QByteArray out = "[";
    for (const auto& p : pieces) {
        out += "['" + QByteArray::fromStdString(p.text) + "', " + QByteArray::number(p.weight, 'g', 17) + "] ";
    }
    return out + "]";
}

Pieces parse(const char* prompt)
{
    auto r = parsePromptAttention(prompt);
    if (!r) return {{"ERROR: " + r.error().message(), 0.0}};
    return *r;
}

// Weights are compared exactly: the parser does Python's double arithmetic in Python's order.
#define COMPARE_PIECES(prompt, ...) QCOMPARE(describe(parse(prompt)), describe(Pieces __VA_ARGS__))

std::string repeat(const std::string& word, int n)
{
    std::string out;
    for (int i = 0; i < n; ++i) out += word + " ";
    return out;
}

}  // namespace

class TestPromptParser : public QObject {
    Q_OBJECT

private:
    QTemporaryDir tinyDir_;
    std::optional<ClipTokenizer> tiny_;
    std::optional<ClipTokenizer> real_;

    TokenizedPrompt tokenize(const ClipTokenizer& tok, const std::string& prompt, ChunkingOptions options = {})
    {
        auto r = tokenizePrompt(tok, prompt, options);
        if (!r) qFatal("tokenizePrompt failed: %s", r.error().message().c_str());
        return *r;
    }

    // Every chunk is a well-formed window: 77 ids and weights, start first, an end token after the
    // prompt's tokens, and padding (end) after that.
    static void checkFraming(const TokenizedPrompt& p, int start, int end)
    {
        for (const auto& c : p.chunks) {
            QCOMPARE(int(c.ids.size()), 77);
            QCOMPARE(int(c.weights.size()), 77);
            QCOMPARE(c.ids.front(), start);
            QCOMPARE(c.ids.back(), end);
            QCOMPARE(c.weights.front(), 1.0f);
            QCOMPARE(c.weights.back(), 1.0f);
        }
    }

    // The prompt tokens of a chunk: between start and the first end token.
    static std::vector<int> body(const PromptChunk& c, int end)
    {
        std::vector<int> out;
        for (std::size_t i = 1; i + 1 < c.ids.size() && c.ids[i] != end; ++i) out.push_back(c.ids[i]);
        return out;
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(writeTinyTokenizer(tinyDir_.path()));
        auto tok = ClipTokenizer::fromFolder(tinyDir_.path().toStdString());
        QVERIFY(tok.ok());
        tiny_ = *tok;
        if (const auto dir = realTokenizerDir(); !dir.empty()) {
            auto r = ClipTokenizer::fromFolder(dir);
            QVERIFY(r.ok());
            real_ = *r;
        }
    }

    // --- parse_prompt_attention ----------------------------------------------------------------

    void a1111DocumentedExamples()
    {
        // The doctest of A1111's parse_prompt_attention, outputs copied from Python's repr.
        COMPARE_PIECES("normal text", ({{"normal text", 1.0}}));
        COMPARE_PIECES("an (important) word", ({{"an ", 1.0}, {"important", 1.1}, {" word", 1.0}}));
        COMPARE_PIECES("(unbalanced", ({{"unbalanced", 1.1}}));
        COMPARE_PIECES("\\(literal\\]", ({{"(literal]", 1.0}}));
        COMPARE_PIECES("(unnecessary)(parens)", ({{"unnecessaryparens", 1.1}}));
        COMPARE_PIECES("a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).",
                       ({{"a ", 1.0},
                         {"house", 1.5730000000000004},
                         {" ", 1.1},
                         {"on", 1.0},
                         {" a ", 1.1},
                         {"hill", 0.55},
                         {", sun, ", 1.1},
                         {"sky", 1.4641000000000006},
                         {".", 1.1}}));
    }

    void emphasisForms()
    {
        COMPARE_PIECES("(word)", ({{"word", 1.1}}));
        COMPARE_PIECES("((word))", ({{"word", 1.2100000000000002}}));  // 1.1 * 1.1 in doubles
        COMPARE_PIECES("[word]", ({{"word", 1 / 1.1}}));
        COMPARE_PIECES("[[word]]", ({{"word", (1 / 1.1) * (1 / 1.1)}}));
        COMPARE_PIECES("(word:1.3)", ({{"word", 1.3}}));
        COMPARE_PIECES("(word: 0.7 )", ({{"word", 0.7}}));  // A1111 allows spaces around the number
        COMPARE_PIECES("(word:-1)", ({{"word", -1.0}}));
        COMPARE_PIECES("(word:+.5)", ({{"word", 0.5}}));
        COMPARE_PIECES("(word:2.)", ({{"word", 2.0}}));
        COMPARE_PIECES("((a:1.5) b)", ({{"a", 1.5 * 1.1}, {" b", 1.1}}));
        COMPARE_PIECES("[a (b) c]", ({{"a ", 1 / 1.1}, {"b", 1.1 * (1 / 1.1)}, {" c", 1 / 1.1}}));
        COMPARE_PIECES("", ({{"", 1.0}}));
    }

    void colonsAndStrayBrackets()
    {
        COMPARE_PIECES("(word:abc)", ({{"word:abc", 1.1}}));    // not a weight: ':' is text
        COMPARE_PIECES("time: 12:30", ({{"time: 12:30", 1.0}}));
        COMPARE_PIECES("a:1.2) b", ({{"a:1.2) b", 1.0}}));      // a weight with no '(' open is text
        COMPARE_PIECES("a) b] c", ({{"a) b] c", 1.0}}));        // stray closers are text
        COMPARE_PIECES("(a [b) c]", ({{"a ", 1.1}, {"b", 1.1 * (1 / 1.1)}, {" c", 1 / 1.1}}));
        COMPARE_PIECES("[unclosed", ({{"unclosed", 1 / 1.1}}));
        COMPARE_PIECES("(a [b", ({{"a ", 1.1}, {"b", 1.1 * (1 / 1.1)}}));
    }

    void escapes()
    {
        COMPARE_PIECES("\\(a\\) \\[b\\]", ({{"(a) [b]", 1.0}}));
        COMPARE_PIECES("back\\\\slash", ({{"back\\slash", 1.0}}));
        COMPARE_PIECES("lone\\backslash", ({{"lonebackslash", 1.0}}));  // A1111 drops a lone backslash
        COMPARE_PIECES("(\\(x\\))", ({{"(x)", 1.1}}));
        COMPARE_PIECES("\\(word:1.5\\)", ({{"(word:1.5)", 1.0}}));
    }

    void badWeight()
    {
        auto r = parsePromptAttention("a (cat:1.2.3) b");
        QVERIFY(!r.ok());  // Python's float() raises here, and A1111 with it
        QVERIFY2(QString::fromStdString(r.error().message()).contains("1.2.3"), r.error().message().c_str());
        QVERIFY(!parsePromptAttention("(cat:.)").ok());
        // Without an open bracket the same text is ordinary text, as in A1111.
        COMPARE_PIECES("cat:1.2.3)", ({{"cat:1.2.3)", 1.0}}));
    }

    void breakKeyword()
    {
        COMPARE_PIECES("a BREAK b", ({{"a", 1.0}, {"BREAK", -1.0}, {"b", 1.0}}));
        COMPARE_PIECES("a  \t BREAK\n b", ({{"a", 1.0}, {"BREAK", -1.0}, {"b", 1.0}}));
        COMPARE_PIECES("a,BREAK,b", ({{"a,", 1.0}, {"BREAK", -1.0}, {",b", 1.0}}));
        COMPARE_PIECES("BREAK", ({{"", 1.0}, {"BREAK", -1.0}, {"", 1.0}}));
        COMPARE_PIECES("a BREAK BREAK b", ({{"a", 1.0}, {"BREAK", -1.0}, {"", 1.0}, {"BREAK", -1.0}, {"b", 1.0}}));
        COMPARE_PIECES("aBREAK BREAKfast break_BREAK", ({{"aBREAK BREAKfast break_BREAK", 1.0}}));
        COMPARE_PIECES("a break b", ({{"a break b", 1.0}}));  // capitals only
        COMPARE_PIECES("(a) BREAK (b)", ({{"a", 1.1}, {"", 1.0}, {"BREAK", -1.0}, {"", 1.0}, {"b", 1.1}}));
        // A1111 weights a bracketed BREAK like text; it is then the word "break", not a chunk break.
        const Pieces inside = parse("(a BREAK b)");
        COMPARE_PIECES("(a BREAK b)", ({{"a", 1.1}, {"BREAK", -1.1}, {"b", 1.1}}));
        QVERIFY(!inside[1].isBreak());
        QVERIFY(parse("x BREAK y")[1].isBreak());
    }

    // --- extra networks --------------------------------------------------------------------------

    void loraTags()
    {
        auto r = extractExtraNetworks("a cat <lora:inkStyle:0.8>, night <lora:detail>");
        QVERIFY(r.ok());
        QCOMPARE(QString::fromStdString(r->prompt), QString("a cat , night "));
        QCOMPARE(int(r->tags.size()), 2);
        QCOMPARE(QString::fromStdString(r->tags[0].type), QString("lora"));
        QCOMPARE(QString::fromStdString(r->tags[0].name), QString("inkStyle"));
        QCOMPARE(r->tags[0].weight, 0.8);
        QCOMPARE(r->tags[0].unetWeight, 0.8);
        QCOMPARE(QString::fromStdString(r->tags[0].source), QString("<lora:inkStyle:0.8>"));
        QCOMPARE(QString::fromStdString(r->tags[1].name), QString("detail"));
        QCOMPARE(r->tags[1].weight, 1.0);
        QCOMPARE(r->tags[1].unetWeight, 1.0);

        auto split = extractExtraNetworks("<lora:x:0.8:0.5><lora:y:te=0.7:unet=0.2:dyn=8>");
        QVERIFY(split.ok());
        QCOMPARE(int(split->tags.size()), 2);
        QCOMPARE(split->tags[0].weight, 0.8);
        QCOMPARE(split->tags[0].unetWeight, 0.5);
        QCOMPARE(split->tags[1].weight, 0.7);
        QCOMPARE(split->tags[1].unetWeight, 0.2);
        QCOMPARE(int(split->tags[1].named.size()), 3);
        QCOMPARE(QString::fromStdString(split->tags[1].named[2].first), QString("dyn"));
        QVERIFY(split->prompt.empty());
    }

    void otherExtraNetworks()
    {
        auto r = extractExtraNetworks("<lyco:soft:0.6> x <hypernet:anime:0.5> <wildcard:colors> <notag> a<b>c <lora:>");
        QVERIFY(r.ok());
        QCOMPARE(int(r->tags.size()), 3);
        QCOMPARE(QString::fromStdString(r->tags[0].type), QString("lyco"));
        QCOMPARE(r->tags[0].weight, 0.6);
        QCOMPARE(QString::fromStdString(r->tags[1].type), QString("hypernet"));
        QCOMPARE(r->tags[1].weight, 0.5);
        QCOMPARE(QString::fromStdString(r->tags[2].type), QString("wildcard"));  // listed, like A1111
        QCOMPARE(QString::fromStdString(r->tags[2].name), QString("colors"));
        QCOMPARE(QString::fromStdString(r->prompt), QString(" x   <notag> a<b>c <lora:>"));

        auto bad = extractExtraNetworks("a <lora:ink:strong>");
        QVERIFY(!bad.ok());
        QVERIFY2(QString::fromStdString(bad.error().message()).contains("<lora:ink:strong>"),
                 bad.error().message().c_str());
    }

    // --- tokenize_line: chunks of 75 -------------------------------------------------------------

    void emptyPromptGivesOneChunk()
    {
        const auto p = tokenize(*tiny_, "");
        QCOMPARE(int(p.chunks.size()), 1);
        QCOMPARE(p.tokenCount, 0);
        checkFraming(p, kStart, kEnd);
        std::vector<int> expected(77, kEnd);
        expected[0] = kStart;
        QCOMPARE(p.chunks[0].ids, expected);
        QCOMPARE(p.chunks[0].weights, std::vector<float>(77, 1.0f));
    }

    void weightsFollowTokens()
    {
        const auto p = tokenize(*tiny_, "a (abc:1.5) [b] <lora:x:0.3>");
        QCOMPARE(int(p.chunks.size()), 1);
        QCOMPARE(p.tokenCount, 4);
        QCOMPARE(int(p.extraNetworks.size()), 1);
        const auto& c = p.chunks[0];
        QCOMPARE(body(c, kEnd), (std::vector<int>{kAw, kA, kBCw, kBw}));
        QCOMPARE(c.weights[1], 1.0f);
        QCOMPARE(c.weights[2], 1.5f);
        QCOMPARE(c.weights[3], 1.5f);
        QCOMPARE(c.weights[4], float(1 / 1.1));
        QCOMPARE(c.weights[5], 1.0f);  // the end token
        QCOMPARE(c.ids[5], int(kEnd));

        ChunkingOptions literal;
        literal.parseAttention = false;  // A1111's emphasis "None"
        const auto q = tokenize(*tiny_, "(a)", literal);
        QCOMPARE(q.chunks[0].weights, std::vector<float>(77, 1.0f));
    }

    void breakStartsAChunk()
    {
        const auto p = tokenize(*tiny_, "a b BREAK c");
        QCOMPARE(int(p.chunks.size()), 2);
        QCOMPARE(p.tokenCount, 76);  // 75 for the closed chunk, 1 in the last
        checkFraming(p, kStart, kEnd);
        QCOMPARE(body(p.chunks[0], kEnd), (std::vector<int>{kAw, kBw}));
        QCOMPARE(body(p.chunks[1], kEnd), (std::vector<int>{kCw}));
        // A trailing BREAK adds no empty chunk; a BREAK alone gives one chunk of padding.
        QCOMPARE(int(tokenize(*tiny_, "a BREAK").chunks.size()), 1);
        QCOMPARE(int(tokenize(*tiny_, "BREAK").chunks.size()), 1);
        QCOMPARE(int(tokenize(*tiny_, "a BREAK BREAK b").chunks.size()), 3);
    }

    void splitsAt75()
    {
        const auto p = tokenize(*tiny_, repeat("a", 200));
        QCOMPARE(int(p.chunks.size()), 3);
        QCOMPARE(p.tokenCount, 200);
        checkFraming(p, kStart, kEnd);
        QCOMPARE(int(body(p.chunks[0], kEnd).size()), 75);
        QCOMPARE(int(body(p.chunks[1], kEnd).size()), 75);
        QCOMPARE(int(body(p.chunks[2], kEnd).size()), 50);
        QCOMPARE(int(tokenize(*tiny_, repeat("a", 75)).chunks.size()), 1);
        QCOMPARE(int(tokenize(*tiny_, repeat("a", 76)).chunks.size()), 2);
    }

    void commaMovesTheSplit()
    {
        // 70 a, a comma, 10 (b:1.5): when the chunk fills, the 4 b after the comma (5 back, within 20)
        // move to the next chunk with their weights.
        const auto p = tokenize(*tiny_, repeat("a", 70) + ", " + repeat("(b:1.5)", 10));
        QCOMPARE(int(p.chunks.size()), 2);
        QCOMPARE(p.tokenCount, 85);
        std::vector<int> first(70, kAw);
        first.push_back(kCommaW);
        QCOMPARE(body(p.chunks[0], kEnd), first);
        QCOMPARE(body(p.chunks[1], kEnd), std::vector<int>(10, kBw));
        QCOMPARE(p.chunks[1].weights[1], 1.5f);
        QCOMPARE(p.chunks[1].weights[10], 1.5f);
        QCOMPARE(p.chunks[1].weights[11], 1.0f);
        checkFraming(p, kStart, kEnd);

        // The comma 25 tokens back is too far: a plain split at 75.
        const auto far = tokenize(*tiny_, repeat("a", 50) + ", " + repeat("b", 30));
        QCOMPARE(int(body(far.chunks[0], kEnd).size()), 75);
        QCOMPARE(int(body(far.chunks[1], kEnd).size()), 6);

        // Exactly 20 back still moves; 21 does not.
        const auto twenty = tokenize(*tiny_, repeat("a", 55) + ", " + repeat("b", 30));
        QCOMPARE(int(body(twenty.chunks[0], kEnd).size()), 56);
        const auto twentyOne = tokenize(*tiny_, repeat("a", 54) + ", " + repeat("b", 30));
        QCOMPARE(int(body(twentyOne.chunks[0], kEnd).size()), 75);

        ChunkingOptions off;
        off.commaBacktrack = 0;
        const auto plain = tokenize(*tiny_, repeat("a", 70) + ", " + repeat("b", 10), off);
        QCOMPARE(int(body(plain.chunks[0], kEnd).size()), 75);
        QCOMPARE(int(body(plain.chunks[1], kEnd).size()), 6);
    }

    void sd2Padding()
    {
        ChunkingOptions options;
        options.padId = 0;
        const auto p = tokenize(*tiny_, "a b", options);
        std::vector<int> expected(77, 0);
        expected[0] = kStart;
        expected[1] = kAw;
        expected[2] = kBw;
        expected[3] = kEnd;
        QCOMPARE(p.chunks[0].ids, expected);
    }

    void realPrompt()
    {
        if (!real_) QSKIP(kNoRealVocab);
        const auto p = tokenize(*real_, "a photo of a (cat:1.2)");
        QCOMPARE(int(p.chunks.size()), 1);
        QCOMPARE(body(p.chunks[0], 49407), (std::vector<int>{320, 1125, 539, 320, 2368}));
        QCOMPARE(p.chunks[0].weights[5], 1.2f);
        QCOMPARE(p.chunks[0].weights[4], 1.0f);
    }

    void realLongPrompt()
    {
        if (!real_) QSKIP(kNoRealVocab);
        // 5 x 45 tokens with a comma every 1-3 tokens: every split lands at a comma (after it, or before
        // it when the comma itself is the 76th token), and no token is lost or reordered.
        std::string text;
        for (int i = 0; i < 5; ++i) {
            text += "lowres, bad anatomy, bad hands, text, error, missing fingers, extra digit, fewer digits, "
                    "cropped, worst quality, low quality, normal quality, jpeg artifacts, signature, watermark, "
                    "username, blurry, ";
        }
        const std::vector<int> all = real_->encode(text);
        QVERIFY(all.size() >= 225);
        const auto p = tokenize(*real_, text);
        checkFraming(p, 49406, 49407);
        QVERIFY(p.chunks.size() >= 4);
        std::vector<int> joined;
        for (std::size_t i = 0; i < p.chunks.size(); ++i) {
            const auto b = body(p.chunks[i], 49407);
            QVERIFY(!b.empty());
            if (i + 1 < p.chunks.size()) {
                const bool afterComma = b.back() == 267;
                const bool beforeComma = b.size() == 75 && body(p.chunks[i + 1], 49407).front() == 267;
                QVERIFY(afterComma || beforeComma);
                QVERIFY(b.size() > 75 - 20);
            }
            joined.insert(joined.end(), b.begin(), b.end());
        }
        QCOMPARE(joined, all);
        QCOMPARE(p.tokenCount, int(75 * (p.chunks.size() - 1) + body(p.chunks.back(), 49407).size()));
    }
};

QTEST_GUILESS_MAIN(TestPromptParser)
#include "test_prompt_parser.moc"
