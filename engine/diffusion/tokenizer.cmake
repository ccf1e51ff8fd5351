# The CLIP tokenizer and A1111's prompt syntax: std-only, plus RE2 for CLIP's Unicode-aware
# pre-tokenizer pattern (std::regex has no \p{L}).
find_package(PkgConfig REQUIRED)
pkg_check_modules(RE2 REQUIRED IMPORTED_TARGET re2)
list(APPEND KILN_DIFFUSION_SOURCES diffusion/clip_tokenizer.cpp diffusion/prompt_parser.cpp)
list(APPEND KILN_DIFFUSION_BASE_LIBS PkgConfig::RE2)
