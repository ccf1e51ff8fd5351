// Pooling, permute, concat, embedding, rotary encoding and attention on Vulkan, each against
// LibTorch on random inputs over many shapes, plus the argument errors. Runs on whatever device
// the loader finds (lavapipe on a machine without a GPU); without any device every test skips.
//
// Tolerances (relativeError: max |got - ref| / max(max |ref|, 1)), per op:
//   max pool, permute, concat, embedding: 0, they only move values.
//   avg pools: 1e-6; the shader sums a window in float, in its own order (a few ulps).
//   rope: 2e-6; torch's cos/sin are rounded doubles, the shader's come from a float-float
//     angle and its own polynomials (within ~2 ulps), even at position 32767.
//   attention: 1e-5; the online softmax rescales and sums in another order than torch's
//     softmax and matmul (each fp32), a few ulps per step. 5e-5 where scores reach a few
//     hundred (attentionLargeScores): a score s carries a rounding of about s * 2^-24 in either
//     implementation, which exp turns into a relative error of that size in its weight.
// All are within the 1e-4 the Vulkan backend promises for fp32.
#include "vulkan/ops/attention_vulkan.h"
#include "vulkan/ops/copy_vulkan.h"
#include "vulkan/ops/pool2d_vulkan.h"
#include "vulkan_test_support.h"

#include <torch/torch.h>

#include <QtTest/QtTest>

#include <bit>
#include <cmath>
#include <limits>
#include <map>
#include <span>
#include <string>
#include <tuple>
#include <vector>

using namespace kiln;

namespace {

// QVERIFY that a Result is ok, printing its error when not.
#define KILN_VERIFY_OK(expr)                                                                       \
    do {                                                                                           \
        const auto kiln_r_ = (expr);                                                               \
        QVERIFY2(kiln_r_.ok(), kiln_r_.ok() ? "" : kiln_r_.error().message().c_str());             \
    } while (0)

// QVERIFY that a Result is an error whose message names the op and contains `part`.
#define KILN_VERIFY_ERROR(expr, op, part)                                                          \
    do {                                                                                           \
        const auto kiln_r_ = (expr);                                                               \
        QVERIFY2(!kiln_r_.ok(), "expected an error: " #expr);                                      \
        const std::string kiln_m_ = kiln_r_.error().message();                                     \
        QVERIFY2(kiln_m_.find("Vulkan op " op) != std::string::npos, kiln_m_.c_str());             \
        QVERIFY2(kiln_m_.find(part) != std::string::npos, kiln_m_.c_str());                        \
    } while (0)

std::vector<std::int64_t> shape(const torch::Tensor& t) { return t.sizes().vec(); }

// torch's rotary tables (build_attention.cpp): angles in double, cos and sin rounded to float,
// then x * cos + rotate_half(x) * sin in float. x is [B, T, H, d].
torch::Tensor ropeReference(const torch::Tensor& x, double base)
{
    const auto t = x.size(1), d = x.size(3);
    const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
    const torch::Tensor i = torch::arange(0, d / 2, f64);
    const torch::Tensor inverse = torch::pow(base, -2.0 * i / static_cast<double>(d));
    const torch::Tensor angles = torch::outer(torch::arange(0, t, f64), inverse);
    const torch::Tensor both = torch::cat({angles, angles}, -1);
    const torch::Tensor cos = both.cos().to(torch::kFloat32).unsqueeze(1);  // [T, 1, d] broadcasts over heads
    const torch::Tensor sin = both.sin().to(torch::kFloat32).unsqueeze(1);
    const auto half = d / 2;
    const torch::Tensor rotated = torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
    return x * cos + rotated * sin;
}

// softmax(QK^T * scale + causal mask) V as build_attention.cpp writes it, on [B, T, H, d].
torch::Tensor attentionReference(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, float scale,
                                 bool causal)
{
    const auto t = q.size(1);
    const torch::Tensor qh = q.transpose(1, 2), kh = k.transpose(1, 2), vh = v.transpose(1, 2);  // [B, H, T, d]
    torch::Tensor scores = torch::matmul(qh, kh.transpose(-2, -1)) * scale;
    if (causal) {
        const auto later = torch::ones({t, t}, torch::kBool).triu(1);
        scores = scores.masked_fill(later, -std::numeric_limits<float>::infinity());
    }
    return torch::matmul(torch::softmax(scores, -1), vh).transpose(1, 2).contiguous();
}

}  // namespace

class TestVulkanMovement : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void pool2d_data();
    void pool2d();
    void pool2dLarge();
    void maxPoolPropagatesNaN();
    void poolSizes();
    void adaptiveAvgPool2d_data();
    void adaptiveAvgPool2d();
    void permute_data();
    void permute();
    void concat_data();
    void concat();
    void embedding();
    void embeddingTwoDimensionalGrid();
    void rope_data();
    void rope();
    void ropeInPlace();
    void attention_data();
    void attention();
    void attentionLargeScores();
    void attentionTwoDimensionalGrid();
    void errors();

private:
    void record(const char* op, double err);

    test::VulkanFixture vk_;
    std::map<std::string, double> worst_;  // largest error seen per op, printed at the end
};

