#version 450
// Softmax over the middle dimension of [outer, dim, inner] for inner > 1, one invocation per
// (outer, inner) column: neighbouring invocations read neighbouring floats, which the
// row-per-workgroup shader (softmax.comp) cannot do when its row is strided. The host picks
// this one when there are enough columns to fill the device. `out` may alias `x`.

layout(local_size_x = 256) in;

layout(set = 0, binding = 0) readonly buffer X { float x[]; };
layout(set = 0, binding = 1) writeonly buffer Out { float o[]; };

layout(push_constant) uniform Push {
    uint columns;  // outer * inner
    uint dim;
    uint inner;
} pc;

void main()
{
    const uint column = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * 256u + gl_LocalInvocationID.x;
    if (column >= pc.columns) return;
    const uint outerIndex = column / pc.inner;
    const uint base = outerIndex * pc.dim * pc.inner + (column - outerIndex * pc.inner);
    const uint step = pc.inner;

    // Max first, then the sum: an online (rescaling) sum would turn a leading -inf into NaN.
    float m = uintBitsToFloat(0xff800000u);
    for (uint j = 0u; j < pc.dim; ++j) m = max(m, x[base + j * step]);
    float s = 0.0;
    for (uint j = 0u; j < pc.dim; ++j) s += exp(x[base + j * step] - m);
    for (uint j = 0u; j < pc.dim; ++j) o[base + j * step] = exp(x[base + j * step] - m) / s;
}
