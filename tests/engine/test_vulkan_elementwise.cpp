// The element-wise Vulkan ops (activations, broadcasting binary ops, per-channel affine) and
// the row reductions (softmax, layer/RMS/group norm), each against LibTorch on random inputs.
// Runs on whatever device the loader finds (lavapipe without a GPU); without any Vulkan device
// every test skips with the reason.
//
// Tolerances are in relativeError's measure (max |got - ref| / max(max |ref|, 1)) and are
// stated per op where it is checked. The norms are compared with torch in float64: torch's
// own fp32 result is off by up to half an ulp of the mean (3e-5 at mean 1000), and the
// tolerance is meant to measure this implementation, not torch's rounding.
#include "vulkan/ops/elementwise_vulkan.h"
#include "vulkan/ops/norm_vulkan.h"
#include "vulkan_test_support.h"

#include <torch/types.h>
#include <torch/utils.h>

#include <QtTest/QtTest>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <string>
#include <vector>

using namespace kiln;
using kiln::test::relativeError;

namespace {

using Sizes = std::vector<std::int64_t>;

// x's per-channel values as a tensor that broadcasts against [N, C, ...] of `ndim` dimensions.
torch::Tensor perChannel(const torch::Tensor& v, std::size_t ndim)
{
    std::vector<std::int64_t> shape(ndim, 1);
    shape[1] = v.numel();
    return v.view(shape);
}

torch::Tensor torchActivation(const torch::Tensor& x, vk::Activation act, float param)
{
    switch (act) {
    case vk::Activation::None: return x.clone();
    case vk::Activation::ReLU: return torch::relu(x);
    case vk::Activation::GELU: return torch::gelu(x);
    case vk::Activation::GELUTanh: return torch::gelu(x, "tanh");
    case vk::Activation::SiLU: return torch::silu(x);
    case vk::Activation::Sigmoid: return torch::sigmoid(x);
    case vk::Activation::Tanh: return torch::tanh(x);
    case vk::Activation::LeakyReLU: return torch::leaky_relu(x, param);
    }
    return x;
}

const vk::Activation kAllActivations[] = {vk::Activation::None,    vk::Activation::ReLU,      vk::Activation::GELU,
                                          vk::Activation::GELUTanh, vk::Activation::SiLU,     vk::Activation::Sigmoid,
                                          vk::Activation::Tanh,     vk::Activation::LeakyReLU};

QString sizesText(const Sizes& s)
{
    QStringList parts;
    for (auto v : s) parts << QString::number(v);
    return "[" + parts.join(",") + "]";
}

std::int64_t numel(const Sizes& s)
{
    std::int64_t n = 1;
    for (auto v : s) n *= v;
    return n;
}

// The largest error seen per op, printed at the end for the record.
std::map<std::string, double>& maxErrors()
{
    static std::map<std::string, double> m;
    return m;
}

}  // namespace

Q_DECLARE_METATYPE(Sizes)

// KILN_COMPARE_TENSORS that also remembers the error under `op`.
#define EXPECT_CLOSE(op, got, ref, tol)                                                      \
    do {                                                                                \
        double& seen_ = maxErrors()[op];                                                \
        seen_ = std::max(seen_, relativeError((got), (ref)));                           \
        KILN_COMPARE_TENSORS(got, ref, tol);                                            \
    } while (0)

#define VERIFY_OK(expr)                                                                 \
    do {                                                                                \
        auto r_ = (expr);                                                               \
        QVERIFY2(r_.ok(), r_.ok() ? "" : r_.error().message().c_str());                 \
    } while (0)

// An error whose message names `op` and contains `words`, leaving the context usable.
#define VERIFY_ERROR(expr, op, words)                                                   \
    do {                                                                                \
        auto r_ = (expr);                                                               \
        QVERIFY2(!r_.ok(), "expected an error");                                       \
        const std::string m_ = r_.error().message();                                   \
        QVERIFY2(m_.find(op) != std::string::npos, m_.c_str());                         \
        QVERIFY2(m_.find(words) != std::string::npos, m_.c_str());                      \
        QVERIFY(!vk_.ctx->lost());                                                      \
    } while (0)

class TestVulkanElementwise : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanup();
    void cleanupTestCase();

    void unary_data();
    void unary();
    void unaryWideRange();
    void unaryInPlace();
    void unaryTwoDimensionalGrid();
    void binary_data();
    void binary();
    void binaryInPlace();
    void binaryErrors();
    void channelAffine_data();
    void channelAffine();
    void batchNormInference();
    void softmax_data();
    void softmax();
    void softmaxMasked();
    void layerNorm_data();
    void layerNorm();
    void rmsNorm_data();
    void rmsNorm();
    void groupNorm_data();
    void groupNorm();
    void reductionsTwoDimensionalGrid();
    void normsInPlace();
    void emptyTensorsDoNothing();
    void argumentErrors();

private:
    test::VulkanFixture vk_;
};

