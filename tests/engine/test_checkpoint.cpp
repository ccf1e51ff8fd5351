// PyTorch checkpoints read by Kiln's own reader and handed to LibTorch: every fixture must
// come out of toTorch with PyTorch's dtype, shape and values (tests/data/make_checkpoints.py).
// The torch-free details (hostile and damaged files, the pickle machine) are in
// test_checkpoint_reader.cpp.
#include "io/checkpoint_torch.h"  // torch before Qt: see docs on QT_NO_KEYWORDS

#include "checkpoint_test_support.h"

#include <QtTest/QtTest>

#include <map>

using namespace kiln;
using namespace kiln::io;

namespace {

const std::map<std::string, torch::ScalarType> kTorchTypes = {
    {"F32", torch::kFloat32}, {"F64", torch::kFloat64}, {"F16", torch::kFloat16}, {"BF16", torch::kBFloat16},
    {"I64", torch::kInt64},   {"I32", torch::kInt32},   {"I16", torch::kInt16},   {"I8", torch::kInt8},
    {"U8", torch::kUInt8},    {"BOOL", torch::kBool},
};

}  // namespace

class TestCheckpoint : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void fixturesThroughTorch_data()
    {
        QTest::addColumn<QString>("file");
        const auto& all = test::expectedCheckpoints();
        QVERIFY2(!all.is_discarded() && !all.empty(), "tests/data/checkpoints/expected.json is missing");
        for (const auto& [name, spec] : all.items())
            if (!spec.contains("error")) QTest::newRow(name.c_str()) << QString::fromStdString(name);
    }
    void fixturesThroughTorch()
    {
        QFETCH(QString, file);
        const auto& spec = test::expectedCheckpoints()[file.toStdString()];
        auto ck = TorchCheckpoint::open(test::checkpointPath(file.toStdString()));
        QVERIFY2(ck.ok(), ck.ok() ? "" : ck.error().message().c_str());
        QCOMPARE(ck->tensors().size(), spec["tensors"].size());
        for (const auto& [name, exp] : spec["tensors"].items()) {
            const CheckpointTensor* t = ck->findTensor(name);
            QVERIFY2(t, qPrintable("missing tensor " + QString::fromStdString(name)));
            auto tt = toTorch(ck.value(), *t);
            QVERIFY2(tt.ok(), tt.ok() ? "" : tt.error().message().c_str());
            const torch::Tensor& x = tt.value();
            QCOMPARE(x.scalar_type(), kTorchTypes.at(exp["dtype"].get<std::string>()));
            QCOMPARE(x.sizes().vec(), exp["shape"].get<std::vector<std::int64_t>>());
            QVERIFY(x.is_contiguous());
            const auto want = exp["values"].get<std::vector<double>>();
            const torch::Tensor flat = x.reshape({-1}).to(torch::kFloat64).contiguous();
            QCOMPARE(static_cast<std::size_t>(flat.numel()), want.size());
            const double* got = flat.data_ptr<double>();
            for (std::size_t i = 0; i < want.size(); ++i)
                if (got[i] != want[i])
                    QFAIL(qPrintable(QString("%1[%2]: %3 != %4").arg(QString::fromStdString(name)).arg(i)
                                         .arg(got[i], 0, 'g', 17).arg(want[i], 0, 'g', 17)));
        }
    }

    void viewsMatchTorchViews()
    {
        // The views torch.save kept as (storage, offset, stride) equal the same views taken in LibTorch.
        auto ck = TorchCheckpoint::open(test::checkpointPath("shared_views.pt"));
        QVERIFY(ck.ok());
        auto base = toTorch(ck.value(), *ck->findTensor("base"));
        QVERIFY(base.ok());
        auto view = [&](const char* n) { return toTorch(ck.value(), *ck->findTensor(n)).value(); };
        QVERIFY(torch::equal(view("transposed"), base->t()));
        QVERIFY(torch::equal(view("column"), base->select(1, 3)));
        QVERIFY(torch::equal(view("every_other"), base->slice(0, 0, 4, 2).slice(1, 0, 6, 3)));
        QVERIFY(torch::equal(view("offset"), base->reshape({-1}).slice(0, 5, 17).reshape({3, 4})));
        // The result owns its memory: changing it leaves the checkpoint untouched.
        auto t = view("row");
        t.fill_(0);
        QVERIFY(torch::equal(view("row"), base->select(0, 2)));
    }

    void unsupportedDTypeIsAnError()
    {
        auto ck = TorchCheckpoint::open(test::checkpointPath("one_item.pt"));
        QVERIFY(ck.ok());
        CheckpointTensor t = ck->tensors().at(0);
        t.dtype = DType::U16;
        auto r = toTorch(ck.value(), t);
        QVERIFY(!r.ok());
        QVERIFY(r.error().what.find("U16") != std::string::npos);
        t = ck->tensors().at(0);
        t.shape = {4, 4};
        QVERIFY(!toTorch(ck.value(), t).ok());  // past the storage
    }
};

QTEST_GUILESS_MAIN(TestCheckpoint)
#include "test_checkpoint.moc"
