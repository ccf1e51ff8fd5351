// Shared by the Vulkan op tests: one context, memory and recorder per test binary, torch tensors
// moved to and from the device, and the error measure the tolerances are stated in.
//
//   VulkanFixture vk;                                  // in initTestCase: if (!vk.open()) QSKIP(...)
//   auto x = vk.toDevice(torch::randn({2, 3}));        // Allocation with the tensor's values
//   ...op(*vk.rec, x.region(), ...)...
//   torch::Tensor got = vk.fromDevice(out.region(), {2, 3});   // submits and waits
#pragma once

#include "vulkan/context.h"
#include "vulkan/memory.h"
#include "vulkan/recorder.h"

#include <torch/types.h>

#include <QtTest/QtTest>

#include <memory>
#include <string>
#include <vector>

namespace kiln::test {

struct VulkanFixture {
    std::shared_ptr<vk::Context> ctx;
    std::shared_ptr<vk::MemoryPool> pool;
    std::unique_ptr<vk::Recorder> rec;
    std::string skipReason;

    // False (with skipReason) where no Vulkan device exists; tests then QSKIP with the reason.
    bool open()
    {
        auto c = vk::Context::create();
        if (!c) {
            skipReason = "no Vulkan device: " + c.error().message();
            return false;
        }
        ctx = c.value();
        pool = vk::MemoryPool::create(*ctx, vk::MemoryKind::Device);
        auto r = vk::Recorder::create(*ctx);
        if (!r) {
            skipReason = r.error().message();
            return false;
        }
        rec = std::move(r.value());
        return true;
    }

    vk::Allocation alloc(std::uint64_t floats, const char* label = "tensor")
    {
        auto a = pool->allocate(floats * 4, label);
        if (!a) qFatal("allocation failed: %s", a.error().message().c_str());
        return std::move(a.value());
    }

    // Records the upload; it runs with the next submit, before the ops recorded after it.
    vk::Allocation toDevice(const torch::Tensor& t, const char* label = "tensor")
    {
        const torch::Tensor c = t.to(torch::kFloat32).contiguous();
        vk::Allocation a = alloc(std::uint64_t(c.numel()), label);
        auto up = rec->upload(a.region(), std::span<const float>(c.data_ptr<float>(), std::size_t(c.numel())));
        if (!up) qFatal("upload failed: %s", up.error().message().c_str());
        return a;
    }

    // Submits everything recorded so far and returns `region` as a tensor of `sizes`.
    torch::Tensor fromDevice(const vk::Region& region, std::vector<std::int64_t> sizes)
    {
        torch::Tensor t = torch::empty(sizes, torch::kFloat32);
        auto down = rec->download(region, std::span<float>(t.data_ptr<float>(), std::size_t(t.numel())));
        if (!down) qFatal("download failed: %s", down.error().message().c_str());
        auto run = rec->submit();
        if (!run) qFatal("submit failed: %s", run.error().message().c_str());
        return t;
    }
};

// max |got - ref| / max(max |ref|, 1): the relative error the op tolerances are stated in
// (an absolute error for tensors of small values).
inline double relativeError(const torch::Tensor& got, const torch::Tensor& ref)
{
    if (got.sizes() != ref.sizes()) return 1e30;
    if (ref.numel() == 0) return 0;
    const double diff = (got.to(torch::kFloat64) - ref.to(torch::kFloat64)).abs().max().item<double>();
    const double scale = std::max(ref.abs().max().item<double>(), 1.0);
    return diff / scale;
}

}  // namespace kiln::test

// QVERIFY that `got` is within `tol` (relativeError) of `ref`; prints the error either way.
#define KILN_COMPARE_TENSORS(got, ref, tol)                                                            \
    do {                                                                                              \
        const double kiln_err_ = kiln::test::relativeError((got), (ref));                            \
        QVERIFY2(kiln_err_ <= (tol), qPrintable(QStringLiteral("relative error %1 > %2 (sizes %3 vs %4)") \
                                                   .arg(kiln_err_)                                    \
                                                   .arg(double(tol))                                  \
                                                   .arg(QString::number((got).dim()))                 \
                                                   .arg(QString::number((ref).dim()))));              \
    } while (0)