void TestVulkanMovement::initTestCase()
{
    if (!vk_.open()) QSKIP(qPrintable("no usable Vulkan device, so the Vulkan tests are skipped: " +
                                      QString::fromStdString(vk_.skipReason)));
    qInfo("Vulkan device: %s, validation %s", vk_.ctx->deviceInfo().name.c_str(),
          vk_.ctx->instance().validationEnabled() ? "on" : "off");
    torch::manual_seed(20240612);
}

void TestVulkanMovement::cleanupTestCase()
{
    for (const auto& [op, err] : worst_) qInfo("%-20s largest relative error %.3g", op.c_str(), err);
    // With KILN_VULKAN_VALIDATION=1 (and the layers installed) any API misuse fails the suite.
    if (vk_.ctx && vk_.ctx->instance().validationEnabled()) QCOMPARE(vk_.ctx->instance().validationErrors(), 0);
}

void TestVulkanMovement::record(const char* op, double err)
{
    double& w = worst_[op];
    w = std::max(w, err);
}

void TestVulkanMovement::pool2d_data()
{
    QTest::addColumn<bool>("max");
    QTest::addColumn<std::vector<std::int64_t>>("sizes");  // N, C, H, W
    QTest::addColumn<int>("kernel");
    QTest::addColumn<int>("stride");
    QTest::addColumn<int>("pad");
    const std::vector<std::vector<std::int64_t>> shapes{{1, 1, 5, 5}, {2, 3, 7, 6}, {1, 2, 4, 9}, {3, 1, 2, 3}};
    for (bool max : {true, false})
        for (const auto& s : shapes)
            for (int k : {2, 3})
                for (int st : {1, 2})
                    for (int p : {0, 1}) {
                        if (s[2] + 2 * p < k || s[3] + 2 * p < k) continue;  // no window fits: see errors()
                        QTest::addRow("%s %lldx%lldx%lldx%lld k%d s%d p%d", max ? "max" : "avg", (long long)s[0],
                                      (long long)s[1], (long long)s[2], (long long)s[3], k, st, p)
                            << max << s << k << st << p;
                    }
}

void TestVulkanMovement::pool2d()
{
    QFETCH(bool, max);
    QFETCH(std::vector<std::int64_t>, sizes);
    QFETCH(int, kernel);
    QFETCH(int, stride);
    QFETCH(int, pad);
    const torch::Tensor x = torch::randn(sizes);
    const torch::Tensor ref = max ? torch::max_pool2d(x, {kernel, kernel}, {stride, stride}, {pad, pad})
                                  : torch::avg_pool2d(x, {kernel, kernel}, {stride, stride}, {pad, pad});
    vk::Pool2dParams p;
    p.planes = std::uint32_t(sizes[0] * sizes[1]);
    p.inH = std::uint32_t(sizes[2]);
    p.inW = std::uint32_t(sizes[3]);
    p.kernel = std::uint32_t(kernel);
    p.stride = std::uint32_t(stride);
    p.pad = std::uint32_t(pad);
    QCOMPARE(std::int64_t(p.outH()), ref.size(2));
    QCOMPARE(std::int64_t(p.outW()), ref.size(3));

    auto dx = vk_.toDevice(x, "x");
    auto dy = vk_.alloc(std::uint64_t(ref.numel()), "y");
    const vk::PoolKind kind = max ? vk::PoolKind::Max : vk::PoolKind::Avg;
    KILN_VERIFY_OK(vk::pool2dVulkan(*vk_.rec, dx.region(), dy.region(), p, kind));
    const torch::Tensor got = vk_.fromDevice(dy.region(), shape(ref));
    record(max ? "max_pool2d" : "avg_pool2d", test::relativeError(got, ref));
    KILN_COMPARE_TENSORS(got, ref, max ? 0.0 : 1e-6);
}

// Many workgroups, and a row count that is not a multiple of the workgroup size.
void TestVulkanMovement::pool2dLarge()
{
    const torch::Tensor x = torch::randn({2, 17, 33, 31});
    for (bool max : {true, false}) {
        const torch::Tensor ref = max ? torch::max_pool2d(x, {3, 3}, {2, 2}, {1, 1}) : torch::avg_pool2d(x, 3, 2, 1);
        const vk::Pool2dParams p{34, 33, 31, 3, 2, 1};
        auto dx = vk_.toDevice(x, "x");
        auto dy = vk_.alloc(std::uint64_t(ref.numel()), "y");
        const vk::PoolKind kind = max ? vk::PoolKind::Max : vk::PoolKind::Avg;
    KILN_VERIFY_OK(vk::pool2dVulkan(*vk_.rec, dx.region(), dy.region(), p, kind));
        const torch::Tensor got = vk_.fromDevice(dy.region(), shape(ref));
        record(max ? "max_pool2d" : "avg_pool2d", test::relativeError(got, ref));
        KILN_COMPARE_TENSORS(got, ref, max ? 0.0 : 1e-6);
    }
}

