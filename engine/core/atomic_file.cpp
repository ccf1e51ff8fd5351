#include "core/atomic_file.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

namespace kiln {

namespace {
Error ioError(const std::string& what, const std::string& path)
{
    return makeError(what + ": " + std::strerror(errno), path);
}
}  // namespace

Result<AtomicFile> AtomicFile::create(const std::string& path)
{
    AtomicFile f;
    f.path_ = path;
    f.tmpPath_ = path + ".kiln-tmp-XXXXXX";
    f.fd_ = ::mkstemp(f.tmpPath_.data());
    if (f.fd_ < 0) return ioError("cannot create a temporary file beside the target", path);
    ::fchmod(f.fd_, 0644);
    return f;
}

AtomicFile::AtomicFile(AtomicFile&& other) noexcept
    : path_(std::move(other.path_)), tmpPath_(std::move(other.tmpPath_)), fd_(other.fd_)
{
    other.fd_ = -1;
    other.tmpPath_.clear();
}

AtomicFile::~AtomicFile()
{
    if (fd_ >= 0) ::close(fd_);
    if (!tmpPath_.empty()) ::unlink(tmpPath_.c_str());
}

Result<void> AtomicFile::write(const void* data, std::size_t size)
{
    const auto* p = static_cast<const char*>(data);
    while (size > 0) {
        const ssize_t n = ::write(fd_, p, size);
        if (n < 0) {
            if (errno == EINTR) continue;
            return ioError("cannot write", path_);
        }
        p += n;
        size -= static_cast<std::size_t>(n);
    }
    return success();
}

Result<void> AtomicFile::write(std::span<const std::uint8_t> bytes)
{
    return write(bytes.data(), bytes.size());
}

Result<void> AtomicFile::commit()
{
    if (::fsync(fd_) != 0) return ioError("cannot flush to disk", path_);
    ::close(fd_);
    fd_ = -1;
    if (::rename(tmpPath_.c_str(), path_.c_str()) != 0) return ioError("cannot replace the file", path_);
    tmpPath_.clear();
    const std::string dir = std::filesystem::path(path_).parent_path().string();
    const int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
    return success();
}

Result<void> writeFileAtomically(const std::string& path, std::span<const std::uint8_t> bytes)
{
    auto f = AtomicFile::create(path);
    if (!f) return f.error();
    if (auto r = f->write(bytes); !r) return r;
    return f->commit();
}

}  // namespace kiln
