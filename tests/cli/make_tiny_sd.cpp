// Test helper: writes the tests' tiny seeded SD 1.x model as a diffusers folder, for kiln-cli generate's test.
// Usage: make_tiny_sd FOLDER
#include "sd_test_models.h"

#include <cstdio>

int main(int argc, char** argv)
{
    // An argument that looks like an option is a mistake (a folder named "--help" once landed in the tree).
    if (argc != 2 || argv[1][0] == '-') {
        std::fprintf(stderr, "usage: make_tiny_sd FOLDER\n");
        return 2;
    }
    auto tiny = kiln::sdtest::makeTinySd(1234);
    if (!tiny) {
        std::fprintf(stderr, "make_tiny_sd: %s\n", tiny.error().message().c_str());
        return 1;
    }
    if (auto r = kiln::sdtest::writeTinySdDiffusers(argv[1], *tiny); !r) {
        std::fprintf(stderr, "make_tiny_sd: %s\n", r.error().message().c_str());
        return 1;
    }
    return 0;
}
