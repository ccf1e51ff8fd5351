// The Vulkan context (device choice, errors) and addVulkan checked against torch::add.
// Runs on whatever device the loader finds; on a machine without a GPU that is Mesa's
// lavapipe, and without any Vulkan device every test skips with the reason.
#include "kiln/vulkan_devices.h"
#include "vulkan/buffer.h"
#include "vulkan/context.h"
#include "vulkan/dispatch.h"
#include "vulkan/ops/add_vulkan.h"

#include <torch/types.h>
#include <torch/utils.h>

#include <QtTest/QtTest>

#include <cfloat>
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

using namespace kiln;

namespace {

std::vector<float> toVector(const torch::Tensor& t)
{
    const auto c = t.contiguous();
    return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

vk::DeviceCandidate fake(int index, const char* name, VkPhysicalDeviceType type, const char* unusable = "")
{
    vk::DeviceCandidate d;
    d.index = index;
    d.name = name;
    d.type = type;
    d.apiVersion = VK_API_VERSION_1_3;
    d.computeQueueFamily = 0;
    d.unusable = unusable;
    return d;
}

// Sets an environment variable for one scope and restores the old value after it, so that a
// failing QVERIFY cannot leak a device override into the next test.
class ScopedEnv {
public:
    ScopedEnv(const char* name, const QByteArray& value) : name_(name), had_(qEnvironmentVariableIsSet(name))
    {
        old_ = qgetenv(name);
        qputenv(name, value);
    }
    ~ScopedEnv()
    {
        if (had_) qputenv(name_, old_);
        else qunsetenv(name_);
    }

private:
    const char* name_;
    bool had_;
    QByteArray old_;
};

}  // namespace

class TestVulkanAdd : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void probeListsLavapipe();
    void selectionPrefersFasterTypes();
    void selectionOverrides();
    void envSelectsByIndex();
    void envSelectsByName();
    void envUnknownIsAnErrorListingDevices();
    void gridLayout();
    void add_data();
    void add();
    void addEmpty();
    void addInPlace();
    void addSpecialValues();
    void addTwoDimensionalGrid();
    void addRejectsShortBuffers();
    void errorsSayWhatToDo();
    void lostContextRefusesWork();

private:
    void checkAdd(std::uint32_t n, float alpha);

    std::shared_ptr<vk::Context> ctx_;
    VulkanReport report_;
};

void TestVulkanAdd::initTestCase()
{
    // A device override in the developer's shell would change what these tests pick.
    qunsetenv("KILN_VULKAN_DEVICE");
    report_ = probeVulkan();
    if (report_.selected < 0)
        QSKIP(qPrintable("no usable Vulkan device, so the Vulkan tests are skipped: " +
                         QString::fromStdString(report_.message)));
    auto ctx = vk::Context::create();
    QVERIFY2(ctx.ok(), ctx.ok() ? "" : ctx.error().message().c_str());
    ctx_ = ctx.value();
    qInfo("Vulkan device: %s (%s, %s)", ctx_->deviceInfo().name.c_str(),
          vk::deviceTypeName(ctx_->deviceInfo().type).c_str(), ctx_->deviceInfo().driver.c_str());
    torch::manual_seed(20240611);
}

void TestVulkanAdd::cleanupTestCase()
{
    // With KILN_VULKAN_VALIDATION=1 (and the layers installed) any API misuse fails the suite.
    if (ctx_ && ctx_->instance().validationEnabled()) QCOMPARE(ctx_->instance().validationErrors(), 0);
}

void TestVulkanAdd::probeListsLavapipe()
{
    QVERIFY(report_.loaderFound);
    QVERIFY(!report_.loaderVersion.empty());
    const VulkanDeviceInfo* lvp = nullptr;
    for (const auto& d : report_.devices)
        if (d.name.find("llvmpipe") != std::string::npos) lvp = &d;
    if (!lvp) QSKIP("lavapipe is not installed here (mesa-vulkan-drivers); a GPU driver is used instead");
    QCOMPARE(QString::fromStdString(lvp->type), QStringLiteral("CPU (software)"));
    QVERIFY(lvp->software);
    QVERIFY2(lvp->unusable.empty(), lvp->unusable.c_str());
    QVERIFY(lvp->apiVersion.rfind("1.", 0) == 0);
    QVERIFY(lvp->driver.find("llvmpipe") != std::string::npos);
    QVERIFY(lvp->deviceLocalBytes > 0);
    // lavapipe is chosen only when nothing faster exists.
    if (report_.devices.size() == 1) QCOMPARE(report_.selected, lvp->index);
}

