#version 450
// out = conv_transpose2d(x, weight) + bias, gathered: one output per invocation, summing over the
// input positions whose scattered kernel window covers it. Input (iy, ix) reaches output
// (iy * stride - pad + ky * dilation, ...), so output oy takes iy = (oy + pad - ky * dilation) /
// stride wherever that divides exactly and lies inside x. weight is [inC, ocg, kH, kW].
// Gathering writes each output once, so no atomics and no zeroing pass are needed.
#extension GL_GOOGLE_include_directive : require
#include "weights.glsl"
#include "activation.glsl"
#include "conv_push.glsl"

layout(local_size_x = 256) in;

layout(set = 0, binding = 0) restrict readonly buffer X { float x[]; };
layout(set = 0, binding = 1) restrict readonly buffer W { KILN_WEIGHT w[]; };
layout(set = 0, binding = 2) restrict readonly buffer Bias { float bias[]; };
layout(set = 0, binding = 3) restrict writeonly buffer Out { float o[]; };

void main()
{
    const uint group = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
    const uint idx = group * 256u + gl_LocalInvocationID.x;
    if (idx >= pc.total) return;
    const uint ox = idx % pc.outW;
    uint rest = idx / pc.outW;
    const uint oy = rest % pc.outH;
    rest /= pc.outH;
    const uint oc = rest % pc.outC, b = rest / pc.outC;
    const uint g = oc / pc.ocg, ocl = oc % pc.ocg;
    const uint khw = pc.kH * pc.kW, ihw = pc.inH * pc.inW;
    const uint xBase = (b * pc.inC + g * pc.icg) * ihw;
    const uint wBase = ((g * pc.icg) * pc.ocg + ocl) * khw;
    const uint wStride = pc.ocg * khw;  // from one input channel to the next

    float sum = 0.0;
    for (uint ky = 0u; ky < pc.kH; ++ky) {
        const int ty = int(oy + pc.padH) - int(ky * pc.dilH);
        if (ty < 0 || uint(ty) % pc.strideH != 0u) continue;
        const uint iy = uint(ty) / pc.strideH;
        if (iy >= pc.inH) continue;
        for (uint kx = 0u; kx < pc.kW; ++kx) {
            const int tx = int(ox + pc.padW) - int(kx * pc.dilW);
            if (tx < 0 || uint(tx) % pc.strideW != 0u) continue;
            const uint ix = uint(tx) / pc.strideW;
            if (ix >= pc.inW) continue;
            uint xi = xBase + iy * pc.inW + ix, wi = wBase + ky * pc.kW + kx;
            for (uint ic = 0u; ic < pc.icg; ++ic, xi += ihw, wi += wStride) sum = fma(x[xi], float(w[wi]), sum);
        }
    }
    if (pc.hasBias != 0u) sum += bias[oc];
    o[idx] = kiln_activate(sum, pc.act, pc.actParam);
}
