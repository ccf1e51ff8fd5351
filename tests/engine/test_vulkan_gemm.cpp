// The gemm family on the Vulkan backend (gemmVulkan, conv2dVulkan, convTranspose2dVulkan) against
// LibTorch on random inputs, over shapes chosen to hit the edges of the 64x64 tiles and of every
// convolution parameter, with each fused activation. Runs on whatever device the loader finds
// (lavapipe on a machine without a GPU); without one every test skips with the reason.
//
// Tolerances, in relativeError (max |got - ref| / max(max |ref|, 1)): 1e-4 for every op. The
// products are fp32 sums like torch's, only in another order: with K terms of size s the
// difference is about sqrt(K) * 2^-24 * s, below 1e-5 of the result's scale for the K <= 1200
// used here. The fused activations add GELU's erf fit (1.2e-7) and the driver's exp and tanh,
// which Vulkan lets a GPU compute to a few ulp; 1e-4 leaves room for both and still fails any
// wrong index, missing term or missing bias.
#include "vulkan/ops/conv2d_vulkan.h"
#include "vulkan/ops/gemm_vulkan.h"
#include "vulkan_test_support.h"

#include <torch/types.h>

#include <QtTest/QtTest>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <vector>

using namespace kiln;
using kiln::test::relativeError;
using vk::Activation;

