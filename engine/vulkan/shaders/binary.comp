#version 450
// out = a op b with broadcasting. The host folds the shapes to at most 8 dimensions where a
// broadcast operand has stride 0, and merges dimensions that are contiguous in all three
// tensors, so the common cases (same shape, a scalar, a [C] row) loop once or not at all.
// `out` may alias `a` or `b` when that operand has the output's shape (in place).

layout(local_size_x = 256) in;

layout(set = 0, binding = 0) readonly buffer A { float a[]; };
layout(set = 0, binding = 1) readonly buffer B { float b[]; };
layout(set = 0, binding = 2) writeonly buffer Out { float o[]; };

layout(push_constant) uniform Push {
    uint n;
    uint op;     // kiln::vk::BinaryOp
    uint ndim;   // 0: both operands are contiguous with the output's shape
    uint pad;
    uint size[8];     // the output's sizes, outermost first
    uint strideA[8];  // in floats; 0 where a repeats
    uint strideB[8];
} pc;

void main()
{
    const uint i = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * 256u + gl_LocalInvocationID.x;
    if (i >= pc.n) return;
    uint ia = i, ib = i;
    if (pc.ndim > 0u) {
        ia = 0u;
        ib = 0u;
        uint rest = i;
        for (int d = int(pc.ndim) - 1; d >= 0; --d) {
            const uint s = pc.size[d];
            const uint c = rest % s;
            rest /= s;
            ia += c * pc.strideA[d];
            ib += c * pc.strideB[d];
        }
    }
    const float va = a[ia], vb = b[ib];
    float r;
    switch (pc.op) {
    case 1u: r = va - vb; break;
    case 2u: r = va * vb; break;
    case 3u: r = va / vb; break;
    default: r = va + vb; break;
    }
    o[i] = r;
}
