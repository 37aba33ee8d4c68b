#!/bin/sh
# install.sh: the install test (ctest `install`). Installs the build into a
# scratch prefix with `cmake --install`, then uses only what it installed:
#   - liblimitr.so: its soname, and that it exports exactly limitr.h's
#     LIMITR_API functions;
#   - examples/seats.c built with pkg-config (limitr.pc) by gcc and clang,
#     against liblimitr.so and against liblimitr.a (`pkg-config --static`;
#     gcc with -fno-lto: the archive must hold machine code, not LTO-only
#     objects), each run and its output checked;
#   - a CMake project using find_package(limitr) (limitr::limitr and
#     limitr::limitr_static), built and run;
#   - the Lua module: lua5.4 (and luajit, when its module was built) runs
#     tests/install/decide.lua: require "limitr" from the prefix's lib/lua
#     and share/lua only, and decisions, one through a policy snippet (the
#     engine's dlopen'ed liblua5.4.so.0).
# Usage: install.sh SOURCE_DIR BUILD_DIR [LIBDIR]  (LIBDIR: the build's
# CMAKE_INSTALL_LIBDIR, relative to the prefix). Exit 77 (skip): LIBDIR is
# absolute, so it would install outside the scratch prefix.
set -eu

src=${1:?source dir}
build=${2:?build dir}
libdir_rel=${3:-lib}
case $libdir_rel in
/*) echo "SKIP: CMAKE_INSTALL_LIBDIR is absolute ($libdir_rel)"; exit 77 ;;
esac

work=$(mktemp -d "$build/install-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 1' INT TERM
prefix=$work/prefix
libdir=$prefix/$libdir_rel
failed=0

fail() {
    echo "FAIL: $*"
    failed=1
}

# ---- the install itself ----
if ! cmake --install "$build" --prefix "$prefix" >"$work/install.log" 2>&1; then
    cat "$work/install.log"
    echo "FAIL: cmake --install"
    exit 1
fi
for f in "$libdir/liblimitr.so.0.1.0" "$libdir/liblimitr.so.0" \
         "$libdir/liblimitr.so" "$libdir/liblimitr.a" \
         "$prefix/include/limitr.h" "$libdir/pkgconfig/limitr.pc" \
         "$libdir/cmake/limitr/limitrConfig.cmake" \
         "$libdir/cmake/limitr/limitrConfigVersion.cmake" \
         "$libdir/cmake/limitr/limitrTargets.cmake" \
         "$prefix/lib/lua/5.4/limitr/core.so" \
         "$prefix/share/lua/5.4/limitr/init.lua" \
         "$prefix/share/lua/5.4/limitr/ffi.lua" \
         "$prefix/share/lua/5.4/limitr/resty.lua"; do
    [ -e "$f" ] || fail "not installed: ${f#"$prefix"/}"
done
[ "$failed" -eq 0 ] || exit 1
echo "installed into $prefix"

# ---- liblimitr.so: soname and exports ----
soname=$(readelf -d "$libdir/liblimitr.so.0.1.0" |
         sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "liblimitr.so.0" ] || fail "soname '$soname', not liblimitr.so.0"
[ "$(readlink "$libdir/liblimitr.so.0")" = "liblimitr.so.0.1.0" ] ||
    fail "liblimitr.so.0 does not point to liblimitr.so.0.1.0"
grep -o 'LIMITR_API[^(]*(' "$src/core/include/limitr.h" |
    grep -o 'limitr_[A-Za-z0-9_]*' | sort -u >"$work/api.txt"
nm -D --defined-only "$libdir/liblimitr.so.0.1.0" | awk '{ print $3 }' |
    sort -u >"$work/exported.txt"
if ! diff "$work/api.txt" "$work/exported.txt" >"$work/exports.diff"; then
    fail "liblimitr.so exports differ from limitr.h's LIMITR_API (< api, > exported)"
    cat "$work/exports.diff"
else
    echo "liblimitr.so: soname $soname, exports the $(wc -l <"$work/api.txt") LIMITR_API functions"
fi

# ---- examples/seats.c through pkg-config ----
expected="FREE PLAN SEAT LIMIT HIT, current:  1  requested:  2
FREE PLAN SEAT LIMIT HIT, current:  1  requested:  3"

# check NAME BINARY [LD_LIBRARY_PATH]: runs it, compares its output.
check() {
    out=$(LD_LIBRARY_PATH=${3:-} "$2" 2>&1) || { fail "$1: exit $?: $out"; return; }
    if [ "$out" = "$expected" ]; then
        echo "ok: $1"
    else
        fail "$1: unexpected output:"
        printf '%s\n' "$out"
    fi
}

export PKG_CONFIG_PATH="$libdir/pkgconfig"
pc_prefix=$(pkg-config --variable=prefix limitr)
[ "$pc_prefix" = "$prefix" ] || fail "limitr.pc: prefix=$pc_prefix, not $prefix"
version=$(sed -n 's/^#define LIMITR_VERSION "\(.*\)"/\1/p' "$src/core/include/limitr.h")
[ "$(pkg-config --modversion limitr)" = "$version" ] ||
    fail "limitr.pc: version $(pkg-config --modversion limitr), limitr.h says $version"
cflags=$(pkg-config --cflags limitr)
libs=$(pkg-config --libs limitr)
# --static lists the private libraries; -l:liblimitr.a makes the linker
# take the archive although liblimitr.so sits next to it.
static_libs=""
for w in $(pkg-config --static --libs limitr); do
    [ "$w" = -llimitr ] && w=-l:liblimitr.a
    static_libs="$static_libs $w"
done

for cc in gcc clang; do
    command -v "$cc" >/dev/null 2>&1 || { fail "$cc not found (scripts/setup installs it)"; continue; }
    flags="-Wall -Wextra -Werror"
    [ "$cc" = gcc ] && flags="$flags -fno-lto"
    bin=$work/seats-$cc-shared
    # shellcheck disable=SC2086
    if $cc $flags $cflags "$src/examples/seats.c" -o "$bin" $libs 2>"$work/cc.log"; then
        check "$cc, liblimitr.so (pkg-config)" "$bin" "$libdir"
    else
        fail "$cc against liblimitr.so:"; cat "$work/cc.log"
    fi
    bin=$work/seats-$cc-static
    # shellcheck disable=SC2086
    if $cc $flags $cflags "$src/examples/seats.c" -o "$bin" $static_libs 2>"$work/cc.log"; then
        if readelf -d "$bin" | grep -q 'liblimitr\.so'; then
            fail "$cc static: the binary needs liblimitr.so"
        fi
        check "$cc, liblimitr.a (pkg-config --static)" "$bin"
    else
        fail "$cc against liblimitr.a:"; cat "$work/cc.log"
    fi
done

# ---- find_package(limitr) ----
mkdir "$work/consumer"
cat >"$work/consumer/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.16)
project(consumer C)
find_package(limitr 99 QUIET CONFIG) # the version file must refuse it
if(limitr_FOUND)
  message(FATAL_ERROR "find_package(limitr 99) accepted \${limitr_VERSION}")
endif()
find_package(limitr 0.1 REQUIRED CONFIG)
add_executable(seats_shared "$src/examples/seats.c")
target_link_libraries(seats_shared PRIVATE limitr::limitr)
add_executable(seats_static "$src/examples/seats.c")
target_link_libraries(seats_static PRIVATE limitr::limitr_static)
EOF
# -fno-lto: the static link need not redo the core's LTO (slow, and the
# pkg-config part already showed that a plain link works).
if cmake -S "$work/consumer" -B "$work/consumer/build" \
        -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_FLAGS=-fno-lto \
        >"$work/consumer.log" 2>&1 &&
   cmake --build "$work/consumer/build" >>"$work/consumer.log" 2>&1; then
    # the shared one finds liblimitr.so through the build tree's RUNPATH
    check "find_package(limitr): limitr::limitr" "$work/consumer/build/seats_shared"
    check "find_package(limitr): limitr::limitr_static" "$work/consumer/build/seats_static"
else
    fail "the find_package(limitr) project:"; cat "$work/consumer.log"
fi

# ---- the Lua module, from the prefix only ----
# lua_check HOST V: tests/install/decide.lua under HOST with the prefix's
# share/lua/V and lib/lua/V as its only module paths.
lua_check() {
    out=$("$1" "$src/tests/install/decide.lua" "$prefix/share/lua/$2" \
               "$prefix/lib/lua/$2" 2>&1) || { fail "$1: $out"; return; }
    want=$(printf '2\ttrue\ttrue\tfalse\tlimit\n%s\n%s' \
           "$prefix/share/lua/$2/limitr/init.lua" \
           "$prefix/lib/lua/$2/limitr/core.so")
    if [ "$out" = "$want" ]; then
        echo "ok: $1, require \"limitr\" from share/lua/$2 and lib/lua/$2"
    else
        fail "$1: unexpected output:"
        printf '%s\n' "$out"
    fi
}
lua_check lua5.4 5.4
if [ -f "$prefix/lib/lua/5.1/limitr/core.so" ]; then
    for f in init.lua ffi.lua resty.lua; do
        [ -f "$prefix/share/lua/5.1/limitr/$f" ] || fail "not installed: share/lua/5.1/limitr/$f"
    done
    if command -v luajit >/dev/null 2>&1; then
        lua_check luajit 5.1
    else
        fail "the LuaJIT module is installed but there is no luajit to load it"
    fi
fi

if [ "$failed" -ne 0 ]; then
    echo "install test: FAILED"
    exit 1
fi
echo "install test: all passed"
