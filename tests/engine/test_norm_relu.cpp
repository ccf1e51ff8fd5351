// The fused BatchNorm2d -> ReLU (-> 2x2 max pool) of graph/norm_relu.h against the three ATen
// ops it replaces (values, running statistics, gradients; ties, NaN, odd sizes, channel counts
// that are no multiple of the vector width or exceed a chunk), its independence of the thread
// count, and the compiler's use of it: which chains it fuses, and a ConvNet trained both ways.
#include "graph/compiler.h"  // torch before Qt: see toolchain.md on QT_NO_KEYWORDS
#include "graph/norm_relu.h"

#include "graph_test_support.h"
#include "train/memory_format.h"

#include <QTest>
#include <cmath>

using namespace kiln::graph;

namespace {

using I = std::int64_t;
constexpr auto CL = torch::MemoryFormat::ChannelsLast;

double maxDiff(const torch::Tensor& a, const torch::Tensor& b)
{
    return (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>();
}

double scaleOf(const torch::Tensor& t) { return std::max(1.0, t.abs().max().item<double>()); }

struct Outcome {
    torch::Tensor y, dx, dWeight, dBias, runningMean, runningVar;
};

// One forward and backward with upstream gradient `gy`, fused or as torch's three ops.
Outcome run(const torch::Tensor& input, bool affine, bool pool, const torch::Tensor& gy, bool fused)
{
    const I c = input.size(1);
    torch::manual_seed(9);
    torch::Tensor x = input.clone(CL).requires_grad_(true);
    torch::Tensor w, b;
    if (affine) {
        w = (torch::rand({c}) + 0.5).requires_grad_(true);
        b = (torch::randn({c}) * 0.3).requires_grad_(true);
    }
    Outcome o{{}, {}, {}, {}, torch::randn({c}) * 0.1, torch::rand({c}) + 0.5};
    torch::Tensor y;
    if (fused) {
        y = normReluTraining(x, BatchNormParams{w, b, o.runningMean, o.runningVar, 0.1, 1e-5}, pool);
    } else {
        y = torch::relu(torch::batch_norm(x, w, b, o.runningMean, o.runningVar, true, 0.1, 1e-5, true));
        if (pool) y = torch::max_pool2d(y, {2, 2}, {2, 2});
    }
    y.backward(gy);
    o.y = y.detach();
    o.dx = x.grad();
    if (affine) {
        o.dWeight = w.grad();
        o.dBias = b.grad();
    }
    return o;
}

torch::Tensor upstream(const torch::Tensor& x, bool pool)
{
    torch::manual_seed(5);
    const I h = pool ? x.size(2) / 2 : x.size(2), w = pool ? x.size(3) / 2 : x.size(3);
    return torch::randn({x.size(0), x.size(1), h, w}).contiguous(CL);
}

void compareWithAten(const torch::Tensor& x, bool affine, bool pool, double tolerance)
{
    const torch::Tensor gy = upstream(x, pool);
    const Outcome f = run(x, affine, pool, gy, true), r = run(x, affine, pool, gy, false);
    QCOMPARE(f.y.sizes(), r.y.sizes());
    QVERIFY(f.y.is_contiguous(CL));
    QVERIFY(f.dx.is_contiguous(CL));
    QVERIFY2(maxDiff(f.y, r.y) <= tolerance * scaleOf(r.y), qPrintable(QString::number(maxDiff(f.y, r.y))));
    QVERIFY(maxDiff(f.runningMean, r.runningMean) <= 1e-6);
    QVERIFY(maxDiff(f.runningVar, r.runningVar) <= 1e-5 * scaleOf(r.runningVar));
    QVERIFY2(maxDiff(f.dx, r.dx) <= tolerance * scaleOf(r.dx), qPrintable(QString::number(maxDiff(f.dx, r.dx))));
    if (affine) {
        QVERIFY(maxDiff(f.dWeight, r.dWeight) <= tolerance * scaleOf(r.dWeight));
        QVERIFY(maxDiff(f.dBias, r.dBias) <= tolerance * scaleOf(r.dBias));
    }
}

struct Build : testing::GraphBuilder {
    NodeId image(I c, I h, I w) { return add("node.input_image", "x", {{"channels", c}, {"height", h}, {"width", w}}); }
};

std::shared_ptr<CompiledModel> compileOrDie(const Graph& g)
{
    auto m = compileGraph(g);
    if (!m) qFatal("%s", m.error().message().c_str());
    return *m;
}

}  // namespace

class TestNormRelu : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void matchesTheThreeOps_data()
    {
        QTest::addColumn<QList<qint64>>("shape");
        QTest::addColumn<bool>("pool");
        QTest::addColumn<bool>("affine");
        for (bool pool : {true, false}) {
            const char* p = pool ? "pooled" : "no pool";
            QTest::addRow("%s, the sample's first block", p) << QList<qint64>{16, 16, 28, 28} << pool << true;
            QTest::addRow("%s, odd sizes, 13 channels", p) << QList<qint64>{4, 13, 7, 9} << pool << true;
            QTest::addRow("%s, 136 channels (two chunks), odd height", p) << QList<qint64>{3, 136, 5, 6} << pool << true;
            QTest::addRow("%s, without affine", p) << QList<qint64>{2, 3, 4, 4} << pool << false;
            QTest::addRow("%s, one image 2x2", p) << QList<qint64>{1, 8, 2, 2} << pool << true;
            QTest::addRow("%s, 131 channels (a tail in the second chunk), width 3", p) << QList<qint64>{4, 131, 4, 3} << pool << true;
            QTest::addRow("%s, width 2", p) << QList<qint64>{5, 9, 6, 2} << pool << true;
        }
    }
    void matchesTheThreeOps()
    {
        QFETCH(QList<qint64>, shape);
        QFETCH(bool, pool);
        QFETCH(bool, affine);
        torch::manual_seed(1);
        const torch::Tensor x = torch::randn({shape[0], shape[1], shape[2], shape[3]}) * 2 + 3;  // mean far from 0
        QVERIFY(normReluApplies(x.contiguous(CL), pool));
        compareWithAten(x, affine, pool, 2e-5);
    }

