#version 450
// Softmax over the middle dimension of [outer, dim, inner], one workgroup per (outer, inner)
// row of `dim` elements `inner` apart. Each invocation strides over the row, so rows of any
// length work; the partial results meet in a shared-memory tree. The row's maximum is
// subtracted before exp so that nothing overflows. `out` may alias `x`: a workgroup reads its
// row for the last time in the same invocation that overwrites each element.

layout(local_size_x = 256) in;

layout(set = 0, binding = 0) readonly buffer X { float x[]; };
layout(set = 0, binding = 1) writeonly buffer Out { float o[]; };

layout(push_constant) uniform Push {
    uint rows;  // outer * inner
    uint dim;
    uint inner;
} pc;

shared float partial[256];

// Must be reached by the whole workgroup (the row index is uniform across it).
float reduceMax(float v)
{
    const uint t = gl_LocalInvocationID.x;
    partial[t] = v;
    barrier();
    for (uint s = 128u; s > 0u; s >>= 1u) {
        if (t < s) partial[t] = max(partial[t], partial[t + s]);
        barrier();
    }
    const float r = partial[0];
    barrier();  // before the next reduction overwrites partial[0]
    return r;
}

float reduceSum(float v)
{
    const uint t = gl_LocalInvocationID.x;
    partial[t] = v;
    barrier();
    for (uint s = 128u; s > 0u; s >>= 1u) {
        if (t < s) partial[t] += partial[t + s];
        barrier();
    }
    const float r = partial[0];
    barrier();
    return r;
}

void main()
{
    const uint row = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
    if (row >= pc.rows) return;  // a spare group of the 2-D grid: the whole workgroup leaves
    const uint t = gl_LocalInvocationID.x;
    const uint outerIndex = row / pc.inner;
    const uint base = outerIndex * pc.dim * pc.inner + (row - outerIndex * pc.inner);
    const uint step = pc.inner;

    float m = uintBitsToFloat(0xff800000u);  // -inf: a row of -inf gives NaN, as in torch
    for (uint j = t; j < pc.dim; j += 256u) m = max(m, x[base + j * step]);
    m = reduceMax(m);

    float s = 0.0;
    for (uint j = t; j < pc.dim; j += 256u) s += exp(x[base + j * step] - m);
    s = reduceSum(s);

    for (uint j = t; j < pc.dim; j += 256u) o[base + j * step] = exp(x[base + j * step] - m) / s;
}
