// fp16 weight storage on the Vulkan backend: gemmVulkan, conv2dVulkan and convTranspose2dVulkan with
// WeightType::F16, and the executor's halfWeights option, against LibTorch.
//
// Tolerances, in relativeError (max |got - ref| / max(max |ref|, 1)):
// - ops: 1e-4, as the fp32 ops (test_vulkan_gemm.cpp), against LibTorch given the same weights
//   rounded to half and back. The shaders widen each half exactly to fp32 and accumulate in fp32,
//   so the only difference left is the order of the fp32 sums.
// - graphs: 1e-3 against the fp32 LibTorch model. Rounding a weight to half moves it by up to
//   2^-11 of itself; over a sum of K products the errors are independent, so the output moves by
//   about sqrt(K) * 2^-12 of the typical product, a few 1e-4 of the output's scale at the
//   samples' depths. A wrong index or a weight read as fp32 misses by orders of magnitude more.
// Every test skips, saying why, on a device without 16-bit storage buffers.
#include "graph/compiler.h"
#include "graph_test_support.h"
#include "vulkan/executor/graph_executor.h"
#include "vulkan/ops/conv2d_vulkan.h"
#include "vulkan/ops/gemm_vulkan.h"
#include "vulkan_graph_test_support.h"
#include "vulkan_test_support.h"

#include <torch/torch.h>

#include <QtTest/QtTest>

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

using namespace kiln;
using graph::testing::loadSample;
using kiln::test::relativeError;
using vk::Activation;
using vk::WeightType;

namespace {

constexpr double kOpTolerance = 1e-4;
constexpr double kGraphTolerance = 1e-3;

torch::Tensor roundedToHalf(const torch::Tensor& t)
{
    return t.to(torch::kHalf).to(torch::kFloat32);
}

torch::Tensor poison(std::vector<std::int64_t> sizes)
{
    return torch::full(sizes, std::numeric_limits<float>::quiet_NaN());
}

vk::Conv2dParams convParams(std::uint32_t batch, std::uint32_t inC, std::uint32_t h, std::uint32_t w,
                            std::uint32_t outC, std::uint32_t k, std::uint32_t stride, std::uint32_t pad,
                            std::uint32_t dil, std::uint32_t groups, std::uint32_t outPad = 0)
{
    return vk::Conv2dParams::square(batch, inC, h, w, outC, k, stride, pad, dil, groups, outPad);
}

}  // namespace

// QSKIP returns from the function it is in, so this must be a macro in each test.
#define KILN_REQUIRE_FP16()                                                                                       \
    do {                                                                                                          \
        if (!vk_.ctx->supportsFp16Storage())                                                                      \
            QSKIP(qPrintable(QString::fromStdString(vk_.ctx->deviceInfo().name) +                                 \
                             " lacks 16-bit storage buffers (or KILN_VULKAN_NO_FP16 is set): fp16 weights untested"));  \
    } while (0)

class TestVulkanFp16 : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void gemm_data();
    void gemm();
    void conv2d_data();
    void conv2d();
    void convTranspose2d();
    void refusedWithoutFp16Storage();
    void graphs_data();
    void graphs();

private:
    // The weights as half in device memory (odd counts included), for the ops' F16 paths.
    vk::Allocation halfToDevice(const torch::Tensor& t, const char* label);

    kiln::test::VulkanFixture vk_;
    double maxOpError_ = 0, maxGraphError_ = 0;
};

void TestVulkanFp16::initTestCase()
{
    if (!vk_.open()) QSKIP(qPrintable("no usable Vulkan device, so the Vulkan tests are skipped: " +
                                      QString::fromStdString(vk_.skipReason)));
    qInfo("Vulkan device: %s, fp16 storage: %s", vk_.ctx->deviceInfo().name.c_str(),
          vk_.ctx->supportsFp16Storage() ? "yes" : "no");
    torch::manual_seed(20240613);
}

void TestVulkanFp16::cleanupTestCase()
{
    qInfo("ops with fp16 weights: largest relative error %.3g (tolerance %.0e)", maxOpError_, kOpTolerance);
    qInfo("graphs with fp16 weights: largest relative error %.3g (tolerance %.0e)", maxGraphError_, kGraphTolerance);
    if (vk_.ctx && vk_.ctx->instance().validationEnabled()) QCOMPARE(vk_.ctx->instance().validationErrors(), 0);
}

