#version 450
// out = act(x), one invocation per element. `out` may alias `x` (in place): each invocation
// reads its element before writing it, so the buffers are deliberately not declared restrict.
#extension GL_GOOGLE_include_directive : require
#include "activation.glsl"

layout(local_size_x = 256) in;

layout(set = 0, binding = 0) readonly buffer X { float x[]; };
layout(set = 0, binding = 1) writeonly buffer Out { float o[]; };

layout(push_constant) uniform Push {
    uint n;
    uint act;
    float param;
} pc;

void main()
{
    // The grid may be 2-D and hold spare groups (gridFor); n < 2^30 keeps the index in range.
    const uint i = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * 256u + gl_LocalInvocationID.x;
    if (i >= pc.n) return;
    o[i] = kiln_activate(x[i], pc.act, pc.param);
}