void TestVulkanMovement::maxPoolPropagatesNaN()
{
    torch::Tensor x = torch::randn({1, 1, 4, 4});
    x[0][0][1][2] = std::numeric_limits<float>::quiet_NaN();
    const torch::Tensor ref = torch::max_pool2d(x, {2, 2}, {2, 2});
    auto dx = vk_.toDevice(x, "x");
    auto dy = vk_.alloc(4, "y");
    KILN_VERIFY_OK(vk::pool2dVulkan(*vk_.rec, dx.region(), dy.region(), vk::Pool2dParams{1, 4, 4, 2, 2, 0},
                                    vk::PoolKind::Max));
    const torch::Tensor got = vk_.fromDevice(dy.region(), {1, 1, 2, 2});
    QVERIFY(std::isnan(got[0][0][0][1].item<float>()));
    QVERIFY(torch::equal(got.nan_to_num(0), ref.nan_to_num(0)));
}

void TestVulkanMovement::poolSizes()
{
    QCOMPARE((vk::Pool2dParams{1, 7, 6, 3, 2, 1}.outH()), 4u);
    QCOMPARE((vk::Pool2dParams{1, 7, 6, 3, 2, 1}.outW()), 3u);
    QCOMPARE((vk::Pool2dParams{1, 2, 2, 3, 1, 0}.outH()), 0u);  // no window fits
    QCOMPARE((vk::Pool2dParams{1, 2, 2, 3, 1, 1}.outH()), 2u);
    QCOMPARE((vk::Pool2dParams{1, 5, 5, 2, 0, 0}.outH()), 0u);  // a zero stride makes no windows
}

void TestVulkanMovement::adaptiveAvgPool2d_data()
{
    QTest::addColumn<std::vector<std::int64_t>>("sizes");  // N, C, H, W
    QTest::addColumn<int>("outH");
    QTest::addColumn<int>("outW");
    const std::vector<std::int64_t> s1{2, 3, 7, 7}, s2{1, 4, 10, 9}, s3{1, 2, 5, 13}, s4{2, 8, 33, 17}, s5{1, 1, 1, 1};
    QTest::newRow("7x7 to 1x1") << s1 << 1 << 1;
    QTest::newRow("7x7 to 7x7") << s1 << 7 << 7;
    QTest::newRow("10x9 to 3x4") << s2 << 3 << 4;
    QTest::newRow("10x9 to 7x7") << s2 << 7 << 7;
    QTest::newRow("5x13 to 7x3 (taller than the input)") << s3 << 7 << 3;
    QTest::newRow("33x17 to 7x7") << s4 << 7 << 7;
    QTest::newRow("33x17 to 1x1") << s4 << 1 << 1;
    QTest::newRow("1x1 to 3x2") << s5 << 3 << 2;
}

void TestVulkanMovement::adaptiveAvgPool2d()
{
    QFETCH(std::vector<std::int64_t>, sizes);
    QFETCH(int, outH);
    QFETCH(int, outW);
    const torch::Tensor x = torch::randn(sizes);
    const torch::Tensor ref = torch::adaptive_avg_pool2d(x, {outH, outW});
    auto dx = vk_.toDevice(x, "x");
    auto dy = vk_.alloc(std::uint64_t(ref.numel()), "y");
    KILN_VERIFY_OK(vk::adaptiveAvgPool2dVulkan(*vk_.rec, dx.region(), dy.region(), std::uint32_t(sizes[0] * sizes[1]),
                                               std::uint32_t(sizes[2]), std::uint32_t(sizes[3]), std::uint32_t(outH),
                                               std::uint32_t(outW)));
    const torch::Tensor got = vk_.fromDevice(dy.region(), shape(ref));
    record("adaptive_avg_pool2d", test::relativeError(got, ref));
    KILN_COMPARE_TENSORS(got, ref, 1e-6);
}

void TestVulkanMovement::permute_data()
{
    QTest::addColumn<std::vector<std::int64_t>>("sizes");
    QTest::addColumn<std::vector<std::int64_t>>("dims");
    using V = std::vector<std::int64_t>;
    QTest::newRow("scalar") << V{} << V{};
    QTest::newRow("rank 1") << V{5} << V{0};
    QTest::newRow("rank 2 transpose") << V{7, 13} << V{1, 0};
    QTest::newRow("rank 2 identity") << V{7, 13} << V{0, 1};
    QTest::newRow("rank 3") << V{3, 5, 4} << V{2, 0, 1};
    QTest::newRow("rank 3 negative dims") << V{3, 5, 4} << V{-1, -3, 1};
    QTest::newRow("rank 3 identity") << V{3, 5, 4} << V{0, 1, 2};
    QTest::newRow("rank 4 heads") << V{2, 9, 3, 8} << V{0, 2, 1, 3};  // [B, T, H, d] -> [B, H, T, d]
    QTest::newRow("rank 4 NCHW to NHWC") << V{2, 6, 5, 7} << V{0, 2, 3, 1};
    QTest::newRow("rank 4 with ones") << V{1, 6, 1, 7} << V{3, 1, 0, 2};
    QTest::newRow("rank 5") << V{2, 3, 4, 5, 6} << V{4, 2, 0, 3, 1};
    QTest::newRow("rank 5 reversed") << V{3, 1, 4, 2, 5} << V{4, 3, 2, 1, 0};
    QTest::newRow("rank 5 identity") << V{2, 3, 4, 5, 6} << V{0, 1, 2, 3, 4};
    QTest::newRow("rank 8") << V{2, 1, 3, 2, 1, 2, 3, 2} << V{7, 0, 6, 1, 5, 2, 4, 3};
    QTest::newRow("empty") << V{3, 0, 2} << V{2, 1, 0};
    QTest::newRow("large") << V{64, 37, 29} << V{1, 2, 0};
}

