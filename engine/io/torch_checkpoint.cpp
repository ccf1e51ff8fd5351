#include "io/torch_checkpoint.h"

#include "io/checkpoint_walk.h"
#include "io/mapped_file.h"
#include "io/pickle.h"
#include "io/zip_archive.h"

#include <cstring>
#include <map>
#include <new>

namespace kiln::io {

using pickle::Kind;
using pickle::Node;
using pickle::PickleGraph;
using pickle::Ref;

namespace {

constexpr const char* kNotCheckpoint = "not a PyTorch checkpoint: ";
constexpr const char* kDamagedHint = "the file is damaged or truncated; copy or download it again";
// An expanded view (stride 0) may legitimately be larger than its storage, but a few bytes
// of input must not be able to demand gigabytes.
constexpr std::uint64_t kMaxExpansion = 16;
constexpr std::uint64_t kFreeExpansionBytes = std::uint64_t{64} << 20;

std::optional<std::string> textOf(const PickleGraph& g, Ref r)
{
    const Node& n = g.at(r);
    if (n.kind == Kind::Str || n.kind == Kind::Bytes) return n.text;
    return std::nullopt;
}

std::string describeStart(std::span<const std::uint8_t> b)
{
    if (b.size() >= 2 && b[0] == 0x1f && b[1] == 0x8b) return "gzip-compressed data";
    if (b.size() >= 9 && b[8] == '{') return "what looks like a safetensors file (open it as .safetensors)";
    if (b.size() >= 4 && b[0] == 'P' && b[1] == 'K') return "a damaged zip signature";
    std::string s = "the bytes";
    static const char* hex = "0123456789abcdef";
    for (std::size_t i = 0; i < std::min<std::size_t>(b.size(), 8); ++i) {
        s += " 0x";
        s += hex[b[i] >> 4];
        s += hex[b[i] & 15];
    }
    return s;
}

// ('storage', storage_type, key, location, numel[, view_metadata]) -> a Storage node.
// The zip format has five fields; the legacy one adds view metadata.
Result<Ref> loadStorageId(PickleGraph& g, Ref pid, bool legacy)
{
    const Node& p = g.at(pid);
    if (p.kind != Kind::Tuple || p.items.empty())
        return makeError("the pickle names external data with " + g.describe(pid, 80) +
                         ", expected a ('storage', type, key, location, size) tuple");
    const std::vector<Ref> f = p.items;
    const auto tag = textOf(g, f[0]);
    if (legacy && tag == "module" && f.size() >= 2) return f[1];  // a saved nn.Module class: keep the reference
    if (tag != "storage" || f.size() < 5)
        return makeError("the pickle names external data with " + g.describe(pid, 80) +
                         ", expected a ('storage', type, key, location, size) tuple");
    pickle::StorageInfo s;
    const Node& type = g.at(f[1]);
    if (type.kind == Kind::Global) {
        // A storage class (torch.FloatStorage) as torch writes it; a bare dtype (torch.float32)
        // is accepted too, as a writer that skips the legacy storage classes would put it.
        s.dtype = pickle::dtypeOfStorageType(type.text, type.name);
        if (!s.dtype) s.dtype = pickle::dtypeOfTorchDType(type.text, type.name);
    }
    if (!s.dtype)
        return makeError("a storage has type " + g.describe(f[1], 80) +
                         ", expected one of torch.FloatStorage, HalfStorage, BFloat16Storage, DoubleStorage, "
                         "LongStorage, IntStorage, ShortStorage, CharStorage, ByteStorage, BoolStorage");
    s.typeName = type.name;
    const auto key = textOf(g, f[2]);
    const auto location = textOf(g, f[3]);
    if (!key || !location || g.at(f[4]).kind != Kind::Int || g.at(f[4]).integer < 0)
        return makeError("a storage reference " + g.describe(pid, 120) + " should hold a key, a location and a size");
    s.key = *key;
    s.location = *location;
    s.numel = g.at(f[4]).integer;
    if (legacy && f.size() >= 6 && f[5] != PickleGraph::kNone) {
        const Node& v = g.at(f[5]);
        if (v.kind != Kind::Tuple || v.items.size() != 3 || !textOf(g, v.items[0]) || g.at(v.items[1]).kind != Kind::Int ||
            g.at(v.items[2]).kind != Kind::Int || g.at(v.items[1]).integer < 0 || g.at(v.items[2]).integer < 0)
            return makeError("a storage view " + g.describe(f[5], 80) + " should be (key, offset, size)");
        s.isView = true;
        s.viewKey = *textOf(g, v.items[0]);
        s.viewOffset = g.at(v.items[1]).integer;
        s.viewSize = g.at(v.items[2]).integer;
    }
    return g.makeStorage(std::move(s));
}

// The bytes a storage of `numel` elements of `t` occupies, or nullopt on overflow.
std::optional<std::uint64_t> storageBytes(std::int64_t numel, DType t)
{
    std::uint64_t out = 0;
    if (numel < 0 || __builtin_mul_overflow(static_cast<std::uint64_t>(numel), dtypeSize(t), &out)) return std::nullopt;
    return out;
}

}  // namespace

// Fills a TorchCheckpoint from the bytes of either format.
struct CheckpointLoader {
    TorchCheckpoint& ck;
    std::span<const std::uint8_t> bytes;

