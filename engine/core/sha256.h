// FIPS 180-4 SHA-256, streamed: A1111's "Model hash" is the first 10 hex digits of a checkpoint
// file's SHA-256, and a checkpoint is several GB, so it is hashed in chunks.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace kiln {

class Sha256 {
public:
    void update(const std::uint8_t* data, std::size_t size);
    void update(std::string_view bytes) { update(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()); }
    // The 64 lowercase hex digits. Ends the hash: call once.
    std::string hex();

private:
    void compress();

    std::array<std::uint32_t, 8> h_ = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                       0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    std::array<std::uint8_t, 64> block_{};
    std::size_t used_ = 0;
    std::uint64_t total_ = 0;
};

}  // namespace kiln
