#include "diffusion/image_conditioning.h"

#include "io/png_file.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <torch/nn/functional/upsampling.h>
#include <torch/torch.h>

#include <cstring>
#include <filesystem>
#include <fstream>

namespace kiln::diffusion {

namespace {

namespace F = torch::nn::functional;

constexpr std::int64_t kMaxPixels = 100'000'000;

// [1, C, H, W] float -> [1, C, height, width], antialiased when shrinking.
torch::Tensor resizeTo(const torch::Tensor& x, int width, int height)
{
    if (x.size(2) == height && x.size(3) == width) return x;
    return F::interpolate(x, F::InterpolateFuncOptions()
                                 .size(std::vector<int64_t>{height, width})
                                 .mode(torch::kBilinear)
                                 .align_corners(false)
                                 .antialias(true));
}

Result<void> checkSize(int width, int height, const std::string& where)
{
    if (width < 1 || height < 1) return makeError("the image is empty", where);
    if (static_cast<std::int64_t>(width) * height > kMaxPixels)
        return makeError("the image has " + std::to_string(width) + "x" + std::to_string(height) +
                         " pixels; at most 100 megapixels are read", where, "scale it down first");
    return success();
}

Result<cv::Mat> readFile(const std::string& path, int flags)
{
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) return makeError("the image file does not exist", path);
    // libpng reports a truncated file on stderr before OpenCV gives up; Kiln's own chunk reader says it
    // in one message instead.
    std::ifstream probe(path, std::ios::binary);
    char signature[8] = {};
    if (probe.read(signature, 8) && std::memcmp(signature, "\x89PNG\r\n\x1a\n", 8) == 0)
        if (auto chunks = io::readPngText(path); !chunks) return chunks.error();
    cv::Mat m;
    try {
        m = cv::imread(path, flags);
    } catch (const cv::Exception& e) {
        return makeError(std::string("could not read the image: ") + e.what(), path);
    }
    if (m.empty())
        return makeError("not an image Kiln can read (expected PNG, JPEG, WebP, BMP or TIFF), or the file is "
                         "truncated", path);
    if (auto ok = checkSize(m.cols, m.rows, path); !ok) return ok.error();
    if (m.depth() != CV_8U) {
        cv::Mat eight;
        m.convertTo(eight, CV_8U, m.depth() == CV_16U ? 1.0 / 257.0 : 255.0);
        m = eight;
    }
    return m;
}

ImageBytes fromMat(const cv::Mat& m)
{
    const cv::Mat c = m.isContinuous() ? m : m.clone();
    ImageBytes out;
    out.width = c.cols;
    out.height = c.rows;
    const std::vector<int64_t> shape = c.channels() == 1 ? std::vector<int64_t>{c.rows, c.cols}
                                                         : std::vector<int64_t>{c.rows, c.cols, c.channels()};
    out.pixels = torch::from_blob(c.data, shape, torch::kUInt8).clone();
    return out;
}

}  // namespace

torch::Tensor resizeImage(const torch::Tensor& rgb, int width, int height)
{
    torch::Tensor x = rgb.permute({2, 0, 1}).unsqueeze(0).to(torch::kFloat32);
    return resizeTo(x, width, height).clamp(0.0, 255.0);
}

torch::Tensor imageToModel(const torch::Tensor& image255) { return image255 / 127.5 - 1.0; }

torch::Tensor blurMask(const torch::Tensor& mask, int blur)
{
    torch::Tensor m = mask.contiguous();
    if (blur > 0) {
        cv::Mat src(static_cast<int>(m.size(0)), static_cast<int>(m.size(1)), CV_8UC1, m.data_ptr<std::uint8_t>());
        cv::Mat tmp, dst;
        const int kernel = 2 * static_cast<int>(2.5 * blur + 0.5) + 1;
        cv::GaussianBlur(src, tmp, cv::Size(kernel, 1), blur);
        cv::GaussianBlur(tmp, dst, cv::Size(1, kernel), blur);
        m = torch::from_blob(dst.data, {dst.rows, dst.cols}, torch::kUInt8).clone();
    }
    return m.to(torch::kFloat32).div(255.0).view({1, 1, m.size(0), m.size(1)});
}

torch::Tensor maskToModel(const torch::Tensor& blurredMask, int width, int height)
{
    return resizeTo(blurredMask, width, height).clamp(0.0, 1.0);
}

torch::Tensor latentMask(const torch::Tensor& modelMask, int64_t latentHeight, int64_t latentWidth)
{
    return resizeTo(modelMask, static_cast<int>(latentWidth), static_cast<int>(latentHeight)).round().clamp(0.0, 1.0);
}

torch::Tensor overlayInit(const torch::Tensor& generated, const torch::Tensor& init, const torch::Tensor& modelMask)
{
    const torch::Tensor a = (modelMask * 2.0).clamp(0.0, 1.0);
    return generated * a + init * (1.0 - a);
}

Result<ImageBytes> readRgbImage(const std::string& path)
{
    auto m = readFile(path, cv::IMREAD_COLOR);
    if (!m) return m.error();
    cv::Mat rgb;
    cv::cvtColor(*m, rgb, cv::COLOR_BGR2RGB);
    return fromMat(rgb);
}

Result<ImageBytes> readMaskImage(const std::string& path)
{
    auto m = readFile(path, cv::IMREAD_UNCHANGED);
    if (!m) return m.error();
    cv::Mat grey;
    if (m->channels() == 4) {
        cv::extractChannel(*m, grey, 3);
        // Transparent = keep, opaque = repaint, unless the alpha is flat (an opaque black/white mask).
        double lo = 0, hi = 0;
        cv::minMaxLoc(grey, &lo, &hi);
        if (lo == hi) cv::cvtColor(*m, grey, cv::COLOR_BGRA2GRAY);
    } else if (m->channels() == 3) {
        cv::cvtColor(*m, grey, cv::COLOR_BGR2GRAY);
    } else {
        grey = *m;
    }
    return fromMat(grey);
}

Result<ImageBytes> rgbFromBytes(const std::uint8_t* data, std::size_t size, int width, int height)
{
    if (auto ok = checkSize(width, height, "init image"); !ok) return ok.error();
    if (size != static_cast<std::size_t>(width) * height * 3)
        return makeError("the init image has " + std::to_string(size) + " bytes; " + std::to_string(width) + "x" +
                         std::to_string(height) + " RGB needs " + std::to_string(std::size_t(width) * height * 3));
    ImageBytes out{torch::from_blob(const_cast<std::uint8_t*>(data), {height, width, 3}, torch::kUInt8).clone(),
                   width, height};
    return out;
}

Result<ImageBytes> maskFromBytes(const std::uint8_t* data, std::size_t size, int width, int height)
{
    if (auto ok = checkSize(width, height, "mask"); !ok) return ok.error();
    if (size != static_cast<std::size_t>(width) * height)
        return makeError("the mask has " + std::to_string(size) + " bytes; a " + std::to_string(width) + "x" +
                         std::to_string(height) + " mask needs " + std::to_string(std::size_t(width) * height));
    ImageBytes out{torch::from_blob(const_cast<std::uint8_t*>(data), {height, width}, torch::kUInt8).clone(),
                   width, height};
    return out;
}

}  // namespace kiln::diffusion