void TestVulkanElementwise::initTestCase()
{
    qunsetenv("KILN_VULKAN_DEVICE");
    if (!vk_.open())
        QSKIP(qPrintable("no usable Vulkan device, so the Vulkan tests are skipped: " +
                         QString::fromStdString(vk_.skipReason)));
    qInfo("Vulkan device: %s (%s), validation %s", vk_.ctx->deviceInfo().name.c_str(),
          vk_.ctx->deviceInfo().driver.c_str(), vk_.ctx->instance().validationEnabled() ? "on" : "off");
    torch::manual_seed(20240612);
}

void TestVulkanElementwise::cleanup()
{
    // A failed check may leave uploads recorded; run them so the next test starts clean.
    if (vk_.rec && !vk_.rec->empty()) (void)vk_.rec->submit();
}

void TestVulkanElementwise::cleanupTestCase()
{
    for (const auto& [op, err] : maxErrors()) qInfo("max relative error %-12s %.3g", op.c_str(), err);
    // With KILN_VULKAN_VALIDATION=1 (and the layers installed) any API misuse fails the suite.
    if (vk_.ctx && vk_.ctx->instance().validationEnabled()) QCOMPARE(vk_.ctx->instance().validationErrors(), 0);
}

// ---- unary ----

void TestVulkanElementwise::unary_data()
{
    QTest::addColumn<int>("act");
    QTest::addColumn<qint64>("n");
    for (vk::Activation act : kAllActivations)
        for (qint64 n : {1, 255, 257, 4099})
            QTest::addRow("%s n=%lld", vk::activationName(act), n) << int(act) << n;
}

// Tolerance 1e-5: erfc's fit is good to 1.2e-7, kiln_tanh to a few ulps, and exp on a GPU to
// 3 + 2|x| ulps; the rest are exact or one rounding.
void TestVulkanElementwise::unary()
{
    QFETCH(int, act);
    QFETCH(qint64, n);
    const auto a = vk::Activation(act);
    const float slope = 0.2f;
    const auto x = torch::randn({n}) * 4;
    auto dx = vk_.toDevice(x, "x");
    auto dout = vk_.alloc(std::uint64_t(n), "out");
    VERIFY_OK(vk::unaryVulkan(*vk_.rec, dx.region(), dout.region(), std::uint64_t(n), a, slope));
    EXPECT_CLOSE(vk::activationName(a), vk_.fromDevice(dout.region(), {n}), torchActivation(x, a, slope), 1e-5);
}

// Large |x|, where a naive tanh turns into inf/inf and 1 + erf(x) cancels; and tiny |x|.
void TestVulkanElementwise::unaryWideRange()
{
    std::vector<float> v{-3e38f, -1e30f, -1e6f, -1000, -100, -89, -88, -50, -45, -20, -10, -9, -5, -3, -1e-3f,
                         -1e-6f, -1e-20f, -0.0f, 0.0f, 1e-20f, 1e-6f, 1e-3f, 3, 5, 9, 10, 20, 45, 50, 88, 89, 100,
                         1000, 1e6f, 1e30f, 3e38f};
    const auto sweep = torch::linspace(-60, 60, 4001);
    auto x = torch::cat({torch::tensor(v), sweep});
    const std::int64_t n = x.numel();
    for (vk::Activation a : kAllActivations) {
        auto dx = vk_.toDevice(x, "x");
        auto dout = vk_.alloc(std::uint64_t(n), "out");
        VERIFY_OK(vk::unaryVulkan(*vk_.rec, dx.region(), dout.region(), std::uint64_t(n), a, 0.01f));
        const auto got = vk_.fromDevice(dout.region(), {n});
        const auto ref = torchActivation(x, a, 0.01f);
        QVERIFY2(!got.isnan().any().item<bool>(), vk::activationName(a));
        // Element-wise relative (not relativeError's max-scaled one): the tails are where it goes wrong.
        const auto err = ((got.to(torch::kDouble) - ref.to(torch::kDouble)).abs() /
                          ref.to(torch::kDouble).abs().clamp_min(1.0));
        const double worst = err.max().item<double>();
        double& seen = maxErrors()[std::string(vk::activationName(a)) + " wide"];
        seen = std::max(seen, worst);
        QVERIFY2(worst <= 1e-5, qPrintable(QString("%1: error %2 at x = %3").arg(vk::activationName(a)).arg(worst)
                                               .arg(x[err.argmax().item<std::int64_t>()].item<double>())));
    }
}

void TestVulkanElementwise::unaryInPlace()
{
    const auto x = torch::randn({1000});
    auto dx = vk_.toDevice(x, "x");
    VERIFY_OK(vk::unaryVulkan(*vk_.rec, dx.region(), dx.region(), 1000, vk::Activation::SiLU));
    EXPECT_CLOSE("silu", vk_.fromDevice(dx.region(), {1000}), torch::silu(x), 1e-5);
}

