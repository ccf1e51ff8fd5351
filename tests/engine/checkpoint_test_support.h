// Shared by the checkpoint tests: the fixtures' expected.json (written by
// tests/data/make_checkpoints.py with PyTorch itself) and an element decoder written
// independently of the reader under test.
#pragma once

#include "io/dtype.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <span>
#include <string>
#include <vector>

namespace kiln::test {

inline std::string checkpointDir() { return std::string(KILN_TEST_DATA) + "/checkpoints"; }
inline std::string checkpointPath(const std::string& file) { return checkpointDir() + "/" + file; }

inline const nlohmann::json& expectedCheckpoints()
{
    static const nlohmann::json j = [] {
        std::ifstream in(checkpointPath("expected.json"));
        return nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    }();
    return j;
}

inline std::vector<std::uint8_t> readFile(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), {});
}

inline double halfToDouble(std::uint16_t h)
{
    const int sign = h >> 15, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    double v;
    if (exp == 0) v = std::ldexp(mant, -24);
    else if (exp == 31) v = mant ? NAN : INFINITY;
    else v = std::ldexp(mant + 1024, exp - 25);
    return sign ? -v : v;
}

// Contiguous little-endian elements of `t` as doubles.
inline std::vector<double> decodeElements(io::DType t, std::span<const std::uint8_t> bytes)
{
    std::vector<double> out;
    const std::size_t es = io::dtypeSize(t);
    for (std::size_t i = 0; i + es <= bytes.size(); i += es) {
        const std::uint8_t* p = bytes.data() + i;
        auto load = [p](auto v) { std::memcpy(&v, p, sizeof v); return v; };
        switch (t) {
        case io::DType::F32: out.push_back(load(float{})); break;
        case io::DType::F64: out.push_back(load(double{})); break;
        case io::DType::F16: out.push_back(halfToDouble(load(std::uint16_t{}))); break;
        case io::DType::BF16: {
            const std::uint32_t bits = std::uint32_t{load(std::uint16_t{})} << 16;
            float f;
            std::memcpy(&f, &bits, 4);
            out.push_back(f);
            break;
        }
        case io::DType::I64: out.push_back(static_cast<double>(load(std::int64_t{}))); break;
        case io::DType::I32: out.push_back(load(std::int32_t{})); break;
        case io::DType::I16: out.push_back(load(std::int16_t{})); break;
        case io::DType::I8: out.push_back(load(std::int8_t{})); break;
        case io::DType::U8: out.push_back(load(std::uint8_t{})); break;
        case io::DType::Bool: out.push_back(load(std::uint8_t{}) ? 1.0 : 0.0); break;
        default: out.push_back(NAN); break;
        }
    }
    return out;
}

}  // namespace kiln::test
