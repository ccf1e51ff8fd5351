// The training loop on real data: an MLP learns Fashion-MNIST, a character model learns the
// GPL; stop, pause, checkpoints and resume, and a loss that turns into NaN.
#include "train/checkpoint.h"
#include "train/trainer.h"
#include "train_test_support.h"

#include <QElapsedTimer>
#include <QTemporaryDir>
#include <QTest>
#include <ctime>
#include <thread>

using namespace kiln::train;
using namespace std::chrono_literals;

namespace {

TrainConfig fashionConfig()
{
    TrainConfig c;
    c.optimizer.kind = OptimizerKind::AdamW;
    c.optimizer.learningRate = 2e-3;
    c.batchSize = 64;
    c.data.augment.mean = {0.286f};
    c.data.augment.std = {0.353f};
    return c;
}

double mean(const std::vector<std::pair<std::int64_t, double>>& v, std::size_t from, std::size_t to)
{
    double s = 0;
    for (std::size_t i = from; i < to; ++i) s += v[i].second;
    return s / static_cast<double>(to - from);
}

struct Recorder : kiln::JobObserver {
    std::mutex m;
    std::optional<kiln::JobState> state;
    std::optional<kiln::Error> error;
    std::size_t metrics = 0;
    std::vector<std::string> messages;
    void jobUpdated(kiln::JobUpdate u) override
    {
        std::lock_guard l(m);
        metrics += u.metrics.size();
        if (!u.message.empty()) messages.push_back(u.message);
    }
    bool said(const std::string& text)
    {
        std::lock_guard l(m);
        return std::any_of(messages.begin(), messages.end(), [&](const std::string& s) { return s == text; });
    }
    void jobFinished(kiln::JobState s, const std::optional<kiln::Error>& e) override
    {
        std::lock_guard l(m);
        state = s;
        error = e;
    }
};

}  // namespace

