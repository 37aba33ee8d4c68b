#!/bin/sh
# luarocks.sh: the rockspec test (ctest `luarocks_make`). Runs
# `luarocks --lua-version=5.4 --tree TREE make limitr-scm-1.rockspec` on a
# copy of the source tree (luarocks builds in ./build.luarocks), checks that
# the tree got exactly the Lua module, and runs tests/install/decide.lua
# against the tree's paths alone.
# Usage: luarocks.sh SOURCE_DIR BUILD_DIR. Exit 77 (skip): no luarocks.
set -eu

src=${1:?source dir}
build=${2:?build dir}
command -v luarocks >/dev/null 2>&1 || {
    echo "SKIP: no luarocks (scripts/setup installs it)"
    exit 77
}

work=$(mktemp -d "$build/luarocks-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 1' INT TERM
tree=$work/tree

# The sources: git's list (tracked and untracked, not ignored) when this is
# a checkout, else everything but .git and build directories.
mkdir "$work/src"
if git -C "$src" rev-parse --show-toplevel >/dev/null 2>&1; then
    (cd "$src" && git ls-files -z --cached --others --exclude-standard |
        tar --null -T - --ignore-failed-read -cf - 2>/dev/null) |
        tar -xf - -C "$work/src"
else
    tar -C "$src" --exclude=./.git --exclude='./build*' -cf - . |
        tar -xf - -C "$work/src"
fi

if ! (cd "$work/src" &&
      luarocks --lua-version=5.4 --tree "$tree" make limitr-scm-1.rockspec) \
        >"$work/luarocks.log" 2>&1; then
    cat "$work/luarocks.log"
    echo "FAIL: luarocks make"
    exit 1
fi
echo "luarocks make: installed into $tree"

failed=0
# Only the Lua module is deployed (LIMITR_INSTALL_C=OFF in the rockspec).
got=$(cd "$tree" && find share lib/lua -type f | sort)
want="lib/lua/5.4/limitr/core.so
share/lua/5.4/limitr/ffi.lua
share/lua/5.4/limitr/init.lua
share/lua/5.4/limitr/resty.lua"
if [ "$got" != "$want" ]; then
    echo "FAIL: the tree holds:"
    printf '%s\n' "$got"
    failed=1
fi

out=$(lua5.4 "$src/tests/install/decide.lua" "$tree/share/lua/5.4" \
             "$tree/lib/lua/5.4" 2>&1) || { echo "FAIL: lua5.4: $out"; exit 1; }
want=$(printf '2\ttrue\ttrue\tfalse\tlimit\n%s\n%s' \
       "$tree/share/lua/5.4/limitr/init.lua" "$tree/lib/lua/5.4/limitr/core.so")
if [ "$out" = "$want" ]; then
    echo "ok: lua5.4, require \"limitr\" from the luarocks tree"
else
    echo "FAIL: lua5.4: unexpected output:"
    printf '%s\n' "$out"
    failed=1
fi

[ "$failed" -eq 0 ] || exit 1
echo "luarocks test: all passed"