    // Integer inputs: most windows hold equal values, and whole windows are <= 0 after the norm.
    // A gradient routed to another position than ATen's would differ by a whole dy.
    void tiesGoWhereAtenSendsThem()
    {
        torch::manual_seed(2);
        for (bool pool : {true, false}) compareWithAten(torch::randint(-2, 3, {8, 16, 6, 6}).to(torch::kFloat), true, pool, 2e-5);
    }

    // A NaN or an infinity makes its channel's statistics NaN, as ATen's: outputs, running
    // statistics and gradients agree, NaN for NaN, Inf for Inf.
    void nanAndInfPropagateAsInAten_data()
    {
        QTest::addColumn<float>("bad");
        QTest::addRow("NaN") << float(NAN);
        QTest::addRow("+Inf") << float(INFINITY);
        QTest::addRow("-Inf") << float(-INFINITY);
    }
    void nanAndInfPropagateAsInAten()
    {
        QFETCH(float, bad);
        torch::manual_seed(3);
        torch::Tensor x = torch::randn({2, 8, 4, 4});
        x[1][3][2][1] = bad;
        auto same = [](const torch::Tensor& a, const torch::Tensor& b) {
            return torch::equal(torch::isnan(a), torch::isnan(b)) && torch::allclose(a, b, 1e-4, 1e-5, /*equal_nan=*/true);
        };
        for (bool pool : {true, false}) {
            const torch::Tensor gy = upstream(x, pool);
            const Outcome f = run(x, true, pool, gy, true), r = run(x, true, pool, gy, false);
            QVERIFY(torch::isnan(r.y).any().item<bool>());
            QVERIFY(same(f.y, r.y));
            QVERIFY(same(f.runningMean, r.runningMean));
            QVERIFY(same(f.runningVar, r.runningVar));
            QVERIFY(same(f.dx, r.dx));
            QVERIFY(same(f.dWeight, r.dWeight));
            QVERIFY(same(f.dBias, r.dBias));
        }
    }

