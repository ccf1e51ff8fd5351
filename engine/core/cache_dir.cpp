#include "core/cache_dir.h"

#include <cstdlib>

namespace kiln {

std::filesystem::path cacheDir()
{
    if (const char* d = std::getenv("KILN_CACHE_DIR"); d && *d) return d;
    if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::filesystem::path(x) / "kiln";
    if (const char* h = std::getenv("HOME"); h && *h) return std::filesystem::path(h) / ".cache" / "kiln";
    return {};
}

}  // namespace kiln
