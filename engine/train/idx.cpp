#include "train/idx.h"

#include "kiln/train_config.h"

#include <filesystem>
#include <fstream>
#include <zlib.h>

namespace kiln::train {

namespace {

constexpr std::uint32_t kImagesMagic = 0x00000803;  // ubyte, 3 dimensions
constexpr std::uint32_t kLabelsMagic = 0x00000801;  // ubyte, 1 dimension
constexpr std::size_t kMaxFileBytes = std::size_t{1} << 30;

std::uint32_t bigEndian32(const std::uint8_t* p)
{
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

int elementSize(std::uint8_t type)
{
    switch (type) {
    case 0x08: case 0x09: return 1;
    case 0x0B: return 2;
    case 0x0C: case 0x0D: return 4;
    case 0x0E: return 8;
    default: return 0;
    }
}

Result<std::vector<std::uint8_t>> readWholeFile(const std::string& path)
{
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    if (ec) return makeError("cannot read the file: " + ec.message(), path);
    if (size > kMaxFileBytes) return makeError("the file is larger than 1 GiB", path);
    std::ifstream f(path, std::ios::binary);
    if (!f) return makeError("cannot open the file", path);
    std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
    if (!f.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size())))
        return makeError("cannot read the file", path);
    return bytes;
}

Error missingPackage(const std::string& dir, const std::string& file)
{
    return makeError("Fashion-MNIST is not installed: " + file + " is missing", dir,
                     "install dataset-fashion-mnist (sudo apt install dataset-fashion-mnist)");
}

}  // namespace

Result<std::vector<std::uint8_t>> gunzip(std::span<const std::uint8_t> gz, const std::string& where,
                                         std::size_t maxBytes)
{
    z_stream zs{};
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) return makeError("zlib could not start", where);
    std::vector<std::uint8_t> out;
    // Deflate rarely beats 10:1 on this kind of data; start there and grow.
    out.resize(std::min(maxBytes, std::max<std::size_t>(gz.size() * 4, 4096)));
    zs.next_in = const_cast<Bytef*>(gz.data());
    zs.avail_in = static_cast<uInt>(gz.size());
    std::size_t produced = 0;
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
        if (produced == out.size()) {
            if (out.size() >= maxBytes) {
                inflateEnd(&zs);
                return makeError("the file inflates to more than " + std::to_string(maxBytes >> 20) + " MiB", where);
            }
            out.resize(std::min(maxBytes, out.size() * 2));
        }
        zs.next_out = out.data() + produced;
        zs.avail_out = static_cast<uInt>(std::min<std::size_t>(out.size() - produced, 1u << 30));
        const auto before = zs.avail_out;
        rc = inflate(&zs, Z_NO_FLUSH);
        produced += before - zs.avail_out;
        if (rc == Z_BUF_ERROR && zs.avail_in == 0) {
            inflateEnd(&zs);
            return makeError("the gzip stream is truncated", where, "download or reinstall the file");
        }
        if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
            const std::string msg = zs.msg ? zs.msg : "error " + std::to_string(rc);
            inflateEnd(&zs);
            return makeError("the gzip stream is corrupt (" + msg + ")", where, "download or reinstall the file");
        }
    }
    inflateEnd(&zs);
    out.resize(produced);
    return out;
}