    void refusesWrongParameters()
    {
        const torch::Tensor x = torch::randn({4, 8, 6, 6}).contiguous(CL);
        BatchNormParams p;
        p.weight = torch::ones({7});
        QVERIFY_THROWS_EXCEPTION(c10::Error, normReluTraining(x, p, true));
        p.weight = torch::ones({8});
        p.runningVar = torch::ones({9});
        QVERIFY_THROWS_EXCEPTION(c10::Error, normReluTraining(x, p, true));
        // No second derivative: it would silently lack terms.
        p.runningVar = torch::ones({8});
        const torch::Tensor xg = x.clone().requires_grad_(true);
        const torch::Tensor loss = normReluTraining(xg, p, false).pow(2).sum();
        QVERIFY_THROWS_EXCEPTION(c10::Error, torch::autograd::grad({loss}, {xg}, {}, true, /*create_graph=*/true));
    }

    void sameBitsWithAnyThreadCount()
    {
        const int threads = torch::get_num_threads();
        torch::manual_seed(4);
        const torch::Tensor x = torch::randn({32, 24, 14, 14});
        for (bool pool : {true, false}) {
            const torch::Tensor gy = upstream(x, pool);
            torch::set_num_threads(1);
            const Outcome one = run(x, true, pool, gy, true);
            torch::set_num_threads(2);
            const Outcome two = run(x, true, pool, gy, true);
            QVERIFY(torch::equal(one.y, two.y));
            QVERIFY(torch::equal(one.dx, two.dx));
            QVERIFY(torch::equal(one.dWeight, two.dWeight));
            QVERIFY(torch::equal(one.runningVar, two.runningVar));
        }
        torch::set_num_threads(threads);
    }

    void withoutRunningStatistics()
    {
        torch::manual_seed(10);
        const torch::Tensor x = torch::randn({4, 8, 6, 6}).contiguous(CL);
        const torch::Tensor fused = normReluTraining(x, BatchNormParams{}, true);
        const torch::Tensor plain = torch::max_pool2d(
            torch::relu(torch::batch_norm(x, {}, {}, {}, {}, true, 0.1, 1e-5, true)), {2, 2}, {2, 2});
        QVERIFY(maxDiff(fused, plain) < 1e-5);
    }

    void appliesOnlyWhereItCan()
    {
        const torch::Tensor x = torch::randn({4, 8, 6, 6});
        QVERIFY(!normReluApplies(x, true));  // NCHW with several channels
        QVERIFY(normReluApplies(x.contiguous(CL), true));
        QVERIFY(!normReluApplies(x.contiguous(CL).to(torch::kDouble), false));
        QVERIFY(!normReluApplies(torch::randn({4, 8, 1, 6}).contiguous(CL), true));  // no 2x2 window
        QVERIFY(normReluApplies(torch::randn({4, 8, 1, 6}).contiguous(CL), false));
        QVERIFY(!normReluApplies(torch::randn({1, 8, 1, 1}), false));  // one value per channel
        QVERIFY(!normReluApplies(torch::randn({8, 6, 6}), false));
        QVERIFY(!normReluApplies(x.contiguous(CL).slice(3, 0, 4), false));  // not dense
    }

    void compilerFusesTheSampleBlocks()
    {
        auto model = compileOrDie(testing::loadSample("fashion_convnet"));
        QCOMPARE(model->fusedChains(), 3);
    }

