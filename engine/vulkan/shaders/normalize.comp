#version 450
// Layer norm, RMS norm and group norm: each normalises `rows` groups of `cols` contiguous
// floats, one workgroup per group. Invocations stride over the group (any length), and the
// partial sums meet in a shared-memory tree.
//
// Precision: the mean is found as pivot + lo with the pivot the group's first element, and
// every element is centred as (x - pivot) - lo. x - pivot is exact when x is near the pivot,
// so a large common offset (mean 1000, std 1) costs no precision, where x - mean with mean
// rounded to fp32 would be off by up to half an ulp of 1000 (3e-5). The variance is the
// second pass over the centred values, never E[x^2] - E[x]^2.
//
// The weight and bias index: for group norm a group holds cols / spatial channels of
// `spatial` floats each, and group g of a sample starts at channel g * cols / spatial; layer
// norm is groupsPerSample = spatial = 1. `out` may alias `x`.

layout(local_size_x = 256) in;

layout(set = 0, binding = 0) readonly buffer X { float x[]; };
layout(set = 0, binding = 1) readonly buffer W { float w[]; };
layout(set = 0, binding = 2) readonly buffer B { float b[]; };
layout(set = 0, binding = 3) writeonly buffer Out { float o[]; };

layout(push_constant) uniform Push {
    uint rows;
    uint cols;
    uint groupsPerSample;
    uint spatial;
    float eps;
    uint flags;  // 1: weight bound, 2: bias bound, 4: RMS norm (no centring)
} pc;

shared float partial[256];

// Must be reached by the whole workgroup (the row index is uniform across it).
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
    barrier();  // before the next reduction overwrites partial[0]
    return r;
}

void main()
{
    const uint row = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
    if (row >= pc.rows) return;  // a spare group of the 2-D grid: the whole workgroup leaves
    const uint t = gl_LocalInvocationID.x;
    const uint base = row * pc.cols;
    const bool rms = (pc.flags & 4u) != 0u;
    const float n = float(pc.cols);

    float pivot = 0.0, lo = 0.0;
    if (!rms) {
        pivot = x[base];
        float s = 0.0;
        for (uint j = t; j < pc.cols; j += 256u) s += x[base + j] - pivot;
        lo = reduceSum(s) / n;
    }

    float q = 0.0;
    for (uint j = t; j < pc.cols; j += 256u) {
        // precise: a driver must not reassociate the centring into x - (pivot + lo).
        precise float d = (x[base + j] - pivot) - lo;
        q += d * d;
    }
    const float rstd = inversesqrt(reduceSum(q) / n + pc.eps);

    const uint channelBase = (row % pc.groupsPerSample) * (pc.cols / pc.spatial);
    for (uint j = t; j < pc.cols; j += 256u) {
        precise float d = (x[base + j] - pivot) - lo;
        float y = d * rstd;
        const uint c = channelBase + j / pc.spatial;
        if ((pc.flags & 1u) != 0u) y *= w[c];
        if ((pc.flags & 2u) != 0u) y += b[c];
        o[base + j] = y;
    }
}
