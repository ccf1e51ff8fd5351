#include "train/dataset.h"

#include "train/idx.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

namespace kiln::train {

Dataset Dataset::subset(const torch::Tensor& indices) const
{
    return {inputs.index_select(0, indices), targets.index_select(0, indices)};
}

std::vector<std::int64_t> seededPermutation(std::int64_t n, std::uint64_t seed)
{
    std::vector<std::int64_t> p(static_cast<std::size_t>(std::max<std::int64_t>(n, 0)));
    for (std::size_t i = 0; i < p.size(); ++i) p[i] = static_cast<std::int64_t>(i);
    std::mt19937_64 rng(seed);
    // std::shuffle's draws differ between standard libraries; this loop does not.
    for (std::size_t i = p.size(); i > 1; --i) std::swap(p[i - 1], p[rng() % i]);
    return p;
}

namespace {

torch::Tensor indexTensor(const std::vector<std::int64_t>& v, std::size_t from, std::size_t to)
{
    return torch::tensor(std::vector<std::int64_t>(v.begin() + static_cast<std::ptrdiff_t>(from),
                                                   v.begin() + static_cast<std::ptrdiff_t>(to)),
                         torch::kInt64);
}

}  // namespace

std::pair<Dataset, Dataset> splitDataset(const Dataset& all, double fraction, std::uint64_t seed)
{
    const auto n = all.size();
    auto nVal = static_cast<std::int64_t>(std::llround(std::clamp(fraction, 0.0, 1.0) * static_cast<double>(n)));
    if (fraction > 0 && n >= 2) nVal = std::clamp<std::int64_t>(nVal, 1, n - 1);
    const auto perm = seededPermutation(n, seed ^ 0x5eed5011ull);
    const auto cut = static_cast<std::size_t>(nVal);
    return {all.subset(indexTensor(perm, cut, perm.size())), all.subset(indexTensor(perm, 0, cut))};
}

Dataset takeRandom(const Dataset& d, std::int64_t n, std::uint64_t seed)
{
    if (n <= 0 || n >= d.size()) return d;
    const auto perm = seededPermutation(d.size(), seed ^ 0x5ab5e7ull);
    return d.subset(indexTensor(perm, 0, static_cast<std::size_t>(n)));
}

Result<TrainData> loadFashionMnist(const DataConfig& c)
{
    auto toDataset = [](FashionMnistPart& p) {
        const auto n = p.images.count();
        Dataset d;
        d.inputs = torch::from_blob(p.images.data.data(), {n, 1, 28, 28}, torch::kUInt8).clone();
        d.targets = torch::from_blob(p.labels.data.data(), {n}, torch::kUInt8).to(torch::kInt64);
        return d;
    };
    auto trainPart = readFashionMnist(c.path, true);
    if (!trainPart) return trainPart.error();
    TrainData out;
    Dataset all = toDataset(*trainPart);
    trainPart->images.data = {};
    if (c.useTestSetForValidation) {
        auto testPart = readFashionMnist(c.path, false);
        if (!testPart) return testPart.error();
        out.train = all;
        out.validation = toDataset(*testPart);
    } else {
        std::tie(out.train, out.validation) = splitDataset(all, c.validationFraction, c.seed);
    }
    out.train = takeRandom(out.train, c.maxTrainSamples, c.seed);
    out.validation = takeRandom(out.validation, c.maxValidationSamples, c.seed + 1);
    out.info.kind = DatasetKind::FashionMnist;
    out.info.classNames = fashionMnistClassNames();
    out.info.description = "Fashion-MNIST: " + std::to_string(out.train.size()) + " training and " +
                           std::to_string(out.validation.size()) + " validation images (" +
                           (c.useTestSetForValidation ? "the t10k test set" : "carved from the training set") + ")";
    return out;
}

Result<TrainData> loadTextDataset(const DataConfig& c)
{
    const std::string path = c.path.empty() ? kDefaultTextCorpus : c.path;
    constexpr std::uintmax_t kMaxBytes = 32u << 20;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec))
        return makeError("the text file does not exist", path,
                         path == kDefaultTextCorpus ? "install base-files, or choose another text file" : "choose a text file");
    const auto bytes = std::filesystem::file_size(path, ec);
    if (ec) return makeError("cannot read the text file: " + ec.message(), path);
    if (bytes > kMaxBytes)
        return makeError("the text file is larger than 32 MiB, more than a character model trains on here", path,
                         "use an excerpt of it");
    std::ifstream f(path, std::ios::binary);
    std::string text(static_cast<std::size_t>(bytes), '\0');
    if (!f.read(text.data(), static_cast<std::streamsize>(text.size()))) return makeError("cannot read the text file", path);

    const int T = c.sequenceLength;
    if (T < 1) return makeError("the sequence length must be at least 1", path);
    const int stride = c.sequenceStride > 0 ? c.sequenceStride : T;
    auto vocab = std::make_shared<CharVocab>(CharVocab::fromText(text));
    const auto tokens = vocab->encode(text);
    const auto n = static_cast<std::int64_t>(tokens.size());
    if (n < T + 1)
        return makeError("the text has " + std::to_string(n) + " characters; sequences of " + std::to_string(T) +
                             " need at least " + std::to_string(T + 1), path, "choose a longer text or a shorter sequence length");
    const std::int64_t count = (n - 1 - T) / stride + 1;
    auto all = torch::from_blob(const_cast<std::int64_t*>(tokens.data()), {n}, torch::kInt64);
    // Each row is a window of T tokens; its targets are the same window shifted by one token.
    // clone(), not contiguous(): without overlap the windows already are contiguous and would
    // still point into `tokens`.
    Dataset d;
    d.inputs = all.narrow(0, 0, n - 1).unfold(0, T, stride).narrow(0, 0, count).clone();
    d.targets = all.narrow(0, 1, n - 1).unfold(0, T, stride).narrow(0, 0, count).clone();

    TrainData out;
    std::tie(out.train, out.validation) = splitDataset(d, c.validationFraction, c.seed);
    out.train = takeRandom(out.train, c.maxTrainSamples, c.seed);
    out.validation = takeRandom(out.validation, c.maxValidationSamples, c.seed + 1);
    out.info.kind = DatasetKind::Text;
    out.info.vocab = std::move(vocab);
    out.info.description = "text: " + std::to_string(n) + " characters, " + std::to_string(out.info.vocab->size()) +
                           " distinct; " + std::to_string(out.train.size()) + " training and " +
                           std::to_string(out.validation.size()) + " validation sequences of " + std::to_string(T);
    return out;
}

Result<TrainData> loadData(const DataConfig& c, const std::function<bool()>& cancelled)
{
    try {
        switch (c.kind) {
        case DatasetKind::FashionMnist: return loadFashionMnist(c);
        case DatasetKind::ImageFolder: return loadImageFolder(c, cancelled);
        case DatasetKind::Text: return loadTextDataset(c);
        case DatasetKind::Custom: break;
        }
        return makeError("a custom dataset is not loaded from a DataConfig", {}, "pass its tensors to the trainer");
    } catch (const std::exception& ex) {
        return makeError(std::string("cannot load the dataset: ") + ex.what(), c.path);
    }
}

}  // namespace kiln::train
