// Activation codes as kiln::vk::Activation (ops/op_common.h). Included by shaders that fuse an
// activation into their epilogue; `param` is LeakyReLU's slope.

// erfc(|x|) by the Chebyshev fit of Numerical Recipes (fractional error < 1.2e-7 everywhere).
// Kept separate from kiln_erf so that GELU's tail uses it directly: 1 + erf(x) for x << 0 would
// cancel to a few ulps of 1, while erfc keeps its relative accuracy there.
float kiln_erfc_abs(float z)
{
    const float t = 1.0 / (1.0 + 0.5 * z);
    return t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
           t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
           t * (-0.82215223 + t * 0.17087277)))))))));
}

float kiln_erf(float x)
{
    const float c = kiln_erfc_abs(abs(x));
    return x >= 0.0 ? 1.0 - c : c - 1.0;
}

// The built-in tanh may be computed as (e^2x - 1) / (e^2x + 1), which is inf/inf = NaN past
// |x| ~ 44 on some drivers. exp(-2|x|) only underflows to 0, so this saturates to +-1 cleanly;
// near 0 the series keeps the relative accuracy that 1 - e^-2|x| would lose to cancellation.
float kiln_tanh(float x)
{
    const float a = abs(x);
    if (a < 0.0625) {
        const float x2 = x * x;
        return x + x * x2 * (-0.33333333333 + x2 * (0.13333333333 + x2 * -0.05396825397));
    }
    const float e = exp(-2.0 * a);
    const float r = (1.0 - e) / (1.0 + e);
    return x < 0.0 ? -r : r;
}

float kiln_activate(float v, uint act, float param)
{
    switch (act) {
    case 1u: return max(v, 0.0);
    // 0.5 * v * (1 + erf(v / sqrt 2)) = 0.5 * v * erfc(-v / sqrt 2)
    case 2u: {
        const float c = kiln_erfc_abs(abs(v) * 0.70710678118654752);
        return 0.5 * v * (v >= 0.0 ? 2.0 - c : c);
    }
    case 3u: return 0.5 * v * (1.0 + kiln_tanh(0.79788456080286536 * (v + 0.044715 * v * v * v)));
    // exp(-v) overflows to inf for v < -88: v / inf = -0 and 1 / inf = 0, the right limits.
    case 4u: return v / (1.0 + exp(-v));
    case 5u: return 1.0 / (1.0 + exp(-v));
    case 6u: return kiln_tanh(v);
    case 7u: return v >= 0.0 ? v : v * param;
    default: return v;
    }
}