void TestVulkanMovement::permute()
{
    QFETCH(std::vector<std::int64_t>, sizes);
    QFETCH(std::vector<std::int64_t>, dims);
    const torch::Tensor x = torch::randn(sizes);
    const torch::Tensor ref = x.permute(dims).contiguous();
    auto dx = vk_.toDevice(x, "x");
    auto dy = vk_.alloc(std::uint64_t(ref.numel()), "y");
    KILN_VERIFY_OK(vk::permuteVulkan(*vk_.rec, dx.region(), sizes, dims, dy.region()));
    const torch::Tensor got = vk_.fromDevice(dy.region(), shape(ref));
    record("permute", test::relativeError(got, ref));
    QVERIFY(torch::equal(got, ref));
}

void TestVulkanMovement::concat_data()
{
    QTest::addColumn<std::vector<std::int64_t>>("first");  // the other parts differ only along dim
    QTest::addColumn<std::vector<std::int64_t>>("alongDim");
    QTest::addColumn<int>("dim");
    using V = std::vector<std::int64_t>;
    QTest::newRow("dim 0, 2 parts") << V{2, 3} << V{2, 4} << 0;
    QTest::newRow("dim 1, 2 parts") << V{2, 3, 4} << V{3, 5} << 1;
    QTest::newRow("dim 1, 3 parts") << V{3, 4} << V{4, 2, 1} << 1;
    QTest::newRow("last dim, 3 parts") << V{2, 3, 4, 5} << V{5, 1, 7} << 3;
    QTest::newRow("dim 2, 3 parts") << V{2, 3, 4, 5} << V{4, 4, 2} << 2;
    QTest::newRow("negative dim") << V{3, 6} << V{6, 2} << -1;
    QTest::newRow("empty part") << V{2, 3} << V{3, 0, 2} << 1;
    QTest::newRow("large") << V{33, 40, 17} << V{40, 24, 9} << 1;
}

void TestVulkanMovement::concat()
{
    QFETCH(std::vector<std::int64_t>, first);
    QFETCH(std::vector<std::int64_t>, alongDim);
    QFETCH(int, dim);
    const std::int64_t d = dim < 0 ? dim + std::int64_t(first.size()) : dim;
    std::vector<torch::Tensor> parts;
    for (std::int64_t n : alongDim) {
        auto s = first;
        s[std::size_t(d)] = n;
        parts.push_back(torch::randn(s));
    }
    const torch::Tensor ref = torch::cat(parts, dim);
    std::uint64_t outer = 1, after = 1;
    for (std::int64_t i = 0; i < d; ++i) outer *= std::uint64_t(first[std::size_t(i)]);
    for (std::size_t i = std::size_t(d) + 1; i < first.size(); ++i) after *= std::uint64_t(first[i]);
    const std::uint64_t outInner = std::uint64_t(ref.size(d)) * after;

    auto dy = vk_.alloc(std::uint64_t(ref.numel()), "y");
    std::vector<vk::Allocation> keep;
    std::uint64_t offset = 0;
    for (const auto& part : parts) {
        keep.push_back(vk_.toDevice(part, "part"));
        const std::uint64_t inner = std::uint64_t(part.size(d)) * after;
        KILN_VERIFY_OK(
            vk::concatPartVulkan(*vk_.rec, keep.back().region(), dy.region(), outer, inner, outInner, offset));
        offset += inner;
    }
    const torch::Tensor got = vk_.fromDevice(dy.region(), shape(ref));
    record("concat", test::relativeError(got, ref));
    QVERIFY(torch::equal(got, ref));
}

