// Each optimizer's update against the formula written out by hand on a two-element tensor,
// gradient clipping, and optimizer state surviving a save and a load.
#include "train/checkpoint.h"
#include "train/optim.h"
#include "train/trainer.h"
#include "train_test_support.h"

#include <QTemporaryDir>
#include <QTest>
#include <cmath>

using namespace kiln::train;

namespace {

struct Param : torch::nn::Module {
    torch::Tensor w;
    Param() { w = register_parameter("w", torch::tensor({1.0, -2.0}, torch::kFloat64)); }
};

// Sets the gradient and steps once.
void stepWith(torch::optim::Optimizer& opt, torch::Tensor& w, std::vector<double> grad)
{
    w.mutable_grad() = torch::tensor(grad, torch::kFloat64);
    opt.step();
}

std::vector<double> values(const torch::Tensor& t)
{
    auto c = t.contiguous();
    return {c.data_ptr<double>(), c.data_ptr<double>() + c.numel()};
}

void near(const std::vector<double>& got, const std::vector<double>& want, double tol = 1e-12)
{
    QCOMPARE(got.size(), want.size());
    for (std::size_t i = 0; i < got.size(); ++i)
        QVERIFY2(std::abs(got[i] - want[i]) < tol,
                 (std::to_string(i) + ": " + std::to_string(got[i]) + " vs " + std::to_string(want[i])).c_str());
}

}  // namespace

class TestTrainOptim : public QObject {
    Q_OBJECT

    const std::vector<double> g1 = {0.5, -0.25}, g2 = {-0.3, 0.8};

private Q_SLOTS:
    void sgdWithMomentumAndWeightDecay()
    {
        for (bool nesterov : {false, true}) {
            Param m;
            OptimizerConfig c;
            c.kind = OptimizerKind::Sgd;
            c.learningRate = 0.1;
            c.momentum = 0.9;
            c.nesterov = nesterov;
            c.weightDecay = 0.01;
            auto opt = makeOptimizer(c, trainableParameters(m));
            QVERIFY(opt.ok());
            std::vector<double> p = {1.0, -2.0}, buf(2);
            for (int step = 0; step < 2; ++step) {
                const auto& g = step ? g2 : g1;
                stepWith(**opt, m.w, g);
                for (std::size_t i = 0; i < 2; ++i) {
                    const double d = g[i] + 0.01 * p[i];
                    buf[i] = step == 0 ? d : 0.9 * buf[i] + d;  // PyTorch: the first buffer is the gradient itself
                    p[i] -= 0.1 * (nesterov ? d + 0.9 * buf[i] : buf[i]);
                }
                near(values(m.w), p);
            }
        }
    }

    void adamAndAdamW()
    {
        for (auto kind : {OptimizerKind::Adam, OptimizerKind::AdamW}) {
            Param m;
            OptimizerConfig c;
            c.kind = kind;
            c.learningRate = 0.01;
            c.beta1 = 0.8;
            c.beta2 = 0.95;
            c.eps = 1e-6;
            c.weightDecay = 0.1;
            auto opt = makeOptimizer(c, trainableParameters(m));
            QVERIFY(opt.ok());
            std::vector<double> p = {1.0, -2.0}, mo(2), v(2);
            for (int t = 1; t <= 2; ++t) {
                const auto& g = t == 1 ? g1 : g2;
                stepWith(**opt, m.w, g);
                for (std::size_t i = 0; i < 2; ++i) {
                    double gi = g[i];
                    if (kind == OptimizerKind::Adam) gi += 0.1 * p[i];  // L2 through the gradient
                    else p[i] *= 1 - 0.01 * 0.1;                        // decoupled decay
                    mo[i] = 0.8 * mo[i] + 0.2 * gi;
                    v[i] = 0.95 * v[i] + 0.05 * gi * gi;
                    const double mhat = mo[i] / (1 - std::pow(0.8, t)), vhat = v[i] / (1 - std::pow(0.95, t));
                    p[i] -= 0.01 * mhat / (std::sqrt(vhat) + 1e-6);
                }
                near(values(m.w), p);
            }
        }
    }

    void optimizerSettingsAreChecked()
    {
        Param m;
        OptimizerConfig c;
        c.learningRate = 0;
        QVERIFY(!makeOptimizer(c, trainableParameters(m)).ok());
        c.learningRate = 0.1;
        c.kind = OptimizerKind::Sgd;
        c.momentum = 0;
        c.nesterov = true;
        QVERIFY(!makeOptimizer(c, trainableParameters(m)).ok());
        QVERIFY(!makeOptimizer(OptimizerConfig{}, {}).ok());
        auto opt = makeOptimizer(OptimizerConfig{}, trainableParameters(m));
        setLearningRate(**opt, 0.125);
        QCOMPARE((*opt)->param_groups()[0].options().get_lr(), 0.125);
    }