namespace {

constexpr double kTolerance = 1e-4;  // every op; see the top of the file

torch::Tensor activate(const torch::Tensor& v, Activation act, float param)
{
    switch (act) {
    case Activation::None: return v;
    case Activation::ReLU: return torch::relu(v);
    case Activation::GELU: return torch::gelu(v);
    case Activation::GELUTanh: return torch::gelu(v, "tanh");
    case Activation::SiLU: return torch::silu(v);
    case Activation::Sigmoid: return torch::sigmoid(v);
    case Activation::Tanh: return torch::tanh(v);
    case Activation::LeakyReLU: return torch::leaky_relu(v, param);
    }
    return v;
}

// A tensor of NaNs: an output element the op fails to write stays NaN and fails the comparison.
torch::Tensor poison(std::vector<std::int64_t> sizes)
{
    return torch::full(sizes, std::numeric_limits<float>::quiet_NaN());
}

struct GemmCase {
    std::uint32_t m, n, k;
    bool transB, bias;
    Activation act;
};

struct ConvCase {
    vk::Conv2dParams p;
    bool bias;
    Activation act;
};

vk::Conv2dParams convParams(std::uint32_t batch, std::uint32_t inC, std::uint32_t h, std::uint32_t w,
                            std::uint32_t outC, std::uint32_t kH, std::uint32_t kW, std::uint32_t stride,
                            std::uint32_t pad, std::uint32_t dil, std::uint32_t groups, std::uint32_t outPad = 0)
{
    vk::Conv2dParams p = vk::Conv2dParams::square(batch, inC, h, w, outC, kH, stride, pad, dil, groups, outPad);
    p.kernelW = kW;
    return p;
}

// Shapes at and around the tile (64) and k step (16), and Linear shapes of a few rows (which
// take gemv.comp: transB and m <= 4) next to ones that just miss it. Activations rotate through
// the cases so that each meets both layouts of B.
const std::vector<GemmCase>& gemmCases()
{
    static const std::vector<GemmCase> cases{
        {1, 1, 1, false, false, Activation::None},
        {1, 1, 1, true, true, Activation::ReLU},
        {7, 5, 3, false, true, Activation::GELU},
        {7, 5, 3, true, false, Activation::GELUTanh},
        {64, 64, 16, false, false, Activation::None},
        {64, 64, 16, true, true, Activation::SiLU},
        {65, 63, 17, false, true, Activation::Sigmoid},
        {65, 63, 17, true, true, Activation::Tanh},
        {1, 300, 77, true, true, Activation::LeakyReLU},   // Linear, batch 1
        {3, 10, 784, true, true, Activation::None},        // a classifier head
        {100, 37, 130, false, false, Activation::ReLU},
        {33, 129, 64, true, false, Activation::GELU},
        {128, 128, 128, false, true, Activation::None},
        {128, 128, 128, true, true, Activation::GELUTanh},
        {200, 70, 1200, true, true, Activation::SiLU},
        {127, 1, 255, false, true, Activation::Tanh},
        {2, 513, 9, false, false, Activation::LeakyReLU},
        {4, 301, 65, true, true, Activation::GELU},        // the most rows gemv.comp takes
        {5, 301, 65, true, true, Activation::ReLU},        // the fewest gemm.comp takes with transB
        {2, 7, 1000, true, false, Activation::None},       // k far past gemv.comp's 64 invocations
    };
    return cases;
}

const std::vector<ConvCase>& convCases()
{
    // convParams(batch, inC, h, w, outC, kH, kW, stride, pad, dilation, groups)
    static const std::vector<ConvCase> cases{
        {convParams(1, 3, 8, 8, 16, 3, 3, 1, 1, 1, 1), true, Activation::ReLU},
        {convParams(2, 4, 9, 7, 20, 1, 1, 1, 0, 1, 1), false, Activation::None},
        {convParams(2, 5, 11, 13, 12, 5, 5, 2, 2, 1, 1), true, Activation::GELU},
        {convParams(1, 6, 10, 10, 18, 3, 3, 1, 2, 2, 1), true, Activation::SiLU},        // dilation 2
        {convParams(3, 8, 7, 9, 32, 3, 3, 1, 1, 1, 2), true, Activation::LeakyReLU},     // groups 2
        {convParams(2, 12, 6, 6, 36, 3, 3, 1, 0, 1, 4), false, Activation::GELUTanh},    // groups 4
        {convParams(2, 32, 16, 16, 70, 3, 3, 1, 1, 1, 1), false, Activation::None},      // N=512, M=70, K=288
        {convParams(1, 64, 9, 9, 65, 3, 3, 2, 1, 1, 1), true, Activation::Tanh},         // K=576, stride 2
        {convParams(2, 8, 12, 12, 8, 3, 3, 1, 1, 1, 8), true, Activation::Tanh},         // depthwise
        {convParams(1, 16, 9, 9, 16, 5, 5, 2, 2, 1, 16), false, Activation::Sigmoid},    // depthwise 5x5, stride 2
        {convParams(2, 6, 10, 10, 12, 3, 3, 1, 2, 2, 6), true, Activation::ReLU},        // depthwise x2, dilation 2
        {convParams(2, 6, 8, 8, 4, 3, 3, 1, 1, 1, 1), true, Activation::GELUTanh},       // few outputs: direct
        {convParams(1, 4, 7, 5, 6, 5, 5, 1, 0, 1, 2), true, Activation::None},           // kernel = input width
        {convParams(3, 3, 28, 28, 24, 5, 5, 1, 2, 1, 1), true, Activation::ReLU},        // a first layer
    };
    return cases;
}

// Transposed convolutions: (p, bias); the activation is never fused there.
const std::vector<ConvCase>& transposedCases()
{
    // convParams(batch, inC, h, w, outC, kH, kW, stride, pad, dilation, groups, outputPad)
    static const std::vector<ConvCase> cases{
        {convParams(1, 4, 5, 5, 6, 3, 3, 1, 0, 1, 1), false, Activation::None},
        {convParams(2, 8, 6, 7, 4, 4, 4, 2, 1, 1, 1), true, Activation::None},       // the usual 2x upsampling
        {convParams(2, 6, 5, 5, 9, 3, 3, 2, 1, 1, 3, 1), true, Activation::None},    // groups 3, output padding
        {convParams(1, 3, 4, 6, 5, 3, 3, 1, 2, 2, 1), false, Activation::None},      // padding 2, dilation 2
        {convParams(2, 8, 5, 5, 8, 3, 3, 2, 1, 1, 8, 1), true, Activation::None},    // depthwise
        {convParams(1, 2, 4, 4, 3, 5, 5, 3, 1, 2, 1, 2), true, Activation::None},    // stride 3, output padding 2
        {convParams(1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1), true, Activation::None},
        {convParams(3, 16, 7, 7, 10, 2, 2, 2, 0, 1, 2), false, Activation::None},
    };
    return cases;
}

QString convLabel(const vk::Conv2dParams& p)
{
    return QString("b%1 %2x%3x%4 -> %5 k%6x%7 s%8 p%9 d%10 g%11 op%12")
        .arg(p.batch).arg(p.inChannels).arg(p.inH).arg(p.inW).arg(p.outChannels).arg(p.kernelH).arg(p.kernelW)
        .arg(p.strideH).arg(p.padH).arg(p.dilationH).arg(p.groups).arg(p.outputPadH);
}

}  // namespace

