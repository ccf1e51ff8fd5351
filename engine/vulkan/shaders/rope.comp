#version 450
// Rotary position encoding, half-split layout: at position p the pair (x[i], x[i + d/2]) turns
// by p * base^(-2i/d). torch builds the angle in double and rounds only cos and sin to float;
// in plain float the angle alone is off by about angle * 2^-24 (2.4e-4 radians at p = 4096), so
// the angle is carried as a float-float pair (hi + lo, about 44 bits) and reduced in turns.
// Neither fp64 in shaders (often missing) nor the driver's sin/cos (the spec allows an error of
// 2^-11) is relied on. x and out are [batch, seq, heads, headDim]; out may be x: each
// invocation reads its pair before writing it.

layout(local_size_x = 256) in;

layout(set = 0, binding = 0) readonly buffer X { float x[]; };
layout(set = 0, binding = 1) writeonly buffer Out { float o[]; };

layout(push_constant) uniform Push {
    uint total;  // batch * seq * heads * half (pairs)
    uint seq;
    uint heads;
    uint halfDim;  // headDim / 2, at most 512
    vec2 start;  // 1 / (2 pi) as hi + lo: the angle comes out in turns
    vec2 factor[9];  // base^(-2 * 2^k / headDim) as hi + lo; frequency i multiplies those of i's bits
} pc;

// `precise` forbids fusing and reassociating: the error-free transformations below depend on
// every product and sum being rounded exactly where written.

// a * b = hi + lo exactly (Dekker; fma() is not relied on since some drivers split it).
vec2 twoProd(float a, float b)
{
    precise float p = a * b;
    precise float ta = 4097.0 * a;
    precise float ah = ta - (ta - a);
    precise float al = a - ah;
    precise float tb = 4097.0 * b;
    precise float bh = tb - (tb - b);
    precise float bl = b - bh;
    precise float err = ((ah * bh - p) + ah * bl + al * bh) + al * bl;
    return vec2(p, err);
}

vec2 ffMul(vec2 a, vec2 b)
{
    const vec2 p = twoProd(a.x, b.x);
    precise float lo = p.y + (a.x * b.y + a.y * b.x);
    precise float s = p.x + lo;
    precise float e = lo - (s - p.x);
    return vec2(s, e);
}

// sin and cos on [-pi/4, pi/4] (Cephes' sinf/cosf polynomials, about 1 ulp).
float sinSmall(float a)
{
    const float z = a * a;
    return ((-1.9515295891e-4 * z + 8.3321608736e-3) * z - 1.6666654611e-1) * z * a + a;
}

float cosSmall(float a)
{
    const float z = a * a;
    return ((2.443315711809948e-5 * z - 1.388731625493765e-3) * z + 4.166664568298827e-2) * z * z - 0.5 * z + 1.0;
}

void main()
{
    const uint group = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
    const uint j = group * 256u + gl_LocalInvocationID.x;
    if (j >= pc.total) return;
    const uint i = j % pc.halfDim;
    const uint row = j / pc.halfDim;  // (batch, position, head)
    const uint pos = (row / pc.heads) % pc.seq;

    vec2 turnsPerPos = pc.start;
    for (uint k = 0u; k < 9u; ++k)
        if ((i & (1u << k)) != 0u) turnsPerPos = ffMul(turnsPerPos, pc.factor[k]);
    // pos < 2^24 is exact in float.
    const vec2 turns = ffMul(turnsPerPos, vec2(float(pos), 0.0));

    // Whole turns drop out exactly (hi minus its nearest integer is representable), then the
    // fraction splits into a quadrant and a remainder of at most an eighth of a turn.
    precise float frac = turns.x - roundEven(turns.x);
    precise float quarters = frac * 4.0;
    precise float q = roundEven(quarters);
    precise float r = (quarters - q) + turns.y * 4.0;
    const float a = r * 1.57079632679489662;
    const float s = sinSmall(a), c = cosSmall(a);
    float cosA, sinA;
    switch (int(q) & 3) {
    case 0: cosA = c; sinA = s; break;
    case 1: cosA = -s; sinA = c; break;
    case 2: cosA = -c; sinA = -s; break;
    default: cosA = s; sinA = -c; break;
    }

    const uint e = row * 2u * pc.halfDim + i;
    const float x1 = x[e], x2 = x[e + pc.halfDim];
    // torch rounds each product before the sum (three tensor ops); so does this.
    precise float y1 = x1 * cosA - x2 * sinA;
    precise float y2 = x2 * cosA + x1 * sinA;
    o[e] = y1;
    o[e + pc.halfDim] = y2;
}