void TestVulkanElementwise::unaryTwoDimensionalGrid()
{
    // One element past a full row of workgroups forces a second row of the grid.
    const std::uint64_t n = std::uint64_t(vk_.ctx->limits().maxComputeWorkGroupCount[0]) * 256 + 1000;
    if (n * 4 > vk_.ctx->limits().maxStorageBufferRange || n > (1u << 26))
        QSKIP("a whole row of workgroups is more data than this test moves; the reductions cover 2-D grids");
    const auto x = torch::randn({std::int64_t(n)});
    auto dx = vk_.toDevice(x, "x");
    VERIFY_OK(vk::unaryVulkan(*vk_.rec, dx.region(), dx.region(), n, vk::Activation::ReLU));
    const auto got = vk_.fromDevice(dx.region(), {std::int64_t(n)});
    QVERIFY(torch::equal(got, torch::relu(x)));  // exact: max(v, 0)
}

// ---- binary ----

void TestVulkanElementwise::binary_data()
{
    QTest::addColumn<Sizes>("a");
    QTest::addColumn<Sizes>("b");
    QTest::addColumn<int>("op");
    const std::vector<std::pair<Sizes, Sizes>> cases{
        {{2, 3, 4, 5}, {2, 3, 4, 5}},               // same shape
        {{1000}, {1000}},
        {{3, 5, 1, 1}, {3, 5, 7, 9}},               // [B,C,1,1] with [B,C,H,W]
        {{2, 16, 13, 11}, {2, 16, 1, 1}},
        {{}, {7, 9}},                               // a scalar
        {{33}, {1}},
        {{2, 17, 24}, {24}},                        // [C] with [B,T,C]
        {{24}, {1, 17, 24}},
        {{4, 1, 6}, {1, 5, 1}},                     // both broadcast: an outer sum
        {{3, 1, 5, 1, 7}, {1, 4, 1, 6, 1}},
        {{2, 1, 2, 1, 2, 1, 2, 3}, {1, 2, 1, 2, 1, 2, 1, 3}},  // 8 dimensions
        {{64, 1, 1}, {3, 64, 19, 21}},
        {{1, 1, 1}, {1}},
    };
    for (const auto& [a, b] : cases)
        for (int op = 0; op < 4; ++op)
            QTest::addRow("%s %c %s", qPrintable(sizesText(a)), "+-*/"[op], qPrintable(sizesText(b))) << a << b << op;
}

// Tolerance 1e-6: + - * are correctly rounded in Vulkan, / within 2.5 ulps; the divisors stay
// away from 0 (|b| >= 0.5) so that no quotient dwarfs the rest.
void TestVulkanElementwise::binary()
{
    QFETCH(Sizes, a);
    QFETCH(Sizes, b);
    QFETCH(int, op);
    const auto ta = torch::randn(a);
    const auto tb = op == 3 ? torch::sign(torch::randn(b)) * (torch::rand(b) + 0.5) : torch::randn(b);
    const auto expected = vk::broadcastSizes(a, b);
    QVERIFY(expected.ok());
    const Sizes outSizes = expected.value();
    torch::Tensor ref;
    switch (op) {
    case 0: ref = ta + tb; break;
    case 1: ref = ta - tb; break;
    case 2: ref = ta * tb; break;
    default: ref = ta / tb; break;
    }
    QCOMPARE(outSizes, Sizes(ref.sizes().begin(), ref.sizes().end()));
    auto da = vk_.toDevice(ta, "a");
    auto db = vk_.toDevice(tb, "b");
    auto dout = vk_.alloc(std::uint64_t(numel(outSizes)), "out");
    VERIFY_OK(vk::binaryVulkan(*vk_.rec, da.region(), a, db.region(), b, dout.region(), vk::BinaryOp(op)));
    const char* names[] = {"add", "sub", "mul", "div"};
    EXPECT_CLOSE(names[op], vk_.fromDevice(dout.region(), outSizes), ref, 1e-6);
}

void TestVulkanElementwise::binaryInPlace()
{
    // x += bias over [B,T,C]: out is a, and b is broadcast.
    const auto x = torch::randn({3, 5, 8});
    const auto bias = torch::randn({8});
    auto dx = vk_.toDevice(x, "x");
    auto db = vk_.toDevice(bias, "bias");
    VERIFY_OK(vk::binaryVulkan(*vk_.rec, dx.region(), {3, 5, 8}, db.region(), {8}, dx.region(), vk::BinaryOp::Add));
    EXPECT_CLOSE("add", vk_.fromDevice(dx.region(), {3, 5, 8}), x + bias, 1e-6);
}