void TestVulkanMovement::embedding()
{
    for (auto [count, dim, vocab] : {std::tuple{13u, 7u, 10u}, std::tuple{300u, 64u, 1000u}, std::tuple{1u, 1u, 1u}}) {
        const torch::Tensor table = torch::randn({vocab, dim});
        std::vector<std::uint32_t> ids(count);
        const torch::Tensor drawn = torch::randint(0, vocab, {count}, torch::kInt64);
        for (std::uint32_t i = 0; i < count; ++i) ids[i] = std::uint32_t(drawn[i].item<std::int64_t>());
        std::uint32_t bad = 0;
        if (count > 2) {
            ids[2] = vocab;  // just past the table
            ids[count - 1] = 0xffffffffu;
            bad = 2;
        }
        torch::Tensor ref = torch::zeros({count, dim});
        for (std::uint32_t i = 0; i < count; ++i)
            if (ids[i] < vocab) ref[i] = table[ids[i]];

        for (bool counted : {true, false}) {
            auto dIds = vk_.alloc(count, "ids");
            KILN_VERIFY_OK(vk_.rec->upload(dIds.region(), std::as_bytes(std::span<const std::uint32_t>(ids))));
            auto dTable = vk_.toDevice(table, "table");
            auto dy = vk_.alloc(std::uint64_t(count) * dim, "y");
            // The op adds to the counter (one serves a whole forward pass); it starts at 5 here.
            auto dBad = vk_.alloc(1, "bad");
            const std::uint32_t five = 5;
            KILN_VERIFY_OK(vk_.rec->upload(dBad.region(), std::as_bytes(std::span<const std::uint32_t>(&five, 1))));
            const vk::Region badRegion = dBad.region();
            KILN_VERIFY_OK(vk::embeddingVulkan(*vk_.rec, dIds.region(), dTable.region(), dy.region(), count, dim, vocab,
                                               counted ? &badRegion : nullptr));
            float badBits = 0;
            KILN_VERIFY_OK(vk_.rec->download(dBad.region(), std::span<float>(&badBits, 1)));
            const torch::Tensor got = vk_.fromDevice(dy.region(), {count, dim});
            record("embedding", test::relativeError(got, ref));
            QVERIFY(torch::equal(got, ref));
            QCOMPARE(std::bit_cast<std::uint32_t>(badBits), counted ? five + bad : five);
        }
    }
}

// One element past a full row of workgroups: the grid gets a second row (the other
// element-wise shaders share the same indexing).
void TestVulkanMovement::embeddingTwoDimensionalGrid()
{
    const std::uint32_t dim = 256, vocab = 5;
    const std::uint64_t count = std::uint64_t(vk_.ctx->limits().maxComputeWorkGroupCount[0]) + 1;
    if (count * dim * 4 > vk_.ctx->limits().maxStorageBufferRange)
        QSKIP("this device binds a whole row of workgroups' data in no storage buffer");
    const torch::Tensor table = torch::randn({vocab, dim});
    const torch::Tensor drawn = torch::randint(0, vocab, {std::int64_t(count)}, torch::kInt64);
    const torch::Tensor ids32 = drawn.to(torch::kInt32).contiguous();
    const std::span<const std::int32_t> ids(ids32.data_ptr<std::int32_t>(), std::size_t(count));
    auto dIds = vk_.alloc(count, "ids");
    KILN_VERIFY_OK(vk_.rec->upload(dIds.region(), std::as_bytes(ids)));
    auto dTable = vk_.toDevice(table, "table");
    auto dy = vk_.alloc(count * dim, "y");
    KILN_VERIFY_OK(vk::embeddingVulkan(*vk_.rec, dIds.region(), dTable.region(), dy.region(), count, dim, vocab));
    const torch::Tensor got = vk_.fromDevice(dy.region(), {std::int64_t(count), dim});
    QVERIFY(torch::equal(got, table.index_select(0, drawn)));
}

void TestVulkanMovement::rope_data()
{
    QTest::addColumn<int>("batch");
    QTest::addColumn<int>("seq");
    QTest::addColumn<int>("heads");
    QTest::addColumn<int>("headDim");
    QTest::addColumn<double>("base");
    QTest::newRow("seq 1") << 1 << 1 << 1 << 8 << 10000.0;
    QTest::newRow("headDim 2") << 1 << 9 << 2 << 2 << 10000.0;
    QTest::newRow("seq 7, 3 heads") << 2 << 7 << 3 << 8 << 10000.0;
    QTest::newRow("seq 64, 4 heads") << 2 << 64 << 4 << 32 << 10000.0;
    QTest::newRow("seq 200, headDim 64") << 1 << 200 << 3 << 64 << 10000.0;
    QTest::newRow("headDim 6 (half not a power of two)") << 1 << 50 << 2 << 6 << 10000.0;
    QTest::newRow("headDim 256, base 500000") << 1 << 130 << 1 << 256 << 500000.0;
    QTest::newRow("positions to 4095") << 1 << 4096 << 1 << 16 << 10000.0;
    QTest::newRow("positions to 32767") << 1 << 32768 << 1 << 8 << 10000.0;
    QTest::newRow("positions to 2999, headDim 128") << 1 << 3000 << 2 << 128 << 10000.0;
    QTest::newRow("headDim 1024") << 1 << 40 << 1 << 1024 << 10000.0;
    QTest::newRow("base 10") << 2 << 100 << 2 << 16 << 10.0;
}

void TestVulkanMovement::rope()
{
    QFETCH(int, batch);
    QFETCH(int, seq);
    QFETCH(int, heads);
    QFETCH(int, headDim);
    QFETCH(double, base);
    const torch::Tensor x = torch::randn({batch, seq, heads, headDim});
    const torch::Tensor ref = ropeReference(x, base);
    auto dx = vk_.toDevice(x, "x");
    auto dy = vk_.alloc(std::uint64_t(x.numel()), "y");
    const vk::AttentionShape s{std::uint32_t(batch), std::uint32_t(seq), std::uint32_t(heads), std::uint32_t(headDim)};
    KILN_VERIFY_OK(vk::ropeVulkan(*vk_.rec, dx.region(), dy.region(), s, float(base)));
    const torch::Tensor got = vk_.fromDevice(dy.region(), shape(ref));
    record("rope", test::relativeError(got, ref));
    KILN_COMPARE_TENSORS(got, ref, 2e-6);
}

