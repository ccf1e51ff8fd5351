// Tokenizer data for the CLIP tokenizer and prompt parser tests: the real CLIP vocabulary from
// ../shared/data (never copied into the repository), and a tiny vocabulary whose BPE results can be
// worked out by hand from its merge order.
#pragma once

#include <QDir>
#include <QFile>
#include <QString>

#include <filesystem>

namespace clip_test {

// The real CLIP ViT-L/14 tokenizer folder, or an empty path where shared/ is not beside the checkout.
inline std::filesystem::path realTokenizerDir()
{
    namespace fs = std::filesystem;
    const fs::path dir = fs::path(KILN_SHARED_DATA) / "clip-tokenizer";
    std::error_code ec;
    if (fs::is_regular_file(dir / "vocab.json", ec) && fs::is_regular_file(dir / "merges.txt", ec)) return dir;
    return {};
}

inline constexpr const char* kNoRealVocab =
    "the CLIP vocabulary is not at " KILN_SHARED_DATA "/clip-tokenizer (shared/data beside the checkout); "
    "real-vocabulary cases skipped";

// Ids of the tiny vocabulary. Byte-level symbols of non-ASCII text: "é" is bytes C3 A9, which CLIP's
// byte table maps to U+00C3 'Ã' and U+00A9 '©'; "€" is E2 82 AC -> 'â', U+0124 'Ĥ' (0x82 is not
// printable: 0x00-0x20, 0x7F, 0x80 and 0x81 come before it among such bytes, so it gets 256 + 36 = U+0124), '¬'.
enum TinyId {
    kA = 0, kB, kC, kAw, kBw, kCw, kBCw, kAB, kAA, kAAw, kAAAAw, kStart, kEnd, kCommaW, kBang, kBangW,
    kOneW, kTwoW, kAtilde, kCopyW, kAcirc, kHcirc, kNotW
};

inline bool writeFile(const QString& path, const QByteArray& data)
{
    QFile f(path);
    return f.open(QIODevice::WriteOnly | QIODevice::Truncate) && f.write(data) == data.size();
}

inline QByteArray tinyVocabJson()
{
    return QByteArray(R"({"a": 0, "b": 1, "c": 2, "a</w>": 3, "b</w>": 4, "c</w>": 5, "bc</w>": 6, "ab": 7,
        "aa": 8, "aa</w>": 9, "aaaa</w>": 10, "<|startoftext|>": 11, "<|endoftext|>": 12, ",</w>": 13,
        "!": 14, "!</w>": 15, "1</w>": 16, "2</w>": 17, "Ã": 18, "©</w>": 19, "â": 20, "Ĥ": 21, "¬</w>": 22})");
}

// Rank order is the point: "b c</w>" outranks "a b", so "abc" becomes a + bc</w>, not ab + c</w>.
inline QByteArray tinyMerges()
{
    return QByteArray("#version: 0.2\n"
                      "b c</w>\n"
                      "a b\n"
                      "a a\n"
                      "a a</w>\n"
                      "aa aa</w>\n");
}

inline bool writeTinyTokenizer(const QString& dir)
{
    return writeFile(QDir(dir).filePath("vocab.json"), tinyVocabJson()) &&
           writeFile(QDir(dir).filePath("merges.txt"), tinyMerges());
}

}  // namespace clip_test