void TestVulkanElementwise::binaryErrors()
{
    auto a = vk_.alloc(64), b = vk_.alloc(64), out = vk_.alloc(64);
    auto sizes = vk::broadcastSizes({3, 4}, {5, 4});
    QVERIFY(!sizes.ok());
    QVERIFY2(sizes.error().message().find("[3, 4] and [5, 4]") != std::string::npos, sizes.error().message().c_str());
    VERIFY_ERROR(vk::binaryVulkan(*vk_.rec, a.region(), {3, 4}, b.region(), {5, 4}, out.region(), vk::BinaryOp::Add),
                 "binary", "do not broadcast");
    const Sizes nine{1, 1, 1, 1, 1, 1, 1, 1, 2};
    VERIFY_ERROR(vk::binaryVulkan(*vk_.rec, a.region(), nine, b.region(), {2}, out.region(), vk::BinaryOp::Mul),
                 "binary", "at most 8");
    VERIFY_ERROR(vk::binaryVulkan(*vk_.rec, a.region(), {-2}, b.region(), {2}, out.region(), vk::BinaryOp::Mul),
                 "binary", "negative");
    VERIFY_ERROR(vk::binaryVulkan(*vk_.rec, a.region(), {8, 9}, b.region(), {9}, out.region(), vk::BinaryOp::Sub),
                 "binary", "a holds 64 floats, needs 72");
    VERIFY_ERROR(vk::binaryVulkan(*vk_.rec, a.region(), {8, 8}, b.region(), {8}, out.region().slice(0, 10),
                                  vk::BinaryOp::Div),
                 "binary", "out holds 10 floats, needs 64");
    // Writing over an operand that is read repeatedly would race.
    VERIFY_ERROR(vk::binaryVulkan(*vk_.rec, a.region(), {8, 8}, b.region(), {8}, b.region(), vk::BinaryOp::Add),
                 "binary", "broadcast");
    VERIFY_ERROR(vk::binaryVulkan(*vk_.rec, a.region(), {8}, b.region(), {8}, out.region(), vk::BinaryOp(9)), "binary",
                 "unknown");
    QVERIFY(vk_.rec->empty());
}

// ---- channel affine ----

void TestVulkanElementwise::channelAffine_data()
{
    QTest::addColumn<qint64>("outer");
    QTest::addColumn<int>("channels");
    QTest::addColumn<qint64>("inner");
    QTest::addColumn<int>("act");
    QTest::addColumn<bool>("hasScale");
    QTest::addColumn<bool>("hasShift");
    struct Case {
        qint64 outer;
        int channels;
        qint64 inner;
    };
    const Case shapes[] = {{1, 1, 1}, {2, 3, 49}, {1, 64, 1025}, {34, 24, 1} /* [B*T, C] */, {3, 7, 5}};
    int i = 0;
    for (const Case& s : shapes)
        for (vk::Activation act : {vk::Activation::None, vk::Activation::ReLU, vk::Activation::SiLU,
                                   vk::Activation::GELU})
            for (int flags = 0; flags < 4; ++flags, ++i)
                if (i % 3 == 0 || flags == 2)  // a sample of the combinations; bias + activation always
                    QTest::addRow("%lldx%dx%lld %s scale=%d shift=%d", s.outer, s.channels, s.inner, vk::activationName(act),
                                  flags & 1, flags >> 1)
                        << s.outer << s.channels << s.inner << int(act) << bool(flags & 1) << bool(flags & 2);
}

// Tolerance 1e-5: one multiply-add (the driver may or may not fuse it) and the activation's error.
void TestVulkanElementwise::channelAffine()
{
    QFETCH(qint64, outer);
    QFETCH(int, channels);
    QFETCH(qint64, inner);
    QFETCH(int, act);
    QFETCH(bool, hasScale);
    QFETCH(bool, hasShift);
    const auto x = torch::randn({outer, channels, inner});
    const auto scale = torch::randn({channels});
    const auto shift = torch::randn({channels});
    auto y = x;
    if (hasScale) y = y * scale.view({1, channels, 1});
    if (hasShift) y = y + shift.view({1, channels, 1});
    const auto ref = torchActivation(y, vk::Activation(act), 0.01f);

    auto dx = vk_.toDevice(x, "x");
    auto ds = vk_.toDevice(scale, "scale");
    auto dh = vk_.toDevice(shift, "shift");
    auto dout = vk_.alloc(std::uint64_t(x.numel()), "out");
    const vk::Region s = ds.region(), h = dh.region();
    VERIFY_OK(vk::channelAffineVulkan(*vk_.rec, dx.region(), hasScale ? &s : nullptr, hasShift ? &h : nullptr,
                                      dout.region(), std::uint64_t(outer), std::uint32_t(channels),
                                      std::uint64_t(inner), vk::Activation(act)));
    EXPECT_CLOSE("channel_affine", vk_.fromDevice(dout.region(), {outer, channels, inner}), ref, 1e-5);
}

