# The one helper every Kiln target goes through, so that warnings, C++20, QT_NO_KEYWORDS
# (Qt's `slots` macro breaks torch headers) and sanitizers are the same everywhere.

find_program(KILN_CCACHE ccache)
if(KILN_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  # Paths under the checkout are hashed relative to it, so a fresh clone in another folder (CI)
  # reuses the cache; a PCH changes every compile's hash unless these sloppiness flags are set.
  # They go through `cmake -E env` because ccache reads them at build time, not at configure time.
  set(kiln_launcher ${CMAKE_COMMAND} -E env CCACHE_BASEDIR=${PROJECT_SOURCE_DIR} CCACHE_NOHASHDIR=1
      CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime ${KILN_CCACHE})
  set(CMAKE_C_COMPILER_LAUNCHER ${kiln_launcher} CACHE STRING "" FORCE)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${kiln_launcher} CACHE STRING "" FORCE)
endif()

find_program(KILN_LLD ld.lld)
if(KILN_LLD)
  add_link_options(-fuse-ld=lld)
endif()

function(kiln_target_defaults target)
  target_compile_definitions(${target} PRIVATE QT_NO_KEYWORDS QT_NO_FOREACH)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter)
  if(KILN_FATAL_WARNINGS)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(KILN_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=${KILN_SANITIZE} -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=${KILN_SANITIZE})
  endif()
endfunction()

# kiln_add_library(name SOURCES...) -> target kiln_<name>, alias kiln::<name>
function(kiln_add_library name)
  add_library(kiln_${name} STATIC ${ARGN})
  add_library(kiln::${name} ALIAS kiln_${name})
  kiln_target_defaults(kiln_${name})
endfunction()

function(kiln_add_executable name)
  add_executable(${name} ${ARGN})
  kiln_target_defaults(${name})
endfunction()

# Compiles GLSL compute shaders to SPIR-V words that a .cpp includes inside an array
# initialiser: kiln_add_shaders(target shaders/a.comp ...)
function(kiln_add_shaders target)
  kiln_add_shader_variants(${target} "" "" ${ARGN})
endfunction()

# The same shaders compiled once more with -D<define>, as <stem>_<suffix>.spv.inc: one source
# for two element types (fp16 weights: kiln_add_shader_variants(target f16w KILN_WEIGHTS_F16 ...)).
# An empty suffix is the plain build.
function(kiln_add_shader_variants target suffix define)
  set(out_dir ${CMAKE_CURRENT_BINARY_DIR}/spv)
  file(MAKE_DIRECTORY ${out_dir})
  set(defines)
  if(define)
    set(defines -D${define})
  endif()
  foreach(src ${ARGN})
    get_filename_component(stem ${src} NAME_WE)
    if(suffix)
      set(stem ${stem}_${suffix})
    endif()
    set(out ${out_dir}/${stem}.spv.inc)
    # The depfile lists the .glsl files a shader #includes, so editing one rebuilds its users.
    add_custom_command(OUTPUT ${out}
      COMMAND Vulkan::glslc --target-env=vulkan1.2 -O -mfmt=num ${defines} -MD -MF ${out}.d -o ${out}
              ${CMAKE_CURRENT_SOURCE_DIR}/${src}
      DEPENDS ${src}
      DEPFILE ${out}.d
      COMMENT "glslc ${defines} ${src}")
    list(APPEND outs ${out})
  endforeach()
  target_sources(${target} PRIVATE ${outs})
  target_include_directories(${target} PRIVATE ${out_dir})
endfunction()
