# cmake/install.cmake: installation of limitr (`make install`, `cmake
# --install`), included at the end of the top-level CMakeLists.txt.
#
#   <prefix>/lib/liblimitr.so.0.1.0, .so.0, .so   shared, LIMITR_API only
#   <prefix>/lib/liblimitr.a                      static, links with any compiler
#   <prefix>/include/limitr.h
#   <prefix>/lib/pkgconfig/limitr.pc
#   <prefix>/lib/cmake/limitr/                    find_package(limitr)
#   <prefix>/lib/lua/5.4/limitr/core.so           + share/lua/5.4/limitr/*.lua
#   <prefix>/bin/limitr                           the CLI (Lua 5.4 script)
#   <prefix>/lib/lua/5.1/limitr/core.so           + share/lua/5.1/limitr/*.lua
#                                                 (LuaJIT, when built)
#
# The prefix may change at install time (cmake --install --prefix): the
# CMake package is relocatable and limitr.pc is written by the install step
# itself. The test tests/install/install.sh (ctest `install`) checks all of
# it against a scratch prefix.

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)
include(CheckCCompilerFlag)

option(LIMITR_INSTALL_C
  "Install the C library (liblimitr.so/.a, limitr.h, limitr.pc, CMake package)" ON)
set(LIMITR_INSTALL_LUA_CMOD_DIR "lib/lua/5.4" CACHE STRING
    "Where limitr/core.so for Lua 5.4 goes (relative: under the prefix)")
set(LIMITR_INSTALL_LUA_LMOD_DIR "share/lua/5.4" CACHE STRING
    "Where limitr/*.lua for Lua 5.4 go (relative: under the prefix)")
set(LIMITR_INSTALL_LUAJIT_CMOD_DIR "lib/lua/5.1" CACHE STRING
    "Where limitr/core.so for LuaJIT goes (relative: under the prefix)")
set(LIMITR_INSTALL_LUAJIT_LMOD_DIR "share/lua/5.1" CACHE STRING
    "Where limitr/*.lua for LuaJIT go (relative: under the prefix)")

# ---- liblimitr.a without LTO-only objects ----
# The core is built with INTERPROCEDURAL_OPTIMIZATION, and CMake's default
# for GCC is -fno-fat-lto-objects: the archive then holds GIMPLE only, which
# clang and `gcc -fno-lto` cannot link. With -ffat-lto-objects each object
# also carries machine code: in-tree links (the Lua module, tests, benchmarks)
# still go through the LTO plugin and inline across files as before, and the
# installed archive links with any compiler. A compiler without fat LTO
# objects (clang before 17) builds the core without LTO instead.
#
# The flag goes to every target whose objects end up in liblimitr.a: the
# layers' object libraries (CMakeLists.txt) and limitr itself.
set(LIMITR_ARCHIVE_TARGETS limitr)
foreach(layer util script policy state engine store region)
  list(APPEND LIMITR_ARCHIVE_TARGETS limitr_${layer})
endforeach()
if(CMAKE_C_COMPILER_ID STREQUAL "GNU")
  set(LIMITR_FAT_LTO ON)
else()
  check_c_compiler_flag("-flto -ffat-lto-objects" LIMITR_FAT_LTO)
endif()
foreach(t IN LISTS LIMITR_ARCHIVE_TARGETS)
  get_target_property(ipo ${t} INTERPROCEDURAL_OPTIMIZATION)
  if(NOT ipo)
    continue()
  endif()
  if(LIMITR_FAT_LTO)
    target_compile_options(${t} PRIVATE -ffat-lto-objects)
  else()
    message(STATUS "limitr: ${CMAKE_C_COMPILER_ID} has no fat LTO objects; "
                   "${t} is built without LTO so that liblimitr.a links "
                   "with any compiler")
    set_property(TARGET ${t} PROPERTY INTERPROCEDURAL_OPTIMIZATION OFF)
  endif()
endforeach()

