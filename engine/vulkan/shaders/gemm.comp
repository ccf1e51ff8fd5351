#version 450
// out[m, n] = act(a[m, k] @ B[k, n] + bias[n]); B is b read as [n, k] (a Linear weight) when transB.
//
// Each workgroup of 8x8 invocations computes one 64x64 tile of out, walking k in steps of 16:
// both operand tiles are staged in shared memory, so every value loaded from global memory feeds
// 64 multiply-adds, and each invocation keeps an 8x8 block of outputs in registers, so every
// vec4 read from shared memory feeds 32. The block is two 4-wide strips 32 apart in each
// direction (rows 4ty.. and 32+4ty.., likewise columns): neighbouring invocations then read
// neighbouring vec4s of shared memory, without bank conflicts. The large block also suits
// lavapipe, where every load costs a loop over the lanes: loads per multiply-add decide its speed.
#extension GL_GOOGLE_include_directive : require
#include "weights.glsl"
#extension GL_EXT_control_flow_attributes : require
#include "activation.glsl"

layout(local_size_x = 8, local_size_y = 8) in;

// The host refuses an `out` that overlaps an input: other workgroups still read the inputs.
layout(set = 0, binding = 0) restrict readonly buffer A { float a[]; };
layout(set = 0, binding = 1) restrict readonly buffer B { KILN_WEIGHT b[]; };
layout(set = 0, binding = 2) restrict readonly buffer Bias { float bias[]; };
layout(set = 0, binding = 3) restrict writeonly buffer Out { float o[]; };

layout(push_constant) uniform Push {
    uint m, n, k;
    uint transB;
    uint hasBias;
    uint act;
    float actParam;
    uint tilesN;  // tiles along n; the tile index is linear (see gridFor)
    uint tiles;
} pc;

const uint TM = 64u, TN = 64u, TK = 16u, THREADS = 64u;

// k-major, so that a step of the inner loop reads one row of each. A tile arrives along k and is
// stored across it; the padding vec4 spreads those transposing stores over the banks.
shared vec4 As[TK][TM / 4u + 1u];
shared vec4 Bs[TK][TN / 4u + 1u];

void main()
{
    // The grid may be 2-D and hold a few spare groups; a whole group leaves before any barrier.
    const uint tile = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
    if (tile >= pc.tiles) return;
    const uint row0 = (tile / pc.tilesN) * TM;
    const uint col0 = (tile % pc.tilesN) * TN;
    const uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y;
    const uint t = ty * 8u + tx;

    // acc[i][c][j]: row 32i + 4ty + c, columns 32j + 4tx .. + 3.
    vec4 acc[2][4][2];
    [[unroll]] for (uint i = 0u; i < 2u; ++i)
        [[unroll]] for (uint c = 0u; c < 4u; ++c)
            [[unroll]] for (uint j = 0u; j < 2u; ++j) acc[i][c][j] = vec4(0.0);

    for (uint k0 = 0u; k0 < pc.k; k0 += TK) {
        // Staging: consecutive invocations load consecutive addresses, along k for a and for a
        // transposed b, along n for a plain b. Elements past the matrix's edge are zero.
        [[unroll]] for (uint s = 0u; s < TM * TK / THREADS; ++s) {
            const uint row = t / TK + 4u * s, kk = t % TK;
            const uint r = row0 + row, q = k0 + kk;
            As[kk][row / 4u][row % 4u] = (r < pc.m && q < pc.k) ? a[r * pc.k + q] : 0.0;
        }
        if (pc.transB != 0u) {
            [[unroll]] for (uint s = 0u; s < TN * TK / THREADS; ++s) {
                const uint col = t / TK + 4u * s, kk = t % TK;
                const uint c = col0 + col, q = k0 + kk;
                Bs[kk][col / 4u][col % 4u] = (c < pc.n && q < pc.k) ? float(b[c * pc.k + q]) : 0.0;
            }
        } else {
            const uint c = col0 + t;  // THREADS == TN: one column per invocation
            [[unroll]] for (uint kk = 0u; kk < TK; ++kk) {
                const uint q = k0 + kk;
                Bs[kk][t / 4u][t % 4u] = (c < pc.n && q < pc.k) ? float(b[q * pc.n + c]) : 0.0;
            }
        }
        barrier();

        [[unroll]] for (uint kk = 0u; kk < TK; ++kk) {
            const vec4 a0 = As[kk][ty], a1 = As[kk][ty + 8u];
            const vec4 b0 = Bs[kk][tx], b1 = Bs[kk][tx + 8u];
            [[unroll]] for (uint c = 0u; c < 4u; ++c) {
                acc[0][c][0] = fma(vec4(a0[c]), b0, acc[0][c][0]);
                acc[0][c][1] = fma(vec4(a0[c]), b1, acc[0][c][1]);
                acc[1][c][0] = fma(vec4(a1[c]), b0, acc[1][c][0]);
                acc[1][c][1] = fma(vec4(a1[c]), b1, acc[1][c][1]);
            }
        }
        // The next iteration overwrites the tiles that slower invocations may still be reading.
        barrier();
    }

    [[unroll]] for (uint j = 0u; j < 2u; ++j)
        [[unroll]] for (uint e = 0u; e < 4u; ++e) {
            const uint col = col0 + 32u * j + 4u * tx + e;
            if (col >= pc.n) continue;
            const float bc = pc.hasBias != 0u ? bias[col] : 0.0;
            [[unroll]] for (uint i = 0u; i < 2u; ++i)
                [[unroll]] for (uint c = 0u; c < 4u; ++c) {
                    const uint row = row0 + 32u * i + 4u * ty + c;
                    if (row < pc.m) o[row * pc.n + col] = kiln_activate(acc[i][c][j][e] + bc, pc.act, pc.actParam);
                }
        }
}
