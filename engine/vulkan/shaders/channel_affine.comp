#version 450
// out[o, c, i] = act(x[o, c, i] * scale[c] + shift[c]) on x viewed as [outer, channels, inner]:
// a bias + activation epilogue, or batch norm for inference with its statistics folded into
// scale and shift. `out` may alias `x` (in place).
#extension GL_GOOGLE_include_directive : require
#include "activation.glsl"

layout(local_size_x = 256) in;

layout(set = 0, binding = 0) readonly buffer X { float x[]; };
layout(set = 0, binding = 1) readonly buffer Scale { float scale[]; };
layout(set = 0, binding = 2) readonly buffer Shift { float shift[]; };
layout(set = 0, binding = 3) writeonly buffer Out { float o[]; };

layout(push_constant) uniform Push {
    uint n;
    uint inner;
    uint channels;
    uint act;
    float param;
    uint flags;  // 1: scale is bound, 2: shift is bound (otherwise a dummy is)
} pc;

void main()
{
    const uint i = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * 256u + gl_LocalInvocationID.x;
    if (i >= pc.n) return;
    const uint c = (i / pc.inner) % pc.channels;
    float v = x[i];
    if ((pc.flags & 1u) != 0u) v *= scale[c];
    if ((pc.flags & 2u) != 0u) v += shift[c];
    o[i] = kiln_activate(v, pc.act, pc.param);
}