if(LIMITR_INSTALL_C)
  # ---- liblimitr.so: the whole static core, LIMITR_API exported ----
  add_library(limitr_shared SHARED ${PROJECT_SOURCE_DIR}/cmake/limitr_so.c)
  set_target_properties(limitr_shared PROPERTIES
    OUTPUT_NAME limitr EXPORT_NAME limitr
    VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR})
  target_link_libraries(limitr_shared PRIVATE
    -Wl,--whole-archive limitr -Wl,--no-whole-archive)
  if(NOT LIMITR_SANITIZE AND NOT LIMITR_FUZZ)
    # Every library the core calls is linked (liblua5.4 is dlopen'ed).
    target_link_options(limitr_shared PRIVATE -Wl,--no-undefined)
  endif()
  get_target_property(ipo limitr INTERPROCEDURAL_OPTIMIZATION)
  if(ipo)
    set_property(TARGET limitr_shared PROPERTY INTERPROCEDURAL_OPTIMIZATION ON)
  endif()
  target_include_directories(limitr_shared INTERFACE
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/core/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)

  install(TARGETS limitr_shared EXPORT limitrTargets
          LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(TARGETS limitr ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(FILES ${PROJECT_SOURCE_DIR}/core/include/limitr.h
          DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

  # ---- CMake package: find_package(limitr) ----
  set(LIMITR_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/limitr)
  set(LIMITR_ARCHIVE ${CMAKE_INSTALL_LIBDIR}/liblimitr.a)
  # What liblimitr.a needs: the libraries, and their directories when the
  # linker does not search them by itself (limitr.pc says the same).
  set(LIMITR_STATIC_LINK_LIBRARIES
      ${YAML_LIBRARIES} ${CJSON_LIBRARIES} ${SQLITE_LIBRARIES} ${CMAKE_DL_LIBS}
      m pthread)
  list(REMOVE_DUPLICATES LIMITR_STATIC_LINK_LIBRARIES)
  set(LIMITR_STATIC_LINK_DIRECTORIES)
  foreach(dir IN LISTS YAML_LIBRARY_DIRS CJSON_LIBRARY_DIRS SQLITE_LIBRARY_DIRS)
    if(NOT dir IN_LIST CMAKE_C_IMPLICIT_LINK_DIRECTORIES)
      list(APPEND LIMITR_STATIC_LINK_DIRECTORIES "${dir}")
    endif()
  endforeach()
  list(REMOVE_DUPLICATES LIMITR_STATIC_LINK_DIRECTORIES)
  configure_package_config_file(
    ${PROJECT_SOURCE_DIR}/cmake/limitrConfig.cmake.in
    ${PROJECT_BINARY_DIR}/limitrConfig.cmake
    INSTALL_DESTINATION ${LIMITR_CMAKE_DIR}
    PATH_VARS LIMITR_ARCHIVE CMAKE_INSTALL_INCLUDEDIR)
  # 0.x: a new minor version may break the API.
  write_basic_package_version_file(
    ${PROJECT_BINARY_DIR}/limitrConfigVersion.cmake
    VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
  install(EXPORT limitrTargets NAMESPACE limitr::
          DESTINATION ${LIMITR_CMAKE_DIR})
  install(FILES ${PROJECT_BINARY_DIR}/limitrConfig.cmake
                ${PROJECT_BINARY_DIR}/limitrConfigVersion.cmake
          DESTINATION ${LIMITR_CMAKE_DIR})

  # ---- limitr.pc, for the prefix of the install step ----
  # No Requires.private: limitr.h includes neither libyaml's nor cJSON's
  # headers, and pkg-config would then want yaml-0.1.pc and libcjson.pc
  # (the -dev packages) for --cflags of a shared build too. What the static
  # archive needs is in Libs.private.
  set(LIMITR_PC_LIBS_PRIVATE)
  foreach(dir IN LISTS LIMITR_STATIC_LINK_DIRECTORIES)
    list(APPEND LIMITR_PC_LIBS_PRIVATE "-L${dir}")
  endforeach()
  foreach(lib IN LISTS LIMITR_STATIC_LINK_LIBRARIES)
    list(APPEND LIMITR_PC_LIBS_PRIVATE "-l${lib}")
  endforeach()
  string(REPLACE ";" " " LIMITR_PC_LIBS_PRIVATE "${LIMITR_PC_LIBS_PRIVATE}")
  set(LIMITR_PC_PREFIX "@LIMITR_PC_PREFIX@") # filled in at install time
  foreach(dir LIBDIR INCLUDEDIR)
    if(IS_ABSOLUTE "${CMAKE_INSTALL_${dir}}")
      set(LIMITR_PC_${dir} "${CMAKE_INSTALL_${dir}}")
    else()
      set(LIMITR_PC_${dir} "\${prefix}/${CMAKE_INSTALL_${dir}}")
    endif()
  endforeach()
  configure_file(${PROJECT_SOURCE_DIR}/cmake/limitr.pc.in
                 ${PROJECT_BINARY_DIR}/limitr.pc.in @ONLY)
  install(CODE "
    set(LIMITR_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
    configure_file(\"${PROJECT_BINARY_DIR}/limitr.pc.in\"
                   \"${PROJECT_BINARY_DIR}/limitr.pc\" @ONLY)")
  install(FILES ${PROJECT_BINARY_DIR}/limitr.pc
          DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endif()

# ---- The Lua module: lib/lua/<v>/limitr/core.so, share/lua/<v>/limitr ----
if(TARGET limitr_lua)
  install(TARGETS limitr_lua
          LIBRARY DESTINATION ${LIMITR_INSTALL_LUA_CMOD_DIR}/limitr)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/lua/limitr
          DESTINATION ${LIMITR_INSTALL_LUA_LMOD_DIR}
          FILES_MATCHING PATTERN "*.lua")
  # the command-line tool (docs/cli.md), a Lua 5.4 script
  install(PROGRAMS ${PROJECT_SOURCE_DIR}/bin/limitr
          DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
if(TARGET limitr_luajit)
  install(TARGETS limitr_luajit
          LIBRARY DESTINATION ${LIMITR_INSTALL_LUAJIT_CMOD_DIR}/limitr)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/lua/limitr
          DESTINATION ${LIMITR_INSTALL_LUAJIT_LMOD_DIR}
          FILES_MATCHING PATTERN "*.lua")
endif()

# ---- ctest install and luarocks_make (tests/install/) ----
# install: install.sh on a scratch prefix. luarocks_make: `luarocks make` of
# limitr-scm-1.rockspec into a scratch tree (about 10 s: it builds the core
# and the module once more, serially); skipped (77) without luarocks.
# Neither in sanitizer or fuzz builds: there the archive wants the sanitizer
# runtimes, and the rockspec's own build is the plain one anyway.
if(LIMITR_BUILD_TESTS AND NOT LIMITR_SANITIZE AND NOT LIMITR_FUZZ)
  if(LIMITR_INSTALL_C)
    add_test(NAME install
             COMMAND sh ${PROJECT_SOURCE_DIR}/tests/install/install.sh
                     ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR}
                     ${CMAKE_INSTALL_LIBDIR})
    set_tests_properties(install PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 120)
  endif()
  if(LIMITR_BUILD_LUA)
    add_test(NAME luarocks_make
             COMMAND sh ${PROJECT_SOURCE_DIR}/tests/install/luarocks.sh
                     ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
    set_tests_properties(luarocks_make PROPERTIES
                         SKIP_RETURN_CODE 77 TIMEOUT 300)
  endif()
endif()