// torch::batch_norm in eval mode against its statistics folded into scale and shift.
// Tolerance 1e-5: folding rounds differently from (x - mean) / sqrt(var + eps) * w + b, by a
// few ulps of the terms, which stay within a few units here (means up to 3).
void TestVulkanElementwise::batchNormInference()
{
    for (const Sizes& shape : {Sizes{2, 5, 7, 9}, Sizes{1, 32, 16, 16}, Sizes{4, 3, 11}, Sizes{6, 10}}) {
        const std::int64_t c = shape[1];
        const auto mean = torch::randn({c}) * 3;
        const auto var = torch::rand({c}) * 2 + 0.1;
        const auto weight = torch::randn({c});
        const auto bias = torch::randn({c});
        const auto x = torch::randn(shape) * perChannel(var.sqrt(), shape.size()) + perChannel(mean, shape.size());
        const double eps = 1e-5;
        const auto ref = torch::batch_norm(x, weight, bias, mean, var, false, 0.1, eps, false);
        const auto scale = weight / torch::sqrt(var + eps);
        const auto shift = bias - mean * scale;
        for (vk::Activation act : {vk::Activation::None, vk::Activation::ReLU}) {
            auto dx = vk_.toDevice(x, "x");
            auto ds = vk_.toDevice(scale, "scale");
            auto dh = vk_.toDevice(shift, "shift");
            auto dout = vk_.alloc(std::uint64_t(x.numel()), "out");
            const vk::Region s = ds.region(), h = dh.region();
            VERIFY_OK(vk::channelAffineVulkan(*vk_.rec, dx.region(), &s, &h, dout.region(), std::uint64_t(shape[0]),
                                              std::uint32_t(c), std::uint64_t(numel(shape) / shape[0] / c), act));
            EXPECT_CLOSE("batch_norm", vk_.fromDevice(dout.region(), shape), torchActivation(ref, act, 0.01f), 1e-5);
        }
    }
}

// ---- softmax ----

void TestVulkanElementwise::softmax_data()
{
    QTest::addColumn<Sizes>("shape");
    QTest::addColumn<int>("dim");
    QTest::addColumn<double>("scale");
    for (int d = -1; d < 4; ++d) QTest::addRow("[2,3,5,7] dim %d", d) << Sizes{2, 3, 5, 7} << d << 1.0;
    QTest::addRow("one row of 1") << Sizes{1, 1} << 1 << 1.0;
    QTest::addRow("tiny rows") << Sizes{300, 2} << 1 << 1.0;
    QTest::addRow("rows longer than a workgroup") << Sizes{3, 3001} << 1 << 1.0;
    QTest::addRow("large logits") << Sizes{4, 1000} << 1 << 100.0;
    QTest::addRow("strided long rows") << Sizes{2, 700, 3} << 1 << 1.0;   // few columns: a workgroup each
    QTest::addRow("many columns") << Sizes{4, 100, 600} << 1 << 1.0;       // a column per invocation
    QTest::addRow("short columns") << Sizes{1, 10, 17} << 1 << 10.0;
    QTest::addRow("strided rows") << Sizes{3, 100, 2} << 1 << 1.0;
    QTest::addRow("attention scores") << Sizes{2, 4, 33, 33} << -1 << 3.0;
}

// Tolerance 1e-5 (outputs are at most 1, so absolute): exp's few ulps plus the sum's rounding.
void TestVulkanElementwise::softmax()
{
    QFETCH(Sizes, shape);
    QFETCH(int, dim);
    QFETCH(double, scale);
    const auto x = torch::randn(shape) * scale;
    const int d = dim < 0 ? int(shape.size()) + dim : dim;
    std::int64_t outer = 1, inner = 1;
    for (int i = 0; i < d; ++i) outer *= shape[std::size_t(i)];
    for (std::size_t i = std::size_t(d) + 1; i < shape.size(); ++i) inner *= shape[i];
    auto dx = vk_.toDevice(x, "x");
    auto dout = vk_.alloc(std::uint64_t(x.numel()), "out");
    VERIFY_OK(vk::softmaxVulkan(*vk_.rec, dx.region(), dout.region(), std::uint64_t(outer),
                                std::uint32_t(shape[std::size_t(d)]), std::uint64_t(inner)));
    EXPECT_CLOSE("softmax", vk_.fromDevice(dout.region(), shape), torch::softmax(x, dim), 1e-5);
}

// -inf entries (attention masks) contribute exactly 0, in both the row and the column shader.
void TestVulkanElementwise::softmaxMasked()
{
    for (const Sizes& shape : {Sizes{8, 300}, Sizes{3, 20, 1000}}) {
        auto x = torch::randn(shape);
        auto mask = torch::rand(shape) < 0.3;
        mask.select(1, 1).fill_(false);  // keep one finite entry per row: a row of -inf is NaN
        x.masked_fill_(mask, -std::numeric_limits<float>::infinity());
        auto dx = vk_.toDevice(x, "x");
        auto dout = vk_.alloc(std::uint64_t(x.numel()), "out");
        const std::uint64_t inner = shape.size() == 3 ? std::uint64_t(shape[2]) : 1;
        VERIFY_OK(vk::softmaxVulkan(*vk_.rec, dx.region(), dout.region(), std::uint64_t(shape[0]),
                                    std::uint32_t(shape[1]), inner));
        const auto got = vk_.fromDevice(dout.region(), shape);
        EXPECT_CLOSE("softmax", got, torch::softmax(x, 1), 1e-5);
        QVERIFY(torch::equal(got.masked_select(mask), torch::zeros({mask.sum().item<std::int64_t>()})));
    }
}

// ---- normalizations ----

