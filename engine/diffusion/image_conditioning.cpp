#include "diffusion/image_conditioning.h"

#include "io/png_file.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <torch/nn/functional/upsampling.h>
#include <torch/torch.h>

#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <utility>
#include <vector>

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

std::uint32_t bigEndian(const unsigned char* p, int bytes)
{
    std::uint32_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | p[i];
    return v;
}

// The width and height a PNG, JPEG or BMP header declares, read before decoding: a small file may declare
// gigapixels (a "decompression bomb"), and OpenCV would allocate them (its own limit is 1 Gpx) before
// Kiln's 100 Mpx check could refuse. Other formats: nullopt (OpenCV's limit applies).
std::optional<std::pair<std::uint32_t, std::uint32_t>> declaredSize(std::ifstream& in)
{
    unsigned char head[32] = {};
    in.seekg(0);
    if (!in.read(reinterpret_cast<char*>(head), sizeof head)) return std::nullopt;
    if (std::memcmp(head, "\x89PNG\r\n\x1a\n", 8) == 0 && std::memcmp(head + 12, "IHDR", 4) == 0)
        return std::pair{bigEndian(head + 16, 4), bigEndian(head + 20, 4)};
    if (head[0] == 'B' && head[1] == 'M') {
        auto le = [&](int at) {
            return static_cast<std::int32_t>(head[at] | head[at + 1] << 8 | head[at + 2] << 16 |
                                             static_cast<std::uint32_t>(head[at + 3]) << 24);
        };
        return std::pair{static_cast<std::uint32_t>(std::abs(le(18))), static_cast<std::uint32_t>(std::abs(le(22)))};
    }
    if (head[0] != 0xFF || head[1] != 0xD8) return std::nullopt;
    // JPEG: walk the marker segments to the first start-of-frame
    in.seekg(2);
    for (int segments = 0; segments < 4096; ++segments) {
        unsigned char marker[4];
        if (!in.read(reinterpret_cast<char*>(marker), 4) || marker[0] != 0xFF) return std::nullopt;
        const unsigned type = marker[1];
        const std::uint32_t length = bigEndian(marker + 2, 2);
        const bool sof = type >= 0xC0 && type <= 0xCF && type != 0xC4 && type != 0xC8 && type != 0xCC;
        if (sof) {
            unsigned char frame[5];
            if (!in.read(reinterpret_cast<char*>(frame), 5)) return std::nullopt;
            return std::pair{bigEndian(frame + 3, 2), bigEndian(frame + 1, 2)};
        }
        if (length < 2) return std::nullopt;
        in.seekg(length - 2, std::ios::cur);
    }
    return std::nullopt;
}

enum class Wanted { Rgb, Mask };

// Decodes the file for `wanted`: an RGB image flattened onto white where it has alpha (A1111's
// img2img background), or the grey levels of a mask, or its alpha when that is not flat. JPEGs are read
// through OpenCV's colour / grey paths so their EXIF rotation applies (they have no alpha).
Result<cv::Mat> readFile(const std::string& path, Wanted wanted)
{
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) return makeError("the image file does not exist", path);
    std::ifstream probe(path, std::ios::binary);
    if (!probe) return makeError("the image file cannot be opened", path);
    if (auto size = declaredSize(probe))
        if (auto ok = checkSize(static_cast<int>(std::min<std::uint32_t>(size->first, 1u << 30)),
                                static_cast<int>(std::min<std::uint32_t>(size->second, 1u << 30)), path);
            !ok)
            return ok.error();
    // One read of the whole file: the PNG chunk check and the decoder both work on these bytes.
    probe.clear();
    probe.seekg(0, std::ios::end);
    const auto fileSize = static_cast<std::streamoff>(probe.tellg());
    if (fileSize < 0) return makeError("the image file cannot be read", path);
    std::vector<unsigned char> bytes(static_cast<std::size_t>(fileSize));
    probe.seekg(0);
    if (fileSize > 0 && !probe.read(reinterpret_cast<char*>(bytes.data()), fileSize))
        return makeError("the image file cannot be read", path);
    auto startsWith = [&](const char* magic, std::size_t n) {
        return bytes.size() >= n && std::memcmp(bytes.data(), magic, n) == 0;
    };
    // libpng reports a truncated file on stderr before OpenCV gives up; Kiln's own chunk reader says it
    // in one message instead.
    if (startsWith("\x89PNG\r\n\x1a\n", 8))
        if (auto chunks = io::readPngText(bytes.data(), bytes.size(), path); !chunks) return chunks.error();
    const bool jpeg = startsWith("\xFF\xD8", 2);
    const int flags = !jpeg ? cv::IMREAD_UNCHANGED : wanted == Wanted::Rgb ? cv::IMREAD_COLOR : cv::IMREAD_GRAYSCALE;
    cv::Mat m;
    try {
        m = cv::imdecode(bytes, flags);
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
    cv::Mat out;
    if (wanted == Wanted::Rgb) {
        if (m.channels() == 4) {
            cv::Mat bgra, flat;
            m.convertTo(bgra, CV_32FC4, 1.0 / 255.0);
            std::vector<cv::Mat> c;
            cv::split(bgra, c);
            for (std::size_t i = 0; i < 3; ++i) c[i] = c[i].mul(c[3]) + (1.0 - c[3]);  // over white
            c.pop_back();
            cv::merge(c, flat);
            flat.convertTo(flat, CV_8UC3, 255.0);
            cv::cvtColor(flat, out, cv::COLOR_BGR2RGB);
        } else if (m.channels() == 1) {
            cv::cvtColor(m, out, cv::COLOR_GRAY2RGB);
        } else {
            cv::cvtColor(m, out, cv::COLOR_BGR2RGB);
        }
        return out;
    }
    if (m.channels() == 4) {
        cv::extractChannel(m, out, 3);
        // Transparent = keep, opaque = repaint, unless the alpha is flat (an opaque black/white mask).
        double lo = 0, hi = 0;
        cv::minMaxLoc(out, &lo, &hi);
        if (lo == hi) cv::cvtColor(m, out, cv::COLOR_BGRA2GRAY);
    } else if (m.channels() == 3) {
        cv::cvtColor(m, out, cv::COLOR_BGR2GRAY);
    } else {
        out = m;
    }
    return out;
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
    auto m = readFile(path, Wanted::Rgb);
    if (!m) return m.error();
    return fromMat(*m);
}

Result<ImageBytes> readMaskImage(const std::string& path)
{
    auto m = readFile(path, Wanted::Mask);
    if (!m) return m.error();
    return fromMat(*m);
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