Result<IdxArray> parseIdx(std::span<const std::uint8_t> bytes, const std::string& where)
{
    if (bytes.size() < 4) return makeError("not an IDX file: only " + std::to_string(bytes.size()) + " bytes", where);
    if (bytes[0] != 0 || bytes[1] != 0) return makeError("not an IDX file: the magic number does not start with two zero bytes", where);
    IdxArray a;
    a.type = bytes[2];
    const int esize = elementSize(a.type);
    if (esize == 0) {
        static const char* hex = "0123456789abcdef";
        return makeError(std::string("not an IDX file: unknown element type 0x") + hex[a.type >> 4] + hex[a.type & 15], where);
    }
    const int nd = bytes[3];
    if (nd < 1 || nd > 8) return makeError("IDX file with " + std::to_string(nd) + " dimensions (1 to 8 expected)", where);
    const std::size_t header = 4 + 4 * static_cast<std::size_t>(nd);
    if (bytes.size() < header) return makeError("the IDX header is truncated", where);
    const std::uint64_t payload = bytes.size() - header;
    // The product is capped as soon as it exceeds the bytes present, so a hostile header cannot
    // overflow it.
    std::uint64_t elements = 1;
    bool exceeds = false;
    for (int i = 0; i < nd; ++i) a.dims.push_back(bigEndian32(bytes.data() + 4 + 4 * i));
    for (auto d : a.dims) {
        if (d == 0) { elements = 0; exceeds = false; break; }
        if (exceeds || elements > payload / static_cast<std::uint64_t>(d)) exceeds = true;
        else elements *= static_cast<std::uint64_t>(d);
    }
    const auto esz = static_cast<std::uint64_t>(esize);
    std::string dims;
    for (auto d : a.dims) dims += (dims.empty() ? "" : "x") + std::to_string(d);
    if (exceeds || elements > payload / esz)
        return makeError("the IDX file is truncated: its header promises " + dims + " elements, but only " +
                             std::to_string(payload) + " bytes follow", where, "download or reinstall the file");
    if (elements * esz != payload)
        return makeError("the IDX file has " + std::to_string(payload - elements * esz) + " bytes after its " + dims +
                             " elements", where);
    a.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(header), bytes.end());
    return a;
}

Result<IdxArray> readIdxFile(const std::string& path)
{
    auto bytes = readWholeFile(path);
    if (!bytes) return bytes.error();
    if (bytes->size() >= 2 && (*bytes)[0] == 0x1f && (*bytes)[1] == 0x8b) {
        auto raw = gunzip(*bytes, path);
        if (!raw) return raw.error();
        return parseIdx(*raw, path);
    }
    return parseIdx(*bytes, path);
}

Result<FashionMnistPart> readFashionMnist(const std::string& dirIn, bool trainPart)
{
    const std::string dir = dirIn.empty() ? kFashionMnistDir : dirIn;
    const std::string prefix = trainPart ? "train" : "t10k";
    const std::string imagesName = prefix + "-images-idx3-ubyte", labelsName = prefix + "-labels-idx1-ubyte";
    auto pick = [&](const std::string& name) {
        // The Debian package ships .gz; a folder someone unpacked has the bare names.
        const auto gz = std::filesystem::path(dir) / (name + ".gz");
        const auto plain = std::filesystem::path(dir) / name;
        return std::filesystem::exists(gz) ? gz.string() : std::filesystem::exists(plain) ? plain.string() : std::string();
    };
    if (!std::filesystem::is_directory(dir)) return missingPackage(dir, "the folder");
    const std::string imagesPath = pick(imagesName), labelsPath = pick(labelsName);
    if (imagesPath.empty()) return missingPackage(dir, imagesName + ".gz");
    if (labelsPath.empty()) return missingPackage(dir, labelsName + ".gz");

    FashionMnistPart part;
    auto images = readIdxFile(imagesPath);
    if (!images) return images.error();
    auto labels = readIdxFile(labelsPath);
    if (!labels) return labels.error();
    const auto magicOf = [](const IdxArray& a) { return (std::uint32_t{a.type} << 8) | static_cast<std::uint32_t>(a.dims.size()); };
    if (magicOf(*images) != kImagesMagic)
        return makeError("not an image file: its magic number is not 0x00000803 (unsigned bytes, 3 dimensions)", imagesPath);
    if (magicOf(*labels) != kLabelsMagic)
        return makeError("not a label file: its magic number is not 0x00000801 (unsigned bytes, 1 dimension)", labelsPath);
    if (images->dims[1] != 28 || images->dims[2] != 28)
        return makeError("images are " + std::to_string(images->dims[1]) + "x" + std::to_string(images->dims[2]) +
                             ", not 28x28", imagesPath);
    if (images->dims[0] != labels->dims[0])
        return makeError(std::to_string(images->dims[0]) + " images but " + std::to_string(labels->dims[0]) + " labels",
                         labelsPath);
    for (std::size_t i = 0; i < labels->data.size(); ++i)
        if (labels->data[i] >= 10)
            return makeError("label " + std::to_string(labels->data[i]) + " of item " + std::to_string(i) +
                                 " is not a Fashion-MNIST class (0 to 9)", labelsPath);
    part.images = std::move(*images);
    part.labels = std::move(*labels);
    return part;
}

const std::vector<std::string>& fashionMnistClassNames()
{
    static const std::vector<std::string> names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
    return names;
}

}  // namespace kiln::train
