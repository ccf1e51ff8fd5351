#version 450
// out = a + alpha * b, as torch::add(a, b, alpha). One invocation per element.
// `out` may alias `a` or `b` (an in-place add): each invocation reads its own index before
// writing it, so the buffers are deliberately not declared restrict.

layout(local_size_x = 256) in;

layout(set = 0, binding = 0) readonly buffer A { float a[]; };
layout(set = 0, binding = 1) readonly buffer B { float b[]; };
layout(set = 0, binding = 2) writeonly buffer Out { float o[]; };

layout(push_constant) uniform Push {
    uint n;
    float alpha;
} pc;

void main()
{
    // The grid may be 2-D (see gridFor) and hold a few spare groups; n < 2^30 keeps this in range.
    const uint group = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
    const uint i = group * 256u + gl_LocalInvocationID.x;
    if (i >= pc.n) return;
    // torch's CPU kernel fuses the multiply and add (one rounding); `precise` keeps fma()
    // whole, so GPUs match torch bit for bit. lavapipe (Mesa 22) still splits it into a
    // multiply and an add, hence the tolerance in test_vulkan_add.
    precise float r = fma(pc.alpha, b[i], a[i]);
    o[i] = r;
}
