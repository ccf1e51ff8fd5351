// SHA-256 of model files and the on-disk cache that spares hashing a several-GB file twice.
#include "diffusion/model_library.h"

#include "core/atomic_file.h"
#include "core/cache_dir.h"
#include "core/sha256.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <vector>

namespace kiln::diffusion {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kChunk = std::size_t{4} << 20;
// Far beyond any real library (a few hundred bytes an entry); a larger file is not ours to parse.
constexpr std::uintmax_t kMaxCacheFileBytes = std::uintmax_t{64} << 20;

// The same file named through a symlink or a relative path shares one cache entry.
std::string keyFor(const std::string& path)
{
    std::error_code ec;
    fs::path p = fs::weakly_canonical(fs::path(path), ec);
    if (ec) p = fs::absolute(fs::path(path), ec).lexically_normal();
    return p.string();
}

bool isSha256Hex(const std::string& s)
{
    if (s.size() != 64) return false;
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

// Another process (kiln-cli, a second window) may save the same file; loads and saves of one
// process do not interleave.
std::mutex& cacheFileMutex()
{
    static std::mutex m;
    return m;
}

void loadInto(const std::string& file, std::map<std::string, CachedHash>& entries)
{
    if (file.empty()) return;
    std::error_code ec;
    const auto bytes = fs::file_size(file, ec);
    if (ec || bytes > kMaxCacheFileBytes) return;
    std::ifstream in(file, std::ios::binary);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (json.is_discarded() || !json.is_object()) return;
    const auto files = json.find("files");
    if (files == json.end() || !files->is_object()) return;
    for (const auto& [path, v] : files->items()) {
        if (!v.is_object()) continue;
        const auto size = v.find("size"), mtime = v.find("mtime_ns"), sha = v.find("sha256");
        if (size == v.end() || !size->is_number_unsigned() || mtime == v.end() || !mtime->is_number_integer() ||
            sha == v.end() || !sha->is_string() || !isSha256Hex(sha->get<std::string>()))
            continue;
        entries[path] = CachedHash{size->get<std::uint64_t>(), mtime->get<std::int64_t>(), sha->get<std::string>()};
    }
}

}  // namespace

std::int64_t unixNanoseconds(fs::file_time_type time)
{
    const auto sys = std::chrono::file_clock::to_sys(time);
    return std::chrono::duration_cast<std::chrono::nanoseconds>(sys.time_since_epoch()).count();
}

std::optional<FileStamp> fileStamp(const std::string& path)
{
    std::error_code ec;
    const auto size = fs::file_size(path, ec);
    if (ec) return std::nullopt;
    const auto time = fs::last_write_time(path, ec);
    if (ec) return std::nullopt;
    return FileStamp{size, unixNanoseconds(time)};
}

Result<std::string> sha256File(const std::string& path, const HashProgress& progress)
{
    std::ifstream in(path, std::ios::binary);
    if (!in) return makeError(std::string("cannot open the file: ") + std::strerror(errno), path);
    std::error_code ec;
    const std::uint64_t total = fs::file_size(path, ec);
    Sha256 sha;
    std::vector<char> buffer(kChunk);
    std::uint64_t done = 0;
    while (in) {
        in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
        const auto n = static_cast<std::size_t>(in.gcount());
        sha.update(reinterpret_cast<const std::uint8_t*>(buffer.data()), n);
        done += n;
        if (progress && !progress(done, total)) return makeError("hashing was cancelled", path);
    }
    if (in.bad()) return makeError("the file could not be read to the end", path, "check the disk");
    return sha.hex();
}

HashCache::HashCache(std::string file) : file_(std::move(file))
{
    std::lock_guard lock(cacheFileMutex());
    loadInto(file_, entries_);
}

std::string HashCache::defaultFile()
{
    const auto dir = cacheDir();
    return dir.empty() ? std::string() : (dir / "model-hashes.json").string();
}

std::optional<std::string> HashCache::lookup(const std::string& absPath, std::uint64_t size, std::int64_t mtimeNs) const
{
    const auto it = entries_.find(absPath);
    if (it == entries_.end() || it->second.size != size || it->second.mtimeNs != mtimeNs) return std::nullopt;
    return it->second.sha256;
}

std::optional<std::string> HashCache::lookup(const std::string& path) const
{
    const auto stamp = fileStamp(path);
    if (!stamp) return std::nullopt;
    return lookup(keyFor(path), stamp->size, stamp->mtimeNs);
}

void HashCache::store(const std::string& absPath, std::uint64_t size, std::int64_t mtimeNs, const std::string& sha256)
{
    entries_[absPath] = CachedHash{size, mtimeNs, sha256};
}

Result<void> HashCache::save() const
{
    if (file_.empty()) return makeError("no cache folder: set KILN_CACHE_DIR, XDG_CACHE_HOME or HOME");
    std::lock_guard lock(cacheFileMutex());
    std::map<std::string, CachedHash> merged;
    loadInto(file_, merged);
    for (const auto& [k, v] : entries_) merged[k] = v;
    nlohmann::json files = nlohmann::json::object();
    for (const auto& [k, v] : merged)
        files[k] = {{"size", v.size}, {"mtime_ns", v.mtimeNs}, {"sha256", v.sha256}};
    std::string text;
    try {
        // Replaces a path that is not UTF-8 rather than throwing from the hashing thread.
        text = nlohmann::json{{"version", 1}, {"files", files}}.dump(1, ' ', false, nlohmann::json::error_handler_t::replace);
    } catch (const std::exception& e) {
        return makeError(std::string("the hash cache could not be written: ") + e.what(), file_);
    }
    std::error_code ec;
    fs::create_directories(fs::path(file_).parent_path(), ec);
    if (ec) return makeError("cannot create the cache folder: " + ec.message(), fs::path(file_).parent_path().string());
    return writeFileAtomically(file_, {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
}

Result<std::string> HashCache::sha256(const std::string& path, const HashProgress& progress, bool* fromCache)
{
    if (fromCache) *fromCache = false;
    const auto before = fileStamp(path);
    if (!before) return makeError("cannot read the file's size and time", path);
    const std::string key = keyFor(path);
    if (auto known = lookup(key, before->size, before->mtimeNs)) {
        if (fromCache) *fromCache = true;
        return *known;
    }
    auto hash = sha256File(path, progress);
    if (!hash) return hash;
    // A file still being written (a download) would be cached under a stamp it no longer has.
    const auto after = fileStamp(path);
    if (after && after->size == before->size && after->mtimeNs == before->mtimeNs)
        store(key, before->size, before->mtimeNs, *hash);
    return hash;
}

HashFilesSummary hashModelFiles(const std::vector<std::string>& paths, HashCache& cache, const HashFilesCallbacks& cb)
{
    using Clock = std::chrono::steady_clock;
    HashFilesSummary summary;
    auto stopped = [&cb] { return cb.cancelled && cb.cancelled(); };
    std::vector<std::uint64_t> sizes;
    std::uint64_t total = 0;
    for (const auto& p : paths) {
        const auto stamp = fileStamp(p);
        sizes.push_back(stamp ? stamp->size : 0);
        total += sizes.back();
    }
    bool unsaved = false;
    std::optional<Clock::time_point> lastSave;
    auto save = [&] {
        auto saved = cache.save();
        lastSave = Clock::now();
        unsaved = false;
        if (saved) ++summary.saves;
        else summary.problems.push_back("the hashes could not be kept: " + saved.error().message());
    };
    std::uint64_t before = 0;
    for (std::size_t i = 0; i < paths.size(); ++i) {
        if (stopped()) {
            summary.cancelled = true;
            break;
        }
        const std::string& path = paths[i];
        if (cb.progress) cb.progress(before, total, i, path);
        bool fromCache = false;
        auto h = cache.sha256(
            path,
            [&](std::uint64_t done, std::uint64_t) {
                if (cb.progress) cb.progress(before + std::min(done, sizes[i]), total, i, path);
                return !stopped();
            },
            &fromCache);
        before += sizes[i];
        if (!h && stopped()) {
            summary.cancelled = true;
            break;
        }
        if (!h) {
            ++summary.failed;
            summary.problems.push_back(h.error().message());
        } else if (fromCache) {
            ++summary.fromCache;
        } else {
            ++summary.hashed;
            unsaved = true;
            if (!lastSave || Clock::now() - *lastSave >= cb.minSaveInterval) save();
        }
        if (cb.fileDone) cb.fileDone(path, h);
    }
    if (!summary.cancelled && stopped()) summary.cancelled = true;
    // Saved even when cancelled: the files already hashed took their time.
    if (unsaved) save();
    return summary;
}

std::optional<std::string> cachedSha256(const std::string& path)
{
    try {
        return HashCache().lookup(path);
    } catch (const std::exception&) {
        return std::nullopt;  // a look-up that cannot be made is a hash not known
    }
}

}  // namespace kiln::diffusion