void TestVulkanElementwise::layerNorm_data()
{
    QTest::addColumn<qint64>("rows");
    QTest::addColumn<int>("cols");
    QTest::addColumn<double>("mean");
    QTest::addColumn<double>("std");
    QTest::addColumn<bool>("hasWeight");
    QTest::addColumn<bool>("hasBias");
    struct Case {
        qint64 rows;
        int cols;
        double mean, std;
    };
    const Case cases[] = {{1, 1, 0, 1},    {5, 3, 0, 1},     {7, 64, 0, 1},      {3, 257, 0, 1},   {2, 1000, 0, 3},
                          {1, 5000, 0, 1}, {4, 768, 1000, 1}, {6, 100, -50, 10}, {3, 33, 1e4, 0.1}, {40, 24, 2, 1}};
    int i = 0;
    for (const Case& c : cases)
        for (int flags : {3, i % 3}) {
            QTest::addRow("%lldx%d mean=%g std=%g w=%d b=%d", c.rows, c.cols, c.mean, c.std, flags & 1, flags >> 1)
                << c.rows << c.cols << c.mean << c.std << bool(flags & 1) << bool(flags & 2);
            ++i;
        }
}

// Tolerance 2e-5 against float64: the centring is exact, so what is left is the sums'
// rounding and inversesqrt's 2 ulps, scaled by outputs of a few units. Mean 1e4 with std 0.1
// is the hardest case for a plain x - mean (an ulp of 1e4 is 1e-2 of a standard deviation).
void TestVulkanElementwise::layerNorm()
{
    QFETCH(qint64, rows);
    QFETCH(int, cols);
    QFETCH(double, mean);
    QFETCH(double, std);
    QFETCH(bool, hasWeight);
    QFETCH(bool, hasBias);
    const auto x = torch::randn({rows, cols}) * std + mean;
    const auto w = torch::randn({cols});
    const auto b = torch::randn({cols});
    const double eps = 1e-5;
    const auto ref = torch::layer_norm(x.to(torch::kDouble), {cols},
                                       hasWeight ? w.to(torch::kDouble) : torch::Tensor(),
                                       hasBias ? b.to(torch::kDouble) : torch::Tensor(), eps)
                         .to(torch::kFloat);
    auto dx = vk_.toDevice(x, "x");
    auto dw = vk_.toDevice(w, "w");
    auto db = vk_.toDevice(b, "b");
    auto dout = vk_.alloc(std::uint64_t(x.numel()), "out");
    const vk::Region wr = dw.region(), br = db.region();
    VERIFY_OK(vk::layerNormVulkan(*vk_.rec, dx.region(), hasWeight ? &wr : nullptr, hasBias ? &br : nullptr,
                                  dout.region(), std::uint64_t(rows), std::uint32_t(cols), float(eps)));
    EXPECT_CLOSE("layer_norm", vk_.fromDevice(dout.region(), {rows, cols}), ref, 2e-5);
}

void TestVulkanElementwise::rmsNorm_data()
{
    QTest::addColumn<qint64>("rows");
    QTest::addColumn<int>("cols");
    QTest::addColumn<double>("mean");
    QTest::addColumn<bool>("hasWeight");
    for (bool w : {true, false}) {
        QTest::addRow("1x1 w=%d", w) << qint64(1) << 1 << 0.0 << w;
        QTest::addRow("9x7 w=%d", w) << qint64(9) << 7 << 0.0 << w;
        QTest::addRow("3x4096 w=%d", w) << qint64(3) << 4096 << 0.0 << w;
        QTest::addRow("5x300 mean=1000 w=%d", w) << qint64(5) << 300 << 1000.0 << w;
        QTest::addRow("64x32 mean=-3 w=%d", w) << qint64(64) << 32 << -3.0 << w;
    }
}

// RMS norm as x * rsqrt(mean(x^2) + eps) * w in float64. Tolerance 2e-5: a sum of squares
// (no cancellation) and inversesqrt's 2 ulps.
void TestVulkanElementwise::rmsNorm()
{
    QFETCH(qint64, rows);
    QFETCH(int, cols);
    QFETCH(double, mean);
    QFETCH(bool, hasWeight);
    const auto x = torch::randn({rows, cols}) + mean;
    const auto w = torch::randn({cols});
    const double eps = 1e-6;
    const auto xd = x.to(torch::kDouble);
    auto ref = xd * torch::rsqrt(xd.pow(2).mean(-1, true) + eps);
    if (hasWeight) ref = ref * w.to(torch::kDouble);
    auto dx = vk_.toDevice(x, "x");
    auto dw = vk_.toDevice(w, "w");
    auto dout = vk_.alloc(std::uint64_t(x.numel()), "out");
    const vk::Region wr = dw.region();
    VERIFY_OK(vk::rmsNormVulkan(*vk_.rec, dx.region(), hasWeight ? &wr : nullptr, dout.region(), std::uint64_t(rows),
                                std::uint32_t(cols), float(eps)));
    EXPECT_CLOSE("rms_norm", vk_.fromDevice(dout.region(), {rows, cols}), ref.to(torch::kFloat), 2e-5);
}

