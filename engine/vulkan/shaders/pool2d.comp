#version 450
// Max or average 2-D pooling on NCHW with torch's meaning (floor mode). One invocation per
// output element; the planes (batch * channels) are independent.

layout(local_size_x = 256) in;

layout(set = 0, binding = 0) readonly buffer X { float x[]; };
layout(set = 0, binding = 1) writeonly buffer Out { float o[]; };

layout(push_constant) uniform Push {
    uint total;  // planes * outH * outW, < 2^30 (it fits one storage buffer)
    uint inH, inW, outH, outW;
    uint kernel, stride, pad;
    uint kind;  // 0 max, 1 avg
} pc;

void main()
{
    const uint group = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
    const uint i = group * 256u + gl_LocalInvocationID.x;
    if (i >= pc.total) return;
    const uint ow = i % pc.outW;
    const uint oh = (i / pc.outW) % pc.outH;
    const uint plane = i / (pc.outW * pc.outH);

    // Signed: a window may start in the padding above or left of the plane.
    const int h0 = int(oh * pc.stride) - int(pc.pad);
    const int w0 = int(ow * pc.stride) - int(pc.pad);
    // torch divides by the window clipped to the padded plane, not to the plane itself
    // (count_include_pad); in floor mode that is always kernel^2, but the clip keeps it exact.
    const int h1 = min(h0 + int(pc.kernel), int(pc.inH + pc.pad));
    const int w1 = min(w0 + int(pc.kernel), int(pc.inW + pc.pad));
    const float divisor = float((h1 - h0) * (w1 - w0));
    const int hs = max(h0, 0), ws = max(w0, 0);
    const int he = min(h1, int(pc.inH)), we = min(w1, int(pc.inW));

    const uint base = plane * pc.inH * pc.inW;
    if (pc.kind == 0u) {
        float m = uintBitsToFloat(0xff800000u);  // -inf
        for (int h = hs; h < he; ++h)
            for (int w = ws; w < we; ++w) {
                const float v = x[base + uint(h) * pc.inW + uint(w)];
                // As torch: a NaN anywhere in the window wins.
                if (v > m || isnan(v)) m = v;
            }
        o[i] = m;
    } else {
        float s = 0.0;
        for (int h = hs; h < he; ++h)
            for (int w = ws; w < we; ++w) s += x[base + uint(h) * pc.inW + uint(w)];
        o[i] = s / divisor;
    }
}