vk::Allocation TestVulkanFp16::halfToDevice(const torch::Tensor& t, const char* label)
{
    const torch::Tensor h = t.to(torch::kHalf).contiguous();
    const auto count = std::size_t(h.numel());
    vk::Allocation a = vk_.alloc((count + 1) / 2, label);
    auto up = vk_.rec->upload(a.region(), std::as_bytes(std::span<const at::Half>(h.data_ptr<at::Half>(), count)));
    if (!up) qFatal("upload failed: %s", up.error().message().c_str());
    return a;
}

void TestVulkanFp16::gemm_data()
{
    QTest::addColumn<int>("m");
    QTest::addColumn<int>("n");
    QTest::addColumn<int>("k");
    QTest::addColumn<bool>("transB");
    // gemv.comp (transB, m <= 4), gemm.comp with both layouts of B, odd counts of halves, tile edges.
    QTest::newRow("1x1x1 gemv") << 1 << 1 << 1 << true;
    QTest::newRow("1x300x77 gemv") << 1 << 300 << 77 << true;
    QTest::newRow("4x301x65 gemv") << 4 << 301 << 65 << true;
    QTest::newRow("2x7x1000 gemv") << 2 << 7 << 1000 << true;
    QTest::newRow("5x301x65 transB") << 5 << 301 << 65 << true;
    QTest::newRow("65x63x17 transB") << 65 << 63 << 17 << true;
    QTest::newRow("200x70x1200 transB") << 200 << 70 << 1200 << true;
    QTest::newRow("7x5x3 B") << 7 << 5 << 3 << false;
    QTest::newRow("128x128x128 B") << 128 << 128 << 128 << false;
    QTest::newRow("100x37x130 B") << 100 << 37 << 130 << false;
}

void TestVulkanFp16::gemm()
{
    KILN_REQUIRE_FP16();
    QFETCH(int, m);
    QFETCH(int, n);
    QFETCH(int, k);
    QFETCH(bool, transB);
    const auto a = torch::randn({m, k});
    const auto b = transB ? torch::randn({n, k}) : torch::randn({k, n});
    const auto bias = torch::randn({n});
    auto da = vk_.toDevice(a, "a");
    auto db = halfToDevice(b, "b");
    auto dbias = vk_.toDevice(bias, "bias");
    auto dout = vk_.toDevice(poison({m, n}), "out");
    const vk::Region rbias = dbias.region();
    auto r = vk::gemmVulkan(*vk_.rec, da.region(), db.region(), &rbias, dout.region(),
                            {std::uint32_t(m), std::uint32_t(n), std::uint32_t(k)}, transB, Activation::ReLU, 0.0f,
                            WeightType::F16);
    QVERIFY2(r.ok(), r.ok() ? "" : r.error().message().c_str());
    const auto got = vk_.fromDevice(dout.region(), {m, n});
    const auto bh = roundedToHalf(b);
    const auto ref = torch::relu(transB ? torch::linear(a, bh, bias) : torch::matmul(a, bh) + bias);
    maxOpError_ = std::max(maxOpError_, relativeError(got, ref));
    KILN_COMPARE_TENSORS(got, ref, kOpTolerance);
}

void TestVulkanFp16::conv2d_data()
{
    QTest::addColumn<int>("index");
    for (int i = 0; i < 6; ++i) QTest::addRow("case %d", i) << i;
}

