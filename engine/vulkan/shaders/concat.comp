#version 450
// One part of torch::cat: x viewed as [outer, inner] goes to columns [offset, offset + inner)
// of out viewed as [outer, outInner]. One invocation per element of the part.

layout(local_size_x = 256) in;

layout(set = 0, binding = 0) readonly buffer X { float x[]; };
layout(set = 0, binding = 1) buffer Out { float o[]; };

layout(push_constant) uniform Push {
    uint total;  // outer * inner, < 2^30
    uint inner;
    uint outInner;
    uint offset;
} pc;

void main()
{
    const uint group = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
    const uint i = group * 256u + gl_LocalInvocationID.x;
    if (i >= pc.total) return;
    const uint row = i / pc.inner;
    const uint col = i - row * pc.inner;
    o[row * pc.outInner + pc.offset + col] = x[i];
}
