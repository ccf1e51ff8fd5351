// Saves that never leave a half-written file behind: write a temporary file beside the target,
// fsync it, rename it over the target, fsync the directory.
#pragma once

#include "kiln/result.h"

#include <cstdint>
#include <cstdio>
#include <functional>
#include <span>
#include <string>

namespace kiln {

class AtomicFile {
public:
    static Result<AtomicFile> create(const std::string& path);
    AtomicFile(AtomicFile&& other) noexcept;
    AtomicFile& operator=(AtomicFile&&) = delete;
    ~AtomicFile();  // an uncommitted file is removed

    Result<void> write(std::span<const std::uint8_t> bytes);
    Result<void> write(const void* data, std::size_t size);
    Result<void> commit();

private:
    AtomicFile() = default;
    std::string path_, tmpPath_;
    int fd_ = -1;
};

// The whole save in one call.
Result<void> writeFileAtomically(const std::string& path, std::span<const std::uint8_t> bytes);

}  // namespace kiln