void TestVulkanFp16::conv2d()
{
    KILN_REQUIRE_FP16();
    QFETCH(int, index);
    // convParams(batch, inC, h, w, outC, k, stride, pad, dilation, groups): implicit GEMM and direct.
    const vk::Conv2dParams cases[] = {
        convParams(1, 3, 8, 8, 16, 3, 1, 1, 1, 1),      // 16 per group: implicit GEMM
        convParams(2, 5, 11, 13, 12, 5, 2, 2, 1, 1),
        convParams(3, 8, 7, 9, 32, 3, 1, 1, 1, 2),      // groups 2
        convParams(2, 32, 16, 16, 70, 3, 1, 1, 1, 1),   // K = 288, 70 rows
        convParams(2, 8, 12, 12, 8, 3, 1, 1, 1, 8),     // depthwise: direct
        convParams(2, 6, 8, 8, 3, 3, 1, 2, 2, 1),       // 3 outputs, dilation 2: direct, odd weight count
    };
    const vk::Conv2dParams& p = cases[index];
    const std::int64_t oh = p.outH(), ow = p.outW();
    const auto x = torch::randn({p.batch, p.inChannels, p.inH, p.inW});
    const auto w = torch::randn({p.outChannels, p.inChannels / p.groups, p.kernelH, p.kernelW});
    const auto bias = torch::randn({p.outChannels});
    auto dx = vk_.toDevice(x, "x"), dbias = vk_.toDevice(bias, "bias");
    auto dw = halfToDevice(w, "weight");
    auto dout = vk_.toDevice(poison({p.batch, p.outChannels, oh, ow}), "out");
    const vk::Region rbias = dbias.region();
    auto r = vk::conv2dVulkan(*vk_.rec, dx.region(), dw.region(), &rbias, dout.region(), p, Activation::SiLU, 0.0f,
                              WeightType::F16);
    QVERIFY2(r.ok(), r.ok() ? "" : r.error().message().c_str());
    const auto got = vk_.fromDevice(dout.region(), {p.batch, p.outChannels, oh, ow});
    const auto ref = torch::silu(torch::conv2d(x, roundedToHalf(w), bias, {p.strideH, p.strideW}, {p.padH, p.padW},
                                               {p.dilationH, p.dilationW}, p.groups));
    maxOpError_ = std::max(maxOpError_, relativeError(got, ref));
    KILN_COMPARE_TENSORS(got, ref, kOpTolerance);
}

void TestVulkanFp16::convTranspose2d()
{
    KILN_REQUIRE_FP16();
    // The usual 2x upsampling; groups 3 with output padding.
    for (const vk::Conv2dParams& p :
         {convParams(2, 8, 6, 7, 4, 4, 2, 1, 1, 1), convParams(2, 6, 5, 5, 9, 3, 2, 1, 1, 3, 1)}) {
        const std::int64_t oh = p.transposedOutH(), ow = p.transposedOutW();
        const auto x = torch::randn({p.batch, p.inChannels, p.inH, p.inW});
        const auto w = torch::randn({p.inChannels, p.outChannels / p.groups, p.kernelH, p.kernelW});
        const auto bias = torch::randn({p.outChannels});
        auto dx = vk_.toDevice(x, "x"), dbias = vk_.toDevice(bias, "bias");
        auto dw = halfToDevice(w, "weight");
        auto dout = vk_.toDevice(poison({p.batch, p.outChannels, oh, ow}), "out");
        const vk::Region rbias = dbias.region();
        auto r = vk::convTranspose2dVulkan(*vk_.rec, dx.region(), dw.region(), &rbias, dout.region(), p,
                                           WeightType::F16);
        QVERIFY2(r.ok(), r.ok() ? "" : r.error().message().c_str());
        const auto got = vk_.fromDevice(dout.region(), {p.batch, p.outChannels, oh, ow});
        const auto ref = torch::conv_transpose2d(x, roundedToHalf(w), bias, {p.strideH, p.strideW}, {p.padH, p.padW},
                                                 {p.outputPadH, p.outputPadW}, p.groups, {p.dilationH, p.dilationW});
        maxOpError_ = std::max(maxOpError_, relativeError(got, ref));
        KILN_COMPARE_TENSORS(got, ref, kOpTolerance);
    }
}

