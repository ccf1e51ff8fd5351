// The engine's job queue without Qt's event loop: order, failures, cancellation, coalescing.
#include "kiln/job.h"

#include <QTest>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <thread>

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

struct Recorder : kiln::JobObserver {
    std::mutex m;
    int started = 0;
    int updates = 0;
    std::size_t metrics = 0;
    std::optional<kiln::JobState> state;
    std::optional<kiln::Error> error;
    Clock::time_point finishedAt;

    void jobStarted() override { std::lock_guard l(m); ++started; }
    void jobUpdated(kiln::JobUpdate u) override
    {
        std::lock_guard l(m);
        ++updates;
        metrics += u.metrics.size();
    }
    void jobFinished(kiln::JobState s, const std::optional<kiln::Error>& e) override
    {
        std::lock_guard l(m);
        state = s;
        error = e;
        finishedAt = Clock::now();
    }
};

}  // namespace

class TestJobQueue : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void runsJobsInSubmissionOrder()
    {
        kiln::JobQueue q;
        std::mutex m;
        std::vector<int> order;
        std::vector<kiln::JobId> ids;
        for (int i = 0; i < 8; ++i) {
            ids.push_back(q.submit("job " + std::to_string(i), [&, i](kiln::JobContext&) -> kiln::Result<void> {
                std::this_thread::sleep_for(std::chrono::milliseconds(8 - i));  // later jobs are quicker
                std::lock_guard l(m);
                order.push_back(i);
                return kiln::success();
            }, nullptr));
        }
        q.wait(ids.back());
        QCOMPARE(order, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7}));
        for (auto id : ids) QCOMPARE(q.state(id), kiln::JobState::Succeeded);
    }

    void failurePropagatesAndTheQueueGoesOn()
    {
        kiln::JobQueue q;
        auto failing = std::make_shared<Recorder>();
        auto throwing = std::make_shared<Recorder>();
        auto after = std::make_shared<Recorder>();
        q.submit("fails", [](kiln::JobContext&) -> kiln::Result<void> {
            return kiln::makeError("shape mismatch", "node conv1", "set in_channels to 3");
        }, failing);
        q.submit("throws", [](kiln::JobContext&) -> kiln::Result<void> {
            throw std::runtime_error("c10 said no");
        }, throwing);
        const auto last = q.submit("after", [](kiln::JobContext&) { return kiln::success(); }, after);
        q.wait(last);
        QCOMPARE(*failing->state, kiln::JobState::Failed);
        QCOMPARE(QString::fromStdString(failing->error->message()),
                 QStringLiteral("node conv1: shape mismatch (set in_channels to 3)"));
        QCOMPARE(*throwing->state, kiln::JobState::Failed);
        QVERIFY(throwing->error->what.find("c10 said no") != std::string::npos);
        QCOMPARE(*after->state, kiln::JobState::Succeeded);
        QVERIFY(!after->error);
    }

    void cancelStopsWithinOneStep()
    {
        kiln::JobQueue q;
        auto rec = std::make_shared<Recorder>();
        constexpr auto step = 20ms;
        std::atomic<int> steps{0};
        std::atomic<int> stepsAtCancel{-1};
        const auto id = q.submit("long", [&](kiln::JobContext& ctx) -> kiln::Result<void> {
            for (int i = 0; i < 1000; ++i) {
                if (ctx.cancelled()) return kiln::success();
                std::this_thread::sleep_for(step);  // one "step" of work
                ++steps;
                ctx.report(i / 1000.0);
            }
            return kiln::success();
        }, rec);
        std::this_thread::sleep_for(150ms);
        stepsAtCancel = steps.load();
        const auto cancelledAt = Clock::now();
        q.cancel(id);
        q.wait(id);
        QCOMPARE(*rec->state, kiln::JobState::Cancelled);
        QVERIFY2(steps - stepsAtCancel <= 1, "more than one step ran after cancel");
        QVERIFY(rec->finishedAt - cancelledAt < step * 3);
        QVERIFY(!rec->error);
    }

    void cancellingAQueuedJobRemovesItAtOnce()
    {
        kiln::JobQueue q;
        std::atomic<bool> release{false};
        std::atomic<bool> secondRan{false};
        const auto first = q.submit("blocker", [&](kiln::JobContext& ctx) -> kiln::Result<void> {
            while (!release && !ctx.cancelled()) std::this_thread::sleep_for(1ms);
            return kiln::success();
        }, nullptr);
        auto rec = std::make_shared<Recorder>();
        const auto second = q.submit("queued", [&](kiln::JobContext&) {
            secondRan = true;
            return kiln::success();
        }, rec);
        QCOMPARE(q.state(second), kiln::JobState::Queued);
        q.cancel(second);
        QCOMPARE(q.state(second), kiln::JobState::Cancelled);
        q.wait(second);  // must not wait for the blocker
        QCOMPARE(*rec->state, kiln::JobState::Cancelled);
        QCOMPARE(rec->started, 0);
        release = true;
        q.wait(first);
        QVERIFY(!secondRan);
        QCOMPARE(q.state(first), kiln::JobState::Succeeded);
    }

    void updatesAreCoalescedButNoMetricIsLost()
    {
        kiln::JobQueue q;
        auto rec = std::make_shared<Recorder>();
        constexpr auto duration = 500ms;
        std::size_t sent = 0;
        const auto id = q.submit("chatty", [&](kiln::JobContext& ctx) -> kiln::Result<void> {
            const auto end = Clock::now() + duration;
            while (Clock::now() < end) {
                ctx.report(0.5, "working");
                ctx.emitMetric("loss", static_cast<std::int64_t>(sent), 1.0);
                ++sent;
            }
            return kiln::success();
        }, rec);
        q.wait(id);
        QVERIFY(sent > 1000);
        QCOMPARE(rec->metrics, sent);
        // ~30 Hz over 0.5 s: about 15 batches, plus the final flush.
        QVERIFY2(rec->updates <= 25, qPrintable(QString::number(rec->updates)));
        QVERIFY(rec->updates >= 5);
    }

    void destroyingTheQueueCancelsTheRunningJob()
    {
        auto rec = std::make_shared<Recorder>();
        std::atomic<bool> started{false};
        const auto t0 = Clock::now();
        {
            kiln::JobQueue q;
            q.submit("forever", [&](kiln::JobContext& ctx) -> kiln::Result<void> {
                started = true;
                while (!ctx.cancelled()) std::this_thread::sleep_for(1ms);
                return kiln::success();
            }, rec);
            while (!started) std::this_thread::sleep_for(1ms);
        }
        QCOMPARE(*rec->state, kiln::JobState::Cancelled);
        QVERIFY(Clock::now() - t0 < 2s);
    }
};

QTEST_GUILESS_MAIN(TestJobQueue)
#include "test_job_queue.moc"