void TestVulkanAdd::selectionPrefersFasterTypes()
{
    std::vector<vk::DeviceCandidate> devs{
        fake(0, "llvmpipe", VK_PHYSICAL_DEVICE_TYPE_CPU),
        fake(1, "Intel UHD", VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU),
        fake(2, "virgl", VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU),
        fake(3, "Radeon RX", VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU),
    };
    auto pick = [&] { auto r = vk::selectDevice(devs, {}, nullptr); return r.ok() ? r.value() : -100; };
    QCOMPARE(pick(), 3);
    devs[3].unusable = "supports Vulkan 1.1.0, Kiln needs 1.2";
    QCOMPARE(pick(), 1);
    devs.erase(devs.begin() + 1);
    QCOMPARE(pick(), 2);
    devs.erase(devs.begin() + 1);
    QCOMPARE(pick(), 0);
    devs.erase(devs.begin());
    auto none = vk::selectDevice(devs, {}, nullptr);  // only the unusable one is left
    QVERIFY(!none.ok());
    QVERIFY(none.error().message().find("Radeon RX") != std::string::npos);
    QVERIFY(!vk::selectDevice({}, {}, nullptr).ok());
}

void TestVulkanAdd::selectionOverrides()
{
    const std::vector<vk::DeviceCandidate> devs{
        fake(0, "NVIDIA GeForce RTX 4090", VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU),
        fake(1, "llvmpipe (LLVM 15.0.6, 256 bits)", VK_PHYSICAL_DEVICE_TYPE_CPU),
        fake(2, "Old GPU", VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU, "has no compute queue"),
    };
    auto pick = [&](const std::string& pref, const char* env) {
        auto r = vk::selectDevice(devs, pref, env);
        return r.ok() ? r.value() : -1;
    };
    QCOMPARE(pick({}, nullptr), 0);
    QCOMPARE(pick("1", nullptr), 1);
    QCOMPARE(pick("LLVMpipe", nullptr), 1);
    QCOMPARE(pick({}, " 1 "), 1);
    QCOMPARE(pick({}, "rtx"), 0);
    QCOMPARE(pick("llvmpipe", "nvidia"), 0);  // the environment wins over the setting
    QCOMPARE(pick("llvmpipe", ""), 1);        // an empty variable is no override
    QCOMPARE(pick("2", nullptr), -1);         // unusable devices cannot be forced
    QCOMPARE(pick("old gpu", nullptr), -1);

    auto bad = vk::selectDevice(devs, "llvmpipe", "amd");
    QVERIFY(!bad.ok());
    const std::string msg = bad.error().message();
    QVERIFY2(msg.find("KILN_VULKAN_DEVICE") != std::string::npos, msg.c_str());
    QVERIFY2(msg.find("\"amd\"") != std::string::npos, msg.c_str());
    QVERIFY2(msg.find("0 = NVIDIA GeForce RTX 4090 (discrete GPU)") != std::string::npos, msg.c_str());
    QVERIFY2(msg.find("1 = llvmpipe") != std::string::npos, msg.c_str());
    QVERIFY2(msg.find("has no compute queue") != std::string::npos, msg.c_str());
    auto badSetting = vk::selectDevice(devs, "7", nullptr);
    QVERIFY(!badSetting.ok());
    QVERIFY(badSetting.error().where.find("setting") != std::string::npos);
}

void TestVulkanAdd::envSelectsByIndex()
{
    for (const auto& d : report_.devices) {
        if (!d.unusable.empty()) continue;
        ScopedEnv env("KILN_VULKAN_DEVICE", QByteArray::number(d.index));
        auto ctx = vk::Context::create("no-such-device-from-settings");  // the variable wins
        QVERIFY2(ctx.ok(), ctx.ok() ? "" : ctx.error().message().c_str());
        QCOMPARE(ctx.value()->deviceInfo().index, d.index);
        QCOMPARE(QString::fromStdString(ctx.value()->deviceInfo().name), QString::fromStdString(d.name));
        QCOMPARE(probeVulkan().selected, d.index);
    }
}