void TestVulkanElementwise::groupNorm_data()
{
    QTest::addColumn<Sizes>("shape");
    QTest::addColumn<int>("groups");
    QTest::addColumn<double>("mean");
    QTest::addColumn<bool>("affine");
    QTest::addRow("[2,6,5,5] g3") << Sizes{2, 6, 5, 5} << 3 << 0.0 << true;
    QTest::addRow("[1,32,17,17] g8") << Sizes{1, 32, 17, 17} << 8 << 0.0 << true;
    QTest::addRow("[1,32,17,17] g8 plain") << Sizes{1, 32, 17, 17} << 8 << 0.0 << false;
    QTest::addRow("[3,4,1000] g2") << Sizes{3, 4, 1000} << 2 << 0.0 << true;
    QTest::addRow("[2,8] g4 (no spatial)") << Sizes{2, 8} << 4 << 0.0 << true;
    QTest::addRow("[2,6,3,3] g6 (instance norm)") << Sizes{2, 6, 3, 3} << 6 << 0.0 << true;
    QTest::addRow("[2,6,3,3] g1 (layer norm)") << Sizes{2, 6, 3, 3} << 1 << 0.0 << false;
    QTest::addRow("[2,16,9,9] g4 mean=1000") << Sizes{2, 16, 9, 9} << 4 << 1000.0 << true;
    QTest::addRow("[1,64,32,32] g32") << Sizes{1, 64, 32, 32} << 32 << 0.5 << true;
}

// torch::group_norm in float64. Tolerance 2e-5, as layer norm (the same shader).
void TestVulkanElementwise::groupNorm()
{
    QFETCH(Sizes, shape);
    QFETCH(int, groups);
    QFETCH(double, mean);
    QFETCH(bool, affine);
    const std::int64_t c = shape[1];
    const auto x = torch::randn(shape) + mean;
    const auto w = torch::randn({c});
    const auto b = torch::randn({c});
    const double eps = 1e-5;
    const auto ref = torch::group_norm(x.to(torch::kDouble), groups, affine ? w.to(torch::kDouble) : torch::Tensor(),
                                       affine ? b.to(torch::kDouble) : torch::Tensor(), eps)
                         .to(torch::kFloat);
    auto dx = vk_.toDevice(x, "x");
    auto dw = vk_.toDevice(w, "w");
    auto db = vk_.toDevice(b, "b");
    auto dout = vk_.alloc(std::uint64_t(x.numel()), "out");
    const vk::Region wr = dw.region(), br = db.region();
    VERIFY_OK(vk::groupNormVulkan(*vk_.rec, dx.region(), affine ? &wr : nullptr, affine ? &br : nullptr,
                                  dout.region(), std::uint32_t(shape[0]), std::uint32_t(c),
                                  std::uint64_t(x.numel() / shape[0] / c), std::uint32_t(groups), float(eps)));
    EXPECT_CLOSE("group_norm", vk_.fromDevice(dout.region(), shape), ref, 2e-5);
}

// More rows than one row of workgroups holds: the reductions' grids become 2-D.
void TestVulkanElementwise::reductionsTwoDimensionalGrid()
{
    const std::int64_t rows = std::int64_t(vk_.ctx->limits().maxComputeWorkGroupCount[0]) + 1000;
    if (rows > 2'000'000) QSKIP("this device's grid rows are longer than this test is meant to fill");
    const std::int64_t cols = 3;
    const auto x = torch::randn({rows, cols});
    auto dx = vk_.toDevice(x, "x");
    auto dout = vk_.alloc(std::uint64_t(x.numel()), "out");
    VERIFY_OK(vk::softmaxVulkan(*vk_.rec, dx.region(), dout.region(), std::uint64_t(rows), std::uint32_t(cols), 1));
    EXPECT_CLOSE("softmax", vk_.fromDevice(dout.region(), {rows, cols}), torch::softmax(x, 1), 1e-5);
    VERIFY_OK(vk::layerNormVulkan(*vk_.rec, dx.region(), nullptr, nullptr, dout.region(), std::uint64_t(rows),
                                  std::uint32_t(cols), 1e-5f));
    const auto ref = torch::layer_norm(x.to(torch::kDouble), {cols}, {}, {}, 1e-5).to(torch::kFloat);
    EXPECT_CLOSE("layer_norm", vk_.fromDevice(dout.region(), {rows, cols}), ref, 2e-5);
}

void TestVulkanElementwise::normsInPlace()
{
    const auto x = torch::randn({6, 500});
    auto dx = vk_.toDevice(x, "x");
    VERIFY_OK(vk::softmaxVulkan(*vk_.rec, dx.region(), dx.region(), 6, 500, 1));
    auto y = torch::softmax(x, 1);
    VERIFY_OK(vk::layerNormVulkan(*vk_.rec, dx.region(), nullptr, nullptr, dx.region(), 6, 500, 1e-5f));
    y = torch::layer_norm(y.to(torch::kDouble), {500}, {}, {}, 1e-5).to(torch::kFloat);
    // The softmax rounding (1e-7 absolute) is amplified by 1 / std(softmax row) ~ 500.
    EXPECT_CLOSE("layer_norm", vk_.fromDevice(dx.region(), {6, 500}), y, 1e-4);
}

