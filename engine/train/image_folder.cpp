// An image folder: one subfolder per class, images decoded by OpenCV. Files that do not decode
// are skipped and counted rather than failing the run; a person sees how many and which.
#include "train/dataset.h"

#include <algorithm>
#include <array>
#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace kiln::train {

namespace fs = std::filesystem;

namespace {

bool isImageName(const fs::path& p)
{
    static const std::array<std::string, 11> exts = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif",
                                                     ".tiff", ".pgm", ".ppm", ".pbm", ".pnm"};
    std::string e = p.extension().string();
    std::transform(e.begin(), e.end(), e.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    return std::find(exts.begin(), exts.end(), e) != exts.end();
}

}  // namespace

Result<TrainData> loadImageFolder(const DataConfig& c, const std::function<bool()>& cancelled)
{
    const fs::path root = c.path;
    std::error_code ec;
    if (c.path.empty() || !fs::is_directory(root, ec))
        return makeError("the image folder does not exist", c.path, "choose a folder with one subfolder per class");
    if (c.imageChannels != 1 && c.imageChannels != 3)
        return makeError("images can have 1 or 3 channels, not " + std::to_string(c.imageChannels), c.path);

    std::vector<fs::path> classDirs;
    for (const auto& e : fs::directory_iterator(root, ec))
        if (e.is_directory() && e.path().filename().string().front() != '.') classDirs.push_back(e.path());
    std::sort(classDirs.begin(), classDirs.end());
    if (classDirs.empty())
        return makeError("the folder has no class subfolders", c.path, "put the images of each class in a subfolder named after it");

    TrainData out;
    int width = c.imageWidth, height = c.imageHeight;
    const int C = c.imageChannels;
    std::vector<std::uint8_t> pixels;
    std::vector<std::int64_t> labels;
    for (std::size_t k = 0; k < classDirs.size(); ++k) {
        out.info.classNames.push_back(classDirs[k].filename().string());
        std::vector<fs::path> files;
        for (const auto& e : fs::directory_iterator(classDirs[k], ec))
            if (e.is_regular_file() && isImageName(e.path())) files.push_back(e.path());
        std::sort(files.begin(), files.end());
        for (const auto& file : files) {
            if (cancelled && cancelled()) return makeError("loading the images was cancelled", c.path);
            cv::Mat img;
            try {
                img = cv::imread(file.string(), C == 1 ? cv::IMREAD_GRAYSCALE : cv::IMREAD_COLOR);
            } catch (const cv::Exception&) {
                img.release();  // OpenCV throws for some malformed headers instead of returning empty
            }
            if (img.empty()) {
                if (out.info.skippedExamples.size() < 5) out.info.skippedExamples.push_back(fs::relative(file, root).string());
                ++out.info.skippedFiles;
                continue;
            }
            if (width <= 0 || height <= 0) {
                width = img.cols;
                height = img.rows;
            }
            if (img.cols != width || img.rows != height)
                cv::resize(img, img, cv::Size(width, height), 0, 0, cv::INTER_AREA);
            if (C == 3) cv::cvtColor(img, img, cv::COLOR_BGR2RGB);
            // HWC (OpenCV) to CHW (torch), appended in place.
            const std::size_t plane = static_cast<std::size_t>(width) * static_cast<std::size_t>(height);
            const std::size_t base = pixels.size();
            pixels.resize(base + plane * static_cast<std::size_t>(C));
            for (int y = 0; y < height; ++y) {
                const auto* row = img.ptr<std::uint8_t>(y);
                for (int x = 0; x < width; ++x)
                    for (int ch = 0; ch < C; ++ch)
                        pixels[base + static_cast<std::size_t>(ch) * plane + static_cast<std::size_t>(y * width + x)] =
                            row[x * C + ch];
            }
            labels.push_back(static_cast<std::int64_t>(k));
        }
    }
    if (labels.empty())
        return makeError(out.info.skippedFiles ? "none of the " + std::to_string(out.info.skippedFiles) + " images decode"
                                               : "the class subfolders hold no images",
                         c.path, "add PNG or JPEG images to the class subfolders");

    const auto n = static_cast<std::int64_t>(labels.size());
    Dataset all;
    all.inputs = torch::from_blob(pixels.data(), {n, C, height, width}, torch::kUInt8).clone();
    all.targets = torch::tensor(labels, torch::kInt64);
    std::tie(out.train, out.validation) = splitDataset(all, c.validationFraction, c.seed);
    out.train = takeRandom(out.train, c.maxTrainSamples, c.seed);
    out.validation = takeRandom(out.validation, c.maxValidationSamples, c.seed + 1);
    out.info.kind = DatasetKind::ImageFolder;
    out.info.description = "image folder: " + std::to_string(n) + " images in " + std::to_string(classDirs.size()) +
                           " classes at " + std::to_string(width) + "x" + std::to_string(height) + "; " +
                           std::to_string(out.train.size()) + " training, " + std::to_string(out.validation.size()) +
                           " validation";
    if (out.info.skippedFiles) {
        out.info.description += "; skipped " + std::to_string(out.info.skippedFiles) + " file(s) that do not decode (";
        for (std::size_t i = 0; i < out.info.skippedExamples.size(); ++i)
            out.info.description += (i ? ", " : "") + out.info.skippedExamples[i];
        out.info.description += out.info.skippedFiles > static_cast<std::int64_t>(out.info.skippedExamples.size()) ? ", ...)" : ")";
    }
    return out;
}

}  // namespace kiln::train
