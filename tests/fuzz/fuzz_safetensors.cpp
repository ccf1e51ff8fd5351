// libFuzzer target: the safetensors header parser and index, on any bytes.
#include "io/safetensors_index.h"

#include <cstddef>
#include <cstdint>
#include <span>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    auto index = kiln::io::parseSafetensors(std::span<const std::uint8_t>(data, size), "fuzz");
    if (!index) return 0;
    // A valid index must only point inside the input.
    for (const auto& t : index->tensors) {
        if (index->dataOffset + t.end > size) __builtin_trap();
        volatile std::uint8_t sink = 0;
        if (t.byteSize()) sink = data[index->dataOffset + t.end - 1];
        (void)sink;
    }
    return 0;
}