    Result<void> load()
    {
        if (bytes.empty()) return makeError(std::string(kNotCheckpoint) + "the file is empty", ck.name_);
        if (ZipArchive::looksLikeZip(bytes)) return loadZip();
        if (bytes[0] == 0x80 || bytes[0] == 'L') return loadLegacy();
        if (bytes.size() > 262 && std::memcmp(bytes.data() + 257, "ustar", 5) == 0)
            return makeError(std::string(kNotCheckpoint) +
                                 "expected a zip archive or a pickle stream, found a tar archive (the format of "
                                 "torch.save before 0.4, which Kiln does not read)",
                             ck.name_, "load it with an old PyTorch and save it again with a current one");
        return makeError(std::string(kNotCheckpoint) +
                             "expected a zip archive (torch.save since 1.6) or a pickle stream (older torch.save), found " +
                             describeStart(bytes),
                         ck.name_);
    }

    Result<void> loadZip()
    {
        auto zip = ZipArchive::open(bytes, ck.name_);
        if (!zip) return zip.error();
        // torch.save writes <prefix>/data.pkl; the prefix is the file's stem at save time.
        const ZipEntry* pkl = nullptr;
        for (const ZipEntry& e : zip->entries()) {
            const auto slash = e.name.find('/');
            if (slash != std::string::npos && e.name.find('/', slash + 1) == std::string::npos &&
                e.name.compare(slash + 1, std::string::npos, "data.pkl") == 0) {
                pkl = &e;
                break;
            }
        }
        if (!pkl) {
            std::string names;
            for (std::size_t i = 0; i < zip->entries().size() && i < 4; ++i) names += (i ? ", " : "") + zip->entries()[i].name;
            return makeError(std::string(kNotCheckpoint) + "the zip archive has no '<name>/data.pkl' as torch.save "
                                 "writes" + (names.empty() ? std::string(" (it is empty)") : "; it holds " + names),
                             ck.name_);
        }
        const std::string prefix = pkl->name.substr(0, pkl->name.find('/') + 1);
        ck.format_ = zip->find(prefix + "constants.pkl") ? "TorchScript archive (data only)" : "PyTorch zip checkpoint";

        if (const ZipEntry* order = zip->find(prefix + "byteorder")) {
            auto data = zip->read(*order);
            if (!data) return data.error();
            std::string text(data->bytes.begin(), data->bytes.end());
            while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
            if (text == "big")
                return makeError("the checkpoint was saved on a big-endian machine (byteorder 'big'); Kiln reads only "
                                 "little-endian checkpoints",
                                 ck.name_, "load it with torch on that machine and save it again on a little-endian one");
            if (text != "little")
                return makeError("the checkpoint's byteorder record says '" + text.substr(0, 40) +
                                     "', expected 'little' or 'big'",
                                 ck.name_, kDamagedHint);
        }

        auto pklData = zip->read(*pkl);
        if (!pklData) return pklData.error();
        if (pklData->owned) ck.owned_.push_back(pklData->owned);

        PickleGraph graph;
        pickle::UnpickleOptions opt;
        opt.where = ck.name_ + " [" + pkl->name + "]";
        opt.persistentLoad = [](PickleGraph& g, Ref pid) { return loadStorageId(g, pid, false); };
        std::size_t pos = 0;
        auto root = pickle::unpickle(graph, pklData->bytes, pos, opt);
        if (!root) return root.error();

        std::map<std::string, std::span<const std::uint8_t>> records;
        const ZipArchive& archive = zip.value();
        auto resolve = [&](const pickle::StorageInfo& s) -> Result<std::span<const std::uint8_t>> {
            const auto need = storageBytes(s.numel, *s.dtype);
            if (!need) return makeError("storage '" + s.key + "' claims an impossible size", ck.name_, kDamagedHint);
            auto it = records.find(s.key);
            if (it == records.end()) {
                const std::string recordName = prefix + "data/" + s.key;
                const ZipEntry* e = archive.find(recordName);
                if (!e)
                    return makeError("the checkpoint refers to storage '" + s.key + "', but the archive has no record '" +
                                         recordName + "'",
                                     ck.name_, kDamagedHint);
                auto data = archive.read(*e);
                if (!data) return data.error();
                if (data->owned) ck.owned_.push_back(data->owned);
                it = records.emplace(s.key, data->bytes).first;
            }
            if (it->second.size() < *need)
                return makeError("storage '" + s.key + "' should hold " + std::to_string(s.numel) + " " +
                                     std::string(dtypeName(*s.dtype)) + " elements (" + std::to_string(*need) +
                                     " bytes), but its record has only " + std::to_string(it->second.size()) + " bytes",
                                 ck.name_, kDamagedHint);
            return it->second.first(static_cast<std::size_t>(*need));
        };
        return detail::collectCheckpoint(graph, root.value(), resolve, ck.name_, ck.tensors_, ck.entries_);
    }