void TestVulkanMovement::ropeInPlace()
{
    const torch::Tensor x = torch::randn({2, 33, 2, 16});
    const torch::Tensor ref = ropeReference(x, 10000.0);
    auto dx = vk_.toDevice(x, "x");
    KILN_VERIFY_OK(vk::ropeVulkan(*vk_.rec, dx.region(), dx.region(), vk::AttentionShape{2, 33, 2, 16}, 10000.0f));
    const torch::Tensor got = vk_.fromDevice(dx.region(), shape(ref));
    record("rope", test::relativeError(got, ref));
    KILN_COMPARE_TENSORS(got, ref, 2e-6);
}

void TestVulkanMovement::attention_data()
{
    QTest::addColumn<int>("batch");
    QTest::addColumn<int>("seq");
    QTest::addColumn<int>("heads");
    QTest::addColumn<int>("headDim");
    QTest::addColumn<bool>("causal");
    struct Cfg {
        int batch, heads, headDim;
    };
    for (int seq : {1, 7, 64, 200})
        for (const Cfg& c : {Cfg{1, 1, 8}, Cfg{2, 4, 64}, Cfg{1, 3, 16}, Cfg{2, 2, 32}})
            for (bool causal : {false, true})
                QTest::addRow("seq %d batch %d heads %d headDim %d %s", seq, c.batch, c.heads, c.headDim,
                              causal ? "causal" : "full")
                    << c.batch << seq << c.heads << c.headDim << causal;
    // Head sizes that leave part of the last 64-wide stripe idle, and the largest.
    QTest::newRow("headDim 5") << 1 << 65 << 2 << 5 << true;
    QTest::newRow("headDim 100") << 1 << 129 << 1 << 100 << false;
    QTest::newRow("headDim 256") << 1 << 70 << 2 << 256 << true;
    QTest::newRow("headDim 1") << 2 << 9 << 1 << 1 << false;
}

void TestVulkanMovement::attention()
{
    QFETCH(int, batch);
    QFETCH(int, seq);
    QFETCH(int, heads);
    QFETCH(int, headDim);
    QFETCH(bool, causal);
    const torch::Tensor q = torch::randn({batch, seq, heads, headDim});
    const torch::Tensor k = torch::randn({batch, seq, heads, headDim});
    const torch::Tensor v = torch::randn({batch, seq, heads, headDim});
    const float scale = 1.0f / std::sqrt(float(headDim));
    const torch::Tensor ref = attentionReference(q, k, v, scale, causal);
    auto dq = vk_.toDevice(q, "q"), dk = vk_.toDevice(k, "k"), dv = vk_.toDevice(v, "v");
    auto dy = vk_.alloc(std::uint64_t(q.numel()), "y");
    const vk::AttentionShape s{std::uint32_t(batch), std::uint32_t(seq), std::uint32_t(heads), std::uint32_t(headDim)};
    KILN_VERIFY_OK(vk::attentionVulkan(*vk_.rec, dq.region(), dk.region(), dv.region(), dy.region(), s, scale, causal));
    const torch::Tensor got = vk_.fromDevice(dy.region(), shape(ref));
    record("attention", test::relativeError(got, ref));
    KILN_COMPARE_TENSORS(got, ref, 1e-5);
}

// Scores of a few hundred, with keys growing along the sequence: the running max rises tile
// after tile, so every rescale of the accumulator matters (and exp would overflow without one).
void TestVulkanMovement::attentionLargeScores()
{
    const std::int64_t t = 200, h = 2, d = 32;
    const torch::Tensor q = torch::randn({1, t, h, d}) * 3;
    const torch::Tensor k = torch::randn({1, t, h, d}) * 3 + torch::linspace(0, 2, t).view({1, t, 1, 1});
    const torch::Tensor v = torch::randn({1, t, h, d});
    for (bool causal : {false, true}) {
        const torch::Tensor ref = attentionReference(q, k, v, 1.0f, causal);
        auto dq = vk_.toDevice(q, "q"), dk = vk_.toDevice(k, "k"), dv = vk_.toDevice(v, "v");
        auto dy = vk_.alloc(std::uint64_t(q.numel()), "y");
        KILN_VERIFY_OK(vk::attentionVulkan(*vk_.rec, dq.region(), dk.region(), dv.region(), dy.region(),
                                           vk::AttentionShape{1, std::uint32_t(t), std::uint32_t(h), std::uint32_t(d)},
                                           1.0f, causal));
        const torch::Tensor got = vk_.fromDevice(dy.region(), shape(ref));
        QVERIFY(torch::isfinite(got).all().item<bool>());
        record("attention", test::relativeError(got, ref));
        KILN_COMPARE_TENSORS(got, ref, 5e-5);
    }
}

