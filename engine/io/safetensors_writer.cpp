#include "core/atomic_file.h"
#include "io/safetensors_file.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

namespace kiln::io {

Result<std::vector<std::uint8_t>> serializeSafetensors(std::span<const TensorBlob> tensors,
                                                       const std::map<std::string, std::string>& metadata)
{
    // Larger elements first, so that every tensor starts aligned to its element size.
    std::vector<const TensorBlob*> order;
    std::set<std::string_view> names;
    for (const auto& t : tensors) {
        if (!names.insert(t.name).second) return makeError("two tensors share the name '" + t.name + "'");
        if (t.name == "__metadata__") return makeError("'__metadata__' cannot name a tensor");
        std::uint64_t need = dtypeSize(t.dtype);
        for (auto d : t.shape) {
            if (d < 0) return makeError("negative dimension", t.name);
            need *= static_cast<std::uint64_t>(d);
        }
        if (need != t.data.size())
            return makeError("shape and dtype need " + std::to_string(need) + " bytes but " +
                                 std::to_string(t.data.size()) + " were given",
                             t.name);
        order.push_back(&t);
    }
    std::stable_sort(order.begin(), order.end(), [](auto* a, auto* b) {
        const auto sa = dtypeSize(a->dtype), sb = dtypeSize(b->dtype);
        return sa != sb ? sa > sb : a->name < b->name;
    });

    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!metadata.empty()) header["__metadata__"] = metadata;
    std::uint64_t offset = 0;
    for (const auto* t : order) {
        header[t->name] = {{"dtype", dtypeName(t->dtype)},
                           {"shape", t->shape},
                           {"data_offsets", {offset, offset + t->data.size()}}};
        offset += t->data.size();
    }
    std::string text = header.dump();
    text.append((8 - text.size() % 8) % 8, ' ');  // the data buffer starts 8-byte aligned

    std::vector<std::uint8_t> out;
    out.reserve(8 + text.size() + offset);
    const std::uint64_t n = text.size();
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(n >> (8 * i)));
    out.insert(out.end(), text.begin(), text.end());
    for (const auto* t : order) out.insert(out.end(), t->data.begin(), t->data.end());
    return out;
}

Result<void> writeSafetensors(const std::string& path, std::span<const TensorBlob> tensors,
                              const std::map<std::string, std::string>& metadata)
{
    auto bytes = serializeSafetensors(tensors, metadata);
    if (!bytes) return makeError(bytes.error().message(), path);
    return writeFileAtomically(path, *bytes);
}

}  // namespace kiln::io