class TestVulkanGemm : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void outputSizes();
    void gemm_data();
    void gemm();
    void gemmOperandsInOneBuffer();
    void gemmChainInOneSubmit();
    void gemmManyTilesTwoDimensionalGrid();
    void gemmRejectsBadArguments();
    void conv2d_data();
    void conv2d();
    void conv2dRejectsBadArguments();
    void convTranspose2d_data();
    void convTranspose2d();
    void convTranspose2dRejectsBadArguments();

private:
    torch::Tensor runGemm(const GemmCase& c, const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& bias);
    void note(const char* op, double err) { maxError_[op] = std::max(maxError_[op], err); }

    kiln::test::VulkanFixture vk_;
    std::map<std::string, double> maxError_;
};

void TestVulkanGemm::initTestCase()
{
    if (!vk_.open()) QSKIP(qPrintable("no usable Vulkan device, so the Vulkan tests are skipped: " +
                                      QString::fromStdString(vk_.skipReason)));
    qInfo("Vulkan device: %s", vk_.ctx->deviceInfo().name.c_str());
    torch::manual_seed(20240612);
}

void TestVulkanGemm::cleanupTestCase()
{
    for (const auto& [op, err] : maxError_) qInfo("%s: largest relative error %.3g (tolerance %.0e)", op.c_str(), err,
                                                  kTolerance);
    // With KILN_VULKAN_VALIDATION=1 (and the layers installed) any API misuse fails the suite.
    if (vk_.ctx && vk_.ctx->instance().validationEnabled()) QCOMPARE(vk_.ctx->instance().validationErrors(), 0);
}

void TestVulkanGemm::outputSizes()
{
    // Against the sizes torch gives, including the edges where no output is left.
    for (std::uint32_t in : {1u, 2u, 5u, 8u, 13u})
        for (std::uint32_t k : {1u, 2u, 3u, 5u})
            for (std::uint32_t s : {1u, 2u, 3u})
                for (std::uint32_t pad : {0u, 1u, 2u})
                    for (std::uint32_t d : {1u, 2u}) {
                        auto p = convParams(1, 1, in, in + 1, 1, k, k, s, pad, d, 1);
                        const std::int64_t want = (std::int64_t(in) + 2 * pad - d * (k - 1) - 1);
                        const std::uint32_t expectH = want < 0 ? 0 : std::uint32_t(want / s + 1);
                        QCOMPARE(p.outH(), expectH);
                        if (expectH > 0 && p.outW() > 0) {
                            const std::vector<std::int64_t> st{s, s}, pd{pad, pad}, dl{d, d};
                            const auto y = torch::conv2d(torch::zeros({1, 1, in, in + 1}), torch::zeros({1, 1, k, k}),
                                                         {}, st, pd, dl);
                            QCOMPARE(std::int64_t(p.outH()), y.size(2));
                            QCOMPARE(std::int64_t(p.outW()), y.size(3));
                        }
                        for (std::uint32_t op = 0; op < std::max(s, d); ++op) {
                            p.outputPadH = p.outputPadW = op;
                            const std::int64_t t = (std::int64_t(in) - 1) * s - 2 * pad + d * (k - 1) + op + 1;
                            QCOMPARE(p.transposedOutH(), std::uint32_t(t > 0 ? t : 0));
                            if (t <= 0) continue;
                            const std::vector<std::int64_t> st{s, s}, pd{pad, pad}, opd{op, op}, dl{d, d};
                            const auto y = torch::conv_transpose2d(torch::zeros({1, 1, in, in + 1}),
                                                                   torch::zeros({1, 1, k, k}), {}, st, pd, opd, 1, dl);
                            QCOMPARE(std::int64_t(p.transposedOutH()), y.size(2));
                            QCOMPARE(std::int64_t(p.transposedOutW()), y.size(3));
                        }
                    }
    vk::Conv2dParams bad = convParams(1, 1, 4, 4, 1, 3, 3, 0, 0, 1, 1);  // stride 0 has no output size
    QCOMPARE(bad.outH(), 0u);
    QCOMPARE(bad.transposedOutW(), 0u);
}