    Result<void> loadLegacy()
    {
        ck.format_ = "PyTorch legacy checkpoint";
        PickleGraph graph;
        pickle::UnpickleOptions plain;
        plain.where = ck.name_;
        std::size_t pos = 0;

        // torch's magic number 0x1950a86a20f9469cfc6c, as pickle stores it (little-endian).
        static const std::string kMagic("\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 10);
        auto magic = pickle::unpickle(graph, bytes, pos, plain);
        if (!magic)
            return makeError(std::string(kNotCheckpoint) + "expected a zip archive or torch's legacy pickle stream; "
                                 "the first pickle is unreadable (" + magic.error().what + ")",
                             ck.name_);
        const Node& m = graph.at(magic.value());
        if (m.kind != Kind::BigInt || m.text != kMagic)
            return makeError(std::string(kNotCheckpoint) + "expected torch's magic number 0x1950a86a20f9469cfc6c as "
                                 "the first pickle, found " + graph.describe(magic.value(), 60),
                             ck.name_, "a pickle written by pickle.dump rather than torch.save is not a checkpoint");
        auto version = pickle::unpickle(graph, bytes, pos, plain);
        if (!version) return version.error();
        if (graph.at(version.value()).kind != Kind::Int || graph.at(version.value()).integer != 1001)
            return makeError("expected legacy checkpoint protocol version 1001, found " + graph.describe(version.value(), 60),
                             ck.name_, kDamagedHint);
        auto sysInfo = pickle::unpickle(graph, bytes, pos, plain);
        if (!sysInfo) return sysInfo.error();
        const Node& info = graph.at(sysInfo.value());
        if (info.kind == Kind::Dict)
            for (std::size_t i = 0; i + 1 < info.items.size(); i += 2)
                if (textOf(graph, info.items[i]) == "little_endian" && info.items[i + 1] == PickleGraph::kFalse)
                    return makeError("the checkpoint was saved on a big-endian machine; Kiln reads only "
                                     "little-endian checkpoints",
                                     ck.name_, "load it with torch on that machine and save it again on a little-endian one");

        // Which dtype each storage key has: its raw data below is counted in elements.
        std::map<std::string, DType> keyTypes;
        pickle::UnpickleOptions main;
        main.where = ck.name_;
        main.persistentLoad = [&keyTypes](PickleGraph& g, Ref pid) -> Result<Ref> {
            auto r = loadStorageId(g, pid, true);
            if (r && g.at(r.value()).kind == Kind::Storage) {
                const auto& s = g.storage(g.at(r.value()));
                keyTypes.emplace(s.key, *s.dtype);
            }
            return r;
        };
        auto root = pickle::unpickle(graph, bytes, pos, main);
        if (!root) return root.error();
        auto keys = pickle::unpickle(graph, bytes, pos, plain);
        if (!keys) return keys.error();
        const Node& keyList = graph.at(keys.value());
        if (keyList.kind != Kind::List && keyList.kind != Kind::Tuple)
            return makeError("expected the list of storage keys after the main pickle, found " +
                                 graph.describe(keys.value(), 60),
                             ck.name_, kDamagedHint);

        std::map<std::string, std::span<const std::uint8_t>> data;
        for (Ref k : keyList.items) {
            const auto key = textOf(graph, k);
            if (!key) return makeError("a storage key is " + graph.describe(k, 40) + ", expected a string", ck.name_, kDamagedHint);
            auto type = keyTypes.find(*key);
            if (type == keyTypes.end())
                return makeError("the file lists storage '" + *key + "', but no tensor refers to it", ck.name_, kDamagedHint);
            if (bytes.size() - pos < 8)
                return makeError("the data of storage '" + *key + "' is missing (the file ends at byte " +
                                     std::to_string(bytes.size()) + ")",
                                 ck.name_, kDamagedHint);
            std::uint64_t count = 0;
            for (int i = 7; i >= 0; --i) count = (count << 8) | bytes[pos + static_cast<std::size_t>(i)];
            pos += 8;
            const auto size = count > static_cast<std::uint64_t>(INT64_MAX) ? std::nullopt
                                                                             : storageBytes(static_cast<std::int64_t>(count), type->second);
            if (!size || *size > bytes.size() - pos)
                return makeError("storage '" + *key + "' claims " + std::to_string(count) + " " +
                                     std::string(dtypeName(type->second)) + " elements" +
                                     (size ? " (" + std::to_string(*size) + " bytes)" : std::string()) + ", but only " +
                                     std::to_string(bytes.size() - pos) + " bytes are left in the file",
                                 ck.name_, kDamagedHint);
            data[*key] = bytes.subspan(pos, static_cast<std::size_t>(*size));
            pos += static_cast<std::size_t>(*size);
        }

        auto resolve = [&](const pickle::StorageInfo& s) -> Result<std::span<const std::uint8_t>> {
            auto it = data.find(s.key);
            if (it == data.end())
                return makeError("the checkpoint refers to storage '" + s.key + "', but its data is not in the file",
                                 ck.name_, kDamagedHint);
            if (!s.isView) return it->second;
            const std::uint64_t es = dtypeSize(*s.dtype);
            const std::uint64_t elems = it->second.size() / es;
            if (static_cast<std::uint64_t>(s.viewOffset) > elems || static_cast<std::uint64_t>(s.viewSize) > elems - s.viewOffset)
                return makeError("storage view '" + s.viewKey + "' (offset " + std::to_string(s.viewOffset) + ", size " +
                                     std::to_string(s.viewSize) + ") runs past its storage '" + s.key + "' of " +
                                     std::to_string(elems) + " elements",
                                 ck.name_, kDamagedHint);
            return it->second.subspan(static_cast<std::size_t>(s.viewOffset * es), static_cast<std::size_t>(s.viewSize * es));
        };
        return detail::collectCheckpoint(graph, root.value(), resolve, ck.name_, ck.tensors_, ck.entries_);
    }
};

Result<TorchCheckpoint> TorchCheckpoint::open(const std::string& path)
{
    try {
        auto file = MappedFile::open(path);
        if (!file) return file.error();
        TorchCheckpoint ck;
        ck.name_ = path;
        ck.source_ = file.value();
        if (auto r = CheckpointLoader{ck, file.value()->bytes()}.load(); !r) return r.error();
        return ck;
    } catch (const std::bad_alloc&) {
        return makeError("out of memory while reading the checkpoint", path);
    } catch (const std::exception& e) {
        return makeError(std::string("cannot read the checkpoint: ") + e.what(), path);
    }
}

Result<TorchCheckpoint> TorchCheckpoint::fromBytes(std::vector<std::uint8_t> bytes, std::string nameForMessages)
{
    try {
        auto owned = std::make_shared<const std::vector<std::uint8_t>>(std::move(bytes));
        TorchCheckpoint ck;
        ck.name_ = std::move(nameForMessages);
        ck.source_ = owned;
        if (auto r = CheckpointLoader{ck, std::span<const std::uint8_t>(owned->data(), owned->size())}.load(); !r)
            return r.error();
        return ck;
    } catch (const std::bad_alloc&) {
        return makeError("out of memory while reading the checkpoint", nameForMessages);
    } catch (const std::exception& e) {
        return makeError(std::string("cannot read the checkpoint: ") + e.what(), nameForMessages);
    }
}

const CheckpointTensor* TorchCheckpoint::findTensor(std::string_view name) const
{
    for (const auto& t : tensors_)
        if (t.name == name) return &t;
    return nullptr;
}

std::optional<std::int64_t> elementsSpanned(const std::vector<std::int64_t>& shape, const std::vector<std::int64_t>& stride,
                                            std::int64_t offset)
{
    if (shape.size() != stride.size() || offset < 0) return std::nullopt;
    for (std::int64_t s : shape)
        if (s == 0) return 0;
    std::int64_t last = offset;
    for (std::size_t i = 0; i < shape.size(); ++i) {
        std::int64_t step = 0;
        if (shape[i] < 0 || stride[i] < 0 || __builtin_mul_overflow(shape[i] - 1, stride[i], &step) ||
            __builtin_add_overflow(last, step, &last))
            return std::nullopt;
    }
    if (last == INT64_MAX) return std::nullopt;
    return last + 1;
}

Result<std::vector<std::uint8_t>> TorchCheckpoint::contiguousBytes(const CheckpointTensor& t) const
{
    try {
        const std::size_t es = dtypeSize(t.dtype);
        const auto need = elementsSpanned(t.shape, t.stride, t.storageOffset);
        const std::uint64_t have = t.storage.size() / es;
        if (!need || static_cast<std::uint64_t>(*need) > have)
            return makeError("tensor '" + t.name + "' reaches past the end of its storage '" + t.storageKey + "' (" +
                                 std::to_string(have) + " elements)",
                             name_, kDamagedHint);
        std::uint64_t numel = 1;
        for (std::int64_t s : t.shape)
            if (__builtin_mul_overflow(numel, static_cast<std::uint64_t>(s), &numel))
                return makeError("tensor '" + t.name + "' has more elements than memory can address", name_);
        std::uint64_t total = 0;
        if (__builtin_mul_overflow(numel, es, &total) ||
            (total > t.storage.size() * kMaxExpansion && total > kFreeExpansionBytes))
            return makeError("tensor '" + t.name + "' expands " + std::to_string(t.storage.size()) +
                                 " bytes of storage into " + std::to_string(numel) + " elements; refusing to allocate that",
                             name_, "the file is damaged or built to exhaust memory");
        std::vector<std::uint8_t> out(static_cast<std::size_t>(total));
        if (numel == 0) return out;

        const std::size_t nd = t.shape.size();
        const std::int64_t inner = nd ? t.shape[nd - 1] : 1;
        const std::int64_t innerStride = nd ? t.stride[nd - 1] : 1;
        const std::uint64_t rows = numel / static_cast<std::uint64_t>(inner);
        std::vector<std::int64_t> idx(nd, 0);
        std::int64_t rowStart = t.storageOffset;  // element index of the current row's first element
        std::uint8_t* dst = out.data();
        const std::uint8_t* src = t.storage.data();
        for (std::uint64_t row = 0; row < rows; ++row) {
            if (innerStride == 1) {
                std::memcpy(dst, src + rowStart * es, static_cast<std::size_t>(inner) * es);
                dst += inner * es;
            } else {
                for (std::int64_t j = 0; j < inner; ++j, dst += es) std::memcpy(dst, src + (rowStart + j * innerStride) * es, es);
            }
            // Advance the multi-index over every dimension but the innermost, like an odometer.
            for (std::size_t d = nd >= 2 ? nd - 1 : 0; d-- > 0;) {
                rowStart += t.stride[d];
                if (++idx[d] < t.shape[d]) break;
                rowStart -= t.stride[d] * t.shape[d];
                idx[d] = 0;
            }
        }
        return out;
    } catch (const std::bad_alloc&) {
        return makeError("out of memory while gathering tensor '" + t.name + "'", name_);
    }
}

}  // namespace kiln::io