// More query rows than one row of workgroups holds, so the grid is two-dimensional.
void TestVulkanMovement::attentionTwoDimensionalGrid()
{
    const std::int64_t batch = std::int64_t(vk_.ctx->limits().maxComputeWorkGroupCount[0]) + 100;
    const std::int64_t t = 2, d = 4;
    if (batch * t * d * 4 > std::int64_t(vk_.ctx->limits().maxStorageBufferRange))
        QSKIP("this device's workgroup rows are too long to fill cheaply");
    const torch::Tensor q = torch::randn({batch, t, 1, d}), k = torch::randn({batch, t, 1, d}),
                        v = torch::randn({batch, t, 1, d});
    const torch::Tensor ref = attentionReference(q, k, v, 0.5f, true);
    auto dq = vk_.toDevice(q, "q"), dk = vk_.toDevice(k, "k"), dv = vk_.toDevice(v, "v");
    auto dy = vk_.alloc(std::uint64_t(q.numel()), "y");
    KILN_VERIFY_OK(vk::attentionVulkan(*vk_.rec, dq.region(), dk.region(), dv.region(), dy.region(),
                                       vk::AttentionShape{std::uint32_t(batch), std::uint32_t(t), 1, std::uint32_t(d)},
                                       0.5f, true));
    const torch::Tensor got = vk_.fromDevice(dy.region(), shape(ref));
    record("attention", test::relativeError(got, ref));
    KILN_COMPARE_TENSORS(got, ref, 1e-5);
}