torch::Tensor TestVulkanGemm::runGemm(const GemmCase& c, const torch::Tensor& a, const torch::Tensor& b,
                                      const torch::Tensor& bias)
{
    auto da = vk_.toDevice(a, "a");
    auto db = vk_.toDevice(b, "b");
    auto dbias = vk_.toDevice(c.bias ? bias : torch::zeros({1}), "bias");
    auto dout = vk_.toDevice(poison({c.m, c.n}), "out");
    const vk::Region biasRegion = dbias.region();
    auto r = vk::gemmVulkan(*vk_.rec, da.region(), db.region(), c.bias ? &biasRegion : nullptr, dout.region(),
                            {c.m, c.n, c.k}, c.transB, c.act, 0.05f);
    if (!r) {
        vk_.rec->submit().ok();  // leaves the recorder empty for the next case
        qWarning("%s", r.error().message().c_str());
        return {};
    }
    return vk_.fromDevice(dout.region(), {c.m, c.n});
}

void TestVulkanGemm::gemm_data()
{
    QTest::addColumn<int>("index");
    const auto& cases = gemmCases();
    for (std::size_t i = 0; i < cases.size(); ++i) {
        const auto& c = cases[i];
        QTest::addRow("%ux%ux%u %s%s %s", c.m, c.n, c.k, c.transB ? "transB" : "B", c.bias ? " bias" : "",
                      vk::activationName(c.act))
            << int(i);
    }
}

void TestVulkanGemm::gemm()
{
    QFETCH(int, index);
    const GemmCase& c = gemmCases()[std::size_t(index)];
    const auto a = torch::randn({c.m, c.k});
    const auto b = c.transB ? torch::randn({c.n, c.k}) : torch::randn({c.k, c.n});
    const auto bias = torch::randn({c.n});
    const auto got = runGemm(c, a, b, bias);
    QVERIFY(got.defined());
    torch::Tensor ref = c.transB ? torch::linear(a, b, c.bias ? bias : torch::Tensor())
                                 : torch::matmul(a, b) + (c.bias ? bias : torch::zeros({c.n}));
    ref = activate(ref, c.act, 0.05f);
    note("gemm", relativeError(got, ref));
    KILN_COMPARE_TENSORS(got, ref, kTolerance);
}

