#version 450
// out = act(conv2d(x, weight) + bias) as an implicit GEMM, one convolution group per
// gl_WorkGroupID.z: out_g[oc, p] = sum_q weight_g[oc, q] * cols_g[q, p] with oc < ocg,
// p = (b, oy, ox) < batch * outH * outW and q = (ic, ky, kx) < icg * kH * kW. weight is already
// that [ocg, K] matrix; cols (im2col of x) is never stored: each element is gathered from x when
// its tile is staged. The tiling is gemm.comp's (64x64 tiles, k steps of 16, 8x8 per invocation).
#extension GL_GOOGLE_include_directive : require
#include "weights.glsl"
#extension GL_EXT_control_flow_attributes : require
#include "activation.glsl"
#include "conv_push.glsl"

layout(local_size_x = 8, local_size_y = 8) in;

// The host refuses an `out` that overlaps an input.
layout(set = 0, binding = 0) restrict readonly buffer X { float x[]; };
layout(set = 0, binding = 1) restrict readonly buffer W { KILN_WEIGHT w[]; };
layout(set = 0, binding = 2) restrict readonly buffer Bias { float bias[]; };
layout(set = 0, binding = 3) restrict writeonly buffer Out { float o[]; };

const uint TM = 64u, TN = 64u, TK = 16u, THREADS = 64u;

shared vec4 As[TK][TM / 4u + 1u];
shared vec4 Bs[TK][TN / 4u + 1u];

void main()
{
    const uint tile = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
    if (tile >= pc.tiles) return;
    const uint g = gl_WorkGroupID.z;
    const uint row0 = (tile / pc.tilesN) * TM;
    const uint col0 = (tile % pc.tilesN) * TN;
    const uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y;
    const uint t = ty * 8u + tx;
    const uint ohw = pc.outH * pc.outW, khw = pc.kH * pc.kW, ihw = pc.inH * pc.inW;

    // Each invocation stages the same column p of cols in every k step (THREADS == TN), so its
    // output position, and with it the window's corner in x, is worked out once.
    const uint p = col0 + t;
    const bool pOk = p < pc.N;
    const uint pb = pOk ? p / ohw : 0u, pix = p % ohw;
    const int iy0 = int((pix / pc.outW) * pc.strideH) - int(pc.padH);
    const int ix0 = int((pix % pc.outW) * pc.strideW) - int(pc.padW);
    const uint xBase = (pb * pc.inC + g * pc.icg) * ihw;
    const uint wBase = g * pc.ocg * pc.K;

    vec4 acc[2][4][2];
    [[unroll]] for (uint i = 0u; i < 2u; ++i)
        [[unroll]] for (uint c = 0u; c < 4u; ++c)
            [[unroll]] for (uint j = 0u; j < 2u; ++j) acc[i][c][j] = vec4(0.0);

    for (uint k0 = 0u; k0 < pc.K; k0 += TK) {
        [[unroll]] for (uint s = 0u; s < TM * TK / THREADS; ++s) {
            const uint row = t / TK + 4u * s, kk = t % TK;
            const uint r = row0 + row, q = k0 + kk;
            As[kk][row / 4u][row % 4u] = (r < pc.ocg && q < pc.K) ? float(w[wBase + r * pc.K + q]) : 0.0;
        }
        // q = (ic, ky, kx) is divided out once per step and then counted up; the same for every
        // invocation, so the carries do not diverge.
        uint ic = k0 / khw, kx = k0 - ic * khw;
        uint ky = kx / pc.kW;
        kx -= ky * pc.kW;
        [[unroll]] for (uint kk = 0u; kk < TK; ++kk) {
            const int iy = iy0 + int(ky * pc.dilH), ix = ix0 + int(kx * pc.dilW);
            // Zero padding, and zero past the edges of cols.
            const bool inside = pOk && k0 + kk < pc.K && iy >= 0 && iy < int(pc.inH) && ix >= 0 && ix < int(pc.inW);
            Bs[kk][t / 4u][t % 4u] = inside ? x[xBase + ic * ihw + uint(iy) * pc.inW + uint(ix)] : 0.0;
            if (++kx == pc.kW) {
                kx = 0u;
                if (++ky == pc.kH) {
                    ky = 0u;
                    ++ic;
                }
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
            if (col >= pc.N) continue;
            const uint ob = col / ohw, opix = col % ohw;
            [[unroll]] for (uint i = 0u; i < 2u; ++i)
                [[unroll]] for (uint c = 0u; c < 4u; ++c) {
                    const uint r = row0 + 32u * i + 4u * ty + c;
                    if (r >= pc.ocg) continue;
                    const uint oc = g * pc.ocg + r;
                    const float v = acc[i][c][j][e] + (pc.hasBias != 0u ? bias[oc] : 0.0);
                    o[(ob * pc.outC + oc) * ohw + opix] = kiln_activate(v, pc.act, pc.actParam);
                }
        }
}
