// EngineThread + JobHandle: everything reaches the handle on its own thread, by queued calls.
#include "qt/engine_thread.h"

#include <QSignalSpy>
#include <QTest>
#include <QThread>
#include <atomic>
#include <thread>

using namespace std::chrono_literals;

class TestEngineThread : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void signalsArriveOnTheHandlesThread()
    {
        kiln::qt::EngineThread engine;
        std::atomic<bool> onOtherThread{false};
        const auto uiThread = std::this_thread::get_id();
        std::unique_ptr<kiln::qt::JobHandle> h(engine.submit("work", [&](kiln::JobContext& ctx) -> kiln::Result<void> {
            onOtherThread = std::this_thread::get_id() != uiThread;
            for (int i = 0; i <= 10; ++i) {
                ctx.report(i / 10.0, "step " + std::to_string(i));
                ctx.emitMetric("loss", i, 10.0 - i);
                std::this_thread::sleep_for(5ms);
            }
            ctx.emitPreview({2, 1, {255, 0, 0, 255, 0, 255, 0, 255}});
            return kiln::success();
        }));
        QCOMPARE(h->state(), kiln::JobState::Queued);
        std::vector<kiln::Metric> metrics;
        bool wrongThread = false;
        connect(h.get(), &kiln::qt::JobHandle::metricsArrived, this, [&](const std::vector<kiln::Metric>& m) {
            wrongThread |= QThread::currentThread() != thread();
            metrics.insert(metrics.end(), m.begin(), m.end());
        });
        QSignalSpy started(h.get(), &kiln::qt::JobHandle::started);
        QSignalSpy previews(h.get(), &kiln::qt::JobHandle::previewArrived);
        QSignalSpy finished(h.get(), &kiln::qt::JobHandle::finished);
        QVERIFY(finished.wait(5000));
        QVERIFY(onOtherThread);
        QVERIFY(!wrongThread);
        QCOMPARE(started.count(), 1);
        QCOMPARE(h->state(), kiln::JobState::Succeeded);
        QCOMPARE(h->progress(), 1.0);
        QCOMPARE(h->message(), QStringLiteral("step 10"));
        QCOMPARE(metrics.size(), std::size_t{11});
        for (int i = 0; i <= 10; ++i) QCOMPARE(metrics[static_cast<std::size_t>(i)].step, i);
        QCOMPARE(previews.count(), 1);
        auto preview = previews.first().first().value<std::shared_ptr<const kiln::Preview>>();
        QCOMPARE(preview->width, 2);
        QVERIFY(h->elapsedSeconds() > 0.04);
    }

    void failureReachesTheHandle()
    {
        kiln::qt::EngineThread engine;
        std::unique_ptr<kiln::qt::JobHandle> h(engine.submit("bad", [](kiln::JobContext&) -> kiln::Result<void> {
            return kiln::makeError("cannot read the tensor", "model.safetensors", "the file is truncated");
        }));
        QSignalSpy finished(h.get(), &kiln::qt::JobHandle::finished);
        QVERIFY(finished.wait(5000));
        QCOMPARE(h->state(), kiln::JobState::Failed);
        QCOMPARE(h->errorText(), QStringLiteral("model.safetensors: cannot read the tensor (the file is truncated)"));
    }

    void destroyingAHandleCancelsAndWaits()
    {
        kiln::qt::EngineThread engine;
        std::atomic<bool> running{false}, exited{false};
        auto* h = engine.submit("endless", [&](kiln::JobContext& ctx) -> kiln::Result<void> {
            running = true;
            while (!ctx.cancelled()) {
                ctx.report(0.5);
                std::this_thread::sleep_for(2ms);
            }
            exited = true;
            return kiln::success();
        });
        QTRY_VERIFY(running);
        delete h;  // must not return before the job let go of the handle
        QVERIFY(exited);
        QCoreApplication::processEvents();  // queued calls to the deleted handle are dropped
        QCOMPARE(engine.pendingCount(), std::size_t{0});
    }

    void cancelFromTheHandle()
    {
        kiln::qt::EngineThread engine;
        std::unique_ptr<kiln::qt::JobHandle> blocker(engine.submit("blocker", [](kiln::JobContext& ctx) -> kiln::Result<void> {
            while (!ctx.cancelled()) std::this_thread::sleep_for(1ms);
            return kiln::success();
        }));
        std::unique_ptr<kiln::qt::JobHandle> queued(engine.submit("queued", [](kiln::JobContext&) { return kiln::success(); }));
        QSignalSpy queuedDone(queued.get(), &kiln::qt::JobHandle::finished);
        queued->cancel();
        QVERIFY(queuedDone.wait(2000));
        QCOMPARE(queued->state(), kiln::JobState::Cancelled);
        QSignalSpy blockerDone(blocker.get(), &kiln::qt::JobHandle::finished);
        blocker->cancel();
        QVERIFY(blockerDone.wait(2000));
        QCOMPARE(blocker->state(), kiln::JobState::Cancelled);
    }
};

QTEST_GUILESS_MAIN(TestEngineThread)
#include "test_engine_thread.moc"
