// The PyTorch checkpoint reader without LibTorch: fixtures against PyTorch's own answers,
// hostile files refused, damaged files reported, and the pickle machine's edge cases.
#include "checkpoint_test_support.h"
#include "io/pickle.h"
#include "io/torch_checkpoint.h"

#include <QtTest/QtTest>

#include <filesystem>
#include <set>

using namespace kiln;
using namespace kiln::io;

namespace {

// A byte string literal that may hold NULs.
#define BYTES(literal) QByteArray(literal, sizeof(literal) - 1)

// Runs one pickle stream through the machine, with no persistent ids.
Result<pickle::Ref> runPickle(pickle::PickleGraph& g, std::string_view bytes)
{
    std::size_t pos = 0;
    pickle::UnpickleOptions opt;
    opt.where = "test.pkl";
    const auto span = std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    return pickle::unpickle(g, span, pos, opt);
}

QStringList fixtureNames(bool wantErrors)
{
    QStringList out;
    for (const auto& [name, spec] : test::expectedCheckpoints().items())
        if (spec.contains("error") == wantErrors) out << QString::fromStdString(name);
    return out;
}

}  // namespace

class TestCheckpointReader : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY2(!test::expectedCheckpoints().is_discarded() && test::expectedCheckpoints().size() > 20,
                 "tests/data/checkpoints/expected.json is missing or unreadable");
    }

    void fixturesMatchPyTorch_data()
    {
        QTest::addColumn<QString>("file");
        for (const QString& f : fixtureNames(false)) QTest::newRow(qPrintable(f)) << f;
    }
    void fixturesMatchPyTorch()
    {
        QFETCH(QString, file);
        const auto& spec = test::expectedCheckpoints()[file.toStdString()];
        auto ck = TorchCheckpoint::open(test::checkpointPath(file.toStdString()));
        QVERIFY2(ck.ok(), ck.ok() ? "" : qPrintable(QString::fromStdString(ck.error().message())));
        QCOMPARE(QString::fromStdString(ck->format()), QString::fromStdString(spec["format"].get<std::string>()));

        std::set<std::string> names;
        for (const auto& t : ck->tensors()) names.insert(t.name);
        std::set<std::string> wanted;
        for (const auto& [name, _] : spec["tensors"].items()) wanted.insert(name);
        if (names != wanted) {
            QString diff;
            for (const auto& n : names)
                if (!wanted.count(n)) diff += " unexpected:" + QString::fromStdString(n);
            for (const auto& n : wanted)
                if (!names.count(n)) diff += " missing:" + QString::fromStdString(n);
            QFAIL(qPrintable("tensor names differ:" + diff));
        }

        for (const auto& [name, exp] : spec["tensors"].items()) {
            const CheckpointTensor* t = ck->findTensor(name);
            QVERIFY(t);
            QCOMPARE(std::string(dtypeName(t->dtype)), exp["dtype"].get<std::string>());
            QCOMPARE(t->shape, exp["shape"].get<std::vector<std::int64_t>>());
            auto bytes = ck->contiguousBytes(*t);
            QVERIFY2(bytes.ok(), bytes.ok() ? "" : bytes.error().message().c_str());
            const auto values = test::decodeElements(t->dtype, bytes.value());
            const auto want = exp["values"].get<std::vector<double>>();
            QCOMPARE(values.size(), want.size());
            for (std::size_t i = 0; i < want.size(); ++i)
                if (values[i] != want[i])
                    QFAIL(qPrintable(QString("%1[%2]: %3 != %4").arg(QString::fromStdString(name)).arg(i)
                                         .arg(values[i], 0, 'g', 17).arg(want[i], 0, 'g', 17)));
        }
        for (const auto& [name, summary] : spec["entries"].items()) {
            const auto it = std::find_if(ck->entries().begin(), ck->entries().end(),
                                         [&](const CheckpointEntry& e) { return e.name == name; });
            QVERIFY2(it != ck->entries().end(), qPrintable("no entry " + QString::fromStdString(name)));
            QCOMPARE(QString::fromStdString(it->summary), QString::fromStdString(summary.get<std::string>()));
        }
    }

    void badFilesGiveErrors_data()
    {
        QTest::addColumn<QString>("file");
        for (const QString& f : fixtureNames(true)) QTest::newRow(qPrintable(f)) << f;
    }
    void badFilesGiveErrors()
    {
        QFETCH(QString, file);
        const auto& spec = test::expectedCheckpoints()[file.toStdString()];
        const std::string marker = spec.value("marker", std::string());
        if (!marker.empty()) std::filesystem::remove(marker);
        const std::string path = test::checkpointPath(file.toStdString());
        auto ck = TorchCheckpoint::open(path);
        QVERIFY2(!ck.ok(), "a damaged or hostile file was accepted");
        const std::string msg = ck.error().message();
        qInfo("%s", msg.c_str());
        for (const auto& needle : spec["error"])
            QVERIFY2(msg.find(needle.get<std::string>()) != std::string::npos,
                     qPrintable(QString("'%1' not in: %2").arg(QString::fromStdString(needle.get<std::string>()),
                                                               QString::fromStdString(msg))));
        QVERIFY2(ck.error().where.find(file.toStdString()) != std::string::npos, "the error does not name the file");
        if (!marker.empty()) QVERIFY2(!std::filesystem::exists(marker), "the hostile payload ran");

        // The same bytes through fromBytes give the same verdict.
        auto again = TorchCheckpoint::fromBytes(test::readFile(path), file.toStdString());
        QVERIFY(!again.ok());
        QCOMPARE(QString::fromStdString(again.error().what), QString::fromStdString(ck.error().what));
    }

    void fromBytesMatchesOpen()
    {
        const std::string path = test::checkpointPath("lightning.ckpt");
        auto a = TorchCheckpoint::open(path);
        auto b = TorchCheckpoint::fromBytes(test::readFile(path), "lightning.ckpt");
        QVERIFY(a.ok() && b.ok());
        QCOMPARE(a->tensors().size(), b->tensors().size());
        QCOMPARE(a->entries().size(), b->entries().size());
        for (std::size_t i = 0; i < a->tensors().size(); ++i) {
            QCOMPARE(a->tensors()[i].name, b->tensors()[i].name);
            QVERIFY(std::equal(a->tensors()[i].storage.begin(), a->tensors()[i].storage.end(),
                               b->tensors()[i].storage.begin(), b->tensors()[i].storage.end()));
        }
    }

    void sharedStorageIsOneBuffer()
    {
        auto ck = TorchCheckpoint::open(test::checkpointPath("shared_views.pt"));
        QVERIFY(ck.ok());
        const auto* base = ck->findTensor("base");
        const auto* t = ck->findTensor("transposed");
        const auto* off = ck->findTensor("offset");
        QVERIFY(base && t && off);
        QCOMPARE(t->storage.data(), base->storage.data());
        QCOMPARE(t->stride, (std::vector<std::int64_t>{1, 6}));
        QCOMPARE(off->storageOffset, std::int64_t{5});
    }

    void lightningListsFrameworkObjects()
    {
        auto ck = TorchCheckpoint::open(test::checkpointPath("lightning.ckpt"));
        QVERIFY(ck.ok());
        QVERIFY(ck->findTensor("state_dict.model.fc.weight"));
        QVERIFY(ck->findTensor("optimizer_states.0.state.4.exp_avg"));
        QVERIFY(ck->findTensor("stats.ema_weight"));  // inside a user's own class, found through its state
    }

    void tensorPastItsStorageIsAnError()
    {
        auto ck = TorchCheckpoint::open(test::checkpointPath("one_item.pt"));
        QVERIFY(ck.ok());
        CheckpointTensor t = ck->tensors().at(0);
        t.shape = {3, 3};
        auto r = ck->contiguousBytes(t);
        QVERIFY(!r.ok());
        QVERIFY(r.error().what.find("past the end of its storage") != std::string::npos);
        t.shape = {2, 3};
        t.storageOffset = 1;
        QVERIFY(!ck->contiguousBytes(t).ok());
        t.storageOffset = 0;
        t.stride = {INT64_MAX / 2, 1};
        QVERIFY(!ck->contiguousBytes(t).ok());  // overflowing index arithmetic
        t.shape = {0, 3};
        auto empty = ck->contiguousBytes(t);
        QVERIFY(empty.ok() && empty->empty());
        // A stride-0 expansion of one element into far more than the input justifies.
        t.shape = {1 << 20, 1 << 20};
        t.stride = {0, 0};
        QVERIFY(!ck->contiguousBytes(t).ok());
    }

    void deepNestingIsBounded()
    {
        auto ck = TorchCheckpoint::open(test::checkpointPath("deep.pt"));
        QVERIFY2(ck.ok(), ck.ok() ? "" : ck.error().message().c_str());
        bool cut = false;
        for (const auto& e : ck->entries()) cut |= e.summary.find("nested deeper") != std::string::npos;
        QVERIFY(cut);
    }

    // Every prefix and many single-byte corruptions of real files: errors, never crashes.
    void damagedVariantsNeverCrash_data()
    {
        QTest::addColumn<QString>("file");
        for (const char* f : {"state_dict.pt", "legacy.pt", "lightning.ckpt", "protocol0.pt", "deflated.pt", "zip64.pt"})
            QTest::newRow(f) << f;
    }
    void damagedVariantsNeverCrash()
    {
        QFETCH(QString, file);
        const auto bytes = test::readFile(test::checkpointPath(file.toStdString()));
        QVERIFY(!bytes.empty());
        int ok = 0;
        for (std::size_t n = 0; n < bytes.size(); n += (bytes.size() > 4000 ? 3 : 1)) {
            auto r = TorchCheckpoint::fromBytes({bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n)}, "cut");
            if (r.ok()) ++ok;
            else QVERIFY(!r.error().what.empty());
        }
        std::uint32_t seed = 12345;
        for (int i = 0; i < 3000; ++i) {
            seed = seed * 1664525u + 1013904223u;
            auto copy = bytes;
            copy[seed % copy.size()] ^= static_cast<std::uint8_t>(1u << ((seed >> 20) % 8));
            auto r = TorchCheckpoint::fromBytes(std::move(copy), "flipped");
            if (r.ok())
                for (const auto& t : r->tensors()) (void)r->contiguousBytes(t);
        }
        QVERIFY(ok < 3);  // a cut file is almost never a complete one
    }

    void memoSharingSeesLaterMutation()
    {
        // [] memoized, put in a tuple, then appended to: the tuple must see the append.
        pickle::PickleGraph g;
        auto r = runPickle(g, std::string_view("\x80\x02]q\x00h\x00\x85q\x01h\x00K\x07" "a0h\x01.", 19));
        QVERIFY2(r.ok(), r.ok() ? "" : r.error().message().c_str());
        QCOMPARE(QString::fromStdString(g.describe(r.value())), QString("([7],)"));
    }

    void floatsReadLikePython()
    {
        pickle::PickleGraph g;
        auto r = runPickle(g, "(F0.0001\nF1e16\nF123456.0\nF1.5e-07\nF-2.5\nF1e-05\nF0.1\nl.");
        QVERIFY(r.ok());
        QCOMPARE(QString::fromStdString(g.describe(r.value())), QString("[0.0001, 1e+16, 123456.0, 1.5e-07, -2.5, 1e-05, 0.1]"));
    }

    void cyclesAreHarmless()
    {
        pickle::PickleGraph g;
        auto r = runPickle(g, std::string_view("\x80\x02]q\x00h\x00" "a.", 9));  // l = []; l.append(l)
        QVERIFY(r.ok());
        QVERIFY(g.describe(r.value()).size() < 300);  // describe is bounded even on a cycle
    }

    void malformedPicklesAreErrors_data()
    {
        QTest::addColumn<QByteArray>("bytes");
        QTest::addColumn<QString>("needle");
        QTest::newRow("empty") << QByteArray() << "STOP";
        QTest::newRow("underflow") << BYTES("\x80\x02.") << "underflow";
        QTest::newRow("append-no-list") << BYTES("\x80\x02K\x01K\x02" "a.") << "expected a list";
        QTest::newRow("no-mark") << BYTES("\x80\x02K\x01t.") << "MARK";
        QTest::newRow("mark-hides-below") << BYTES("\x80\x02K\x01(\x85.") << "underflow";
        QTest::newRow("memo-missing") << BYTES("\x80\x02h\x05.") << "memo slot 5";
        QTest::newRow("huge-unicode") << BYTES("\x80\x04\x8d\xff\xff\xff\xff\xff\xff\xff\x7f" "abc.") << "more bytes";
        QTest::newRow("huge-binbytes") << BYTES("\x80\x03" "B\xff\xff\xff\xffx.") << "more bytes";
        QTest::newRow("negative-long4") << BYTES("\x80\x02\x8b\xff\xff\xff\xff.") << "negative";
        QTest::newRow("frame-lies") << BYTES("\x80\x04\x95\x00\x00\x00\x00\x01\x00\x00\x00N.") << "frame";
        QTest::newRow("bad-protocol") << BYTES("\x80\x09N.") << "protocol 9";
        QTest::newRow("odd-dict") << BYTES("\x80\x02(K\x01" "d.") << "odd number";
        QTest::newRow("unknown-op") << BYTES("\x80\x02\xff") << "unknown opcode";
        QTest::newRow("no-newline") << BYTES("cos") << "newline";
        QTest::newRow("long-decimal") << (BYTES("L") + QByteArray(5000, '9') + "\n.") << "decimal";
        QTest::newRow("ext") << BYTES("\x80\x02\x82\x01.") << "extension";
        QTest::newRow("persid-no-loader") << BYTES("Pfoo\n.") << "persistent";
        QTest::newRow("build-on-int") << BYTES("\x80\x02K\x01}b.") << "BUILD";
        QTest::newRow("rebuild-no-storage")
            << BYTES("\x80\x02" "ctorch._utils\n_rebuild_tensor_v2\n(K\x01K\x00)))tR.") << "storage";
    }
    void malformedPicklesAreErrors()
    {
        QFETCH(QByteArray, bytes);
        QFETCH(QString, needle);
        pickle::PickleGraph g;
        auto r = runPickle(g, std::string_view(bytes.constData(), static_cast<std::size_t>(bytes.size())));
        QVERIFY(!r.ok());
        QVERIFY2(QString::fromStdString(r.error().what).contains(needle, Qt::CaseInsensitive),
                 r.error().message().c_str());
    }

    void refusalPolicy()
    {
        for (auto [m, n] : std::initializer_list<std::pair<const char*, const char*>>{
                 {"os", "system"}, {"posix", "system"}, {"nt", "system"}, {"subprocess", "Popen"},
                 {"subprocess", "check_output"}, {"builtins", "eval"}, {"__builtin__", "exec"}, {"builtins", "getattr"},
                 {"builtins", "__import__"}, {"builtins", "open"}, {"builtins", "compile"}, {"sys", "modules"},
                 {"importlib", "import_module"}, {"pickle", "loads"}, {"_pickle", "loads"}, {"marshal", "loads"},
                 {"runpy", "run_path"}, {"ctypes", "CDLL"}, {"socket", "socket"}, {"shutil", "rmtree"},
                 {"webbrowser", "open"}, {"code", "InteractiveInterpreter"}, {"pty", "spawn"}, {"io", "open"},
                 {"_io", "FileIO"}, {"types", "FunctionType"}, {"types", "CodeType"}, {"operator", "attrgetter"},
                 {"operator", "methodcaller"}, {"os.path", "join"}, {"torch", "serialization.os.system"},
                 {"collections", "OrderedDict.__init__.__globals__"}, {"torch", "load"}, {"builtins", "getattr.x"}}) {
            QVERIFY2(pickle::refusedCallable(m, n).has_value(), qPrintable(QString("%1.%2 allowed").arg(m, n)));
        }
        for (auto [m, n] : std::initializer_list<std::pair<const char*, const char*>>{
                 {"collections", "OrderedDict"}, {"torch._utils", "_rebuild_tensor_v2"}, {"torch", "FloatStorage"},
                 {"argparse", "Namespace"}, {"__main__", "Net"}, {"pathlib", "PosixPath"}, {"builtins", "set"},
                 {"numpy.core.multiarray", "_reconstruct"}, {"pytorch_lightning.callbacks", "ModelCheckpoint"},
                 {"torch", "float32"}, {"_codecs", "encode"}, {"osmosis", "Thing"}, {"types", "SimpleNamespace"},
                 {"__torch__.models", "Net"}, {"copyreg", "_reconstructor"}}) {
            QVERIFY2(!pickle::refusedCallable(m, n).has_value(), qPrintable(QString("%1.%2 refused").arg(m, n)));
        }
    }
};

QTEST_GUILESS_MAIN(TestCheckpointReader)
#include "test_checkpoint_reader.moc"
