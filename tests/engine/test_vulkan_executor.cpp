// The Vulkan executor runs designed graphs as LibTorch does: the shipped samples (ConvNet,
// ResNet, MLP, the Llama-style model) and a graph that uses the remaining node types give the
// same outputs on both backends. Also: one submit per forward, memory reuse, re-planning for a
// new batch size, and the faults (memory exhausted, wrong inputs, bad token ids) as clear errors.
#include "graph/compiler.h"
#include "graph_test_support.h"
#include "vulkan/executor/graph_executor.h"
#include "vulkan/pipeline.h"
#include "vulkan_graph_test_support.h"
#include "vulkan_test_support.h"

#include <torch/torch.h>

#include <QtTest/QtTest>

using namespace kiln;
using graph::testing::GraphBuilder;
using graph::testing::loadSample;

namespace {

using test::inputFor;
using test::randomizeBatchNorms;

// Every node output chains through many ops; fp32 differences from a different summation
// order grow with depth, so whole graphs are held to 2e-4 relative (each op alone to 1e-4).
constexpr double kGraphTolerance = 2e-4;

// Conv-transpose, group/layer norm, softmax, permute, concat, multiply, the poolings and
// activations the samples do not use, in one graph.
graph::Graph everyOtherOp()
{
    GraphBuilder b;
    auto in = b.add("node.input_image", "image", {{"channels", std::int64_t(3)}, {"height", std::int64_t(12)}, {"width", std::int64_t(12)}});
    auto conv = b.add("node.conv2d", "conv", {{"in_channels", std::int64_t(3)}, {"out_channels", std::int64_t(8)},
                                              {"kernel_size", std::int64_t(3)}, {"padding", std::int64_t(1)}});
    auto gn = b.add("node.groupnorm", "gn", {{"num_groups", std::int64_t(2)}, {"num_channels", std::int64_t(8)}});
    auto lrelu = b.add("node.leaky_relu", "lrelu", {{"negative_slope", 0.2}});
    auto up = b.add("node.conv_transpose2d", "up", {{"in_channels", std::int64_t(8)}, {"out_channels", std::int64_t(4)},
                                                    {"kernel_size", std::int64_t(2)}, {"stride", std::int64_t(2)}});
    auto avg = b.add("node.avgpool2d", "avg", {{"kernel_size", std::int64_t(2)}});
    auto maxp = b.add("node.maxpool2d", "maxp", {{"kernel_size", std::int64_t(3)}, {"stride", std::int64_t(1)}, {"padding", std::int64_t(1)}});
    auto sig = b.add("node.sigmoid", "sig");
    auto cat = b.add("node.concat", "cat", {{"dim", std::int64_t(1)}});
    auto mul = b.add("node.multiply", "mul");
    auto pool = b.add("node.adaptive_avgpool2d", "pool", {{"output_size", std::int64_t(3)}});
    auto perm = b.add("node.permute", "perm", {{"dims", graph::IntList{0, 2, 3, 1}}});
    auto ln = b.add("node.layernorm", "ln", {{"normalized_shape", std::int64_t(8)}});
    auto gelu = b.add("node.gelu", "gelu", {{"approximate", std::string("tanh")}});
    auto flat = b.add("node.flatten", "flat");
    auto fc = b.add("node.linear", "fc", {{"in_features", std::int64_t(72)}, {"out_features", std::int64_t(10)}});
    auto soft = b.add("node.softmax", "soft", {{"dim", std::int64_t(-1)}});
    b.link(in, conv);
    b.link(conv, gn);
    b.link(gn, lrelu);
    b.link(lrelu, up);
    b.link(up, avg);     // [B, 4, 24, 24] -> [B, 4, 12, 12]
    b.link(avg, maxp);
    b.link(maxp, sig);
    b.link(maxp, cat, "a");
    b.link(sig, cat, "b");  // [B, 8, 12, 12]
    b.link(cat, mul, "a");
    b.link(cat, mul, "b");
    b.link(mul, pool);   // [B, 8, 3, 3]
    b.link(pool, perm);  // [B, 3, 3, 8]
    b.link(perm, ln);
    b.link(ln, gelu);
    b.link(gelu, flat);  // [B, 72]
    b.link(flat, fc);
    b.link(fc, soft);
    return b.g;
}

}  // namespace

