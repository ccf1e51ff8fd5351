#include "graph/norm_relu_kernels.h"

#include <algorithm>
#include <cstring>

// The vector helpers are internal and inlined, so the note that passing AVX vectors between
// functions built for different CPUs changes the ABI does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

// GCC builds each kernel twice (AVX2 and the baseline) and picks one when the library loads.
// flatten: the helpers and lambdas must be inlined into each clone, or they run as baseline
// functions that pass the vectors through memory (4-10x slower).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define KILN_VECTOR_CLONES __attribute__((target_clones("avx2", "default"), flatten))
#else
#define KILN_VECTOR_CLONES
#endif

namespace kiln::graph::kernels {

namespace {

// Eight channels at a time in GCC's vector types, the rest one by one, with the same template
// code for both: the auto-vectorizer gave up on these loops whenever a select changed shape.
// Comparisons give masks (int or int vector), `mask ? a : b` selects for both.
typedef float F8 __attribute__((vector_size(32)));

template <typename V>
inline V load(const float* p)
{
    V v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
template <typename V>
inline void store(float* p, V v)
{
    std::memcpy(p, &v, sizeof v);
}

// Calls body.template operator()<V>(c) for c = 0, 8, ... with V = F8, then for the tail with float.
template <typename Body>
inline void forChannels(std::int64_t count, Body&& body)
{
    std::int64_t c = 0;
    for (; c + 8 <= count; c += 8) body.template operator()<F8>(c);
    for (; c < count; ++c) body.template operator()<float>(c);
}

constexpr std::int64_t kBlockPixels = 256;

std::int64_t pooledH(const Nhwc& s) { return s.h / 2; }
std::int64_t pooledW(const Nhwc& s) { return s.w / 2; }

// The pixels [begin, end) of a block row.
std::pair<std::int64_t, std::int64_t> blockRange(const Nhwc& s, std::int64_t row)
{
    const std::int64_t begin = row * kBlockPixels;
    return {begin, std::min(s.pixels(), begin + kBlockPixels)};
}

// ATen's max_pool2d scans a window (0,0), (0,1), (1,0), (1,1); a later value wins when it is
// greater or NaN. t1..t3 say whether positions 1..3 won when their turn came: the last winner
// holds the maximum.
template <typename V>
struct Window {
    V value;
    decltype(V{} > V{}) t1, t2, t3;
};

template <typename V>
inline Window<V> windowMax(V v0, V v1, V v2, V v3)
{
    Window<V> w;
    V mx = v0;
    w.t1 = (v1 > mx) | (v1 != v1);
    mx = w.t1 ? v1 : mx;
    w.t2 = (v2 > mx) | (v2 != v2);
    mx = w.t2 ? v2 : mx;
    w.t3 = (v3 > mx) | (v3 != v3);
    w.value = w.t3 ? v3 : mx;
    return w;
}

// ReLU as ATen's clamp_min: NaN stays NaN.
template <typename V>
inline V relu(V v)
{
    return ((v > V{}) | (v != v)) ? v : V{};
}
// ReLU's backward as ATen's threshold_backward on the ReLU's output: no gradient where it is <= 0.
template <typename V>
inline V reluGrad(V v, V g)
{
    return v <= V{} ? V{} : g;
}

// Per-row gradient sums accumulate in float on the stack (a row holds at most a few hundred
// terms; rows are added in double), in chunks of channels.
constexpr std::int64_t kChannelChunk = 128;

}  // namespace

std::int64_t statRows(const Nhwc& s) { return (s.pixels() + kBlockPixels - 1) / kBlockPixels; }

std::int64_t rows(const Nhwc& s, bool pool) { return pool ? s.n * pooledH(s) : statRows(s); }

KILN_VECTOR_CLONES
void channelSums(const float* __restrict x, const Nhwc& s, const float* __restrict origin, std::int64_t row,
                 double* __restrict sum, double* __restrict squares)
{
    const std::int64_t C = s.c;
    std::fill(sum, sum + C, 0.0);
    std::fill(squares, squares + C, 0.0);
    const auto [begin, end] = blockRange(s, row);
    for (std::int64_t p = begin; p < end; ++p) {
        const float* __restrict xp = x + p * C;
        for (std::int64_t c = 0; c < C; ++c) {  // (this one the auto-vectorizer does take)
            const double d = static_cast<double>(xp[c]) - static_cast<double>(origin[c]);
            sum[c] += d;
            squares[c] += d * d;
        }
    }
}

KILN_VECTOR_CLONES
void forwardRow(const float* x, const Nhwc& s, ChannelMap m, bool pool, std::int64_t row, float* y)
{
    const std::int64_t C = s.c;
    if (!pool) {
        const auto [begin, end] = blockRange(s, row);
        for (std::int64_t p = begin; p < end; ++p) {
            const float* xp = x + p * C;
            float* yp = y + p * C;
            forChannels(C, [&]<typename V>(std::int64_t c) {
                store(yp + c, relu(load<V>(xp + c) * load<V>(m.scale + c) + load<V>(m.shift + c)));
            });
        }
        return;
    }
    const std::int64_t ho = pooledH(s), wo = pooledW(s);
    const std::int64_t n = row / ho, i = row % ho;
    for (std::int64_t j = 0; j < wo; ++j) {
        const float* a = x + ((n * s.h + 2 * i) * s.w + 2 * j) * C;
        const float* d = a + s.w * C;
        float* yp = y + ((n * ho + i) * wo + j) * C;
        forChannels(C, [&]<typename V>(std::int64_t c) {
            const V sc = load<V>(m.scale + c), sh = load<V>(m.shift + c);
            const auto w = windowMax(load<V>(a + c) * sc + sh, load<V>(a + C + c) * sc + sh,
                                     load<V>(d + c) * sc + sh, load<V>(d + C + c) * sc + sh);
            store(yp + c, relu(w.value));
        });
    }
}

KILN_VECTOR_CLONES
void gradientSums(const float* x, const float* gy, const Nhwc& s, ChannelMap m, const float* mean, bool pool,
                  std::int64_t row, double* sumDy, double* sumDyXmu)
{
    const std::int64_t C = s.c;
    const std::int64_t ho = pooledH(s), wo = pooledW(s);
    for (std::int64_t c0 = 0; c0 < C; c0 += kChannelChunk) {
        const std::int64_t cn = std::min(kChannelChunk, C - c0);
        float dySum[kChannelChunk] = {}, dyXmuSum[kChannelChunk] = {};
        // Adds the gradient g that reached the input value xv (channels c0 + c ...).
        auto add = [&]<typename V>(std::int64_t c, V g, V xv) {
            store(dySum + c, load<V>(dySum + c) + g);
            store(dyXmuSum + c, load<V>(dyXmuSum + c) + g * (xv - load<V>(mean + c0 + c)));
        };
        if (!pool) {
            const auto [begin, end] = blockRange(s, row);
            for (std::int64_t p = begin; p < end; ++p) {
                const float* xp = x + p * C + c0;
                const float* gp = gy + p * C + c0;
                forChannels(cn, [&]<typename V>(std::int64_t c) {
                    const V xv = load<V>(xp + c);
                    const V v = xv * load<V>(m.scale + c0 + c) + load<V>(m.shift + c0 + c);
                    add(c, reluGrad(v, load<V>(gp + c)), xv);
                });
            }
        } else {
            const std::int64_t n = row / ho, i = row % ho;
            for (std::int64_t j = 0; j < wo; ++j) {
                const float* a = x + ((n * s.h + 2 * i) * s.w + 2 * j) * C + c0;
                const float* d = a + s.w * C;
                const float* gp = gy + ((n * ho + i) * wo + j) * C + c0;
                forChannels(cn, [&]<typename V>(std::int64_t c) {
                    const V sc = load<V>(m.scale + c0 + c), sh = load<V>(m.shift + c0 + c);
                    const V xa = load<V>(a + c), xb = load<V>(a + C + c), xd = load<V>(d + c),
                            xe = load<V>(d + C + c);
                    const auto w = windowMax(xa * sc + sh, xb * sc + sh, xd * sc + sh, xe * sc + sh);
                    const V xm = w.t3 ? xe : w.t2 ? xd : w.t1 ? xb : xa;
                    add(c, reluGrad(w.value, load<V>(gp + c)), xm);
                });
            }
        }
        for (std::int64_t c = 0; c < cn; ++c) {
            sumDy[c0 + c] = dySum[c];
            sumDyXmu[c0 + c] = dyXmuSum[c];
        }
    }
}

KILN_VECTOR_CLONES
void inputGradientRow(const float* x, const float* gy, const Nhwc& s, ChannelMap m, InputGradient g, bool pool,
                      std::int64_t row, float* dx)
{
    const std::int64_t C = s.c;
    // dx = (dy - (x - mean) * projection - meanDy) * gradScale at channels c...
    auto gradient = [&]<typename V>(std::int64_t c, V dy, V xv) {
        return (dy - (xv - load<V>(g.mean + c)) * load<V>(g.projection + c) - load<V>(g.meanDy + c)) *
               load<V>(g.gradScale + c);
    };
    // ... for the pixels at xp whose normalized value received no gradient (outside every window)
    auto uncovered = [&](const float* xp, float* dp) {
        forChannels(C, [&]<typename V>(std::int64_t c) { store(dp + c, gradient(c, V{}, load<V>(xp + c))); });
    };
    if (!pool) {
        const auto [begin, end] = blockRange(s, row);
        for (std::int64_t p = begin; p < end; ++p) {
            const float* xp = x + p * C;
            const float* gp = gy + p * C;
            float* dp = dx + p * C;
            forChannels(C, [&]<typename V>(std::int64_t c) {
                const V xv = load<V>(xp + c);
                const V v = xv * load<V>(m.scale + c) + load<V>(m.shift + c);
                store(dp + c, gradient(c, reluGrad(v, load<V>(gp + c)), xv));
            });
        }
        return;
    }
    const std::int64_t ho = pooledH(s), wo = pooledW(s);
    const std::int64_t n = row / ho, i = row % ho;
    const std::int64_t rowStride = s.w * C;
    for (std::int64_t j = 0; j < wo; ++j) {
        const std::int64_t offset = ((n * s.h + 2 * i) * s.w + 2 * j) * C;
        const float* a = x + offset;
        const float* d = a + rowStride;
        float* da = dx + offset;
        float* dd = da + rowStride;
        const float* gp = gy + ((n * ho + i) * wo + j) * C;
        forChannels(C, [&]<typename V>(std::int64_t c) {
            const V sc = load<V>(m.scale + c), sh = load<V>(m.shift + c);
            const V xa = load<V>(a + c), xb = load<V>(a + C + c), xd = load<V>(d + c), xe = load<V>(d + C + c);
            const auto w = windowMax(xa * sc + sh, xb * sc + sh, xd * sc + sh, xe * sc + sh);
            const V dy = reluGrad(w.value, load<V>(gp + c));
            using Mask = decltype(w.t1);
            const Mask none{};  // false everywhere
            // The last position that won the scan gets dy.
            const Mask ge = w.t3, gd = w.t2 & (w.t3 == none), gb = w.t1 & (w.t2 == none) & (w.t3 == none);
            const Mask ga = (w.t1 | w.t2 | w.t3) == none;
            store(da + c, gradient(c, ga ? dy : V{}, xa));
            store(da + C + c, gradient(c, gb ? dy : V{}, xb));
            store(dd + c, gradient(c, gd ? dy : V{}, xd));
            store(dd + C + c, gradient(c, ge ? dy : V{}, xe));
        });
    }
    // An odd width leaves the last column of both input rows outside the windows, an odd height
    // the last input row (it belongs to the last output row here).
    if (s.w % 2)
        for (std::int64_t r = 2 * i; r < 2 * i + 2; ++r) {
            const std::int64_t offset = ((n * s.h + r) * s.w + s.w - 1) * C;
            uncovered(x + offset, dx + offset);
        }
    if (s.h % 2 && i == ho - 1)
        for (std::int64_t col = 0; col < s.w; ++col) {
            const std::int64_t offset = ((n * s.h + s.h - 1) * s.w + col) * C;
            uncovered(x + offset, dx + offset);
        }
}

}  // namespace kiln::graph::kernels
