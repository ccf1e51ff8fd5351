#version 450
// out = act(conv2d(x, weight) + bias), one output per invocation. For convolutions with few
// output channels per group (depthwise ones above all), where conv2d.comp's 64-row tiles would
// mostly compute rows that do not exist.
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
    const uint g = oc / pc.ocg;
    const int iy0 = int(oy * pc.strideH) - int(pc.padH);
    const int ix0 = int(ox * pc.strideW) - int(pc.padW);

    float sum = 0.0;
    for (uint ic = 0u; ic < pc.icg; ++ic) {
        const uint xPlane = (b * pc.inC + g * pc.icg + ic) * pc.inH;
        const uint wBase = (oc * pc.icg + ic) * pc.kH * pc.kW;
        for (uint ky = 0u; ky < pc.kH; ++ky) {
            const int iy = iy0 + int(ky * pc.dilH);
            if (iy < 0 || iy >= int(pc.inH)) continue;
            const uint xRow = (xPlane + uint(iy)) * pc.inW;
            for (uint kx = 0u; kx < pc.kW; ++kx) {
                const int ix = ix0 + int(kx * pc.dilW);
                if (ix < 0 || ix >= int(pc.inW)) continue;
                sum = fma(x[xRow + uint(ix)], float(w[wBase + ky * pc.kW + kx]), sum);
            }
        }
    }
    if (pc.hasBias != 0u) sum += bias[oc];
    o[idx] = kiln_activate(sum, pc.act, pc.actParam);
}
