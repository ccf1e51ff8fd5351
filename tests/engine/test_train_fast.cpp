// The trainer's speed-ups against what they replace: the fused AdamW against
// torch::optim::AdamW over many steps, the channels-last scope (layouts, values, identity, the
// one-channel case that .contiguous(ChannelsLast) gets wrong), and a few training steps of the
// ConvNet sample both ways.
#include "graph/compiler.h"
#include "kiln/graph_file.h"
#include "train/fused_adamw.h"
#include "train/memory_format.h"
#include "train/optim.h"

#include <QTest>
#include <torch/torch.h>

using namespace kiln::train;

namespace {

double maxDiff(const torch::Tensor& a, const torch::Tensor& b)
{
    return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

// Tensors of several shapes and layouts: channels-last 4-D, a vector whose length is no multiple
// of four, one big enough to be split across threads.
std::vector<torch::Tensor> makeParams(torch::ScalarType dtype)
{
    torch::manual_seed(3);
    std::vector<torch::Tensor> ps;
    ps.push_back(torch::randn({16, 1, 3, 3}, dtype));
    ps.push_back(toChannelsLast(torch::randn({32, 16, 3, 3}, dtype)));
    ps.push_back(torch::randn({7}, dtype));
    ps.push_back(torch::randn({128, 700}, dtype));
    ps.push_back(torch::randn({3, 5}, dtype).t());  // not dense in row-major order: takes torch's ops
    for (auto& p : ps) p.requires_grad_(true);
    return ps;
}

std::vector<torch::Tensor> cloneParams(const std::vector<torch::Tensor>& ps)
{
    std::vector<torch::Tensor> out;
    for (const auto& p : ps) {
        torch::Tensor c = torch::empty_like(p);  // keeps the layout
        {
            torch::NoGradGuard g;
            c.copy_(p);
        }
        out.push_back(c.requires_grad_(true));
    }
    return out;
}

// Steps both optimizers with the same gradients; the largest difference of parameters and moments.
double compare(torch::optim::AdamWOptions o, torch::ScalarType dtype, int steps)
{
    auto a = makeParams(dtype);
    auto b = cloneParams(a);
    FusedAdamW fused(a, o);
    torch::optim::AdamW reference(b, o);
    torch::manual_seed(7);
    for (int s = 0; s < steps; ++s) {
        for (std::size_t i = 0; i < a.size(); ++i) {
            // gradients of all sizes, some exactly zero, as real ones
            auto g = torch::randn(a[i].sizes(), dtype) * std::pow(10.0, (s % 7) - 4);
            g.masked_fill_(torch::rand(a[i].sizes()) < 0.1, 0.0);
            a[i].mutable_grad() = torch::empty_like(a[i]).copy_(g);
            b[i].mutable_grad() = torch::empty_like(b[i]).copy_(g);
        }
        fused.step();
        reference.step();
    }
    double worst = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        worst = std::max(worst, maxDiff(a[i], b[i]));
        auto key = [](const torch::Tensor& t) { return c10::guts::to_string(t.unsafeGetTensorImpl()); };
        auto& sa = static_cast<torch::optim::AdamWParamState&>(*fused.state().at(key(a[i])));
        auto& sb = static_cast<torch::optim::AdamWParamState&>(*reference.state().at(key(b[i])));
        if (sa.step() != sb.step()) return 1e9;
        worst = std::max(worst, maxDiff(sa.exp_avg(), sb.exp_avg()));
        worst = std::max(worst, maxDiff(sa.exp_avg_sq(), sb.exp_avg_sq()));
        if (a[i].strides() != b[i].strides() || sa.exp_avg().strides() != a[i].strides()) return 1e9;
    }
    return worst;
}

bool canonicalChannelsLast(const torch::Tensor& t)
{
    return t.stride(1) == 1 && t.stride(3) == t.size(1) && t.stride(2) == t.size(1) * t.size(3) &&
           t.stride(0) == t.size(1) * t.size(2) * t.size(3);
}

}  // namespace

