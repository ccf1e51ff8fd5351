// The picture of sample predictions: no Qt in the engine, so the digits are drawn from a
// 3x5 bitmap font.
#include "train/evaluate.h"

#include <array>

namespace kiln::train {

namespace {

// Rows of 3 bits, top to bottom: 0-9, then '/'.
constexpr std::array<std::array<std::uint8_t, 5>, 11> kGlyphs{{
    {7, 5, 5, 5, 7}, {2, 6, 2, 2, 7}, {7, 1, 7, 4, 7}, {7, 1, 7, 1, 7}, {5, 5, 7, 1, 1},
    {7, 4, 7, 1, 7}, {7, 4, 7, 5, 7}, {7, 1, 1, 2, 2}, {7, 5, 7, 5, 7}, {7, 5, 7, 1, 7},
    {1, 1, 2, 4, 4},
}};

struct Canvas {
    Preview img;
    void fill(int x0, int y0, int w, int h, std::array<std::uint8_t, 3> rgb)
    {
        for (int y = std::max(y0, 0); y < std::min(y0 + h, img.height); ++y)
            for (int x = std::max(x0, 0); x < std::min(x0 + w, img.width); ++x) {
                auto* p = &img.rgba[(static_cast<std::size_t>(y) * static_cast<std::size_t>(img.width) + static_cast<std::size_t>(x)) * 4];
                p[0] = rgb[0], p[1] = rgb[1], p[2] = rgb[2], p[3] = 255;
            }
    }
    // Returns the x after the text.
    int text(int x, int y, const std::string& s, int scale, std::array<std::uint8_t, 3> rgb)
    {
        for (char ch : s) {
            const int g = ch == '/' ? 10 : (ch >= '0' && ch <= '9') ? ch - '0' : -1;
            if (g >= 0)
                for (int r = 0; r < 5; ++r)
                    for (int c = 0; c < 3; ++c)
                        if (kGlyphs[static_cast<std::size_t>(g)][static_cast<std::size_t>(r)] & (4 >> c))
                            fill(x + c * scale, y + r * scale, scale, scale, rgb);
            x += 4 * scale;
        }
        return x;
    }
};

}  // namespace

Preview predictionGrid(const Dataset& data, const std::vector<std::int64_t>& predicted, int tiles, int columns)
{
    const auto n = std::min<std::int64_t>({static_cast<std::int64_t>(tiles), data.size(),
                                           static_cast<std::int64_t>(predicted.size())});
    if (n <= 0 || !data.imageInputs()) return {};
    const auto images = data.inputs.narrow(0, 0, n).contiguous();
    const int C = static_cast<int>(images.size(1)), H = static_cast<int>(images.size(2)), W = static_cast<int>(images.size(3));
    // Small images (Fashion-MNIST's 28 px) are enlarged to stay legible in a panel.
    const int zoom = std::max(1, 64 / std::max(H, W));
    const int border = 2, label = 14, gap = 4;
    const int tileW = W * zoom + 2 * border, tileH = H * zoom + 2 * border + label;
    const int cols = static_cast<int>(std::min<std::int64_t>(std::max(columns, 1), n));
    const int rows = static_cast<int>((n + cols - 1) / cols);
    Canvas cv;
    cv.img.width = cols * tileW + (cols + 1) * gap;
    cv.img.height = rows * tileH + (rows + 1) * gap;
    cv.img.rgba.assign(static_cast<std::size_t>(cv.img.width) * static_cast<std::size_t>(cv.img.height) * 4, 0);
    cv.fill(0, 0, cv.img.width, cv.img.height, {32, 33, 36});
    const auto* px = images.data_ptr<std::uint8_t>();
    const std::size_t plane = static_cast<std::size_t>(H) * static_cast<std::size_t>(W);
    for (std::int64_t i = 0; i < n; ++i) {
        const int x0 = gap + static_cast<int>(i % cols) * (tileW + gap), y0 = gap + static_cast<int>(i / cols) * (tileH + gap);
        const auto truth = data.targets[i].item<std::int64_t>();
        const auto pred = predicted[static_cast<std::size_t>(i)];
        const bool right = truth == pred;
        const std::array<std::uint8_t, 3> frame = right ? std::array<std::uint8_t, 3>{46, 160, 67} : std::array<std::uint8_t, 3>{211, 47, 47};
        cv.fill(x0, y0, tileW, tileH, frame);
        const auto* img = px + static_cast<std::size_t>(i) * plane * static_cast<std::size_t>(C);
        for (int y = 0; y < H; ++y)
            for (int x = 0; x < W; ++x) {
                const std::size_t o = static_cast<std::size_t>(y * W + x);
                const std::uint8_t r = img[o], g = C >= 3 ? img[plane + o] : r, b = C >= 3 ? img[2 * plane + o] : r;
                cv.fill(x0 + border + x * zoom, y0 + border + y * zoom, zoom, zoom, {r, g, b});
            }
        const std::string caption = std::to_string(pred) + (right ? "" : "/" + std::to_string(truth));
        cv.text(x0 + border + 2, y0 + tileH - label + 2, caption, 2, {255, 255, 255});
    }
    return cv.img;
}

}  // namespace kiln::train
