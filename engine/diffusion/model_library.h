// The model library: the folders of checkpoints, VAEs, LoRAs and embeddings a person already has
// (A1111's models/Stable-diffusion, ComfyUI's models/checkpoints ...), scanned into a list with sizes,
// what each file is (read from the safetensors header only) and SHA-256 hashes kept in a cache so a
// several-GB file is hashed once. std only: the app, the CLI and the generate job share it.
#pragma once

#include "kiln/result.h"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::diffusion {

enum class ModelKind { Checkpoint, Vae, Lora, Embedding };
inline constexpr ModelKind kModelKinds[] = {ModelKind::Checkpoint, ModelKind::Vae, ModelKind::Lora,
                                           ModelKind::Embedding};  // all, in the order lists show them
// Stable ids, as the settings keys use them: "checkpoints", "vae", "loras", "embeddings".
std::string_view modelKindId(ModelKind kind);
std::optional<ModelKind> modelKindFromId(std::string_view id);

struct ModelFolder {
    ModelKind kind = ModelKind::Checkpoint;
    std::string path;
};

// What the header says; nothing here needs a tensor byte.
struct ModelInfo {
    std::string format;        // "safetensors", "pickle", "diffusers folder"
    std::string detectedType;  // "SD 1.x checkpoint", "LoRA", "VAE", ...; "" when unknown
    std::string details;       // "rank 8, 264 modules", "2 vectors × 768", "9 input channels"
    std::map<std::string, std::string> metadata;  // __metadata__ (kohya's ss_*, modelspec.*) or model_index.json
    std::size_t tensorCount = 0;
    std::map<std::string, std::size_t> dtypes;  // "F16" -> tensors of that type
    std::uint64_t parameterCount = 0;
    std::string problem;  // why the header could not be read (truncated, hostile ...); "" when it could
};

struct ModelEntry {
    std::string name;          // file stem, or the folder's name for a diffusers folder
    std::string path;          // absolute
    std::string relativePath;  // to the library folder it was found in
    ModelKind kind = ModelKind::Checkpoint;
    bool diffusersFolder = false;
    std::uint64_t size = 0;    // bytes (a diffusers folder: its files together)
    std::int64_t mtimeNs = 0;  // last modification, nanoseconds since the Unix epoch
    ModelInfo info;
};

struct ScanResult {
    std::vector<ModelEntry> entries;    // by kind, then relative path
    std::vector<std::string> problems;  // folders that could not be read, loops skipped
};

struct ScanCallbacks {
    std::function<bool()> cancelled;  // polled per directory entry; true stops the scan
    std::function<void(std::size_t found, const std::string& where)> progress;
    bool readInfo = true;  // false: list files only (no header is opened)
};

// Walks every folder (recursively, through symlinks, each directory once) for .safetensors .ckpt
// .pt .pth .bin files and diffusers folders (model_index.json, listed as checkpoints). A missing
// or unreadable folder is a problem in the result, not an error. Fails only when cancelled.
Result<ScanResult> scanModelFolders(const std::vector<ModelFolder>& folders, const ScanCallbacks& callbacks = {});

// The header of one file or diffusers folder. Never fails: an unreadable file gets `problem`.
ModelInfo readModelInfo(const std::string& path);

// Which kind of model a safetensors header describes, from its tensor names and shapes.
struct TensorShape {
    std::string name;
    std::vector<std::int64_t> shape;
};
void detectModelType(const std::vector<TensorShape>& tensors, ModelInfo& info);

// ---- hashes ----

// Bytes hashed so far and the file size; return false to stop.
using HashProgress = std::function<bool(std::uint64_t done, std::uint64_t total)>;

// SHA-256 of the whole file in 64 hex digits, read in 4 MiB chunks.
Result<std::string> sha256File(const std::string& path, const HashProgress& progress = {});
inline std::string shortModelHash(const std::string& sha256) { return sha256.substr(0, 10); }  // A1111's

struct CachedHash {
    std::uint64_t size = 0;
    std::int64_t mtimeNs = 0;
    std::string sha256;
};

// Known hashes keyed by absolute path + size + mtime, kept as JSON in the cache directory.
// A file that changed in size or time is hashed again; a corrupt cache file counts as empty.
class HashCache {
public:
    explicit HashCache(std::string file = defaultFile());
    static std::string defaultFile();  // <cacheDir>/model-hashes.json; "" when no cache dir exists

    const std::string& file() const { return file_; }
    std::optional<std::string> lookup(const std::string& path) const;  // stats the file
    std::optional<std::string> lookup(const std::string& absPath, std::uint64_t size, std::int64_t mtimeNs) const;
    void store(const std::string& absPath, std::uint64_t size, std::int64_t mtimeNs, const std::string& sha256);
    // Merged with what another process saved meanwhile, written to a temporary file and renamed.
    Result<void> save() const;
    std::size_t size() const { return entries_.size(); }

    // The cached hash, or the file hashed now (and stored; save() is up to the caller).
    // `fromCache` says which.
    Result<std::string> sha256(const std::string& path, const HashProgress& progress = {}, bool* fromCache = nullptr);

private:
    std::string file_;
    std::map<std::string, CachedHash> entries_;
};

// Hashes files one after another into `cache`, saving the cache as it goes so that a crash or a
// cancel loses at most the last second of work: after a file is hashed (not found in the cache) the
// cache is saved unless it was saved less than `minSaveInterval` ago (many tiny files), and once more
// at the end when anything is left unsaved. Runs on whatever thread calls it (the app uses a thread
// pool, never the engine thread, so a long hash does not hold up generation).
struct HashFilesCallbacks {
    std::function<bool()> cancelled;  // polled per 4 MiB chunk; true stops after saving what was done
    // Bytes of all files done so far, their total, and the file being hashed (0-based index).
    std::function<void(std::uint64_t done, std::uint64_t total, std::size_t index, const std::string& path)> progress;
    // One call per file finished, after the cache that holds it was saved (when it was due).
    std::function<void(const std::string& path, const Result<std::string>& sha256)> fileDone;
    std::chrono::milliseconds minSaveInterval{1000};
};

struct HashFilesSummary {
    std::size_t hashed = 0;     // read and hashed now
    std::size_t fromCache = 0;  // known already
    std::size_t failed = 0;
    std::size_t saves = 0;      // times the cache file was written
    bool cancelled = false;
    std::vector<std::string> problems;  // files that could not be hashed, a cache that could not be saved
};

HashFilesSummary hashModelFiles(const std::vector<std::string>& paths, HashCache& cache,
                                const HashFilesCallbacks& callbacks = {});

// The hash the library has already computed for this file, if its size and time still match: a
// cheap look-up for the generate job's "Model hash" (it never hashes). nullopt for anything else.
std::optional<std::string> cachedSha256(const std::string& path);

// Size and mtime (ns since the Unix epoch) of a file, following symlinks.
struct FileStamp {
    std::uint64_t size = 0;
    std::int64_t mtimeNs = 0;
};
std::optional<FileStamp> fileStamp(const std::string& path);
// A file time as nanoseconds since the Unix epoch, as FileStamp and ModelEntry keep it.
std::int64_t unixNanoseconds(std::filesystem::file_time_type time);

}  // namespace kiln::diffusion