void TestVulkanElementwise::emptyTensorsDoNothing()
{
    const vk::Region none;  // not even a buffer: nothing may be touched
    VERIFY_OK(vk::unaryVulkan(*vk_.rec, none, none, 0, vk::Activation::ReLU));
    VERIFY_OK(vk::binaryVulkan(*vk_.rec, none, {0, 3}, none, {3}, none, vk::BinaryOp::Add));
    VERIFY_OK(vk::channelAffineVulkan(*vk_.rec, none, nullptr, nullptr, none, 0, 4, 5));
    VERIFY_OK(vk::softmaxVulkan(*vk_.rec, none, none, 3, 0, 2));
    VERIFY_OK(vk::layerNormVulkan(*vk_.rec, none, nullptr, nullptr, none, 0, 8, 1e-5f));
    VERIFY_OK(vk::rmsNormVulkan(*vk_.rec, none, nullptr, none, 4, 0, 1e-5f));
    VERIFY_OK(vk::groupNormVulkan(*vk_.rec, none, nullptr, nullptr, none, 2, 4, 0, 2, 1e-5f));
    QVERIFY(vk_.rec->empty());
    auto sizes = vk::broadcastSizes({0, 1}, {1, 5});
    QVERIFY(sizes.ok() && sizes.value() == Sizes({0, 5}));
}

void TestVulkanElementwise::argumentErrors()
{
    auto x = vk_.alloc(100, "x"), out = vk_.alloc(100, "out"), w = vk_.alloc(4, "w");
    const vk::Region wr = w.region();
    VERIFY_ERROR(vk::unaryVulkan(*vk_.rec, x.region(), out.region(), 101, vk::Activation::ReLU), "unary",
                 "x holds 100 floats, needs 101");
    VERIFY_ERROR(vk::unaryVulkan(*vk_.rec, x.region(), vk::Region{}, 10, vk::Activation::ReLU), "unary",
                 "out is missing");
    VERIFY_ERROR(vk::unaryVulkan(*vk_.rec, x.region(), out.region(), 10, vk::Activation(42)), "unary",
                 "unknown activation");
    // Overlapping but shifted: each invocation would read what a neighbour wrote.
    VERIFY_ERROR(vk::unaryVulkan(*vk_.rec, x.region(), x.region().slice(4, 50), 50, vk::Activation::ReLU), "unary",
                 "overlaps");
    VERIFY_ERROR(vk::channelAffineVulkan(*vk_.rec, x.region(), &wr, nullptr, out.region(), 2, 10, 5), "channel_affine",
                 "scale holds 4 floats, needs 10");
    VERIFY_ERROR(vk::channelAffineVulkan(*vk_.rec, x.region(), nullptr, nullptr, out.region(), 1ull << 40, 1 << 20,
                                         1ull << 40),
                 "channel_affine", "too many");
    VERIFY_ERROR(vk::softmaxVulkan(*vk_.rec, x.region(), out.region(), 3, 40, 1), "softmax", "needs 120");
    VERIFY_ERROR(vk::softmaxVulkan(*vk_.rec, x.region(), out.region(), 1ull << 31, 4, 1), "softmax",
                 "split the tensor");
    VERIFY_ERROR(vk::layerNormVulkan(*vk_.rec, x.region(), &wr, nullptr, out.region(), 10, 10, 1e-5f), "layer_norm",
                 "weight holds 4 floats, needs 10");
    VERIFY_ERROR(vk::layerNormVulkan(*vk_.rec, x.region(), nullptr, nullptr, out.region(), 10, 10, -1.0f),
                 "layer_norm", "eps");
    VERIFY_ERROR(vk::rmsNormVulkan(*vk_.rec, x.region(), nullptr, out.region(), 10, 11, 1e-5f), "rms_norm",
                 "needs 110");
    VERIFY_ERROR(vk::groupNormVulkan(*vk_.rec, x.region(), nullptr, nullptr, out.region(), 1, 6, 4, 4, 1e-5f),
                 "group_norm", "6 channels do not split into 4 groups");
    VERIFY_ERROR(vk::groupNormVulkan(*vk_.rec, x.region(), nullptr, nullptr, out.region(), 1, 6, 4, 0, 1e-5f),
                 "group_norm", "groups");
    VERIFY_ERROR(vk::groupNormVulkan(*vk_.rec, x.region(), &wr, &wr, out.region(), 1, 8, 4, 2, 1e-5f), "group_norm",
                 "weight holds 4 floats, needs 8");
    QVERIFY(vk_.rec->empty());
}

QTEST_GUILESS_MAIN(TestVulkanElementwise)
#include "test_vulkan_elementwise.moc"
