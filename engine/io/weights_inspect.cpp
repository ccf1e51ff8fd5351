#include "io/mapped_file.h"
#include "io/safetensors_file.h"
#include "io/torch_checkpoint.h"
#include "kiln/weights.h"

#include <cstdio>
#include <cstring>

namespace kiln {

std::uint64_t WeightsSummary::totalBytes() const
{
    std::uint64_t n = 0;
    for (const auto& t : tensors) n += t.bytes;
    return n;
}

std::uint64_t WeightsSummary::totalElements() const
{
    std::uint64_t n = 0;
    for (const auto& t : tensors) {
        std::uint64_t e = 1;
        for (auto d : t.shape) e *= static_cast<std::uint64_t>(d);
        n += e;
    }
    return n;
}

std::string formatShape(const std::vector<std::int64_t>& shape)
{
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

namespace {
std::string scaled(double v, const char* const* units, int count, double step, int decimals)
{
    int u = 0;
    while (v >= step && u + 1 < count) {
        v /= step;
        ++u;
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f%s%s", u == 0 ? 0 : decimals, v, units[u][0] ? " " : "", units[u]);
    return buf;
}

Result<WeightsSummary> fromSafetensors(const std::string& path)
{
    auto file = io::SafetensorsFile::open(path);
    if (!file) return file.error();
    WeightsSummary s;
    s.format = "safetensors";
    for (const auto& e : file->index().tensors)
        s.tensors.push_back({e.name, std::string(io::dtypeName(e.dtype)), e.shape, e.byteSize()});
    for (const auto& [k, v] : file->index().metadata) s.metadata.emplace_back(k, v);
    return s;
}

Result<WeightsSummary> fromCheckpoint(const std::string& path)
{
    auto ckpt = io::TorchCheckpoint::open(path);
    if (!ckpt) return ckpt.error();
    WeightsSummary s;
    s.format = ckpt->format();
    for (const auto& t : ckpt->tensors()) {
        std::uint64_t n = io::dtypeSize(t.dtype);
        for (auto d : t.shape) n *= static_cast<std::uint64_t>(d);
        s.tensors.push_back({t.name, std::string(io::dtypeName(t.dtype)), t.shape, n});
    }
    for (const auto& e : ckpt->entries()) s.metadata.emplace_back(e.name, e.summary);
    return s;
}
}  // namespace

std::string formatBytes(std::uint64_t bytes)
{
    static const char* const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    return scaled(static_cast<double>(bytes), units, 5, 1024.0, 1);
}

std::string formatCount(std::uint64_t n)
{
    static const char* const units[] = {"", "K", "M", "G", "T"};
    return scaled(static_cast<double>(n), units, 5, 1000.0, 1);
}

Result<WeightsSummary> inspectWeights(const std::string& path)
{
    auto mapped = io::MappedFile::open(path);
    if (!mapped) return mapped.error();
    const auto bytes = (*mapped)->bytes();
    const bool zip = bytes.size() >= 4 && std::memcmp(bytes.data(), "PK", 2) == 0;
    const bool pickle = bytes.size() >= 2 && bytes[0] == 0x80 && bytes[1] >= 2 && bytes[1] <= 5;
    const bool safetensors = bytes.size() >= 9 && bytes[8] == '{';
    const bool namedSafetensors = path.size() > 12 && path.ends_with(".safetensors");

    Result<WeightsSummary> r = makeError("unreachable");
    if (zip || pickle) r = fromCheckpoint(path);
    else if (safetensors || namedSafetensors) r = fromSafetensors(path);
    else
        return makeError("not a weights file Kiln knows", path,
                         "expected safetensors (an 8-byte length, then a JSON header) or a PyTorch checkpoint "
                         "(.pt/.pth/.ckpt written by torch.save)");
    if (r) {
        r->path = path;
        r->fileBytes = bytes.size();
    }
    return r;
}

}  // namespace kiln
