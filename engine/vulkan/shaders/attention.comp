#version 450
// out[b,t,h,:] = softmax_j(q[b,t,h,:] . k[b,j,h,:] * scale, masked j > t when causal) v[b,j,h,:].
// One workgroup per query row (b, t, h). Keys go by in tiles of 64, one per invocation, with an
// online softmax (running max and sum; the accumulator is rescaled when the max grows), so no
// sequence is too long and the scores are never held whole. Each invocation accumulates the
// output dimensions l, l + 64, ... (headDim <= 256). q, k, v, out are [batch, seq, heads, headDim].

layout(local_size_x = 64) in;

layout(set = 0, binding = 0) readonly buffer Q { float q[]; };
layout(set = 0, binding = 1) readonly buffer K { float k[]; };
layout(set = 0, binding = 2) readonly buffer V { float v[]; };
layout(set = 0, binding = 3) writeonly buffer Out { float o[]; };

layout(push_constant) uniform Push {
    uint rows;  // batch * seq * heads: the workgroups
    uint seq;
    uint heads;
    uint headDim;  // 1..256
    float scale;
    uint causal;
} pc;

const uint kTile = 64u;
const uint kMaxDim = 256u;
// Stands in for -inf, so that no step depends on a driver's handling of infinities: every tile
// holds a real key, whose score replaces it, and exp(kLowest - score) is 0.
const float kLowest = -3.402823466e38;

shared float qs[kMaxDim];
shared float scores[kTile];
shared float weights[kTile];

void main()
{
    const uint row = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
    if (row >= pc.rows) return;  // the whole workgroup leaves together: no barrier is skipped
    const uint l = gl_LocalInvocationID.x;
    const uint d = pc.headDim;
    const uint t = (row / pc.heads) % pc.seq;
    const uint h = row % pc.heads;
    const uint firstKey = (row / (pc.heads * pc.seq)) * pc.seq;  // (b, 0) as a row of the [b*seq] view
    const uint keyStride = pc.heads * d;
    const uint qBase = row * d;  // rows are (b, t, h) in memory order

    for (uint c = l; c < d; c += kTile) qs[c] = q[qBase + c];
    barrier();

    const uint keys = pc.causal != 0u ? t + 1u : pc.seq;
    float runMax = kLowest, runSum = 0.0;
    float acc[kMaxDim / kTile] = float[](0.0, 0.0, 0.0, 0.0);
    for (uint j0 = 0u; j0 < keys; j0 += kTile) {
        const uint n = min(kTile, keys - j0);
        float s = kLowest;
        if (l < n) {
            const uint kBase = (firstKey + j0 + l) * keyStride + h * d;
            float dot = 0.0;
            for (uint c = 0u; c < d; ++c) dot += qs[c] * k[kBase + c];
            s = dot * pc.scale;
        }
        scores[l] = s;
        barrier();

        float tileMax = kLowest;
        for (uint jj = 0u; jj < n; ++jj) tileMax = max(tileMax, scores[jj]);
        const float newMax = max(runMax, tileMax);
        const float rescale = exp(runMax - newMax);
        weights[l] = l < n ? exp(s - newMax) : 0.0;
        barrier();

        runSum *= rescale;
        for (uint a = 0u; a < kMaxDim / kTile; ++a) acc[a] *= rescale;
        for (uint jj = 0u; jj < n; ++jj) {
            const float w = weights[jj];
            runSum += w;
            const uint vBase = (firstKey + j0 + jj) * keyStride + h * d;
            for (uint a = 0u; a < kMaxDim / kTile; ++a) {
                const uint c = l + a * kTile;
                if (c < d) acc[a] += w * v[vBase + c];
            }
        }
        runMax = newMax;
        // The next tile overwrites `scores` only after everyone passed the barrier above (all
        // reads of it are done) and `weights` only after its first barrier (all sums are done).
    }

    for (uint a = 0u; a < kMaxDim / kTile; ++a) {
        const uint c = l + a * kTile;
        if (c < d) o[qBase + c] = acc[a] / runSum;
    }
}
