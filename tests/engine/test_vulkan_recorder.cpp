// The Vulkan backend's plumbing: memory suballocated from large blocks (alignment, reuse,
// coalescing, the capacity limit), and the recorder's barriers (only where a command touches
// what an earlier one wrote, or writes what one read), uploads, downloads and timestamps.
#include "vulkan/ops/elementwise_vulkan.h"
#include "vulkan/pipeline_cache.h"
#include "vulkan_test_support.h"

#include <torch/torch.h>

#include <QtTest/QtTest>

using namespace kiln;

class TestVulkanRecorder : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        if (!vk_.open()) QSKIP(vk_.skipReason.c_str());
        torch::manual_seed(3);
    }
    void cleanupTestCase()
    {
        if (vk_.ctx && qEnvironmentVariableIsSet("KILN_VULKAN_VALIDATION"))
            QCOMPARE(vk_.ctx->instance().validationErrors(), 0);
    }

    void poolSuballocatesAndCoalesces()
    {
        auto pool = vk::MemoryPool::create(*vk_.ctx, vk::MemoryKind::Device, 1 << 20);
        const auto align = std::max<VkDeviceSize>(4, vk_.ctx->limits().minStorageBufferOffsetAlignment);
        auto a = pool->allocate(100'000, "a");
        auto b = pool->allocate(100'001, "b");
        auto c = pool->allocate(4, "c");
        QVERIFY(a.ok() && b.ok() && c.ok());
        QCOMPARE(pool->stats().blocks, std::size_t(1));
        QCOMPARE(a->region().buffer, b->region().buffer);  // one VkBuffer, carved up
        QVERIFY(!a->region().overlaps(b->region()) && !b->region().overlaps(c->region()));
        for (const auto* x : {&a.value(), &b.value(), &c.value()}) QCOMPARE(x->region().offset % align, VkDeviceSize(0));
        const VkDeviceSize firstOffset = a->region().offset;
        a.value() = vk::Allocation();
        b.value() = vk::Allocation();
        // The two freed neighbours merged: a range larger than either fits where they were.
        auto d = pool->allocate(200'000, "d");
        QVERIFY(d.ok());
        QCOMPARE(d->region().offset, firstOffset);
        QCOMPARE(pool->stats().blocks, std::size_t(1));
        // Larger than a block: a block of its own.
        auto big = pool->allocate(3 << 20, "big");
        QVERIFY(big.ok());
        QCOMPARE(pool->stats().blocks, std::size_t(2));
        QVERIFY(pool->stats().peakUsedBytes >= (3u << 20) + 200'000);
    }

    void capacityLimitIsAClearError()
    {
        auto pool = vk::MemoryPool::create(*vk_.ctx, vk::MemoryKind::Device, 1 << 20);
        pool->setCapacityLimit(2 << 20);
        auto a = pool->allocate(1 << 20, "first");
        QVERIFY(a.ok());
        auto b = pool->allocate(1 << 20, "second");
        QVERIFY(b.ok());
        auto c = pool->allocate(1 << 20, "third");
        QVERIFY(!c.ok());
        QVERIFY2(c.error().message().find("memory exhausted") != std::string::npos, c.error().message().c_str());
        QVERIFY2(c.error().where == "third", c.error().where.c_str());
        // Larger than one binding can address: refused before anything is allocated.
        auto huge = pool->allocate(VkDeviceSize(vk_.ctx->limits().maxStorageBufferRange) + 4, "huge");
        QVERIFY(!huge.ok());
        QVERIFY(!vk_.ctx->lost());
    }

    void barriersOnlyWhereNeeded()
    {
        const auto x = torch::randn({1000});
        auto dx = vk_.toDevice(x, "x");  // a transfer that writes x
        auto y1 = vk_.alloc(1000, "y1"), y2 = vk_.alloc(1000, "y2"), z = vk_.alloc(1000, "z");
        auto& rec = *vk_.rec;
        const auto before = rec.stats().barriers;
        QVERIFY(vk::unaryVulkan(rec, dx.region(), y1.region(), 1000, vk::Activation::ReLU).ok());
        QCOMPARE(rec.stats().barriers, before + 1);  // reads what the upload wrote
        QVERIFY(vk::unaryVulkan(rec, dx.region(), y2.region(), 1000, vk::Activation::Sigmoid).ok());
        QCOMPARE(rec.stats().barriers, before + 1);  // reads x too, writes elsewhere: runs alongside
        QVERIFY(vk::binaryVulkan(rec, y1.region(), {1000}, y2.region(), {1000}, z.region(), vk::BinaryOp::Add).ok());
        QCOMPARE(rec.stats().barriers, before + 2);  // reads both results
        // Write after read: overwriting x while earlier dispatches may still read it.
        QVERIFY(vk::unaryVulkan(rec, z.region(), dx.region(), 1000, vk::Activation::Tanh).ok());
        QCOMPARE(rec.stats().barriers, before + 3);
        QCOMPARE(rec.stats().dispatches, std::size_t(4));
        const torch::Tensor got = vk_.fromDevice(dx.region(), {1000});
        KILN_COMPARE_TENSORS(got, torch::tanh(torch::relu(x) + torch::sigmoid(x)), 1e-5);
    }

    void timestampsNameEachDispatch()
    {
        if (!vk_.ctx->timestampsSupported()) QSKIP("this device has no timestamp queries on its compute queue");
        auto rec = vk::Recorder::create(*vk_.ctx, /*profile=*/true);
        QVERIFY(rec.ok());
        auto a = vk_.alloc(4096, "a"), b = vk_.alloc(4096, "b");
        const std::vector<float> ones(4096, 1.0f);
        QVERIFY((*rec)->upload(a.region(), ones).ok());
        QVERIFY(vk::unaryVulkan(**rec, a.region(), b.region(), 4096, vk::Activation::SiLU).ok());
        QVERIFY(vk::unaryVulkan(**rec, b.region(), a.region(), 4096, vk::Activation::ReLU).ok());
        QVERIFY((*rec)->submit().ok());
        QCOMPARE((*rec)->timings().size(), std::size_t(2));
        for (const auto& t : (*rec)->timings()) QVERIFY2(t.ms >= 0 && t.ms < 10'000, t.label.c_str());
        QCOMPARE(QString::fromStdString((*rec)->timings()[0].label), QStringLiteral("silu"));  // the op names itself
    }

    // Compiled shaders survive the context: a second context of the same device starts with them.
    void pipelineCacheIsSavedAndReused()
    {
        QTemporaryDir dir;
        qputenv("KILN_CACHE_DIR", dir.path().toUtf8());
        std::string path;
        {
            auto ctx = vk::Context::create();
            QVERIFY(ctx.ok());
            QVERIFY(ctx.value()->pipelineCacheFile());
            QCOMPARE(ctx.value()->pipelineCacheFile()->loadedBytes(), std::size_t(0));
            path = ctx.value()->pipelineCacheFile()->path();
            auto pool = vk::MemoryPool::create(*ctx.value(), vk::MemoryKind::Device);
            auto rec = vk::Recorder::create(*ctx.value());
            auto a = pool->allocate(64 * 4, "a"), b = pool->allocate(64 * 4, "b");
            QVERIFY(rec.ok() && a.ok() && b.ok());
            QVERIFY(vk::unaryVulkan(**rec, a->region(), b->region(), 64, vk::Activation::ReLU).ok());
            QVERIFY((*rec)->submit().ok());
        }
        // At least the header (lavapipe stores nothing more; GPU drivers store the compiled code).
        QVERIFY2(QFileInfo(QString::fromStdString(path)).size() >= 32, path.c_str());
        auto again = vk::Context::create();
        QVERIFY(again.ok());
        QVERIFY(again.value()->pipelineCacheFile()->loadedBytes() >= 32);
        // A file from another device or driver (here: garbage) is not handed to the driver.
        again.value().reset();
        QFile f(QString::fromStdString(path));
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(QByteArray(100, 'x'));
        f.close();
        auto third = vk::Context::create();
        QVERIFY(third.ok());
        QCOMPARE(third.value()->pipelineCacheFile()->loadedBytes(), std::size_t(0));
        qunsetenv("KILN_CACHE_DIR");
    }

    void refusedRecordingLeavesTheRecorderUsable()
    {
        auto& rec = *vk_.rec;
        auto a = vk_.alloc(16, "a");
        std::vector<float> tooMany(17);
        QVERIFY(!rec.upload(a.region(), tooMany).ok());
        QVERIFY(!rec.download(a.region(), tooMany).ok());
        QVERIFY(rec.submit().ok());  // nothing recorded: nothing to do
        const auto x = torch::arange(16, torch::kFloat32);
        auto dx = vk_.toDevice(x);
        KILN_COMPARE_TENSORS(vk_.fromDevice(dx.region(), {16}), x, 0);
    }

private:
    test::VulkanFixture vk_;
};

QTEST_GUILESS_MAIN(TestVulkanRecorder)
#include "test_vulkan_recorder.moc"
