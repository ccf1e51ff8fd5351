#version 450
// out[m, n] = act(a[m, k] @ b[n, k]^T + bias[n]) for m <= 4: a Linear layer at batch sizes of a
// few, where gemm.comp's 64-row tiles would compute mostly rows that do not exist. Each workgroup
// computes 4 columns for every row; its invocations split k among them (consecutive invocations,
// consecutive k: each weight is read once, coalesced) and add their partial sums in shared memory.
#extension GL_GOOGLE_include_directive : require
#include "weights.glsl"
#extension GL_EXT_control_flow_attributes : require
#include "activation.glsl"

layout(local_size_x = 64) in;

layout(set = 0, binding = 0) restrict readonly buffer A { float a[]; };
layout(set = 0, binding = 1) restrict readonly buffer B { KILN_WEIGHT b[]; };
layout(set = 0, binding = 2) restrict readonly buffer Bias { float bias[]; };
layout(set = 0, binding = 3) restrict writeonly buffer Out { float o[]; };

// gemm.comp's block; transB is always set here, and a "tile" is a group of COLS columns.
layout(push_constant) uniform Push {
    uint m, n, k;
    uint transB;
    uint hasBias;
    uint act;
    float actParam;
    uint tilesN;
    uint tiles;
} pc;

const uint ROWS = 4u, COLS = 4u, THREADS = 64u;

shared float partial[ROWS * COLS][THREADS + 1u];

void main()
{
    const uint group = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
    if (group >= pc.tiles) return;
    const uint c0 = group * COLS;
    const uint t = gl_LocalInvocationID.x;

    // Columns past n read the last weight row instead and are never written: no bounds checks
    // in the loop.
    uint wRow[COLS];
    [[unroll]] for (uint j = 0u; j < COLS; ++j) wRow[j] = min(c0 + j, pc.n - 1u) * pc.k;
    float acc[ROWS][COLS];
    [[unroll]] for (uint r = 0u; r < ROWS; ++r)
        [[unroll]] for (uint j = 0u; j < COLS; ++j) acc[r][j] = 0.0;

    for (uint q = t; q < pc.k; q += THREADS) {
        float wv[COLS];
        [[unroll]] for (uint j = 0u; j < COLS; ++j) wv[j] = float(b[wRow[j] + q]);
        [[unroll]] for (uint r = 0u; r < ROWS; ++r) {
            if (r >= pc.m) break;  // the same for every invocation
            const float av = a[r * pc.k + q];
            [[unroll]] for (uint j = 0u; j < COLS; ++j) acc[r][j] = fma(av, wv[j], acc[r][j]);
        }
    }

    [[unroll]] for (uint r = 0u; r < ROWS; ++r)
        [[unroll]] for (uint j = 0u; j < COLS; ++j) partial[r * COLS + j][t] = acc[r][j];
    barrier();
    if (t >= pc.m * COLS) return;
    const uint r = t / COLS, c = c0 + t % COLS;
    if (c >= pc.n) return;
    float sum = 0.0;
    for (uint i = 0u; i < THREADS; ++i) sum += partial[t][i];
    if (pc.hasBias != 0u) sum += bias[c];
    o[r * pc.n + c] = kiln_activate(sum, pc.act, pc.actParam);
}
