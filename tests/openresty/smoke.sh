#!/bin/sh
# smoke.sh: the OpenResty smoke test (ctest openresty_smoke). Runs Debian's
# nginx + lua module on examples/openresty/nginx.conf, with its prefix, port
# and paths substituted, on a loopback port, and checks over curl: 200 for
# the first 4 requests of a key, then 429 with Retry-After; 4 from the Lua
# 5.4 limit snippet (in nginx's LuaJIT process); 401 without a key; 403 for
# an unknown key; an on_exceed reason with quotes in a valid JSON body. JSON
# bodies are parsed with lua5.4 and dkjson (a dependency of lua-busted).
# Usage: smoke.sh SOURCE_DIR BUILD_DIR. Exit 77: nginx or the lua module is
# missing (ctest reports a skip).
set -u

src=${1:?source dir}
build=${2:?build dir}
conf_in=$src/examples/openresty/nginx.conf
prefix=$build/openresty_smoke
LIMIT=4 # the snippet's (7 // 2) + 1

. "$src/tests/openresty/require.sh"
require_host curl
require_module "$build"

command -v lua5.4 >/dev/null 2>&1 || { echo "FAIL: no lua5.4 to parse JSON"; exit 1; }
lua5.4 -e 'require "dkjson"' 2>/dev/null || { echo "FAIL: no dkjson (lua-dkjson) to parse JSON"; exit 1; }

pid=""
failed=0
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    fi
    if [ "$failed" -ne 0 ] && [ -f "$prefix/error.log" ]; then
        echo "---- nginx error log ----"
        cat "$prefix/error.log"
    fi
    rm -rf "$prefix"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() {
    echo "FAIL: $*"
    failed=1
    exit 1
}

# nginx.conf from the example: prefix-relative run files into our prefix,
# $prefix paths into the source and build trees, and the port.
make_conf() {
    sed -e "s|build/openresty-example/||g" \
        -e "s|\$prefix/lua/|$src/lua/|g" \
        -e "s|\$prefix/examples/openresty/|$src/examples/openresty/|g" \
        -e "s|\$prefix/build/luajit/|$build/luajit/|g" \
        -e "s|listen 127.0.0.1:8080;|listen 127.0.0.1:$1;|" \
        "$conf_in" >"$prefix/nginx.conf"
    for want in "listen 127.0.0.1:$1;" "$src/lua/?.lua" \
                "$src/examples/openresty/?.lua" "$build/luajit/?.so" \
                "pid nginx.pid;"; do
        grep -qF "$want" "$prefix/nginx.conf" ||
            fail "the example's nginx.conf changed: no '$want' after substitution"
    done
    if grep -v '^ *#' "$prefix/nginx.conf" | grep -q 'openresty-example\|\$prefix'; then
        fail "the example's nginx.conf has paths this script does not substitute"
    fi
}

# Starts nginx on port $1; 0 when it answers, 2 when the port is taken
# (nginx would retry bind() for 2.5 s meanwhile, and curl would reach the
# other server: so the port must refuse connections first).
start() {
    curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$1/"
    [ $? -eq 7 ] || return 2 # 7: could not connect
    make_conf "$1"
    "$NGINX" -p "$prefix/" -c "$prefix/nginx.conf" -e stderr \
        >"$prefix/error.log" 2>&1 &
    pid=$!
    i=0
    while [ $i -lt 100 ]; do
        if grep -qs "Address already in use" "$prefix/error.log"; then
            kill "$pid" 2>/dev/null
            wait "$pid" 2>/dev/null
            pid=""
            return 2
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid" 2>/dev/null
            pid=""
            grep -qs "Address already in use" "$prefix/error.log" && return 2
            failed=1
            fail "nginx exited at startup"
        fi
        curl -s -o /dev/null "http://127.0.0.1:$1/limit" 2>/dev/null && return 0
        sleep 0.1
        i=$((i + 1))
    done
    fail "nginx did not answer on port $1 within 10 s"
}

rm -rf "$prefix"
mkdir -p "$prefix"
# A high port from the process id; the next ones while taken.
port=${OPENRESTY_SMOKE_PORT:-$((20000 + $$ % 20000))}
tries=0
while :; do
    start "$port" && break
    tries=$((tries + 1))
    [ $tries -lt 10 ] || fail "no free port after 10 tries"
    port=$((port + 1))
done
echo "nginx $("$NGINX" -v 2>&1 | sed 's|.*/||') pid $pid on 127.0.0.1:$port"
url=http://127.0.0.1:$port

