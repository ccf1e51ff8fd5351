#include "io/safetensors_file.h"

namespace kiln::io {

Result<SafetensorsFile> SafetensorsFile::open(const std::string& path)
{
    auto mapped = MappedFile::open(path);
    if (!mapped) return mapped.error();
    auto index = parseSafetensors((*mapped)->bytes(), path);
    if (!index) return index.error();
    SafetensorsFile f;
    f.file_ = std::move(*mapped);
    f.index_ = std::move(*index);
    return f;
}

std::span<const std::uint8_t> SafetensorsFile::bytes(const SafetensorsEntry& e) const
{
    return file_->bytes().subspan(index_.dataOffset + e.begin, e.byteSize());
}

}  // namespace kiln::io