void TestVulkanGemm::gemmOperandsInOneBuffer()
{
    // Operands at offsets inside one allocation, as the executor's arena hands them out: the op
    // must bind each at its own offset and read no further than its size.
    const std::uint32_t m = 37, n = 45, k = 29;
    const auto a = torch::randn({m, k}), b = torch::randn({n, k}), bias = torch::randn({n});
    const std::size_t slot = 2048;  // floats per operand; a multiple of every offset alignment
    auto arena = vk_.alloc(4 * slot, "arena");
    const vk::Region ra = arena.region().slice(0, slot), rb = arena.region().slice(slot, slot);
    const vk::Region rbias = arena.region().slice(2 * slot, slot), rout = arena.region().slice(3 * slot, slot);
    const auto nans = poison({std::int64_t(4 * slot)});
    QVERIFY(vk_.rec->upload(arena.region(), std::span<const float>(nans.data_ptr<float>(), 4 * slot)).ok());
    QVERIFY(vk_.rec->upload(ra, std::span<const float>(a.data_ptr<float>(), m * k)).ok());
    QVERIFY(vk_.rec->upload(rb, std::span<const float>(b.data_ptr<float>(), n * k)).ok());
    QVERIFY(vk_.rec->upload(rbias, std::span<const float>(bias.data_ptr<float>(), n)).ok());
    auto r = vk::gemmVulkan(*vk_.rec, ra, rb, &rbias, rout, {m, n, k}, true, Activation::ReLU);
    QVERIFY2(r.ok(), r.ok() ? "" : r.error().message().c_str());
    const auto all = vk_.fromDevice(arena.region(), {std::int64_t(4 * slot)});
    const auto got = all.slice(0, 3 * slot, 3 * slot + m * n).reshape({m, n});
    const auto ref = torch::relu(torch::linear(a, b, bias));
    note("gemm", relativeError(got, ref));
    KILN_COMPARE_TENSORS(got, ref, kTolerance);
    QVERIFY(torch::isnan(all.slice(0, 3 * slot + m * n)).all().item<bool>());  // nothing written past out
}

void TestVulkanGemm::gemmChainInOneSubmit()
{
    // A two-layer MLP recorded as one submit: the second product must wait for the first.
    const std::uint32_t batch = 9, in = 50, hidden = 70, outF = 11;
    const auto x = torch::randn({batch, in});
    const auto w1 = torch::randn({hidden, in}), b1 = torch::randn({hidden});
    const auto w2 = torch::randn({outF, hidden}), b2 = torch::randn({outF});
    auto dx = vk_.toDevice(x), dw1 = vk_.toDevice(w1), db1 = vk_.toDevice(b1);
    auto dw2 = vk_.toDevice(w2), db2 = vk_.toDevice(b2);
    auto h = vk_.alloc(batch * hidden), y = vk_.alloc(batch * outF);
    const vk::Region rb1 = db1.region(), rb2 = db2.region();
    QVERIFY(vk::gemmVulkan(*vk_.rec, dx.region(), dw1.region(), &rb1, h.region(), {batch, hidden, in}, true,
                           Activation::GELU).ok());
    QVERIFY(vk::gemmVulkan(*vk_.rec, h.region(), dw2.region(), &rb2, y.region(), {batch, outF, hidden}, true).ok());
    QCOMPARE(vk_.rec->stats().dispatches, std::size_t(2));
    QVERIFY(vk_.rec->stats().barriers >= 1);
    const auto got = vk_.fromDevice(y.region(), {batch, outF});
    const auto ref = torch::linear(torch::gelu(torch::linear(x, w1, b1)), w2, b2);
    note("gemm", relativeError(got, ref));
    KILN_COMPARE_TENSORS(got, ref, kTolerance);
}