    // BatchNorm whose output is also read elsewhere, and a ReLU that is the model's output: the
    // first stays three ops, the second fuses batch norm and ReLU but not a pool.
    void compilerFusesOnlyPrivateChains()
    {
        Build b;
        const NodeId x = b.image(4, 8, 8);
        const NodeId bn = b.add("node.batchnorm2d", "bn", {{"num_features", I(4)}});
        const NodeId relu = b.add("node.relu", "relu");
        const NodeId add = b.add("node.add", "sum");
        b.link(x, bn);
        b.link(bn, relu);
        b.link(relu, add, "a");
        b.link(bn, add, "b");
        auto shared = compileOrDie(b.g);
        QCOMPARE(shared->fusedChains(), 0);

        Build c;
        const NodeId x2 = c.image(4, 8, 8);
        const NodeId bn2 = c.add("node.batchnorm2d", "bn", {{"num_features", I(4)}});
        const NodeId relu2 = c.add("node.relu", "relu");
        c.link(x2, bn2);
        c.link(bn2, relu2);
        auto model = compileOrDie(c.g);
        QCOMPARE(model->fusedChains(), 1);
        model->train();
        torch::manual_seed(6);
        const torch::Tensor in = torch::randn({3, 4, 8, 8}).contiguous(CL);
        const torch::Tensor fused = model->forward(in);
        model->setFusion(false);
        const torch::Tensor plain = model->forward(in);
        QCOMPARE(fused.sizes(), plain.sizes());
        QVERIFY(maxDiff(fused, plain) < 1e-5);
        QCOMPARE(model->named_buffers()["bn.num_batches_tracked"].item<std::int64_t>(), std::int64_t(2));
    }

    // The sample trained a few steps fused and unfused from the same weights, with the same
    // dropout masks: the same losses and weights up to float rounding; evaluation is unchanged.
    void convNetTrainsTheSameFused()
    {
        const Graph g = testing::loadSample("fashion_convnet");
        torch::manual_seed(7);
        const torch::Tensor x = torch::rand({16, 1, 28, 28});
        const torch::Tensor y = torch::randint(0, 10, {16}, torch::kLong);
        std::vector<float> losses[2];
        std::shared_ptr<CompiledModel> models[2];
        for (int fused = 0; fused < 2; ++fused) {
            torch::manual_seed(8);
            auto m = compileOrDie(g);
            m->setFusion(fused == 1);
            m->train();
            kiln::train::ChannelsLastScope layout(*m);
            torch::optim::SGD opt(m->parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));
            for (int s = 0; s < 4; ++s) {
                torch::manual_seed(100 + s);
                opt.zero_grad();
                auto loss = m->loss(m->forward(layout.input(x)), y);
                loss.backward();
                opt.step();
                losses[fused].push_back(loss.item<float>());
            }
            models[fused] = m;
        }
        for (int s = 0; s < 4; ++s) QVERIFY2(std::abs(losses[0][s] - losses[1][s]) < 1e-4 * std::max(1.f, losses[0][s]), qPrintable(QString("step %1: %2 vs %3").arg(s).arg(losses[0][s]).arg(losses[1][s])));
        auto a = models[0]->named_parameters(), b = models[1]->named_parameters();
        for (const auto& item : a) QVERIFY2(maxDiff(item.value(), b[item.key()]) < 1e-3, item.key().c_str());
        auto ra = models[0]->named_buffers(), rb = models[1]->named_buffers();
        for (const auto& item : ra) QVERIFY2(maxDiff(item.value(), rb[item.key()]) < 1e-3, item.key().c_str());
        torch::NoGradGuard noGrad;
        models[0]->eval();
        models[1]->eval();
        QVERIFY(torch::equal(models[1]->forward(x), [&] {
            models[1]->setFusion(false);
            return models[1]->forward(x);
        }()));
    }
};

QTEST_GUILESS_MAIN(TestNormRelu)
#include "test_norm_relu.moc"