void TestVulkanAdd::envSelectsByName()
{
    const std::string name = ctx_->deviceInfo().name;
    // A case-changed part of the name, as a person would type it.
    const QByteArray part = QByteArray::fromStdString(name.substr(0, std::min<std::size_t>(name.size(), 6))).toUpper();
    ScopedEnv env("KILN_VULKAN_DEVICE", part);
    auto ctx = vk::Context::create();
    QVERIFY2(ctx.ok(), ctx.ok() ? "" : ctx.error().message().c_str());
    QVERIFY(QString::fromStdString(ctx.value()->deviceInfo().name).contains(QString::fromUtf8(part), Qt::CaseInsensitive));
}

void TestVulkanAdd::envUnknownIsAnErrorListingDevices()
{
    for (const char* value : {"no-such-gpu-xyz", "99"}) {
        ScopedEnv env("KILN_VULKAN_DEVICE", value);
        auto ctx = vk::Context::create();
        QVERIFY(!ctx.ok());
        const std::string msg = ctx.error().message();
        QVERIFY2(msg.find(value) != std::string::npos, msg.c_str());
        QVERIFY2(msg.find("KILN_VULKAN_DEVICE") != std::string::npos, msg.c_str());
        for (const auto& d : report_.devices) QVERIFY2(msg.find(d.name) != std::string::npos, msg.c_str());

        const VulkanReport r = probeVulkan();
        QCOMPARE(r.selected, -1);
        QCOMPARE(r.devices.size(), report_.devices.size());
        QVERIFY(r.message.find(value) != std::string::npos);
    }
}

void TestVulkanAdd::gridLayout()
{
    const std::uint32_t lim[3] = {100, 50, 50};
    auto g = vk::gridFor(0, lim);
    QVERIFY(g.ok() && g.value().groups() == 0);
    g = vk::gridFor(100, lim);
    QVERIFY(g.ok() && g.value().x == 100 && g.value().y == 1);
    g = vk::gridFor(101, lim);  // two rows of 51: one spare group, within both limits
    QVERIFY(g.ok() && g.value().x == 51 && g.value().y == 2);
    g = vk::gridFor(5000, lim);
    QVERIFY(g.ok() && g.value().x == 100 && g.value().y == 50);
    QVERIFY(!vk::gridFor(5001, lim).ok());
    for (std::uint64_t n : {101ull, 999ull, 4321ull}) {
        g = vk::gridFor(n, lim);
        QVERIFY(g.ok());
        QVERIFY(g.value().groups() >= n);
        QVERIFY(g.value().groups() - n < g.value().y);  // fewer spare groups than rows
        QVERIFY(g.value().x <= lim[0] && g.value().y <= lim[1]);
    }
}

