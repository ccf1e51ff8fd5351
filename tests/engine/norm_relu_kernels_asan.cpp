// The fused batch norm's loops (engine/graph/norm_relu_kernels.cpp) on many small shapes, built with
// AddressSanitizer and UBSan: every read and write in bounds -- each buffer is allocated to its exact
// size -- and every element of the input gradient written (odd sizes leave pixels outside the pool
// windows). test_norm_relu checks the values against ATen; this checks the pointer arithmetic.
#include "graph/norm_relu_kernels.h"

#include <cmath>
#include <cstdio>
#include <memory>
#include <random>
#include <vector>

using namespace kiln::graph::kernels;

int main()
{
    std::mt19937 rng(1);
    std::normal_distribution<float> normal;
    auto randoms = [&](std::int64_t count) {
        auto v = std::make_unique<float[]>(static_cast<std::size_t>(count));
        for (std::int64_t i = 0; i < count; ++i) v[i] = normal(rng);
        return v;
    };
    int cases = 0;
    for (std::int64_t n : {1, 3})
        for (std::int64_t h : {1, 2, 3, 7})
            for (std::int64_t w : {1, 2, 5, 8})
                for (std::int64_t c : {1, 7, 8, 9, 131, 257})  // vector tails, two and three channel chunks
                    for (bool pool : {false, true}) {
                        if (pool && (h < 2 || w < 2)) continue;
                        const Nhwc s{n, h, w, c};
                        const std::int64_t in = s.pixels() * c, out = pool ? n * (h / 2) * (w / 2) * c : in;
                        const auto x = randoms(in), gy = randoms(out);
                        const auto y = std::make_unique<float[]>(static_cast<std::size_t>(out));
                        const auto dx = std::make_unique<float[]>(static_cast<std::size_t>(in));
                        const auto sc = randoms(c), sh = randoms(c), mean = randoms(c), proj = randoms(c),
                                   meanDy = randoms(c), gradScale = randoms(c);
                        std::vector<double> a(static_cast<std::size_t>(c)), b(a.size());
                        const ChannelMap m{sc.get(), sh.get()};
                        const InputGradient g{mean.get(), proj.get(), meanDy.get(), gradScale.get()};
                        for (std::int64_t r = 0; r < statRows(s); ++r) channelSums(x.get(), s, sh.get(), r, a.data(), b.data());
                        for (std::int64_t r = 0; r < rows(s, pool); ++r) {
                            forwardRow(x.get(), s, m, pool, r, y.get());
                            gradientSums(x.get(), gy.get(), s, m, mean.get(), pool, r, a.data(), b.data());
                        }
                        for (std::int64_t i = 0; i < in; ++i) dx[i] = NAN;
                        for (std::int64_t r = 0; r < rows(s, pool); ++r)
                            inputGradientRow(x.get(), gy.get(), s, m, g, pool, r, dx.get());
                        for (std::int64_t i = 0; i < in; ++i)
                            if (std::isnan(dx[i])) {
                                std::printf("FAIL: dx[%ld] not written for [%ld, %ld, %ld, %ld]%s\n", static_cast<long>(i),
                                            static_cast<long>(n), static_cast<long>(c), static_cast<long>(h),
                                            static_cast<long>(w), pool ? " pooled" : "");
                                return 1;
                            }
                        ++cases;
                    }
    std::printf("%d shapes: in bounds, every input-gradient element written\n", cases);
    return 0;
}
