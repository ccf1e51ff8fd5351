// Activation codes as kiln::vk::Activation (ops/op_common.h). Included by shaders that fuse an
// activation into their epilogue; `param` is LeakyReLU's slope.
float kiln_erf(float x)
{
    // erfc by the Chebyshev fit of Numerical Recipes (fractional error < 1.2e-7 everywhere),
    // so GELU stays within 1e-4 relative of torch's erf-based one.
    const float z = abs(x);
    const float t = 1.0 / (1.0 + 0.5 * z);
    const float c = t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
                    t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
                    t * (-0.82215223 + t * 0.17087277)))))))));
    return x >= 0.0 ? 1.0 - c : c - 1.0;
}

float kiln_activate(float v, uint act, float param)
{
    switch (act) {
    case 1u: return max(v, 0.0);
    case 2u: return 0.5 * v * (1.0 + kiln_erf(v * 0.70710678118654752));
    case 3u: return 0.5 * v * (1.0 + tanh(0.79788456080286536 * (v + 0.044715 * v * v * v)));
    case 4u: return v / (1.0 + exp(-v));
    case 5u: return 1.0 / (1.0 + exp(-v));
    case 6u: return tanh(v);
    case 7u: return v >= 0.0 ? v : v * param;
    default: return v;
    }
}