void TestVulkanGemm::gemmManyTilesTwoDimensionalGrid()
{
    // More workgroups than one row of the grid holds: the tile index must survive gridFor's 2-D
    // grid, in both shaders. On lavapipe (rows of 65535 groups) that takes a 1 MiB weight for
    // gemv.comp's 4-column groups and 16 MiB for gemm.comp's 64-column tiles: about 3 s.
    const std::uint32_t maxX = vk_.ctx->limits().maxComputeWorkGroupCount[0];
    const std::uint64_t n = std::uint64_t(maxX) * 4 + 100;
    if (n > (1u << 22)) QSKIP("this device's workgroup rows are too long to overflow with a test-sized matrix");
    for (const bool transB : {true, false}) {
        if (!transB && n * 16 > (1u << 24)) continue;
        const GemmCase c{1, std::uint32_t(n * (transB ? 1 : 16)), 3, transB, true, Activation::None};
        const auto a = torch::randn({1, 3});
        const auto b = transB ? torch::randn({c.n, 3}) : torch::randn({3, c.n});
        const auto bias = torch::randn({c.n});
        const auto got = runGemm(c, a, b, bias);
        QVERIFY(got.defined());
        const auto ref = transB ? torch::linear(a, b, bias) : torch::matmul(a, b) + bias;
        note("gemm", relativeError(got, ref));
        KILN_COMPARE_TENSORS(got, ref, kTolerance);
    }
}

void TestVulkanGemm::gemmRejectsBadArguments()
{
    auto a = vk_.alloc(6 * 4), b = vk_.alloc(4 * 5), bias = vk_.alloc(5), out = vk_.alloc(6 * 5), small = vk_.alloc(3);
    const vk::Region rbias = bias.region(), rsmall = small.region();
    const vk::GemmShape shape{6, 5, 4};
    auto expectError = [&](const Result<void>& r, const char* needle) {
        QVERIFY2(!r.ok(), needle);
        const std::string msg = r.error().message();
        QVERIFY2(msg.find("gemm") != std::string::npos && msg.find(needle) != std::string::npos, msg.c_str());
    };
    expectError(vk::gemmVulkan(*vk_.rec, small.region(), b.region(), &rbias, out.region(), shape, false), "a holds");
    expectError(vk::gemmVulkan(*vk_.rec, a.region(), small.region(), &rbias, out.region(), shape, true), "b holds");
    expectError(vk::gemmVulkan(*vk_.rec, a.region(), b.region(), &rsmall, out.region(), shape, false), "bias holds");
    expectError(vk::gemmVulkan(*vk_.rec, a.region(), b.region(), nullptr, small.region(), shape, false), "out holds");
    expectError(vk::gemmVulkan(*vk_.rec, a.region(), b.region(), nullptr, out.region(), {0, 5, 4}, false), "zero");
    expectError(vk::gemmVulkan(*vk_.rec, a.region(), b.region(), nullptr, out.region(), {6, 5, 0}, false), "zero");
    expectError(vk::gemmVulkan(*vk_.rec, a.region(), b.region(), nullptr, vk::Region{}, shape, false), "missing");
    expectError(vk::gemmVulkan(*vk_.rec, a.region(), b.region(), nullptr, a.region(), {2, 2, 2}, false), "overlaps");
    expectError(vk::gemmVulkan(*vk_.rec, a.region(), b.region(), nullptr, out.region(), shape, false, Activation(42)),
                "activation");
    // A refused call records nothing and leaves the context usable.
    QVERIFY(vk_.rec->empty());
    QVERIFY(!vk_.ctx->lost());
}

void TestVulkanGemm::conv2d_data()
{
    QTest::addColumn<int>("index");
    const auto& cases = convCases();
    for (std::size_t i = 0; i < cases.size(); ++i)
        QTest::addRow("%s%s %s", qPrintable(convLabel(cases[i].p)), cases[i].bias ? " bias" : "",
                      vk::activationName(cases[i].act))
            << int(i);
}

