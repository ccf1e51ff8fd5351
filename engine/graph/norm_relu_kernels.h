// The loops of training-mode BatchNorm2d + ReLU (+ a 2x2 max pool with stride 2) on channels-last
// (NHWC) float tensors, fused so each pass reads the convolution's output once. See
// graph/norm_relu.h for the operation; here only plain arrays, so this file needs no torch and
// is compiled with -O3 for the CPU's vector units (function clones for AVX2 and the baseline).
//
// Work is split into fixed "rows" (a block of pixels, or one output row of the pool) so that the
// caller can spread rows over threads and still sum the per-row partial sums in a fixed order:
// results do not depend on the thread count.
#pragma once

#include <cstdint>

namespace kiln::graph::kernels {

struct Nhwc {
    std::int64_t n = 0, h = 0, w = 0, c = 0;
    std::int64_t pixels() const { return n * h * w; }
};

// Per-channel affine map of the normalization: y = x * scale + shift.
struct ChannelMap {
    const float* scale = nullptr;
    const float* shift = nullptr;
};

// Rows of the statistics pass.
std::int64_t statRows(const Nhwc& s);
// Sums of (x - origin) and of its squares over one row's pixels, per channel (origin: any value
// near the mean, so the sums do not cancel). sum and squares have s.c entries and are overwritten.
void channelSums(const float* x, const Nhwc& s, const float* origin, std::int64_t row, double* sum, double* squares);

// Rows of the normalize / gradient passes: output rows of the pool (n * (h/2)), else pixel blocks.
std::int64_t rows(const Nhwc& s, bool pool);

// y = relu(x * scale + shift), max-pooled 2x2 when pool (y then has s.n * (h/2) * (w/2) pixels).
// NaN propagates as in ATen's max_pool2d and relu; ties go to the first position in the window.
void forwardRow(const float* x, const Nhwc& s, ChannelMap m, bool pool, std::int64_t row, float* y);

// For the gradient dy of the normalized values (the output's gradient gy routed back through the
// pool's argmax and the ReLU, recomputed from x exactly as forwardRow decides them): per channel
// the sums of dy and of dy * (x - mean) over one row. Overwrites sumDy and sumDyXmu.
void gradientSums(const float* x, const float* gy, const Nhwc& s, ChannelMap m, const float* mean, bool pool,
                  std::int64_t row, double* sumDy, double* sumDyXmu);

// Batch norm's input gradient: dx = (dy - (x - mean) * projection - meanDy) * gradScale, per channel.
struct InputGradient {
    const float* mean = nullptr;
    const float* projection = nullptr;  // sum(dy * (x - mean)) * invstd^2 / pixels
    const float* meanDy = nullptr;      // sum(dy) / pixels
    const float* gradScale = nullptr;   // invstd * weight
};
void inputGradientRow(const float* x, const float* gy, const Nhwc& s, ChannelMap m, InputGradient g, bool pool,
                      std::int64_t row, float* dx);

}  // namespace kiln::graph::kernels