// Tolerance: torch computes a + alpha*b on the CPU with a fused multiply-add (one rounding).
// The shader asks for fma() too, but a driver may split it: Mesa 22's lavapipe does (about
// 28% of elements differ by an ulp at alpha = 2.5). Where alpha*b is exact in fp32 (alpha a
// power of two: 1, -0.5) both ways round once and must agree bit for bit. Otherwise they
// differ by at most the product's rounding plus the final rounding, |d| <= u*|alpha*b| +
// 2u*|ref| with u = 2^-24, which FLT_EPSILON * (|alpha*b| + |ref|) bounds. A plain relative
// 1e-6 would be wrong under cancellation (a close to -alpha*b): the result is tiny there but
// the product's rounding error is not.
void TestVulkanAdd::checkAdd(std::uint32_t n, float alpha)
{
    const auto ta = torch::randn({std::int64_t(n)});
    const auto tb = torch::randn({std::int64_t(n)});
    const auto ref = toVector(torch::add(ta, tb, alpha));
    const auto va = toVector(ta), vb = toVector(tb);

    auto a = vk::Buffer::fromFloats(*ctx_, va, "a");
    auto b = vk::Buffer::fromFloats(*ctx_, vb, "b");
    auto out = vk::Buffer::create(*ctx_, n * sizeof(float), "out");
    QVERIFY(a.ok() && b.ok() && out.ok());
    // Garbage in `out` proves every element is written.
    std::vector<float> got(n, std::nanf(""));
    QVERIFY(out.value().upload(got).ok());

    auto r = vk::addVulkan(*ctx_, a.value(), b.value(), out.value(), alpha, n);
    QVERIFY2(r.ok(), r.ok() ? "" : r.error().message().c_str());
    QVERIFY(out.value().download(got).ok());

    const float pow2 = std::fabs(alpha);
    const bool exact = pow2 != 0 && std::ldexp(1.0f, std::ilogb(pow2)) == pow2;
    std::uint32_t inexact = 0;
    for (std::uint32_t i = 0; i < n; ++i) {
        const float tol = exact ? 0.0f : FLT_EPSILON * (std::fabs(alpha * vb[i]) + std::fabs(ref[i]));
        inexact += got[i] != ref[i];
        if (!(std::fabs(got[i] - ref[i]) <= tol))
            QFAIL(qPrintable(QString("n=%1 alpha=%2: element %3 is %4, torch::add gives %5 (tolerance %6)")
                                 .arg(n).arg(alpha).arg(i).arg(double(got[i]), 0, 'g', 9).arg(double(ref[i]), 0, 'g', 9)
                                 .arg(double(tol))));
    }
    // Shows whether this driver rounds differently from torch at all (fused vs separate).
    if (inexact) qInfo("n=%u alpha=%g: %u of %u elements differ from torch::add within tolerance", n, double(alpha),
                       inexact, n);
}

void TestVulkanAdd::add_data()
{
    QTest::addColumn<quint32>("n");
    QTest::addColumn<float>("alpha");
    for (quint32 n : {1u, 7u, 255u, 256u, 257u, 1000u, 65537u, 1u << 20})
        for (float alpha : {1.0f, -0.5f, 2.5f})
            QTest::addRow("n=%u alpha=%g", n, double(alpha)) << n << alpha;
}

void TestVulkanAdd::add()
{
    QFETCH(quint32, n);
    QFETCH(float, alpha);
    checkAdd(n, alpha);
}

void TestVulkanAdd::addEmpty()
{
    auto a = vk::Buffer::create(*ctx_, 0, "a");
    auto b = vk::Buffer::create(*ctx_, 0, "b");
    auto out = vk::Buffer::create(*ctx_, 0, "out");
    QVERIFY(a.ok() && b.ok() && out.ok());
    QCOMPARE(a.value().floats(), std::size_t(0));
    auto r = vk::addVulkan(*ctx_, a.value(), b.value(), out.value(), 2.0f, 0);
    QVERIFY2(r.ok(), r.ok() ? "" : r.error().message().c_str());
}

void TestVulkanAdd::addInPlace()
{
    const std::uint32_t n = 777;
    const auto ta = torch::randn({n});
    const auto tb = torch::randn({n});
    const auto ref = toVector(torch::add(ta, tb, 1.0f));
    auto a = vk::Buffer::fromFloats(*ctx_, toVector(ta), "a");
    auto b = vk::Buffer::fromFloats(*ctx_, toVector(tb), "b");
    QVERIFY(a.ok() && b.ok());
    auto r = vk::addVulkan(*ctx_, a.value(), b.value(), a.value(), 1.0f, n);  // a += b
    QVERIFY2(r.ok(), r.ok() ? "" : r.error().message().c_str());
    std::vector<float> got(n);
    QVERIFY(a.value().download(got).ok());
    QVERIFY(std::memcmp(got.data(), ref.data(), n * sizeof(float)) == 0);
}