void TestVulkanGemm::conv2d()
{
    QFETCH(int, index);
    const ConvCase& c = convCases()[std::size_t(index)];
    const vk::Conv2dParams& p = c.p;
    const std::int64_t oh = p.outH(), ow = p.outW();
    QVERIFY(oh > 0 && ow > 0);
    const auto x = torch::randn({p.batch, p.inChannels, p.inH, p.inW});
    const auto w = torch::randn({p.outChannels, p.inChannels / p.groups, p.kernelH, p.kernelW});
    const auto bias = torch::randn({p.outChannels});

    auto dx = vk_.toDevice(x, "x"), dw = vk_.toDevice(w, "weight"), dbias = vk_.toDevice(bias, "bias");
    auto dout = vk_.toDevice(poison({p.batch, p.outChannels, oh, ow}), "out");
    const vk::Region rbias = dbias.region();
    auto r = vk::conv2dVulkan(*vk_.rec, dx.region(), dw.region(), c.bias ? &rbias : nullptr, dout.region(), p, c.act,
                              0.1f);
    QVERIFY2(r.ok(), r.ok() ? "" : r.error().message().c_str());
    const auto got = vk_.fromDevice(dout.region(), {p.batch, p.outChannels, oh, ow});
    const auto ref = activate(torch::conv2d(x, w, c.bias ? bias : torch::Tensor(), {p.strideH, p.strideW},
                                            {p.padH, p.padW}, {p.dilationH, p.dilationW}, p.groups),
                              c.act, 0.1f);
    note(p.outChannels / p.groups <= 8 ? "conv2d (direct)" : "conv2d (implicit GEMM)", relativeError(got, ref));
    KILN_COMPARE_TENSORS(got, ref, kTolerance);
}

void TestVulkanGemm::conv2dRejectsBadArguments()
{
    const auto good = convParams(2, 4, 6, 6, 8, 3, 3, 1, 1, 1, 2);
    auto x = vk_.alloc(2 * 4 * 6 * 6), w = vk_.alloc(8 * 2 * 3 * 3), bias = vk_.alloc(8);
    auto out = vk_.alloc(2 * 8 * 6 * 6);
    auto small = vk_.alloc(5);
    const vk::Region rbias = bias.region(), rsmall = small.region();
    auto conv = [&](const vk::Conv2dParams& p, const vk::Region& rx, const vk::Region& rw, const vk::Region* rb,
                    const vk::Region& ro) { return vk::conv2dVulkan(*vk_.rec, rx, rw, rb, ro, p, Activation::ReLU); };
    auto expectError = [&](const Result<void>& r, const char* needle) {
        QVERIFY2(!r.ok(), needle);
        const std::string msg = r.error().message();
        QVERIFY2(msg.find("conv2d") != std::string::npos && msg.find(needle) != std::string::npos, msg.c_str());
    };
    expectError(conv(good, small.region(), w.region(), &rbias, out.region()), "x holds");
    expectError(conv(good, x.region(), small.region(), &rbias, out.region()), "weight holds");
    expectError(conv(good, x.region(), w.region(), &rsmall, out.region()), "bias holds");
    expectError(conv(good, x.region(), w.region(), nullptr, small.region()), "out holds");
    expectError(conv(good, out.region(), w.region(), nullptr, out.region()), "overlaps");
    auto p = good;
    p.groups = 3;
    expectError(conv(p, x.region(), w.region(), nullptr, out.region()), "groups do not divide");
    p = good;
    p.groups = 0;
    expectError(conv(p, x.region(), w.region(), nullptr, out.region()), "groups is 0");
    p = good;
    p.batch = 0;
    expectError(conv(p, x.region(), w.region(), nullptr, out.region()), "batch is 0");
    p = good;
    p.strideW = 0;
    expectError(conv(p, x.region(), w.region(), nullptr, out.region()), "strideW is 0");
    p = good;
    p.padH = p.padW = 0;
    p.kernelH = p.kernelW = 7;  // larger than the 6x6 input
    expectError(conv(p, x.region(), w.region(), nullptr, out.region()), "gives no output");
    p = good;
    p.padH = 1500000000;  // an output size that fits 32 bits, a window that does not fit 31
    expectError(conv(p, x.region(), w.region(), nullptr, out.region()), "too large");
    QVERIFY(vk_.rec->empty());
    QVERIFY(!vk_.ctx->lost());
}

