#include "io/safetensors_torch.h"

#include <cmath>
#include <cstring>

namespace kiln::io {

std::optional<torch::ScalarType> torchTypeOf(DType t)
{
    switch (t) {
    case DType::F64: return torch::kFloat64;
    case DType::F32: return torch::kFloat32;
    case DType::F16: return torch::kFloat16;
    case DType::BF16: return torch::kBFloat16;
    case DType::I64: return torch::kInt64;
    case DType::I32: return torch::kInt32;
    case DType::I16: return torch::kInt16;
    case DType::I8: return torch::kInt8;
    case DType::U8: return torch::kUInt8;
    case DType::Bool: return torch::kBool;
    default: return std::nullopt;
    }
}

std::optional<DType> dtypeOf(torch::ScalarType t)
{
    for (DType d : kAllDTypes)
        if (torchTypeOf(d) == t) return d;
    return std::nullopt;
}

namespace {

float decodeE4M3(std::uint8_t b)
{
    const int sign = b >> 7, exp = (b >> 3) & 0xF, man = b & 7;
    float v;
    if (exp == 0xF && man == 7) v = NAN;  // E4M3FN has no infinities; S.1111.111 is NaN
    else if (exp == 0) v = std::ldexp(man / 8.0f, -6);
    else v = std::ldexp(1.0f + man / 8.0f, exp - 7);
    return sign ? -v : v;
}

// Types LibTorch 1.13 lacks, converted element by element.
Result<torch::Tensor> decodeUnsupported(const SafetensorsEntry& e, std::span<const std::uint8_t> bytes)
{
    const auto n = e.numel();
    auto read = [&](auto zero) {
        using T = decltype(zero);
        std::vector<T> v(static_cast<std::size_t>(n));
        if (n) std::memcpy(v.data(), bytes.data(), bytes.size());
        return v;
    };
    switch (e.dtype) {
    case DType::U16: {
        auto v = read(std::uint16_t{});
        return torch::tensor(std::vector<std::int32_t>(v.begin(), v.end()), torch::kInt32).reshape(e.shape);
    }
    case DType::U32: {
        auto v = read(std::uint32_t{});
        return torch::tensor(std::vector<std::int64_t>(v.begin(), v.end()), torch::kInt64).reshape(e.shape);
    }
    case DType::U64: {
        auto v = read(std::uint64_t{});
        std::vector<std::int64_t> out;
        out.reserve(v.size());
        for (auto x : v) {
            if (x > static_cast<std::uint64_t>(INT64_MAX))
                return makeError("a U64 value does not fit the int64 that LibTorch can hold", e.name);
            out.push_back(static_cast<std::int64_t>(x));
        }
        return torch::tensor(out, torch::kInt64).reshape(e.shape);
    }
    case DType::F8_E5M2: {
        // E5M2 is the top byte of an IEEE half.
        auto half = torch::empty({n}, torch::kInt16);
        auto* h = half.data_ptr<std::int16_t>();
        for (std::int64_t i = 0; i < n; ++i) h[i] = static_cast<std::int16_t>(bytes[i] << 8);
        return half.view(torch::kFloat16).to(torch::kFloat32).reshape(e.shape);
    }
    case DType::F8_E4M3: {
        auto out = torch::empty({n}, torch::kFloat32);
        auto* f = out.data_ptr<float>();
        for (std::int64_t i = 0; i < n; ++i) f[i] = decodeE4M3(bytes[i]);
        return out.reshape(e.shape);
    }
    default: return makeError("unsupported dtype", e.name);
    }
}

}  // namespace

Result<torch::Tensor> loadTensor(const SafetensorsFile& file, const SafetensorsEntry& e,
                                 std::optional<torch::ScalarType> as)
{
    try {
        const auto bytes = file.bytes(e);
        torch::Tensor t;
        if (auto type = torchTypeOf(e.dtype)) {
            t = torch::empty(e.shape, torch::TensorOptions().dtype(*type));
            if (!bytes.empty()) std::memcpy(t.data_ptr(), bytes.data(), bytes.size());
            file.release(e);  // copied: the mapped pages need not stay resident
        } else {
            auto decoded = decodeUnsupported(e, bytes);
            if (!decoded) return makeError(decoded.error().what, file.path() + ": " + e.name);
            t = std::move(*decoded);
        }
        if (as && t.scalar_type() != *as) t = t.to(*as);
        return t;
    } catch (const std::exception& ex) {
        return makeError(std::string("cannot read the tensor: ") + ex.what(), file.path() + ": " + e.name);
    }
}

Result<torch::Tensor> loadTensor(const SafetensorsFile& file, std::string_view name, std::optional<torch::ScalarType> as)
{
    const auto* e = file.index().find(name);
    if (!e) return makeError("no tensor named '" + std::string(name) + "'", file.path());
    return loadTensor(file, *e, as);
}

Result<void> saveSafetensors(const std::string& path, const NamedTensors& tensors,
                             const std::map<std::string, std::string>& metadata)
{
    try {
        std::vector<torch::Tensor> keep;  // contiguous CPU copies that the blobs point into
        std::vector<TensorBlob> blobs;
        keep.reserve(tensors.size());
        for (const auto& [name, tensor] : tensors) {
            auto dt = dtypeOf(tensor.scalar_type());
            if (!dt) return makeError("safetensors cannot hold this tensor's dtype", name);
            keep.push_back(tensor.detach().to(torch::kCPU).contiguous());
            const auto& c = keep.back();
            blobs.push_back({name, *dt, c.sizes().vec(),
                             {static_cast<const std::uint8_t*>(c.data_ptr()), c.nbytes()}});
        }
        return writeSafetensors(path, blobs, metadata);
    } catch (const std::exception& ex) {
        return makeError(std::string("cannot save: ") + ex.what(), path);
    }
}

}  // namespace kiln::io