# status code of a GET with the API key $1 (none when empty)
status() {
    if [ -n "$1" ]; then
        curl -s -o /dev/null -w '%{http_code}' -H "X-Api-Key: $1" "$url$2"
    else
        curl -s -o /dev/null -w '%{http_code}' "$url$2"
    fi
}

# json_expect FILE [KEY VALUE]...: FILE holds one valid JSON object whose
# KEY is VALUE (compared as text) for each pair; else prints why and fails.
json_expect() {
    lua5.4 - "$@" <<'EOF_LUA' || fail "JSON body of $1: $(cat "$1")"
local json = require "dkjson"
local f = assert(io.open(arg[1], "rb"))
local text = f:read("a")
f:close()
local v, _, err = json.decode(text)
if type(v) ~= "table" then
    io.stderr:write("not a JSON object (", tostring(err), ")\n")
    os.exit(1)
end
for i = 2, #arg, 2 do
    if tostring(v[arg[i]]) ~= arg[i + 1] then
        io.stderr:write(("%s is %q, expected %q\n"):format(arg[i], tostring(v[arg[i]]), arg[i + 1]))
        os.exit(1)
    end
end
EOF_LUA
}

# GET $2 with the API key $1 into $prefix/headers and $prefix/body; prints
# the status code.
fetch() {
    curl -s -D "$prefix/headers" -o "$prefix/body" -H "X-Api-Key: $1" "$url$2"
    sed -n '1s/^HTTP\/[0-9.]* \([0-9]*\).*/\1/p' "$prefix/headers"
}

n=1
while [ $n -le $LIMIT ]; do
    code=$(status key-a /)
    [ "$code" = 200 ] || fail "request $n of key-a: $code, expected 200"
    n=$((n + 1))
done
echo "ok: $LIMIT requests of key-a answered 200"

code=$(fetch key-a /)
[ "$code" = 429 ] || fail "request $n of key-a: $code, expected 429"
retry=$(tr -d '\r' <"$prefix/headers" | sed -n 's/^[Rr]etry-[Aa]fter: *//p')
case $retry in
'' | *[!0-9]*) fail "429 without a numeric Retry-After: '$retry'" ;;
esac
[ "$retry" -ge 1 ] && [ "$retry" -le 60 ] ||
    fail "Retry-After $retry, expected 1..60 (the limit resets each minute)"
json_expect "$prefix/body" error limit reason limit entitlement api
echo "ok: request $n of key-a answered 429, Retry-After: $retry"
echo "    body: $(cat "$prefix/body")"

code=$(status key-b /)
[ "$code" = 200 ] || fail "first request of key-b: $code, expected 200"
echo "ok: key-b (a new customer) answered 200"

limit=$(curl -s -H "X-Api-Key: key-a" "$url/limit")
[ "$limit" = "$LIMIT" ] || fail "limit of key-a: '$limit', expected $LIMIT"
echo "ok: the Lua 5.4 snippet's limit is $limit under nginx's LuaJIT"

code=$(status "" /)
[ "$code" = 401 ] || fail "request without a key: $code, expected 401"
echo "ok: a request without X-Api-Key answered 401"

code=$(fetch never-seen /limit)
[ "$code" = 403 ] || fail "/limit of an unknown key: $code, expected 403"
json_expect "$prefix/body" error forbidden reason unknown_customer
echo "ok: /limit of an unknown key answered 403: $(cat "$prefix/body")"

code=$(fetch key-c /export)
[ "$code" = 200 ] || fail "first export of key-c: $code, expected 200"
code=$(fetch key-c /export)
[ "$code" = 429 ] || fail "second export of key-c: $code, expected 429"
json_expect "$prefix/body" error limit entitlement export \
    reason 'plan "free": 1 export a minute'
tr -d '\r' <"$prefix/headers" | grep -q '^[Rr]etry-[Aa]fter: [0-9]' ||
    fail "429 of export without Retry-After"
echo "ok: an on_exceed reason with quotes, in valid JSON: $(cat "$prefix/body")"

if grep -E '\[(error|crit|alert|emerg)\]' "$prefix/error.log"; then
    fail "nginx logged errors"
fi

kill "$pid"
wait "$pid"
rc=$?
pid=""
grep -q "exit" "$prefix/error.log" || fail "nginx did not exit cleanly (status $rc)"
echo "ok: nginx stopped"
echo "openresty_smoke: passed"
