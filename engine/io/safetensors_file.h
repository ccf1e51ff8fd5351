// An open safetensors file: the validated index plus a memory map; tensor bytes are read
// only when asked for.
#pragma once

#include "io/mapped_file.h"
#include "io/safetensors_index.h"

#include <memory>

namespace kiln::io {

class SafetensorsFile {
public:
    static Result<SafetensorsFile> open(const std::string& path);

    const SafetensorsIndex& index() const { return index_; }
    const std::string& path() const { return file_->path(); }
    // The entry's bytes inside the map (valid while this object or a copy lives).
    std::span<const std::uint8_t> bytes(const SafetensorsEntry& e) const;
    // Drops the entry's pages from memory once its bytes were copied (see MappedFile::release).
    void release(const SafetensorsEntry& e) const { file_->release(bytes(e)); }

private:
    std::shared_ptr<const MappedFile> file_;
    SafetensorsIndex index_;
};

struct TensorBlob {
    std::string name;
    DType dtype = DType::F32;
    std::vector<std::int64_t> shape;
    std::span<const std::uint8_t> data;  // row-major, little-endian
};

// The bytes of a safetensors file holding `tensors` (names must be unique).
Result<std::vector<std::uint8_t>> serializeSafetensors(std::span<const TensorBlob> tensors,
                                                       const std::map<std::string, std::string>& metadata);
// Writes it atomically: the old file stays intact until the new one is complete on disk.
Result<void> writeSafetensors(const std::string& path, std::span<const TensorBlob> tensors,
                              const std::map<std::string, std::string>& metadata = {});

}  // namespace kiln::io
