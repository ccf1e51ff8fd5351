#include "vulkan/ops/elementwise_vulkan.h"

#include "vulkan/ops/elementwise_checks.h"

#include <algorithm>
#include <array>
#include <exception>

namespace kiln::vk {

namespace {

const std::uint32_t kUnarySpv[] = {
#include "unary.spv.inc"
};
const std::uint32_t kBinarySpv[] = {
#include "binary.spv.inc"
};
const std::uint32_t kChannelAffineSpv[] = {
#include "channel_affine.spv.inc"
};

constexpr std::uint32_t kLocalSize = 256;  // local_size_x of unary.comp, binary.comp, channel_affine.comp
constexpr std::size_t kMaxDims = 8;        // the arrays in binary.comp's push constants

// The shaders' push_constant blocks (std430: 4-byte members, uint arrays with a 4-byte stride).
struct UnaryPush {
    std::uint32_t n;
    std::uint32_t act;
    float param;
};
static_assert(sizeof(UnaryPush) == 12);

struct BinaryPush {
    std::uint32_t n;
    std::uint32_t op;
    std::uint32_t ndim;
    std::uint32_t pad = 0;
    std::array<std::uint32_t, kMaxDims> size{};
    std::array<std::uint32_t, kMaxDims> strideA{};
    std::array<std::uint32_t, kMaxDims> strideB{};
};
static_assert(sizeof(BinaryPush) == 112);  // within the 128 bytes every device must offer

struct ChannelAffinePush {
    std::uint32_t n;
    std::uint32_t inner;
    std::uint32_t channels;
    std::uint32_t act;
    float param;
    std::uint32_t flags;
};
static_assert(sizeof(ChannelAffinePush) == 24);

std::string sizesText(const std::vector<std::int64_t>& sizes)
{
    std::string s = "[";
    for (std::size_t i = 0; i < sizes.size(); ++i) s += (i ? ", " : "") + std::to_string(sizes[i]);
    return s + "]";
}

Result<std::uint64_t> numelOf(const std::vector<std::int64_t>& sizes, const char* name, const std::string& op)
{
    std::uint64_t n = 1;
    for (std::int64_t s : sizes) {
        auto p = checkedProduct(n, std::uint64_t(s));
        if (!p)
            return makeError(std::string(name) + " " + sizesText(sizes) + " has too many elements", "Vulkan op " + op);
        n = *p;
    }
    return n;
}

const char* binaryName(BinaryOp op)
{
    switch (op) {
    case BinaryOp::Add: return "add";
    case BinaryOp::Sub: return "sub";
    case BinaryOp::Mul: return "mul";
    case BinaryOp::Div: return "div";
    }
    return "binary";
}

}  // namespace

Result<void> unaryVulkan(Recorder& rec, const Region& x, const Region& out, std::uint64_t n, Activation act,
                         float param)
{
    const std::string op = "unary";
    const std::string where = "Vulkan op " + op;
    try {
        if (auto usable = rec.context().checkUsable(); !usable) return usable.error();
        if (auto ok = checkActivation(act, op); !ok) return ok;
        if (n == 0) return success();
        if (auto ok = checkBindable(rec, n, "x", op); !ok) return ok;
        if (auto ok = checkRegion(x, n, "x", op); !ok) return ok;
        if (auto ok = checkRegion(out, n, "out", op); !ok) return ok;
        const Region xs = x.slice(0, n), os = out.slice(0, n);
        if (auto ok = checkAlias(xs, os, "x", op); !ok) return ok;

        auto pipe = rec.pipeline(op, kUnarySpv, PipelineLayoutSpec{2, sizeof(UnaryPush)});
        if (!pipe) return pipe.error();
        auto grid = linearGrid(rec, n, kLocalSize);
        if (!grid) return makeError(grid.error().what, where, grid.error().hint);
        const UnaryPush push{std::uint32_t(n), std::uint32_t(act), param};
        return rec.dispatch(*pipe.value(), {in(xs), vk::out(os)}, pushBytes(push), grid.value(), activationName(act));
    } catch (const std::exception& e) {
        return makeError(std::string("recording failed: ") + e.what(), where);
    }
}

Result<std::vector<std::int64_t>> broadcastSizes(const std::vector<std::int64_t>& a, const std::vector<std::int64_t>& b)
{
    const std::string where = "Vulkan op binary";
    try {
        for (const auto* sizes : {&a, &b}) {
            if (sizes->size() > kMaxDims)
                return makeError("a tensor of " + std::to_string(sizes->size()) + " dimensions " + sizesText(*sizes) +
                                     "; at most " + std::to_string(kMaxDims) + " are supported",
                                 where);
            for (std::int64_t s : *sizes)
                if (s < 0) return makeError("negative size in " + sizesText(*sizes), where);
        }
        const std::size_t nd = std::max(a.size(), b.size());
        std::vector<std::int64_t> out(nd);
        for (std::size_t i = 0; i < nd; ++i) {  // i counts from the right, as torch aligns
            const std::int64_t sa = i < a.size() ? a[a.size() - 1 - i] : 1;
            const std::int64_t sb = i < b.size() ? b[b.size() - 1 - i] : 1;
            if (sa != sb && sa != 1 && sb != 1)
                return makeError("sizes " + sizesText(a) + " and " + sizesText(b) + " do not broadcast: dimension -" +
                                     std::to_string(i + 1) + " is " + std::to_string(sa) + " against " +
                                     std::to_string(sb),
                                 where, "one of the two must be 1 there, or both the same");
            out[nd - 1 - i] = sa == 1 ? sb : sa;
        }
        return out;
    } catch (const std::exception& e) {
        return makeError(std::string("broadcasting failed: ") + e.what(), where);
    }
}

Result<void> binaryVulkan(Recorder& rec, const Region& a, const std::vector<std::int64_t>& aSizes, const Region& b,
                          const std::vector<std::int64_t>& bSizes, const Region& out, BinaryOp op)
{
    const std::string name = "binary";
    const std::string where = "Vulkan op " + name;
    try {
        if (auto usable = rec.context().checkUsable(); !usable) return usable.error();
        if (std::uint32_t(op) > std::uint32_t(BinaryOp::Div))
            return makeError("unknown binary op code " + std::to_string(std::uint32_t(op)), where);
        auto outSizes = broadcastSizes(aSizes, bSizes);
        if (!outSizes) return outSizes.error();
        auto na = numelOf(aSizes, "a", name);
        auto nb = numelOf(bSizes, "b", name);
        auto n = numelOf(outSizes.value(), "out", name);
        if (!na) return na.error();
        if (!nb) return nb.error();
        if (!n) return n.error();
        if (n.value() == 0) return success();
        if (auto ok = checkBindable(rec, n.value(), "out", name); !ok) return ok;
        if (auto ok = checkRegion(a, na.value(), "a", name); !ok) return ok;
        if (auto ok = checkRegion(b, nb.value(), "b", name); !ok) return ok;
        if (auto ok = checkRegion(out, n.value(), "out", name); !ok) return ok;
        const Region as = a.slice(0, na.value()), bs = b.slice(0, nb.value()), os = out.slice(0, n.value());
        // In place is only safe for an operand that is not broadcast: a repeated element would
        // be read after another invocation overwrote it.
        if (auto ok = checkAlias(as, os, "a", name, na.value() == n.value()); !ok) return ok;
        if (auto ok = checkAlias(bs, os, "b", name, nb.value() == n.value()); !ok) return ok;

        // Strides of a and b over the output's dimensions (0 where they repeat), output
        // dimensions of size 1 dropped, and neighbours merged where all strides allow it.
        const std::vector<std::int64_t>& os_ = outSizes.value();
        const std::size_t nd = os_.size();
        struct Dim {
            std::uint64_t size, sa, sb;
        };
        auto strides = [&](const std::vector<std::int64_t>& sizes) {
            std::vector<std::uint64_t> st(nd, 0);
            std::uint64_t s = 1;
            for (std::size_t i = 0; i < sizes.size(); ++i) {
                const std::size_t d = nd - 1 - i;
                const std::uint64_t size = std::uint64_t(sizes[sizes.size() - 1 - i]);
                st[d] = size == 1 ? 0 : s;
                s *= size;
            }
            return st;
        };
        const auto sa = strides(aSizes), sb = strides(bSizes);
        std::vector<Dim> dims;
        for (std::size_t d = 0; d < nd; ++d) {
            const std::uint64_t size = std::uint64_t(os_[d]);
            if (size == 1) continue;
            if (!dims.empty() && dims.back().sa == sa[d] * size && dims.back().sb == sb[d] * size) {
                dims.back() = {dims.back().size * size, sa[d], sb[d]};
                continue;
            }
            dims.push_back({size, sa[d], sb[d]});
        }

        BinaryPush push{};
        push.n = std::uint32_t(n.value());
        push.op = std::uint32_t(op);
        const bool contiguous = dims.empty() || (dims.size() == 1 && dims[0].sa == 1 && dims[0].sb == 1);
        push.ndim = contiguous ? 0 : std::uint32_t(dims.size());
        if (!contiguous)
            for (std::size_t d = 0; d < dims.size(); ++d) {
                push.size[d] = std::uint32_t(dims[d].size);
                push.strideA[d] = std::uint32_t(dims[d].sa);
                push.strideB[d] = std::uint32_t(dims[d].sb);
            }

        auto pipe = rec.pipeline(name, kBinarySpv, PipelineLayoutSpec{3, sizeof(BinaryPush)});
        if (!pipe) return pipe.error();
        auto grid = linearGrid(rec, n.value(), kLocalSize);
        if (!grid) return makeError(grid.error().what, where, grid.error().hint);
        return rec.dispatch(*pipe.value(), {in(as), in(bs), vk::out(os)}, pushBytes(push), grid.value(),
                            binaryName(op));
    } catch (const std::exception& e) {
        return makeError(std::string("recording failed: ") + e.what(), where);
    }
}

Result<void> channelAffineVulkan(Recorder& rec, const Region& x, const Region* scale, const Region* shift,
                                 const Region& out, std::uint64_t outer, std::uint32_t channels, std::uint64_t inner,
                                 Activation act, float param)
{
    const std::string op = "channel_affine";
    const std::string where = "Vulkan op " + op;
    try {
        if (auto usable = rec.context().checkUsable(); !usable) return usable.error();
        if (auto ok = checkActivation(act, op); !ok) return ok;
        auto n = checkedProduct(outer, channels, inner);
        if (!n) return makeError("x has too many elements", where);
        if (*n == 0) return success();
        if (auto ok = checkBindable(rec, *n, "x", op); !ok) return ok;
        if (auto ok = checkRegion(x, *n, "x", op); !ok) return ok;
        if (auto ok = checkRegion(out, *n, "out", op); !ok) return ok;
        if (scale)
            if (auto ok = checkRegion(*scale, channels, "scale", op); !ok) return ok;
        if (shift)
            if (auto ok = checkRegion(*shift, channels, "shift", op); !ok) return ok;
        const Region xs = x.slice(0, *n), os = out.slice(0, *n);
        if (auto ok = checkAlias(xs, os, "x", op); !ok) return ok;
        // An absent operand binds a float of x; the flags keep the shader from reading it.
        const Region dummy = x.slice(0, 1);
        const Region ss = scale ? scale->slice(0, channels) : dummy;
        const Region hs = shift ? shift->slice(0, channels) : dummy;

        auto pipe = rec.pipeline(op, kChannelAffineSpv, PipelineLayoutSpec{4, sizeof(ChannelAffinePush)});
        if (!pipe) return pipe.error();
        auto grid = linearGrid(rec, *n, kLocalSize);
        if (!grid) return makeError(grid.error().what, where, grid.error().hint);
        const ChannelAffinePush push{std::uint32_t(*n), std::uint32_t(inner), channels, std::uint32_t(act), param,
                                     (scale ? 1u : 0u) | (shift ? 2u : 0u)};
        return rec.dispatch(*pipe.value(), {in(xs), in(ss), in(hs), vk::out(os)}, pushBytes(push), grid.value(), op);
    } catch (const std::exception& e) {
        return makeError(std::string("recording failed: ") + e.what(), where);
    }
}

}  // namespace kiln::vk
