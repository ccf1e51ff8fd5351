#include "io/safetensors_index.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

namespace kiln::io {

namespace {

constexpr const char* kHint = "the file is damaged or not a safetensors file";

Error bad(const std::string& what, const std::string& where)
{
    return makeError("not a valid safetensors file: " + what, where, kHint);
}

std::uint64_t readLE64(const std::uint8_t* p)
{
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}

}  // namespace

std::int64_t SafetensorsEntry::numel() const
{
    std::int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
}

const SafetensorsEntry* SafetensorsIndex::find(std::string_view name) const
{
    for (const auto& t : tensors)
        if (t.name == name) return &t;
    return nullptr;
}

Result<SafetensorsIndex> parseSafetensors(std::span<const std::uint8_t> file, const std::string& where)
{
    if (file.size() < 8)
        return bad("the file has " + std::to_string(file.size()) + " bytes, fewer than the 8-byte header length", where);
    const std::uint64_t n = readLE64(file.data());
    if (n < 2 || n > kMaxSafetensorsHeader)
        return bad("the header length is " + std::to_string(n) + " bytes; expected 2 to " +
                       std::to_string(kMaxSafetensorsHeader),
                   where);
    if (n > file.size() - 8)
        return bad("the header claims " + std::to_string(n) + " bytes but only " + std::to_string(file.size() - 8) +
                       " follow (truncated?)",
                   where);
    const char* text = reinterpret_cast<const char*>(file.data() + 8);
    if (text[0] != '{') return bad("the header does not start with '{'", where);

    using Json = nlohmann::ordered_json;
    Json header = Json::parse(text, text + n, nullptr, /*allow_exceptions=*/false);
    if (header.is_discarded()) return bad("the header is not valid JSON", where);
    if (!header.is_object()) return bad("the header is not a JSON object", where);

    SafetensorsIndex index;
    index.dataOffset = 8 + n;
    index.dataSize = file.size() - index.dataOffset;

    for (auto& [key, value] : header.items()) {
        if (key == "__metadata__") {
            if (!value.is_object()) return bad("__metadata__ is not an object", where);
            for (auto& [mk, mv] : value.items()) {
                if (!mv.is_string()) return bad("__metadata__ value '" + mk + "' is not a string", where);
                index.metadata[mk] = mv.get<std::string>();
            }
            continue;
        }
        const std::string at = "tensor '" + key + "': ";
        if (!value.is_object()) return bad(at + "its entry is not an object", where);
        auto dt = value.find("dtype");
        auto shape = value.find("shape");
        auto offsets = value.find("data_offsets");
        if (dt == value.end() || !dt->is_string()) return bad(at + "no dtype string", where);
        if (shape == value.end() || !shape->is_array()) return bad(at + "no shape array", where);
        if (offsets == value.end() || !offsets->is_array() || offsets->size() != 2)
            return bad(at + "data_offsets is not [begin, end]", where);

        SafetensorsEntry e;
        e.name = key;
        auto parsed = parseDType(dt->get<std::string>());
        if (!parsed) return bad(at + "unknown dtype '" + dt->get<std::string>() + "'", where);
        e.dtype = *parsed;

        std::uint64_t bytes = dtypeSize(e.dtype);
        for (const auto& d : *shape) {
            if (!d.is_number_unsigned()) return bad(at + "a dimension is not a non-negative integer", where);
            const std::uint64_t dim = d.get<std::uint64_t>();
            if (dim > static_cast<std::uint64_t>(INT64_MAX) || __builtin_mul_overflow(bytes, dim, &bytes))
                return bad(at + "the shape is too large", where);
            e.shape.push_back(static_cast<std::int64_t>(dim));
        }
        if (!(*offsets)[0].is_number_unsigned() || !(*offsets)[1].is_number_unsigned())
            return bad(at + "data_offsets are not non-negative integers", where);
        e.begin = (*offsets)[0].get<std::uint64_t>();
        e.end = (*offsets)[1].get<std::uint64_t>();
        if (e.end < e.begin) return bad(at + "data_offsets end before they begin", where);
        if (e.end > index.dataSize)
            return bad(at + "its data ends at byte " + std::to_string(e.end) + " of a " +
                           std::to_string(index.dataSize) + "-byte data buffer (truncated?)",
                       where);
        if (e.end - e.begin != bytes)
            return bad(at + "dtype " + std::string(dtypeName(e.dtype)) + " and its shape need " + std::to_string(bytes) +
                           " bytes but data_offsets span " + std::to_string(e.end - e.begin),
                       where);
        index.tensors.push_back(std::move(e));
    }

    // The data buffer must be tiled exactly: no overlaps (one byte read as two tensors) and no
    // holes (bytes nothing accounts for), as the reference implementation requires.
    std::vector<const SafetensorsEntry*> byOffset;
    for (const auto& t : index.tensors) byOffset.push_back(&t);
    std::sort(byOffset.begin(), byOffset.end(), [](auto* a, auto* b) {
        return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
    });
    std::uint64_t cursor = 0;
    for (const auto* t : byOffset) {
        if (t->begin < cursor) return bad("tensor '" + t->name + "' overlaps the tensor before it", where);
        if (t->begin > cursor)
            return bad("bytes " + std::to_string(cursor) + ".." + std::to_string(t->begin) +
                           " of the data buffer belong to no tensor",
                       where);
        cursor = t->end;
    }
    if (cursor != index.dataSize)
        return bad("the data buffer has " + std::to_string(index.dataSize - cursor) +
                       " bytes after the last tensor",
                   where);
    return index;
}

}  // namespace kiln::io
