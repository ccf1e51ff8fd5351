// Where Kiln keeps what it can rebuild (Vulkan pipeline cache, model hashes):
// $KILN_CACHE_DIR, else $XDG_CACHE_HOME/kiln, else ~/.cache/kiln; empty when none can be named.
#pragma once

#include <filesystem>

namespace kiln {

std::filesystem::path cacheDir();

}  // namespace kiln
