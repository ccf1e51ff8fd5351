// PNG files without Qt or OpenCV, for kiln-cli and the engine: an 8-bit RGB / RGBA writer with text
// chunks (A1111's `parameters`), and a reader of the text chunks alone.
//
// Text is UTF-8 in both directions. The writer stores a text as tEXt when every character is Latin-1
// (converted to Latin-1 bytes, as the PNG spec wants) and as uncompressed iTXt otherwise, as A1111 / PIL do.
// The reader verifies the signature, every chunk's length and CRC, and caps the file and text sizes, so a
// truncated or hostile file gives an Error rather than a crash.
#pragma once

#include "kiln/result.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace kiln::io {

using PngTextChunks = std::vector<std::pair<std::string, std::string>>;  // keyword, text (UTF-8)

// `pixels`: height rows of width * channels bytes, channels 3 (RGB) or 4 (RGBA). Written atomically.
// Keywords must be 1-79 printable Latin-1 characters; neither keywords nor texts may hold a NUL.
Result<void> writePng(const std::string& path, int width, int height, int channels, const std::uint8_t* pixels,
                      const PngTextChunks& textChunks = {});

// The same file as bytes (what writePng writes).
Result<std::vector<std::uint8_t>> encodePng(int width, int height, int channels, const std::uint8_t* pixels,
                                            const PngTextChunks& textChunks = {});

// The tEXt, zTXt and iTXt chunks of a PNG file, in file order.
Result<PngTextChunks> readPngText(const std::string& path);
Result<PngTextChunks> readPngText(const std::uint8_t* data, std::size_t size, const std::string& where = {});

}  // namespace kiln::io
