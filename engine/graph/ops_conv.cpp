// Convolutions and pooling over [B, C, H, W]. Square kernels: one kernel_size, stride and padding
// for both axes keeps the inspector short, and every sample graph needs no more.
#include "graph/ops_common.h"

#include <algorithm>

namespace kiln::graph::ops {

namespace {

const char* kImageLayout = "[B, C, H, W]";
const char* kImageHint = "feed it images, or put a Reshape before it that makes [B, C, H, W]";

// The size a sliding window leaves along one axis (PyTorch's formula, floor mode).
Result<Dim> slide(const InferContext& c, const char* axis, const Dim& in, std::int64_t k, std::int64_t stride,
                  std::int64_t pad, std::int64_t dilation)
{
    const std::int64_t span = dilation * (k - 1) + 1;
    const std::int64_t out = (in.size + 2 * pad - span) / stride + 1;
    if (in.size + 2 * pad < span || out < 1)
        return fail(c.type.displayName + " would leave nothing: the input's " + axis + " is " + std::to_string(in.size) +
                        " (with padding " + std::to_string(pad) + ") but the window spans " + std::to_string(span),
                    "use a smaller kernel_size, more padding, or fewer downsampling steps before it");
    return Dim::of(out);
}

Result<void> imageInput(const InferContext& c)
{
    if (auto ok = requireFloat(c, 0); !ok) return ok;
    if (auto ok = requireRank(c, 0, 4, kImageLayout, kImageHint); !ok) return ok;
    if (auto ok = requireKnown(c, 0, 2); !ok) return ok;
    return requireKnown(c, 0, 3);
}

Result<void> groupsDivide(const InferContext& c)
{
    const auto g = c.params.i("groups");
    for (const char* p : {"in_channels", "out_channels"})
        if (c.params.i(p) % g != 0)
            return fail(std::string(p) + " (" + std::to_string(c.params.i(p)) + ") must be divisible by groups (" +
                            std::to_string(g) + ")",
                        "set groups to a divisor of both channel counts");
    return success();
}

Result<InferResult> inferConv(const InferContext& c)
{
    if (auto ok = imageInput(c); !ok) return ok.error();
    if (auto ok = requireParamMatches(c, 0, 1, "in_channels"); !ok) return ok.error();
    if (auto ok = groupsDivide(c); !ok) return ok.error();
    const auto& in = *c.inputs[0];
    const auto k = c.params.i("kernel_size"), s = c.params.i("stride"), p = c.params.i("padding"),
               d = c.params.i("dilation"), g = c.params.i("groups");
    auto h = slide(c, "height", in.dims[2], k, s, p, d);
    if (!h) return h.error();
    auto w = slide(c, "width", in.dims[3], k, s, p, d);
    if (!w) return w.error();
    const auto cin = c.params.i("in_channels"), cout = c.params.i("out_channels");
    InferResult r;
    r.outputs.push_back(Shape{{in.dims[0], Dim::of(cout), *h, *w}});
    const auto perOutput = (cin / g) * k * k;
    r.params = static_cast<std::uint64_t>(cout * perOutput + (c.params.b("bias") ? cout : 0));
    r.flops = 2.0 * static_cast<double>(cout) * elements({{*h, *w}}) * static_cast<double>(perOutput);
    return r;
}

Result<InferResult> inferConvTranspose(const InferContext& c)
{
    if (auto ok = imageInput(c); !ok) return ok.error();
    if (auto ok = requireParamMatches(c, 0, 1, "in_channels"); !ok) return ok.error();
    if (auto ok = groupsDivide(c); !ok) return ok.error();
    const auto k = c.params.i("kernel_size"), s = c.params.i("stride"), p = c.params.i("padding"),
               op = c.params.i("output_padding"), d = c.params.i("dilation"), g = c.params.i("groups");
    if (op >= std::max(s, d))
        return fail("output_padding (" + std::to_string(op) + ") must be smaller than stride or dilation",
                    "set output_padding below " + std::to_string(std::max(s, d)));
    const auto& in = *c.inputs[0];
    auto grow = [&](const Dim& x) { return (x.size - 1) * s - 2 * p + d * (k - 1) + op + 1; };
    const auto h = grow(in.dims[2]), w = grow(in.dims[3]);
    if (h < 1 || w < 1)
        return fail("ConvTranspose2d would leave nothing: padding " + std::to_string(p) + " removes more than it makes",
                    "use less padding");
    const auto cin = c.params.i("in_channels"), cout = c.params.i("out_channels");
    InferResult r;
    r.outputs.push_back(Shape{{in.dims[0], Dim::of(cout), Dim::of(h), Dim::of(w)}});
    const auto perInput = (cout / g) * k * k;
    r.params = static_cast<std::uint64_t>(cin * perInput + (c.params.b("bias") ? cout : 0));
    r.flops = 2.0 * static_cast<double>(cin) * elements({{in.dims[2], in.dims[3]}}) * static_cast<double>(perInput);
    return r;
}

Result<InferResult> inferPool(const InferContext& c)
{
    if (auto ok = imageInput(c); !ok) return ok.error();
    const auto k = c.params.i("kernel_size"), p = c.params.i("padding");
    const auto s = c.params.i("stride") == 0 ? k : c.params.i("stride");
    if (2 * p > k)
        return fail("padding (" + std::to_string(p) + ") must be at most half of kernel_size (" + std::to_string(k) + ")",
                    "set padding to " + std::to_string(k / 2) + " or less");
    const auto& in = *c.inputs[0];
    auto h = slide(c, "height", in.dims[2], k, s, p, 1);
    if (!h) return h.error();
    auto w = slide(c, "width", in.dims[3], k, s, p, 1);
    if (!w) return w.error();
    InferResult r;
    r.outputs.push_back(Shape{{in.dims[0], in.dims[1], *h, *w}});
    r.flops = elements(r.outputs[0]) * static_cast<double>(k * k);
    return r;
}

std::vector<ParamSpec> poolParams()
{
    return {intParam("kernel_size", 2, 1, 1024, "window size"),
            intParam("stride", 0, 0, 1024, "step between windows; 0 = kernel_size"),
            intParam("padding", 0, 0, 512, "rows and columns added on each side (at most kernel_size / 2)")};
}

}  // namespace

void addConvNodes(NodeRegistry& r)
{
    mustAdd(r, NodeType{
        .id = "node.conv2d",
        .category = "Convolution",
        .displayName = "Conv2d",
        .nameStem = "conv",
        .description = "2-D convolution: out_channels filters of kernel_size × kernel_size slide over the image.",
        .inputs = {input("in", "[B, in_channels, H, W]")},
        .outputs = {output("out", "[B, out_channels, H', W']")},
        .params = {intParam("in_channels", 1, 1, 1 << 20, "channels of the input (C of [B, C, H, W])"),
                   intParam("out_channels", 16, 1, 1 << 20, "number of filters"),
                   intParam("kernel_size", 3, 1, 1024, "filter size"),
                   intParam("stride", 1, 1, 1024, "step between filter positions; 2 halves H and W"),
                   intParam("padding", 1, 0, 1024, "zeros added on each side; (kernel_size-1)/2 keeps H and W"),
                   intParam("dilation", 1, 1, 1024, "spacing between filter taps"),
                   intParam("groups", 1, 1, 1 << 20, "split channels into groups (in_channels = depthwise)"),
                   boolParam("bias", true, "add a learned bias per output channel")},
        .infer = inferConv,
    });

    mustAdd(r, NodeType{
        .id = "node.conv_transpose2d",
        .category = "Convolution",
        .displayName = "ConvTranspose2d",
        .nameStem = "upconv",
        .description = "Transposed 2-D convolution (learned upsampling); kernel 2, stride 2 doubles H and W.",
        .inputs = {input("in", "[B, in_channels, H, W]")},
        .outputs = {output("out", "[B, out_channels, H', W']")},
        .params = {intParam("in_channels", 16, 1, 1 << 20, "channels of the input"),
                   intParam("out_channels", 16, 1, 1 << 20, "channels of the output"),
                   intParam("kernel_size", 2, 1, 1024, "filter size"),
                   intParam("stride", 2, 1, 1024, "upsampling factor"),
                   intParam("padding", 0, 0, 1024, "rows and columns removed on each side of the output"),
                   intParam("output_padding", 0, 0, 1024, "extra rows and columns on one side of the output"),
                   intParam("dilation", 1, 1, 1024, "spacing between filter taps"),
                   intParam("groups", 1, 1, 1 << 20, "split channels into groups"),
                   boolParam("bias", true, "add a learned bias per output channel")},
        .infer = inferConvTranspose,
    });

    mustAdd(r, NodeType{
        .id = "node.maxpool2d",
        .category = "Pooling",
        .displayName = "MaxPool2d",
        .nameStem = "pool",
        .description = "Keeps the largest value of each window; kernel 2 halves H and W.",
        .inputs = {input("in", kImageLayout)},
        .outputs = {output("out", "[B, C, H', W']")},
        .params = poolParams(),
        .infer = inferPool,
    });

    mustAdd(r, NodeType{
        .id = "node.avgpool2d",
        .category = "Pooling",
        .displayName = "AvgPool2d",
        .nameStem = "avgpool",
        .description = "Averages each window (padding counts as zeros); kernel 2 halves H and W.",
        .inputs = {input("in", kImageLayout)},
        .outputs = {output("out", "[B, C, H', W']")},
        .params = poolParams(),
        .infer = inferPool,
    });

    mustAdd(r, NodeType{
        .id = "node.adaptive_avgpool2d",
        .category = "Pooling",
        .displayName = "AdaptiveAvgPool2d",
        .nameStem = "gap",
        .description = "Averages into a fixed output_size × output_size grid whatever H and W are; 1 gives "
                       "global average pooling.",
        .inputs = {input("in", kImageLayout)},
        .outputs = {output("out", "[B, C, output_size, output_size]")},
        .params = {intParam("output_size", 1, 1, 4096, "H and W of the output")},
        .infer = [](const InferContext& c) -> Result<InferResult> {
            if (auto ok = imageInput(c); !ok) return ok.error();
            const auto& in = *c.inputs[0];
            const auto o = c.params.i("output_size");
            InferResult r;
            r.outputs.push_back(Shape{{in.dims[0], in.dims[1], Dim::of(o), Dim::of(o)}});
            r.flops = static_cast<double>(in.perSample());
            return r;
        },
    });
}

}  // namespace kiln::graph::ops
