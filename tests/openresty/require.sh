# require.sh: what the nginx scripts need, checked the same way by each
# (sourced by tests/openresty/smoke.sh, shared.sh, tests/bench/openresty.sh).
# A missing piece of the host is a skip (exit 77, ctest's SKIP_RETURN_CODE);
# a missing piece of the build is a failure.
NGINX=${NGINX:-nginx}
PATH=$PATH:/usr/sbin

# require_host TOOL...: Debian's nginx, its lua module, and each tool.
require_host() {
    for f in /usr/lib/nginx/modules/ndk_http_module.so \
             /usr/lib/nginx/modules/ngx_http_lua_module.so; do
        [ -f "$f" ] || { echo "SKIP: $f missing (scripts/setup installs it)"; exit 77; }
    done
    command -v "$NGINX" >/dev/null 2>&1 || { echo "SKIP: no nginx"; exit 77; }
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 ||
            { echo "SKIP: no $tool (scripts/setup installs it)"; exit 77; }
    done
}

# require_module BUILD_DIR: limitr.core built for nginx's LuaJIT.
require_module() {
    [ -f "$1/luajit/limitr/core.so" ] || {
        echo "FAIL: $1/luajit/limitr/core.so not built (LIMITR_WITH_LUAJIT)"
        exit 1
    }
}
