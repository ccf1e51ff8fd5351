// A read-only memory map of a whole file, shared by the readers that point into it.
#pragma once

#include "kiln/result.h"

#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace kiln::io {

class MappedFile {
public:
    static Result<std::shared_ptr<const MappedFile>> open(const std::string& path);
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    std::span<const std::uint8_t> bytes() const { return {data_, size_}; }
    // Drops the pages of `range` (inside bytes()) from this process's memory: a loader that has copied a
    // tensor out calls it so that a 2 GB checkpoint does not sit in RSS twice. Reading the range again
    // is still valid; the pages come back from the file (or the page cache).
    void release(std::span<const std::uint8_t> range) const;
    const std::string& path() const { return path_; }

private:
    MappedFile() = default;
    std::string path_;
    const std::uint8_t* data_ = nullptr;
    std::size_t size_ = 0;
};

}  // namespace kiln::io