void TestVulkanAdd::addSpecialValues()
{
    const float inf = INFINITY, nan = NAN;
    const std::vector<float> va{inf, -inf, nan, 1.0f, 3e38f, -0.0f, 0.0f, 1.0f};
    const std::vector<float> vb{1.0f, 2.0f, 1.0f, nan, 3e38f, -0.0f, -0.0f, inf};
    const float alpha = 1.0f;
    const auto ref = toVector(torch::add(torch::tensor(va), torch::tensor(vb), alpha));
    auto a = vk::Buffer::fromFloats(*ctx_, va, "a");
    auto b = vk::Buffer::fromFloats(*ctx_, vb, "b");
    auto out = vk::Buffer::create(*ctx_, va.size() * sizeof(float), "out");
    QVERIFY(a.ok() && b.ok() && out.ok());
    QVERIFY(vk::addVulkan(*ctx_, a.value(), b.value(), out.value(), alpha, std::uint32_t(va.size())).ok());
    std::vector<float> got(va.size());
    QVERIFY(out.value().download(got).ok());
    for (std::size_t i = 0; i < va.size(); ++i) {
        if (std::isnan(ref[i])) {
            QVERIFY2(std::isnan(got[i]), qPrintable(QString("element %1").arg(i)));
            continue;
        }
        QCOMPARE(got[i], ref[i]);
        QCOMPARE(std::signbit(got[i]), std::signbit(ref[i]));  // -0 + -0 stays -0
    }
}

void TestVulkanAdd::addTwoDimensionalGrid()
{
    // One element past a full row of workgroups forces a second row of the grid.
    const std::uint64_t n = std::uint64_t(ctx_->limits().maxComputeWorkGroupCount[0]) * 256 + 1000;
    if (n * sizeof(float) > ctx_->limits().maxStorageBufferRange)
        QSKIP("this device binds a whole row of workgroups' data in no storage buffer; gridLayout covers the maths");
    checkAdd(std::uint32_t(n), 2.5f);
}

void TestVulkanAdd::addRejectsShortBuffers()
{
    auto a = vk::Buffer::create(*ctx_, 100 * sizeof(float), "a");
    auto b = vk::Buffer::create(*ctx_, 100 * sizeof(float), "b");
    auto out = vk::Buffer::create(*ctx_, 50 * sizeof(float), "out");
    QVERIFY(a.ok() && b.ok() && out.ok());
    auto r = vk::addVulkan(*ctx_, a.value(), b.value(), out.value(), 1.0f, 100);
    QVERIFY(!r.ok());
    const std::string msg = r.error().message();
    QVERIFY2(msg.find("add") != std::string::npos && msg.find("out") != std::string::npos, msg.c_str());
    QVERIFY(!ctx_->lost());  // a refused call leaves the context usable

    std::vector<float> tooMany(51);
    QVERIFY(!out.value().upload(tooMany).ok());
    QVERIFY(!out.value().download(tooMany).ok());
}

void TestVulkanAdd::errorsSayWhatToDo()
{
    const Error lost = vk::vulkanError(VK_ERROR_DEVICE_LOST, "add failed", "Vulkan op add");
    QVERIFY(lost.what.find("device was lost") != std::string::npos);
    QVERIFY(!lost.hint.empty());
    const Error oom = vk::vulkanError(VK_ERROR_OUT_OF_DEVICE_MEMORY, "could not allocate", "out");
    QVERIFY(oom.what.find("out of GPU memory") != std::string::npos);
    QVERIFY(oom.hint.find("smaller") != std::string::npos);
    QCOMPARE(QString::fromStdString(oom.where), QStringLiteral("out"));
}

void TestVulkanAdd::lostContextRefusesWork()
{
    // A context of its own: after a loss nothing may be submitted, so ctx_ must stay clean.
    auto ctx = vk::Context::create();
    QVERIFY(ctx.ok());
    auto a = vk::Buffer::create(*ctx.value(), 16 * sizeof(float), "a");
    QVERIFY(a.ok());
    ctx.value()->markLost("add did not finish within 60 s");
    QVERIFY(ctx.value()->lost());
    auto r = vk::addVulkan(*ctx.value(), a.value(), a.value(), a.value(), 1.0f, 16);
    QVERIFY(!r.ok());
    QVERIFY2(r.error().message().find("did not finish within 60 s") != std::string::npos, r.error().message().c_str());
    QVERIFY(!vk::Buffer::create(*ctx.value(), 4, "b").ok());
}

QTEST_GUILESS_MAIN(TestVulkanAdd)
#include "test_vulkan_add.moc"
