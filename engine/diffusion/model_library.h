// The model library: the folders of checkpoints, VAEs, LoRAs and embeddings a person already has
// (A1111's models/Stable-diffusion, ComfyUI's models/checkpoints ...), scanned into a list with sizes,
// what each file is (read from the safetensors header only) and SHA-256 hashes kept in a cache so a
// several-GB file is hashed once. std only: the app, the CLI and the generate job share it.
#pragma once

#include "kiln/result.h"

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::diffusion {

enum class ModelKind { Checkpoint, Vae, Lora, Embedding };
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

// The hash the library has already computed for this file, if its size and time still match: a
// cheap look-up for the generate job's "Model hash" (it never hashes). nullopt for anything else.
std::optional<std::string> cachedSha256(const std::string& path);

// Size and mtime (ns since the Unix epoch) of a file, following symlinks.
struct FileStamp {
    std::uint64_t size = 0;
    std::int64_t mtimeNs = 0;
};
std::optional<FileStamp> fileStamp(const std::string& path);

}  // namespace kiln::diffusion