    void stateSurvivesSaveAndLoad()
    {
        QTemporaryDir dir;
        for (auto kind : {OptimizerKind::Sgd, OptimizerKind::Adam, OptimizerKind::AdamW}) {
            OptimizerConfig c;
            c.kind = kind;
            c.learningRate = 0.05;
            Param a, b;
            auto optA = makeOptimizer(c, trainableParameters(a));
            stepWith(**optA, a.w, g1);
            stepWith(**optA, a.w, g2);
            const auto path = dir.filePath(QString::fromStdString(std::string(toId(kind)))).toStdString();
            QVERIFY(kiln::io::saveSafetensors(path, optimizerState(**optA, kind, trainableParameters(a))).ok());
            const auto modelPath = path + ".model";
            QVERIFY(saveModuleState(modelPath, a).ok());

            QVERIFY(loadModuleState(modelPath, b).ok());
            auto optB = makeOptimizer(c, trainableParameters(b));
            auto file = kiln::io::SafetensorsFile::open(path);
            QVERIFY(file.ok());
            QVERIFY(restoreOptimizerState(**optB, kind, trainableParameters(b), *file).ok());
            // The next update is the same as if nothing had happened in between.
            stepWith(**optA, a.w, g1);
            stepWith(**optB, b.w, g1);
            near(values(b.w), values(a.w));
        }
    }

    void moduleStateLoadIsStrict()
    {
        QTemporaryDir dir;
        const auto path = dir.filePath("m.safetensors").toStdString();
        auto model = testing::mlpModel(4, 3, 2, 1);
        QVERIFY(saveModuleState(path, *model.module).ok());
        auto file = kiln::io::SafetensorsFile::open(path);
        QVERIFY(file->index().find("fc1.weight") && file->index().find("fc2.bias"));
        auto other = testing::mlpModel(4, 5, 2, 2);
        const auto before = other.module->named_parameters()["fc1.weight"].clone();
        auto r = loadModuleState(path, *other.module);
        QVERIFY(!r.ok());
        QVERIFY2(r.error().message().find("shapes differ for fc1.weight") != std::string::npos, r.error().message().c_str());
        QVERIFY(torch::equal(before, other.module->named_parameters()["fc1.weight"]));  // untouched
        auto same = testing::mlpModel(4, 3, 2, 3);
        QVERIFY(loadModuleState(path, *same.module).ok());
        QVERIFY(torch::equal(same.module->named_parameters()["fc2.weight"], model.module->named_parameters()["fc2.weight"]));
    }

    void trainerClipsTheGlobalGradientNorm()
    {
        // out = w . x with x = (30, 40), w = (1, 1): the MSE gradient 2 * 70 * x has norm 7000.
        auto lin = torch::nn::Linear(torch::nn::LinearOptions(2, 1).bias(false));
        {
            torch::NoGradGuard g;
            lin->weight.fill_(1.0);
        }
        TrainModel model{lin.ptr(), [lin](const torch::Tensor& x) mutable { return lin->forward(x); }};
        TrainData data;
        data.train = {torch::tensor({{30.0f, 40.0f}}), torch::tensor({0.0f})};
        TrainConfig c;
        c.loss = LossKind::Mse;
        c.optimizer.kind = OptimizerKind::Sgd;
        c.optimizer.momentum = 0;
        c.optimizer.learningRate = 0.5;
        c.clipGradNorm = 1.0;
        c.batchSize = 1;
        testing::Harness h;
        auto r = train(c, model, data, h.ctx);
        QVERIFY2(r.ok(), r ? "" : r.error().message().c_str());
        h.ctx.flush();
        QCOMPARE(r->steps, std::int64_t{1});
        const auto w = lin->weight.view({2});
        QVERIFY(std::abs(w[0].item<float>() - (1 - 0.5f * 0.6f)) < 1e-5f);  // unit-norm gradient (0.6, 0.8)
        QVERIFY(std::abs(w[1].item<float>() - (1 - 0.5f * 0.8f)) < 1e-5f);
        const auto norms = h.log->get(metric::kGradNorm);
        QCOMPARE(norms.size(), std::size_t{1});
        QVERIFY(std::abs(norms[0].second - 7000.0) < 1e-2);
        QCOMPARE(h.log->get(metric::kTrainLoss).front().second, 4900.0);

        // A model's own loss (a graph's loss node) replaces the configured formula.
        model.loss = [](const torch::Tensor& out, const torch::Tensor& target) {
            return 2 * torch::mse_loss(out, target.view_as(out));
        };
        {
            torch::NoGradGuard g;
            lin->weight.fill_(1.0);
        }
        testing::Harness h2;
        QVERIFY(train(c, model, data, h2.ctx).ok());
        h2.ctx.flush();
        QCOMPARE(h2.log->get(metric::kTrainLoss).front().second, 9800.0);
    }
};

QTEST_GUILESS_MAIN(TestTrainOptim)
#include "test_train_optim.moc"
