#version 450
// torch::adaptive_avg_pool2d on NCHW: output cell i averages input rows
// [floor(i*in/out), ceil((i+1)*in/out)), likewise for columns. One invocation per output element.

layout(local_size_x = 256) in;

layout(set = 0, binding = 0) readonly buffer X { float x[]; };
layout(set = 0, binding = 1) writeonly buffer Out { float o[]; };

layout(push_constant) uniform Push {
    uint total;  // planes * outH * outW
    uint inH, inW, outH, outW;
} pc;

void main()
{
    const uint group = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
    const uint i = group * 256u + gl_LocalInvocationID.x;
    if (i >= pc.total) return;
    const uint ow = i % pc.outW;
    const uint oh = (i / pc.outW) % pc.outH;
    const uint plane = i / (pc.outW * pc.outH);

    // The host keeps in * out below 2^32, so these products do not wrap.
    const uint hs = (oh * pc.inH) / pc.outH;
    const uint he = ((oh + 1u) * pc.inH + pc.outH - 1u) / pc.outH;
    const uint ws = (ow * pc.inW) / pc.outW;
    const uint we = ((ow + 1u) * pc.inW + pc.outW - 1u) / pc.outW;

    const uint base = plane * pc.inH * pc.inW;
    float s = 0.0;
    for (uint h = hs; h < he; ++h)
        for (uint w = ws; w < we; ++w) s += x[base + h * pc.inW + w];
    o[i] = s / float((he - hs) * (we - ws));
}