class TestTrainFast : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void fusedAdamWMatchesTorch()
    {
        // With AVX2 and FMA (ATen's kernels then use them too) the same roundings: the same bits.
        // Elsewhere ATen's rounding may differ in the last place; parameters move ~lr per step.
#if defined(__x86_64__)
        const double tol = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? 0.0 : 1e-4;
#else
        const double tol = 1e-4;
#endif
        for (double wd : {0.0, 0.01, 0.5}) {
            const double d = compare(torch::optim::AdamWOptions(1e-3).weight_decay(wd), torch::kFloat32, 300);
            QVERIFY2(d <= tol, ("weight decay " + std::to_string(wd) + ": " + std::to_string(d)).c_str());
        }
        const double d = compare(torch::optim::AdamWOptions(3e-2).betas({0.8, 0.99}).eps(1e-6), torch::kFloat32, 300);
        QVERIFY2(d <= tol, std::to_string(d).c_str());
    }

    void otherCasesTakeTorchsOps()
    {
        // float64 and amsgrad do what torch::optim::AdamW does, op for op: the same bits.
        QCOMPARE(compare(torch::optim::AdamWOptions(1e-3).weight_decay(0.01), torch::kFloat64, 50), 0.0);
        QCOMPARE(compare(torch::optim::AdamWOptions(1e-3).amsgrad(true), torch::kFloat32, 50), 0.0);
    }

    void skipsParametersWithoutGradient()
    {
        auto p = torch::ones({5}).requires_grad_(true);
        FusedAdamW opt(std::vector<torch::Tensor>{p}, torch::optim::AdamWOptions(0.1).weight_decay(0.1));
        opt.step();
        QCOMPARE(maxDiff(p, torch::ones({5})), 0.0);
        QVERIFY(opt.state().empty());
    }

    void makeOptimizerGivesTheFusedAdamW()
    {
        OptimizerConfig c;
        c.kind = OptimizerKind::AdamW;
        NamedParameters ps{{"w", torch::zeros({3}).requires_grad_(true)}};
        auto opt = makeOptimizer(c, ps);
        QVERIFY(static_cast<bool>(opt));
        QVERIFY(dynamic_cast<FusedAdamW*>(opt->get()) != nullptr);
    }

    void oneChannelTensorsReallyBecomeChannelsLast()
    {
        // The trap: .contiguous(ChannelsLast) leaves a one-channel tensor as it is.
        const auto w = torch::randn({16, 1, 3, 3});
        QVERIFY(!canonicalChannelsLast(w.contiguous(torch::MemoryFormat::ChannelsLast)));
        const auto c = toChannelsLast(w);
        QVERIFY(canonicalChannelsLast(c));
        QCOMPARE(maxDiff(c, w), 0.0);
        QCOMPARE(c.suggest_memory_format(), torch::MemoryFormat::ChannelsLast);
        const auto x = torch::rand({4, 1, 28, 28});
        QVERIFY(canonicalChannelsLast(toChannelsLast(x)));
        const auto v = torch::randn({5, 3});
        QVERIFY(toChannelsLast(v).is_same(v));
    }

    void scopeConvertsAndRestores()
    {
        auto graph = kiln::graph::loadGraph(KILN_SAMPLES_DIR "/fashion_convnet.kgraph");
        QVERIFY(static_cast<bool>(graph));
        auto model = *kiln::graph::compileGraph(*graph);
        QVERIFY(prefersChannelsLast(*model, torch::kCPU));
        QVERIFY(!prefersChannelsLast(*model, torch::Device(torch::kCUDA)));
        std::vector<torch::Tensor> before;
        std::vector<const void*> impls;
        for (const auto& p : model->parameters()) {
            before.push_back(p.detach().clone());
            impls.push_back(p.unsafeGetTensorImpl());
        }
        {
            ChannelsLastScope scope(*model);
            QVERIFY(scope.active());
            std::size_t i = 0;
            for (const auto& p : model->parameters()) {
                QCOMPARE(static_cast<const void*>(p.unsafeGetTensorImpl()), impls[i]);
                QCOMPARE(maxDiff(p, before[i]), 0.0);
                if (p.dim() == 4) QVERIFY(canonicalChannelsLast(p));
                ++i;
            }
            // the model still computes the same thing
            torch::NoGradGuard g;
            model->eval();
            const auto x = torch::rand({2, 1, 28, 28});
            const auto a = model->forward(scope.input(x));
            QVERIFY(maxDiff(a, model->forward(x)) < 1e-5);
        }
        std::size_t i = 0;
        for (const auto& p : model->parameters()) {
            QCOMPARE(static_cast<const void*>(p.unsafeGetTensorImpl()), impls[i]);
            QCOMPARE(maxDiff(p, before[i]), 0.0);
            QVERIFY(p.is_contiguous());
            if (p.dim() == 4) QCOMPARE(p.stride(1), p.size(2) * p.size(3));
            ++i;
        }
    }

    void convNetTrainsTheSameBothWays()
    {
        // 30 steps of the sample from the same start: NCHW with torch's AdamW against
        // channels-last with the fused AdamW. Float rounding differs, the training does not.
        auto graph = kiln::graph::loadGraph(KILN_SAMPLES_DIR "/fashion_convnet.kgraph");
        QVERIFY(static_cast<bool>(graph));
        torch::manual_seed(1);
        const auto x = torch::rand({32, 1, 28, 28});
        const auto y = torch::randint(0, 10, {32}, torch::kLong);
        std::vector<double> losses[2];
        for (int fast = 0; fast < 2; ++fast) {
            torch::manual_seed(0);
            auto model = *kiln::graph::compileGraph(*graph);
            model->train();
            std::optional<ChannelsLastScope> scope;
            std::unique_ptr<torch::optim::Optimizer> opt;
            if (fast) {
                scope.emplace(*model);
                OptimizerConfig c;
                c.weightDecay = 0.01;
                auto made = makeOptimizer(c, trainableParameters(*model));
                QVERIFY(static_cast<bool>(made));
                opt = std::move(*made);
            } else {
                opt = std::make_unique<torch::optim::AdamW>(model->parameters(),
                                                            torch::optim::AdamWOptions(1e-3).weight_decay(0.01));
            }
            for (int s = 0; s < 30; ++s) {
                opt->zero_grad();
                auto loss = model->loss(model->forward(scope ? scope->input(x) : x), y);
                loss.backward();
                opt->step();
                losses[fast].push_back(loss.item<double>());
            }
        }
        for (std::size_t s = 0; s < losses[0].size(); ++s)
            QVERIFY2(std::abs(losses[0][s] - losses[1][s]) < 2e-3 * std::max(1.0, losses[0][s]),
                     (std::to_string(s) + ": " + std::to_string(losses[0][s]) + " vs " + std::to_string(losses[1][s])).c_str());
        QVERIFY(losses[1].back() < 0.5 * losses[1].front());  // it learnt the fixed batch
    }
};

QTEST_GUILESS_MAIN(TestTrainFast)
#include "test_train_fast.moc"