void TestVulkanFp16::refusedWithoutFp16Storage()
{
    // A second context with 16-bit storage turned off stands in for a device without it: the ops
    // refuse F16, naming themselves, and the executor falls back to fp32 weights.
    qputenv("KILN_VULKAN_NO_FP16", "1");
    auto ctx = vk::Context::create();
    qunsetenv("KILN_VULKAN_NO_FP16");
    QVERIFY2(ctx.ok(), ctx.ok() ? "" : ctx.error().message().c_str());
    QVERIFY(!(*ctx)->supportsFp16Storage());
    {
        auto pool = vk::MemoryPool::create(**ctx, vk::MemoryKind::Device);
        auto rec = vk::Recorder::create(**ctx);
        QVERIFY(rec.ok());
        auto a = pool->allocate(64 * 4, "a"), b = pool->allocate(64 * 4, "b"), o = pool->allocate(64 * 4, "out");
        QVERIFY(a.ok() && b.ok() && o.ok());
        auto g = vk::gemmVulkan(**rec, a->region(), b->region(), nullptr, o->region(), {2, 4, 8}, true,
                                Activation::None, 0.0f, WeightType::F16);
        QVERIFY(!g.ok());
        QVERIFY2(g.error().message().find("gemm") != std::string::npos, g.error().message().c_str());
        QVERIFY2(g.error().message().find("16-bit storage") != std::string::npos, g.error().message().c_str());
        auto c = vk::conv2dVulkan(**rec, a->region(), b->region(), nullptr, o->region(),
                                  convParams(1, 1, 4, 4, 1, 3, 1, 1, 1, 1), Activation::None, 0.0f, WeightType::F16);
        QVERIFY(!c.ok());
        QVERIFY2(c.error().message().find("conv2d") != std::string::npos, c.error().message().c_str());

        const graph::Graph graph = loadSample("fashion_convnet");
        auto model = graph::compileGraph(graph);
        QVERIFY(model.ok());
        (*model)->eval();
        const torch::Tensor x = torch::randn((*model)->inputShapes().at(0).concrete(2));
        torch::Tensor ref;
        {
            torch::NoGradGuard noGrad;
            ref = (*model)->forward(x);
        }
        auto exec = vk::GraphExecutor::create(*ctx, graph, **model, vk::ExecutorOptions{.halfWeights = true});
        QVERIFY2(exec.ok(), exec.ok() ? "" : exec.error().message().c_str());
        QVERIFY(!(*exec)->halfWeightsActive());
        auto got = (*exec)->forward({x});
        QVERIFY2(got.ok(), got.ok() ? "" : got.error().message().c_str());
        KILN_COMPARE_TENSORS(got.value(), ref, 2e-4);  // fp32 weights: test_vulkan_executor's tolerance
    }
    if ((*ctx)->instance().validationEnabled()) QCOMPARE((*ctx)->instance().validationErrors(), 0);
}

void TestVulkanFp16::graphs_data()
{
    QTest::addColumn<QString>("sample");
    QTest::addColumn<int>("batch");
    // The Llama-style model also covers the attention projections; its embedding table stays fp32.
    for (const char* s : {"fashion_convnet", "resnet_small", "mlp", "tiny_llama"})
        for (int batch : {1, 3})
            QTest::newRow(qPrintable(QStringLiteral("%1 batch %2").arg(s).arg(batch))) << QString(s) << batch;
}

void TestVulkanFp16::graphs()
{
    KILN_REQUIRE_FP16();
    QFETCH(QString, sample);
    QFETCH(int, batch);
    const graph::Graph g = loadSample(sample.toStdString());
    auto model = graph::compileGraph(g);
    QVERIFY2(model.ok(), model.ok() ? "" : model.error().message().c_str());
    test::randomizeBatchNorms(**model);
    (*model)->eval();
    const torch::Tensor x = test::inputFor(**model, batch);
    torch::Tensor ref;
    {
        torch::NoGradGuard noGrad;
        ref = (*model)->forward(x);
    }
    auto full = vk::GraphExecutor::create(vk_.ctx, g, **model);
    auto half = vk::GraphExecutor::create(vk_.ctx, g, **model, vk::ExecutorOptions{.halfWeights = true});
    QVERIFY2(full.ok(), full.ok() ? "" : full.error().message().c_str());
    QVERIFY2(half.ok(), half.ok() ? "" : half.error().message().c_str());
    QVERIFY(!(*full)->halfWeightsActive());
    QVERIFY((*half)->halfWeightsActive());
    auto got = (*half)->forward({x});
    QVERIFY2(got.ok(), got.ok() ? "" : got.error().message().c_str());
    const double err = relativeError(got.value(), ref);
    maxGraphError_ = std::max(maxGraphError_, err);
    KILN_COMPARE_TENSORS(got.value(), ref, kGraphTolerance);

    // Biases, batch-norm terms, embedding tables and the per-allocation alignment stay as they
    // were, so a little more than half.
    const double fullBytes = double((*full)->weightMemory().usedBytes);
    const double halfBytes = double((*half)->weightMemory().usedBytes);
    const double ratio = halfBytes / fullBytes;
    qInfo("%s batch %d: relative error %.3g; weights %.0f bytes in fp16 against %.0f in fp32 (%.3f)",
          qPrintable(sample), batch, err, halfBytes, fullBytes, ratio);
    QVERIFY2(ratio > 0.45 && ratio < 0.6, qPrintable(QStringLiteral("weight memory ratio %1").arg(ratio)));
}

QTEST_GUILESS_MAIN(TestVulkanFp16)
#include "test_vulkan_fp16.moc"