class TestVulkanExecutor : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        if (!vk_.open()) QSKIP(vk_.skipReason.c_str());
        torch::manual_seed(7);
    }
    void cleanupTestCase()
    {
        if (vk_.ctx && qEnvironmentVariableIsSet("KILN_VULKAN_VALIDATION"))
            QCOMPARE(vk_.ctx->instance().validationErrors(), 0);
    }

    void graphsMatchLibTorch_data()
    {
        QTest::addColumn<QString>("sample");
        QTest::addColumn<int>("batch");
        for (const char* s : {"fashion_convnet", "resnet_small", "mlp", "tiny_llama", "(every other op)"})
            for (int batch : {1, 3}) QTest::newRow(qPrintable(QStringLiteral("%1 batch %2").arg(s).arg(batch))) << QString(s) << batch;
    }
    void graphsMatchLibTorch()
    {
        QFETCH(QString, sample);
        QFETCH(int, batch);
        const graph::Graph g = sample.startsWith('(') ? everyOtherOp() : loadSample(sample.toStdString());
        auto model = graph::compileGraph(g);
        QVERIFY2(model.ok(), model.ok() ? "" : model.error().message().c_str());
        randomizeBatchNorms(**model);
        (*model)->eval();
        const torch::Tensor x = inputFor(**model, batch);
        torch::Tensor ref;
        {
            torch::NoGradGuard noGrad;
            ref = (*model)->forward(x);
        }
        auto exec = vk::GraphExecutor::create(vk_.ctx, g, **model);
        QVERIFY2(exec.ok(), exec.ok() ? "" : exec.error().message().c_str());
        auto got = (*exec)->forward({x});
        QVERIFY2(got.ok(), got.ok() ? "" : got.error().message().c_str());
        KILN_COMPARE_TENSORS(got.value(), ref, kGraphTolerance);
        qInfo("%s: relative error %.3g, %zu dispatches, %zu barriers, activations peak %llu bytes",
              qPrintable(sample), test::relativeError(got.value(), ref), (*exec)->dispatchesPerForward(),
              (*exec)->barriersPerForward(), static_cast<unsigned long long>((*exec)->activationMemory().peakUsedBytes));
    }

    void fusionKeepsResultsAndSavesDispatches()
    {
        const graph::Graph g = loadSample("fashion_convnet");
        auto model = graph::compileGraph(g);
        QVERIFY(model.ok());
        randomizeBatchNorms(**model);
        (*model)->eval();
        const torch::Tensor x = inputFor(**model, 4);
        auto fused = vk::GraphExecutor::create(vk_.ctx, g, **model);
        auto plain = vk::GraphExecutor::create(vk_.ctx, g, **model, vk::ExecutorOptions{.fuse = false});
        QVERIFY(fused.ok() && plain.ok());
        auto a = (*fused)->forward({x});
        auto b = (*plain)->forward({x});
        QVERIFY(a.ok() && b.ok());
        KILN_COMPARE_TENSORS(a.value(), b.value(), kGraphTolerance);
        QVERIFY2((*fused)->dispatchesPerForward() < (*plain)->dispatchesPerForward(),
                 qPrintable(QStringLiteral("%1 vs %2").arg((*fused)->dispatchesPerForward()).arg((*plain)->dispatchesPerForward())));
    }

    void oneSubmitPerForwardAndReplanning()
    {
        const graph::Graph g = loadSample("resnet_small");
        auto model = graph::compileGraph(g);
        QVERIFY(model.ok());
        (*model)->eval();
        auto exec = vk::GraphExecutor::create(vk_.ctx, g, **model);
        QVERIFY(exec.ok());
        for (int batch : {2, 5, 2}) {
            const auto before = (*exec)->submits();
            const torch::Tensor x = inputFor(**model, batch);
            auto got = (*exec)->forward({x});
            QVERIFY2(got.ok(), got.ok() ? "" : got.error().message().c_str());
            QCOMPARE((*exec)->submits(), before + 1);
            torch::NoGradGuard noGrad;
            KILN_COMPARE_TENSORS(got.value(), (*model)->forward(x), kGraphTolerance);
        }
        // Ranges are reused once read: the plan holds less than all activations together.
        std::uint64_t all = 0;
        for (const auto& [id, info] : (*model)->info().nodes)
            for (const auto& s : info.outputs) all += std::uint64_t(s.perSample()) * 2 * 4;
        QVERIFY2((*exec)->activationMemory().peakUsedBytes < all,
                 qPrintable(QStringLiteral("peak %1 of %2").arg((*exec)->activationMemory().peakUsedBytes).arg(all)));
    }

    void exhaustedMemoryIsAClearError()
    {
        const graph::Graph g = loadSample("fashion_convnet");
        auto model = graph::compileGraph(g);
        QVERIFY(model.ok());
        auto exec = vk::GraphExecutor::create(vk_.ctx, g, **model, vk::ExecutorOptions{.memoryLimit = 1 << 20});
        QVERIFY(!exec.ok());
        QVERIFY2(exec.error().message().find("memory exhausted") != std::string::npos, exec.error().message().c_str());
        QVERIFY(!vk_.ctx->lost());  // refused, nothing broken: the next run works
        auto ok = vk::GraphExecutor::create(vk_.ctx, g, **model);
        QVERIFY(ok.ok());
    }

    void wrongInputsAreRefused()
    {
        const graph::Graph g = loadSample("tiny_llama");
        auto model = graph::compileGraph(g);
        QVERIFY(model.ok());
        auto exec = vk::GraphExecutor::create(vk_.ctx, g, **model);
        QVERIFY(exec.ok());
        const torch::Tensor tokens = inputFor(**model, 1);
        auto floats = (*exec)->forward({tokens.to(torch::kFloat32)});
        QVERIFY(!floats.ok());
        QVERIFY2(floats.error().message().find("token ids") != std::string::npos, floats.error().message().c_str());
        auto tooBig = (*exec)->forward({tokens + 100000});
        QVERIFY(!tooBig.ok());
        QVERIFY2(tooBig.error().message().find("vocabulary") != std::string::npos, tooBig.error().message().c_str());
        auto none = (*exec)->forward({});
        QVERIFY(!none.ok());
        auto fine = (*exec)->forward({tokens});
        QVERIFY2(fine.ok(), fine.ok() ? "" : fine.error().message().c_str());
    }

    void brokenPipelineNamesTheOp()
    {
        const std::uint32_t notSpirv[] = {1, 2, 3, 4, 5, 6};
        auto p = vk::ComputePipeline::create(*vk_.ctx, "broken_op", notSpirv, vk::PipelineLayoutSpec{1, 4});
        QVERIFY(!p.ok());
        QVERIFY2(p.error().message().find("broken_op") != std::string::npos, p.error().message().c_str());
    }

private:
    test::VulkanFixture vk_;
};

QTEST_GUILESS_MAIN(TestVulkanExecutor)
#include "test_vulkan_executor.moc"