void TestVulkanGemm::convTranspose2d_data()
{
    QTest::addColumn<int>("index");
    const auto& cases = transposedCases();
    for (std::size_t i = 0; i < cases.size(); ++i)
        QTest::addRow("%s%s", qPrintable(convLabel(cases[i].p)), cases[i].bias ? " bias" : "") << int(i);
}

void TestVulkanGemm::convTranspose2d()
{
    QFETCH(int, index);
    const vk::Conv2dParams& p = transposedCases()[std::size_t(index)].p;
    const bool withBias = transposedCases()[std::size_t(index)].bias;
    const std::int64_t oh = p.transposedOutH(), ow = p.transposedOutW();
    QVERIFY(oh > 0 && ow > 0);
    const auto x = torch::randn({p.batch, p.inChannels, p.inH, p.inW});
    const auto w = torch::randn({p.inChannels, p.outChannels / p.groups, p.kernelH, p.kernelW});
    const auto bias = torch::randn({p.outChannels});

    auto dx = vk_.toDevice(x, "x"), dw = vk_.toDevice(w, "weight"), dbias = vk_.toDevice(bias, "bias");
    auto dout = vk_.toDevice(poison({p.batch, p.outChannels, oh, ow}), "out");
    const vk::Region rbias = dbias.region();
    auto r = vk::convTranspose2dVulkan(*vk_.rec, dx.region(), dw.region(), withBias ? &rbias : nullptr,
                                       dout.region(), p);
    QVERIFY2(r.ok(), r.ok() ? "" : r.error().message().c_str());
    const auto got = vk_.fromDevice(dout.region(), {p.batch, p.outChannels, oh, ow});
    const auto ref = torch::conv_transpose2d(x, w, withBias ? bias : torch::Tensor(), {p.strideH, p.strideW},
                                             {p.padH, p.padW}, {p.outputPadH, p.outputPadW}, p.groups,
                                             {p.dilationH, p.dilationW});
    note("conv_transpose2d", relativeError(got, ref));
    KILN_COMPARE_TENSORS(got, ref, kTolerance);
}

void TestVulkanGemm::convTranspose2dRejectsBadArguments()
{
    auto p = convParams(1, 4, 5, 5, 6, 3, 3, 2, 1, 1, 2, 1);  // out 10x10, weight [4, 3, 3, 3]
    auto x = vk_.alloc(4 * 5 * 5), w = vk_.alloc(4 * 3 * 3 * 3), out = vk_.alloc(6 * 10 * 10), small = vk_.alloc(7);
    auto expectError = [&](const Result<void>& r, const char* needle) {
        QVERIFY2(!r.ok(), needle);
        const std::string msg = r.error().message();
        QVERIFY2(msg.find("conv_transpose2d") != std::string::npos && msg.find(needle) != std::string::npos,
                 msg.c_str());
    };
    QVERIFY(vk::convTranspose2dVulkan(*vk_.rec, x.region(), w.region(), nullptr, out.region(), p).ok());
    QVERIFY(vk_.rec->submit().ok());
    expectError(vk::convTranspose2dVulkan(*vk_.rec, x.region(), small.region(), nullptr, out.region(), p),
                "weight holds");
    expectError(vk::convTranspose2dVulkan(*vk_.rec, x.region(), w.region(), nullptr, small.region(), p), "out holds");
    p.outputPadH = 2;  // not below the stride (2) or the dilation (1)
    expectError(vk::convTranspose2dVulkan(*vk_.rec, x.region(), w.region(), nullptr, out.region(), p),
                "output padding");
    p.outputPadH = 0;
    p.inH = 0;
    expectError(vk::convTranspose2dVulkan(*vk_.rec, x.region(), w.region(), nullptr, out.region(), p), "inH is 0");
    QVERIFY(vk_.rec->empty());
    QVERIFY(!vk_.ctx->lost());
}

QTEST_GUILESS_MAIN(TestVulkanGemm)
#include "test_vulkan_gemm.moc"