void TestVulkanMovement::errors()
{
    auto a = vk_.alloc(4096, "a");
    auto b = vk_.alloc(4096, "b");
    auto small = vk_.alloc(3, "small");
    const vk::Region& A = a.region();
    const vk::Region& B = b.region();
    vk::Recorder& rec = *vk_.rec;
    const std::size_t before = rec.stats().dispatches;

    // Pooling.
    KILN_VERIFY_ERROR(vk::pool2dVulkan(rec, A, B, {1, 8, 8, 0, 1, 0}, vk::PoolKind::Max), "max_pool2d", "kernel 0");
    KILN_VERIFY_ERROR(vk::pool2dVulkan(rec, A, B, {1, 8, 8, 2, 0, 0}, vk::PoolKind::Avg), "avg_pool2d", "stride 0");
    KILN_VERIFY_ERROR(vk::pool2dVulkan(rec, A, B, {1, 8, 8, 3, 1, 2}, vk::PoolKind::Max), "max_pool2d", "padding 2");
    KILN_VERIFY_ERROR(vk::pool2dVulkan(rec, A, B, {1, 2, 2, 5, 1, 1}, vk::PoolKind::Max), "max_pool2d", "larger");
    KILN_VERIFY_ERROR(vk::pool2dVulkan(rec, A, B, {1, 0, 8, 2, 1, 0}, vk::PoolKind::Avg), "avg_pool2d", "0x8");
    KILN_VERIFY_ERROR(vk::pool2dVulkan(rec, small.region(), B, {1, 4, 4, 2, 2, 0}, vk::PoolKind::Max), "max_pool2d",
                      "x holds 3 floats, needs 16");
    KILN_VERIFY_ERROR(vk::pool2dVulkan(rec, A, small.region(), {1, 4, 4, 2, 2, 0}, vk::PoolKind::Max), "max_pool2d",
                      "out holds 3 floats, needs 4");
    KILN_VERIFY_ERROR(vk::pool2dVulkan(rec, A, A, {1, 4, 4, 2, 2, 0}, vk::PoolKind::Max), "max_pool2d", "overlaps");
    KILN_VERIFY_ERROR(vk::pool2dVulkan(rec, A, B, {1, 4, 4, 2, 2, 0}, vk::PoolKind(7)), "avg_pool2d", "kind");
    KILN_VERIFY_OK(vk::pool2dVulkan(rec, A, B, {0, 4, 4, 2, 2, 0}, vk::PoolKind::Max));  // no planes: nothing to do
    KILN_VERIFY_ERROR(vk::adaptiveAvgPool2dVulkan(rec, A, B, 1, 8, 8, 0, 1), "adaptive_avg_pool2d", "0");
    KILN_VERIFY_ERROR(vk::adaptiveAvgPool2dVulkan(rec, A, small.region(), 1, 8, 8, 2, 2), "adaptive_avg_pool2d",
                      "out holds 3");
    KILN_VERIFY_ERROR(vk::adaptiveAvgPool2dVulkan(rec, A, B, 1, 1u << 20, 1, 1u << 13, 1), "adaptive_avg_pool2d",
                      "too large");

    // Permute.
    KILN_VERIFY_ERROR(vk::permuteVulkan(rec, A, {2, 3}, {0, 0}, B), "permute", "not a permutation");
    KILN_VERIFY_ERROR(vk::permuteVulkan(rec, A, {2, 3}, {0, 2}, B), "permute", "entry 1 is 2");
    KILN_VERIFY_ERROR(vk::permuteVulkan(rec, A, {2, 3}, {0, -3}, B), "permute", "not a permutation");
    KILN_VERIFY_ERROR(vk::permuteVulkan(rec, A, {2, 3}, {0}, B), "permute", "1 permutation entries");
    KILN_VERIFY_ERROR(vk::permuteVulkan(rec, A, std::vector<std::int64_t>(9, 1), {0, 1, 2, 3, 4, 5, 6, 7, 8}, B),
                      "permute", "at most 8");
    KILN_VERIFY_ERROR(vk::permuteVulkan(rec, A, {2, -3}, {1, 0}, B), "permute", "negative size");
    KILN_VERIFY_ERROR(vk::permuteVulkan(rec, A, {2, 3}, {1, 0}, small.region()), "permute", "out holds 3");
    KILN_VERIFY_ERROR(vk::permuteVulkan(rec, A, {1ll << 40, 1ll << 40}, {1, 0}, B), "permute", "x holds 4096");
    KILN_VERIFY_ERROR(vk::permuteVulkan(rec, A, {2, 3}, {1, 0}, A.slice(2, 6)), "permute", "overlaps");

    // Concat.
    KILN_VERIFY_ERROR(vk::concatPartVulkan(rec, A, B, 2, 3, 5, 3), "concat", "does not fit");
    KILN_VERIFY_ERROR(vk::concatPartVulkan(rec, A, B, 2, 3, 5, 9), "concat", "does not fit");
    KILN_VERIFY_ERROR(vk::concatPartVulkan(rec, small.region(), B, 2, 3, 5, 0), "concat", "x holds 3");
    KILN_VERIFY_ERROR(vk::concatPartVulkan(rec, A, B, 1000, 3, 5, 0), "concat", "out holds 4096");
    KILN_VERIFY_ERROR(vk::concatPartVulkan(rec, A, A, 2, 3, 5, 0), "concat", "overlaps");

    // Embedding.
    KILN_VERIFY_ERROR(vk::embeddingVulkan(rec, A, B, small.region(), 4, 0, 10), "embedding", "both must be at least 1");
    KILN_VERIFY_ERROR(vk::embeddingVulkan(rec, A, B, small.region(), 4, 3, 0), "embedding", "both must be at least 1");
    KILN_VERIFY_ERROR(vk::embeddingVulkan(rec, small.region(), B, A, 4, 3, 10), "embedding", "ids holds 3");
    KILN_VERIFY_ERROR(vk::embeddingVulkan(rec, A, small.region(), B, 4, 3, 10), "embedding", "table holds 3");
    KILN_VERIFY_ERROR(vk::embeddingVulkan(rec, A, B, small.region(), 4, 3, 10), "embedding", "out holds 3");
    const vk::Region missing{};
    KILN_VERIFY_ERROR(vk::embeddingVulkan(rec, A, B, small.region(), 1, 3, 10, &missing), "embedding",
                      "badIds is missing");

    // Rotary encoding and attention.
    KILN_VERIFY_ERROR(vk::ropeVulkan(rec, A, B, {1, 4, 2, 7}, 10000.0f), "rope", "headDim 7 must be even");
    KILN_VERIFY_ERROR(vk::ropeVulkan(rec, A, B, {1, 4, 2, 0}, 10000.0f), "rope", "must be even");
    KILN_VERIFY_ERROR(vk::ropeVulkan(rec, A, B, {1, 1, 1, 1026}, 10000.0f), "rope", "1024");
    KILN_VERIFY_ERROR(vk::ropeVulkan(rec, A, B, {1, 4, 2, 8}, -1.0f), "rope", "base");
    KILN_VERIFY_ERROR(vk::ropeVulkan(rec, A, small.region(), {1, 4, 2, 8}, 10000.0f), "rope", "out holds 3");
    KILN_VERIFY_ERROR(vk::ropeVulkan(rec, A, A.slice(1, 64), {1, 4, 2, 8}, 10000.0f), "rope", "overlaps");
    KILN_VERIFY_ERROR(vk::attentionVulkan(rec, A, A, A, B, {1, 2, 1, 300}, 1.0f, true), "attention", "headDim 300");
    KILN_VERIFY_ERROR(vk::attentionVulkan(rec, A, A, A, B, {1, 2, 1, 0}, 1.0f, true), "attention", "headDim 0");
    KILN_VERIFY_ERROR(vk::attentionVulkan(rec, A, small.region(), A, B, {1, 2, 1, 8}, 1.0f, false), "attention",
                      "k holds 3");
    KILN_VERIFY_ERROR(vk::attentionVulkan(rec, A, A, A, A, {1, 2, 1, 8}, 1.0f, false), "attention", "overlaps");
    KILN_VERIFY_ERROR(vk::attentionVulkan(rec, A, A, A, B, {1, 2, 1, 8}, std::nanf(""), false), "attention", "scale");
    KILN_VERIFY_OK(vk::attentionVulkan(rec, A, A, A, B, {0, 2, 1, 8}, 1.0f, false));  // empty batch: nothing to do

    // Nothing was recorded, and the context and recorder still work.
    QCOMPARE(rec.stats().dispatches, before);
    QVERIFY(!vk_.ctx->lost());
    KILN_VERIFY_OK(rec.submit());
}

QTEST_GUILESS_MAIN(TestVulkanMovement)
#include "test_vulkan_movement.moc"