class TestTrainer : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        if (!testing::haveFashionMnist()) QSKIP("dataset-fashion-mnist is not installed");
        QElapsedTimer t;
        t.start();
        testing::fashionMnist();
        qInfo("Fashion-MNIST loaded in %lld ms; %d intra-op threads", static_cast<long long>(t.elapsed()),
              applyThreadSetting(0));
    }

    void mlpLearnsFashionMnist()
    {
        const auto data = testing::fashionSubset(12000, 1000);
        auto model = testing::mlpModel(784, 128, 10, 1);
        auto c = fashionConfig();
        c.epochs = 2;
        c.previewTiles = 16;
        std::vector<EpochReport> epochs;
        TrainHooks hooks;
        hooks.onEpoch = [&](const EpochReport& r) { epochs.push_back(r); };
        testing::Harness h;
        QElapsedTimer t;
        t.start();
        auto r = train(c, model, data, h.ctx, hooks);
        h.ctx.flush();
        QVERIFY2(r.ok(), r ? "" : r.error().message().c_str());
        const auto stepsPerEpoch = (12000 + 63) / 64;
        QCOMPARE(r->steps, std::int64_t{2 * stepsPerEpoch});
        QCOMPARE(r->epochsCompleted, std::int64_t{2});
        QCOMPARE(epochs.size(), std::size_t{2});
        const double acc = epochs.back().validation.accuracy;
        qInfo("2 epochs of 12000 images: %.1f%% validation accuracy in %lld ms", 100 * acc, static_cast<long long>(t.elapsed()));
        QVERIFY2(acc > 0.80, std::to_string(acc).c_str());

        // Every step's metrics, numbered by the global step.
        const auto losses = h.log->get(metric::kTrainLoss);
        QCOMPARE(losses.size(), static_cast<std::size_t>(r->steps));
        QCOMPARE(losses.front().first, std::int64_t{1});
        QCOMPARE(losses.back().first, r->steps);
        QVERIFY(mean(losses, losses.size() - 30, losses.size()) < 0.6 * mean(losses, 0, 30));
        QCOMPARE(h.log->get(metric::kLearningRate).size(), losses.size());
        QCOMPARE(h.log->get(metric::kThroughput).size(), losses.size());
        QVERIFY(h.log->get(metric::kThroughput).back().second > 100);
        // Per epoch, at the step where the epoch ended.
        const auto val = h.log->get(metric::kValAccuracy);
        QCOMPARE(val.size(), std::size_t{2});
        QCOMPARE(val[0].first, std::int64_t{stepsPerEpoch});
        QCOMPARE(h.log->get(metric::kEpoch).back().second, 2.0);
        QCOMPARE(h.log->get(metric::kValLoss).size(), std::size_t{2});
        QCOMPARE(h.log->get(metric::kTrainAccuracy).size(), std::size_t{2});
        QVERIFY(h.log->get(metric::kTrainEpochLoss)[1].second < h.log->get(metric::kTrainEpochLoss)[0].second);

        // Evaluation extras: the confusion matrix counts every validation image once.
        const auto& ev = epochs.back().validation;
        QCOMPARE(ev.numClasses, 10);
        std::int64_t total = 0, diagonal = 0;
        for (int i = 0; i < 10; ++i)
            for (int j = 0; j < 10; ++j) {
                total += ev.confusion[static_cast<std::size_t>(i * 10 + j)];
                if (i == j) diagonal += ev.confusion[static_cast<std::size_t>(i * 10 + j)];
            }
        QCOMPARE(total, std::int64_t{1000});
        QVERIFY(std::abs(static_cast<double>(diagonal) / 1000 - acc) < 1e-9);
        QCOMPARE(ev.perClassAccuracy.size(), std::size_t{10});
        QVERIFY(ev.perClassAccuracy[1] > 0.85);  // trousers are the easy class
        QVERIFY(h.log->preview);
        const auto& grid = *epochs.back().predictions;
        QCOMPARE(grid.width, h.log->preview->width);
        QCOMPARE(grid.rgba.size(), static_cast<std::size_t>(grid.width * grid.height * 4));
        QVERIFY(grid.width > 8 * 56 && grid.height > 2 * 56);
    }

    void stopTakesEffectAtTheNextStep()
    {
        const auto data = testing::fashionSubset(2000, 200);
        auto model = testing::mlpModel(784, 32, 10, 2);
        auto c = fashionConfig();
        testing::Harness h;
        TrainHooks hooks;
        hooks.onStep = [&](std::int64_t step, double) {
            if (step == 5) h.cancel->store(true);
        };
        auto r = train(c, model, data, h.ctx, hooks);
        QVERIFY(r.ok());
        QVERIFY(r->cancelled);
        QCOMPARE(r->steps, std::int64_t{5});

        // From another thread, through the job queue, as the UI does it.
        kiln::JobQueue queue;
        auto rec = std::make_shared<Recorder>();
        std::atomic<std::int64_t> steps{0};
        TrainHooks hooks2;
        hooks2.onStep = [&](std::int64_t s, double) { steps = s; };
        TrainSummary summary;
        auto model2 = testing::mlpModel(784, 32, 10, 2);
        auto id = queue.submit("train", [&](kiln::JobContext& ctx) -> kiln::Result<void> {
            auto res = train(c, model2, data, ctx, hooks2);
            if (res) summary = *res;
            return res ? kiln::success() : kiln::Result<void>(res.error());
        }, rec);
        while (steps < 3) std::this_thread::sleep_for(1ms);
        const auto atCancel = steps.load();
        QElapsedTimer t;
        t.start();
        queue.cancel(id);
        queue.wait(id);
        qInfo("stopped %lld ms after the request", static_cast<long long>(t.elapsed()));
        QCOMPARE(*rec->state, kiln::JobState::Cancelled);
        QVERIFY(summary.steps <= atCancel + 1);
        QVERIFY(t.elapsed() < 500);
    }

    void pauseWaitsWithoutSpinning()
    {
        const auto data = testing::fashionSubset(1280, 100);
        auto model = testing::mlpModel(784, 32, 10, 3);
        auto c = fashionConfig();
        c.epochs = 1;
        auto pause = std::make_shared<PauseControl>();
        std::atomic<std::int64_t> steps{0};
        TrainHooks hooks;
        hooks.pause = pause;
        hooks.onStep = [&](std::int64_t s, double) {
            steps = s;
            if (s == 3) pause->pause();
        };
        kiln::JobQueue queue;
        auto rec = std::make_shared<Recorder>();
        TrainSummary summary;
        auto id = queue.submit("train", [&](kiln::JobContext& ctx) -> kiln::Result<void> {
            auto res = train(c, model, data, ctx, hooks);
            if (res) summary = *res;
            return res ? kiln::success() : kiln::Result<void>(res.error());
        }, rec);
        while (steps < 3) std::this_thread::sleep_for(1ms);
        std::this_thread::sleep_for(50ms);  // let OpenMP's threads go to sleep too
        const std::clock_t cpu0 = std::clock();
        std::this_thread::sleep_for(300ms);
        const double cpuMs = 1000.0 * static_cast<double>(std::clock() - cpu0) / CLOCKS_PER_SEC;
        qInfo("CPU time while paused for 300 ms: %.1f ms", cpuMs);
        QCOMPARE(steps.load(), std::int64_t{3});
        QVERIFY(pause->paused());
        QVERIFY(cpuMs < 60);
        QVERIFY(rec->said("paused at step 3"));
        pause->resume();
        queue.wait(id);
        QCOMPARE(*rec->state, kiln::JobState::Succeeded);
        QCOMPARE(summary.steps, std::int64_t{20});

        // A paused run still stops when asked to.
        steps = 0;
        auto rec2 = std::make_shared<Recorder>();
        auto id2 = queue.submit("train", [&](kiln::JobContext& ctx) -> kiln::Result<void> {
            auto res = train(c, model, data, ctx, hooks);
            if (res) summary = *res;
            return kiln::success();
        }, rec2);
        while (steps < 3) std::this_thread::sleep_for(1ms);
        std::this_thread::sleep_for(20ms);
        QElapsedTimer t;
        t.start();
        queue.cancel(id2);
        queue.wait(id2);
        QVERIFY(t.elapsed() < 300);
        QCOMPARE(*rec2->state, kiln::JobState::Cancelled);
        QCOMPARE(summary.steps, std::int64_t{3});
    }

    void resumeContinuesFromTheLastCheckpoint()
    {
        QTemporaryDir dir;
        const auto data = testing::fashionSubset(2000, 300);
        auto c = fashionConfig();
        c.epochs = 2;
        c.batchSize = 50;  // 40 steps per epoch
        c.checkpoint.directory = dir.path().toStdString();
        c.checkpoint.everySteps = 10;
        c.checkpoint.keepLast = 2;
        c.checkpoint.saveOnStop = false;  // as if the process died: only the periodic checkpoints remain

        std::map<std::int64_t, double> lossA;
        testing::Harness ha;
        TrainHooks hooksA;
        hooksA.onStep = [&](std::int64_t s, double loss) {
            lossA[s] = loss;
            if (s == 55) ha.cancel->store(true);
        };
        auto modelA = testing::mlpModel(784, 64, 10, 4);
        auto a = train(c, modelA, data, ha.ctx, hooksA);
        QVERIFY2(a.ok(), a ? "" : a.error().message().c_str());
        QCOMPARE(a->steps, std::int64_t{55});
        const auto d = dir.path().toStdString();
        auto manifest = readManifest(d);
        QVERIFY(manifest.ok() && manifest->has_value());
        QCOMPARE((*manifest)->last()->step, std::int64_t{50});
        QCOMPARE((*manifest)->last()->epoch, std::int64_t{1});
        QCOMPARE((*manifest)->last()->batchInEpoch, std::int64_t{10});
        QCOMPARE((*manifest)->steps.size(), std::size_t{2});
        QVERIFY(std::filesystem::exists(d + "/step-00000040.safetensors"));
        QVERIFY(std::filesystem::exists(d + "/step-00000050.optim.safetensors"));
        QVERIFY(!std::filesystem::exists(d + "/step-00000030.safetensors"));  // beyond keepLast
        QVERIFY(std::filesystem::exists(d + "/best.safetensors"));
        QCOMPARE((*manifest)->best->step, std::int64_t{40});

        // A new process: a freshly initialised model, told to resume.
        c.checkpoint.resume = true;
        std::map<std::int64_t, double> lossB;
        testing::Harness hb;
        TrainHooks hooksB;
        std::vector<EpochReport> epochs;
        hooksB.onStep = [&](std::int64_t s, double loss) { lossB[s] = loss; };
        hooksB.onEpoch = [&](const EpochReport& r) { epochs.push_back(r); };
        auto modelB = testing::mlpModel(784, 64, 10, 99);
        auto b = train(c, modelB, data, hb.ctx, hooksB);
        QVERIFY2(b.ok(), b ? "" : b.error().message().c_str());
        QCOMPARE(b->resumedFromStep, std::int64_t{50});
        QCOMPARE(lossB.begin()->first, std::int64_t{51});
        QCOMPARE(b->steps, std::int64_t{80});
        // Same weights, optimizer state, batch order and augmentation: the same losses as before.
        for (std::int64_t s = 51; s <= 55; ++s)
            QVERIFY2(std::abs(lossB[s] - lossA[s]) < 1e-4 * std::max(1.0, lossA[s]),
                     (std::to_string(s) + ": " + std::to_string(lossB[s]) + " vs " + std::to_string(lossA[s])).c_str());
        double first10 = 0, last10 = 0;
        for (std::int64_t s = 1; s <= 10; ++s) first10 += lossA[s];
        for (std::int64_t s = 71; s <= 80; ++s) last10 += lossB[s];
        QVERIFY(last10 < 0.6 * first10);
        QCOMPARE(epochs.size(), std::size_t{1});
        QCOMPARE(epochs[0].epoch, std::int64_t{2});
        QCOMPARE(hb.log->get(metric::kTrainLoss).front().first, std::int64_t{51});
        QVERIFY(b->lastCheckpoint.find("step-00000080") != std::string::npos);

        // Resuming a finished run trains no further; resuming with another optimizer is refused.
        testing::Harness hc;
        auto again = train(c, modelB, data, hc.ctx);
        QVERIFY(again.ok());
        QCOMPARE(again->steps, std::int64_t{80});
        c.optimizer.kind = OptimizerKind::Sgd;
        auto other = train(c, modelB, data, hc.ctx);
        QVERIFY(!other.ok());
        QVERIFY(other.error().message().find("optimizer.adamw") != std::string::npos);
    }

    void stopSavesWhereItStopped()
    {
        QTemporaryDir dir;
        const auto data = testing::fashionSubset(1000, 100);
        auto c = fashionConfig();
        c.checkpoint.directory = dir.path().toStdString();
        c.checkpoint.everySteps = 0;
        testing::Harness h;
        TrainHooks hooks;
        hooks.onStep = [&](std::int64_t s, double) {
            if (s == 7) h.cancel->store(true);
        };
        auto model = testing::mlpModel(784, 32, 10, 5);
        auto r = train(c, model, data, h.ctx, hooks);
        QVERIFY(r.ok() && r->cancelled);
        QVERIFY(r->lastCheckpoint.find("step-00000007.safetensors") != std::string::npos);
        c.checkpoint.resume = true;
        testing::Harness h2;
        std::int64_t firstStep = 0;
        TrainHooks hooks2;
        hooks2.onStep = [&](std::int64_t s, double) {
            if (!firstStep) firstStep = s;
        };
        auto r2 = train(c, model, data, h2.ctx, hooks2);
        QVERIFY(r2.ok());
        QCOMPARE(firstStep, std::int64_t{8});
        QCOMPARE(r2->steps, std::int64_t{16});
    }

    void nanLossStopsAndNamesTheLastGoodCheckpoint()
    {
        QTemporaryDir dir;
        const auto data = testing::fashionSubset(1000, 100);
        auto inner = testing::mlpModel(784, 32, 10, 6);
        int calls = 0;
        TrainModel model{inner.module, [&](const torch::Tensor& x) {
            auto out = inner.forward(x);
            return ++calls == 8 ? out * std::numeric_limits<float>::quiet_NaN() : out;
        }};
        auto c = fashionConfig();
        c.checkpoint.directory = dir.path().toStdString();
        c.checkpoint.everySteps = 3;
        testing::Harness h;
        auto r = train(c, model, data, h.ctx);
        QVERIFY(!r.ok());
        const auto msg = r.error().message();
        const auto want = "loss became NaN at step 8; the last good checkpoint is " + dir.path().toStdString() +
                          "/step-00000006.safetensors";
        QVERIFY2(msg.find(want) != std::string::npos, msg.c_str());
        auto manifest = readManifest(dir.path().toStdString());
        QCOMPARE((*manifest)->last()->step, std::int64_t{6});
        auto fresh = testing::mlpModel(784, 32, 10, 7);
        QVERIFY(loadModuleState(dir.filePath("step-00000006.safetensors").toStdString(), *fresh.module).ok());
        for (const auto& p : fresh.module->parameters()) QVERIFY(torch::isfinite(p).all().item<bool>());

        // Without checkpoints the message says there is nothing to go back to.
        calls = 0;
        c.checkpoint.directory.clear();
        auto r2 = train(c, model, data, h.ctx);
        QVERIFY(!r2.ok());
        QVERIFY(r2.error().message().find("checkpoints are off") != std::string::npos);
    }

    void characterModelLearnsTextAndSamples()
    {
        DataConfig dc;
        dc.kind = DatasetKind::Text;
        dc.sequenceLength = 32;
        auto data = loadData(dc);
        QVERIFY(data.ok());
        const auto V = data->info.vocab->size();
        // A bigram model: enough to show the loss falling and sampling working.
        torch::manual_seed(8);
        auto emb = torch::nn::Embedding(V, 48);
        auto head = torch::nn::Linear(48, V);
        auto module = std::make_shared<torch::nn::Module>();
        module->register_module("tok_embeddings", emb);
        module->register_module("output", head);
        TrainModel model{module, [emb, head](const torch::Tensor& x) mutable { return head->forward(emb->forward(x)); }};
        TrainConfig c;
        c.epochs = 2;
        c.batchSize = 32;
        c.optimizer.learningRate = 1e-2;
        c.schedule.kind = ScheduleKind::Cosine;
        c.schedule.warmupSteps = 5;
        c.sampleLength = 80;
        c.samplePrompt = "The ";
        std::vector<EpochReport> epochs;
        TrainHooks hooks;
        hooks.onEpoch = [&](const EpochReport& r) { epochs.push_back(r); };
        testing::Harness h;
        auto r = train(c, model, *data, h.ctx, hooks);
        h.ctx.flush();
        QVERIFY2(r.ok(), r ? "" : r.error().message().c_str());
        QCOMPARE(epochs.size(), std::size_t{2});
        qInfo("character model: validation loss %.3f (uniform: %.3f); sample: %s", epochs[1].validation.loss,
              std::log(static_cast<double>(V)), epochs[1].textSample.c_str());
        QVERIFY(epochs[1].validation.loss < std::log(static_cast<double>(V)) - 1.2);
        QVERIFY(epochs[1].validation.loss < epochs[0].validation.loss);
        QCOMPARE(epochs[1].textSample.substr(0, 4), std::string("The "));
        QCOMPARE(decodeUtf8(epochs[1].textSample).size(), std::size_t{84});
        QCOMPARE(h.log->get(metric::kValPerplexity).size(), std::size_t{2});
        // Each epoch's sample reaches the observer as a message, not coalesced away.
        QCOMPARE(std::count_if(h.log->messages.begin(), h.log->messages.end(),
                               [](const std::string& m) { return m.find("\nsample: The ") != std::string::npos; }),
                 std::ptrdiff_t{2});
        // The learning rate warmed up, then followed the cosine down.
        const auto lr = h.log->get(metric::kLearningRate);
        QVERIFY(lr[0].second < lr[4].second);
        QVERIFY(std::abs(lr[4].second - 1e-2) < 1e-12);
        QVERIFY(lr.back().second < 1e-4);

        SampleOptions greedy;
        greedy.temperature = 0;
        greedy.length = 40;
        auto s1 = sampleText(model, *data->info.vocab, "the ", greedy);
        auto s2 = sampleText(model, *data->info.vocab, "the ", greedy);
        QVERIFY(s1.ok() && s2.ok());
        QCOMPARE(*s1, *s2);
        QVERIFY(module->is_training());  // sampling put the mode back
    }

    void confusionMatrixOfAKnownClassifier()
    {
        // Predicts class round(x) whatever the label: the confusion matrix is known exactly.
        auto module = std::make_shared<torch::nn::Module>();
        TrainModel model{module, [](const torch::Tensor& x) {
            return torch::one_hot(x.view({-1}).round().to(torch::kInt64), 3).to(torch::kFloat32) * 10;
        }};
        Dataset d{torch::tensor({0.0f, 1.0f, 2.0f, 2.0f, 1.0f, 0.0f}).view({6, 1}), torch::tensor({0, 1, 2, 1, 1, 2})};
        EvalOptions o;
        o.numClasses = 3;
        o.batchSize = 4;
        o.keepPredictions = 5;
        auto ev = evaluate(model, d, o);
        QVERIFY(ev.ok());
        QCOMPARE(ev->confusion, (std::vector<std::int64_t>{1, 0, 0, 0, 2, 1, 1, 0, 1}));
        QVERIFY(std::abs(ev->accuracy - 4.0 / 6) < 1e-12);
        QCOMPARE(ev->perClassAccuracy[0], 1.0);
        QCOMPARE(ev->perClassAccuracy[1], 2.0 / 3);
        QCOMPARE(ev->perClassAccuracy[2], 0.5);
        QCOMPARE(ev->predictions, (std::vector<std::int64_t>{0, 1, 2, 2, 1}));

        Dataset images{torch::full({3, 1, 4, 4}, 128, torch::kUInt8), torch::tensor({0, 1, 2})};
        const auto grid = predictionGrid(images, {0, 2, 2}, 3, 8);
        QVERIFY(grid.width > 0);
        auto pixel = [&](int x, int y) {
            const auto* p = &grid.rgba[static_cast<std::size_t>((y * grid.width + x) * 4)];
            return std::array<int, 3>{p[0], p[1], p[2]};
        };
        QCOMPARE(pixel(4, 4), (std::array<int, 3>{46, 160, 67}));   // first tile framed green
        const int tileW = 4 * 16 + 4;
        QCOMPARE(pixel(4 + tileW + 4, 4), (std::array<int, 3>{211, 47, 47}));  // second red
        QCOMPARE(pixel(4 + 2 + 10, 4 + 2 + 10), (std::array<int, 3>{128, 128, 128}));  // the image itself
    }

    void jobBodyLoadsTrainsAndReports()
    {
        kiln::JobQueue queue;
        TrainConfig c;
        c.data.kind = DatasetKind::Text;
        c.data.sequenceLength = 16;
        c.maxSteps = 6;
        c.sampleLength = 10;
        torch::manual_seed(9);
        auto emb = torch::nn::Embedding(200, 8);
        auto head = torch::nn::Linear(8, 200);
        auto module = std::make_shared<torch::nn::Module>();
        module->register_module("emb", emb);
        module->register_module("head", head);
        // Logits averaged over time, [B, V], cannot pair with next-token targets [B, T].
        TrainModel model{module, [emb, head](const torch::Tensor& x) mutable { return head->forward(emb->forward(x)).mean(1); }};
        std::optional<TrainSummary> summary;
        TrainHooks hooks;
        hooks.onFinished = [&](const TrainSummary& s) { summary = s; };
        auto rec = std::make_shared<Recorder>();
        auto bad = queue.submit("train", makeTrainJob(c, model, hooks), rec);
        queue.wait(bad);
        QCOMPARE(*rec->state, kiln::JobState::Failed);
        QVERIFY2(rec->error->message().find("cross-entropy needs") != std::string::npos, rec->error->message().c_str());

        DataConfig dc = c.data;
        auto data = loadData(dc);
        const auto V = data->info.vocab->size();
        emb = torch::nn::Embedding(V, 8);
        head = torch::nn::Linear(8, V);
        module = std::make_shared<torch::nn::Module>();
        module->register_module("emb", emb);
        module->register_module("head", head);
        model = {module, [emb, head](const torch::Tensor& x) mutable { return head->forward(emb->forward(x)); }};
        auto rec2 = std::make_shared<Recorder>();
        auto ok = queue.submit("train", makeTrainJob(c, model, hooks), rec2);
        queue.wait(ok);
        QCOMPARE(*rec2->state, kiln::JobState::Succeeded);
        QVERIFY(summary);
        QCOMPARE(summary->steps, std::int64_t{6});
        QVERIFY(rec2->metrics >= 18);

        c.data.kind = DatasetKind::ImageFolder;
        c.data.path = "/nonexistent/kiln-images";
        auto rec3 = std::make_shared<Recorder>();
        auto missing = queue.submit("train", makeTrainJob(c, model, hooks), rec3);
        queue.wait(missing);
        QCOMPARE(*rec3->state, kiln::JobState::Failed);
        QVERIFY(rec3->error->message().find("does not exist") != std::string::npos);
    }
};

QTEST_GUILESS_MAIN(TestTrainer)
#include "test_trainer.moc"
