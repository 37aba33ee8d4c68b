#!/bin/sh
# shared.sh: one limitr state across 2 nginx workers (ctest openresty_shared,
# docs/shared.md). Runs examples/openresty/shared.conf (limitr.shared in
# init_by_lua, limitr.resty.enforce in the access phase) on a loopback port
# and checks over curl:
# - a hard limit of 500 admits exactly 500 of 2,000 requests sent 32 at a
#   time; the other 1,500 get 429 with Retry-After; every 200 carries
#   RateLimit-Remaining, the values 499 down to 0 each once;
# - a worker killed with SIGKILL in the middle of a run is respawned and the
#   count stays exact (500 committed, never more);
# - after `nginx -s reload` (HUP) the counts are unchanged, and a limit
#   raised in the configuration applies to them.
# Usage: shared.sh SOURCE_DIR BUILD_DIR. Exit 77: nginx or its lua module is
# missing (ctest reports a skip).
set -u

src=${1:?source dir}
build=${2:?build dir}
prefix=$build/openresty_shared

. "$src/tests/openresty/require.sh"
require_host curl
require_module "$build"

pid=""
failed=0
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    fi
    if [ "$failed" -ne 0 ] && [ -f "$prefix/error.log" ]; then
        echo "---- nginx error log ----"
        tail -50 "$prefix/error.log"
    fi
    [ -n "${KEEP:-}" ] || rm -rf "$prefix"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() {
    echo "FAIL: $*"
    failed=1
    exit 1
}

rm -rf "$prefix"
mkdir -p "$prefix"
port=${OPENRESTY_SHARED_PORT:-$((20000 + ($$ + 7919) % 20000))}
tries=0
while :; do
    curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/"
    [ $? -eq 7 ] && break # 7: nothing listens there
    tries=$((tries + 1))
    [ $tries -lt 10 ] || fail "no free port after 10 tries"
    port=$((port + 1))
done
sed -e "s|build/openresty-example/||g" \
    -e "s|\$prefix/lua/|$src/lua/|g" \
    -e "s|\$prefix/build/luajit/|$build/luajit/|g" \
    -e "s|listen 127.0.0.1:8080 reuseport;|listen 127.0.0.1:$port reuseport;|" \
    "$src/examples/openresty/shared.conf" >"$prefix/nginx.conf"
grep -qF "listen 127.0.0.1:$port reuseport;" "$prefix/nginx.conf" ||
    fail "the example's shared.conf changed: no listen line after substitution"

"$NGINX" -p "$prefix/" -c "$prefix/nginx.conf" -e stderr >"$prefix/error.log" 2>&1 &
pid=$!
url=http://127.0.0.1:$port
i=0
until curl -s -o /dev/null "$url/value?id=k"; do
    kill -0 "$pid" 2>/dev/null || fail "nginx exited at startup"
    i=$((i + 1))
    [ $i -lt 100 ] || fail "nginx did not answer within 10 s"
    sleep 0.1
done
echo "nginx pid $pid on 127.0.0.1:$port, 2 workers"

# $1 requests for key $2 (to path $4, default /), 32 at a time; one line
# per answer into $3:
# "status|remaining|retry-after|worker".
burst() {
    n=$1 key=$2 out=$3 path=${4:-/}
    awk -v n="$n" -v u="$url$path" \
        'BEGIN { for (i = 0; i < n; i++) printf "url = \"%s\"\noutput = \"/dev/null\"\n", u }' \
        >"$out.urls"
    curl -s --parallel --parallel-max 32 -H "X-Api-Key: $key" -K "$out.urls" \
        -w '%{http_code}|%header{ratelimit-remaining}|%header{retry-after}|%header{x-worker}\n' \
        >"$out" 2>/dev/null
}

value_of() {
    curl -s "$url/value?id=$1&ent=${2:-api}"
}

# ---- 500 of 2,000 ----
burst 2000 k "$prefix/run1"
ok=$(grep -c '^200|' "$prefix/run1")
denied=$(grep -c '^429|' "$prefix/run1")
[ "$ok" -eq 500 ] || fail "$ok requests admitted, not 500"
[ "$denied" -eq 1500 ] || fail "$denied requests denied, not 1500"
[ "$(grep '^429|' "$prefix/run1" | awk -F'|' '$3 == ""' | wc -l)" -eq 0 ] ||
    fail "a 429 without Retry-After"
grep '^200|' "$prefix/run1" | awk -F'|' '{print $2}' | sort -n >"$prefix/remaining"
seq 0 499 >"$prefix/expected"
cmp -s "$prefix/remaining" "$prefix/expected" ||
    fail "RateLimit-Remaining of the 200s is not 499..0 each once"
workers=$(grep '^200|' "$prefix/run1" | awk -F'|' '{print $4}' | sort -u | wc -l)
[ "$workers" -eq 2 ] || fail "the 200s came from $workers workers, not 2"
[ "$(value_of k)" = 500 ] || fail "the value read back is $(value_of k), not 500"
echo "ok: 500 of 2000 admitted, 1500 answered 429 with Retry-After, by $workers workers"

# ---- a soft limit's overage, billed by the policy and by the host ----
burst 300 k "$prefix/run_tokens" /tokens
[ "$(grep -c '^200|' "$prefix/run_tokens")" -eq 300 ] || fail "a soft limit denied"
[ "$(curl -s "$url/billed")" = "200 200" ] ||
    fail "billed (policy host) is $(curl -s "$url/billed"), not 200 200"
echo "ok: 300 requests on a soft limit of 100: 200 billed by the policy's handler and 200 by the host"

# ---- workers killed with SIGKILL during a run ----
burst 4000 k2 "$prefix/run2" /bulk &
burst_pid=$!
killed=""
for pause in 0.03 0.03 0.03; do
    sleep $pause
    victim=$(pgrep -P "$pid" | head -1)
    [ -n "$victim" ] && kill -9 "$victim" && killed="$killed $victim"
done
wait $burst_pid
ok=$(grep -c '^200|' "$prefix/run2")
lost=$(grep -c '^000|' "$prefix/run2")
[ "$ok" -le 3000 ] || fail "$ok requests admitted with workers killed, more than 3000"
served=0 # killed workers that had admitted requests of this run
for v in $killed; do
    grep -q "|$v\$" "$prefix/run2" && served=$((served + 1))
done
[ "$served" -gt 0 ] || fail "no killed worker had served the run: the kills missed it"
# the respawned workers serve: top up until denied, then the count is exact
burst 4000 k2 "$prefix/run3" /bulk
[ "$(value_of k2 bulk)" = 3000 ] ||
    fail "with workers killed the value is $(value_of k2 bulk), not 3000"
[ "$(pgrep -P "$pid" | wc -l)" -eq 2 ] || fail "the killed workers were not respawned"
echo "ok: workers$killed killed mid-run ($served had served it; $lost requests cut, $ok admitted): 3000 committed in all"

# ---- nginx -s reload keeps the counts, and applies a changed policy ----
# the api limit raised to 600 in the configuration nginx reads again
sed -i 's/limit: {credit: request, value: 500, mode: hard/limit: {credit: request, value: 600, mode: hard/' \
    "$prefix/nginx.conf"
grep -q "value: 600, mode: hard" "$prefix/nginx.conf" || fail "the api limit was not found to raise"
kill -HUP "$pid"
i=0
until [ "$(curl -s -o /dev/null -w '%{http_code}' -H 'X-Api-Key: k2' "$url/")" = 200 ]; do
    # k2 has used none of api: the new workers answer once they run
    i=$((i + 1))
    [ $i -lt 50 ] || fail "no answer after the HUP reload"
    sleep 0.1
done
sleep 0.5 # the old workers finish
[ "$(value_of k)" = 500 ] || fail "after a HUP reload k's value is $(value_of k), not 500"
[ "$(value_of k2 bulk)" = 3000 ] || fail "after a HUP reload k2's value is $(value_of k2 bulk)"
burst 200 k "$prefix/run4"
ok=$(grep -c '^200|' "$prefix/run4")
[ "$ok" -eq 100 ] || fail "after the limit was raised to 600, k got $ok more, not 100"
[ "$(value_of k)" = 600 ] || fail "k's value is $(value_of k), not 600"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$url/")" = 401 ] || fail "no key: not 401"
[ "$(curl -s -o /dev/null -w '%{http_code}' -H 'X-Api-Key: nobody' "$url/")" = 403 ] ||
    fail "unknown key: not 403"
if grep "\[alert\]\|\[emerg\]\|\[crit\]\|\[error\]" "$prefix/error.log" |
    grep -v "exited on signal 9" | grep -q .; then
    fail "nginx logged errors beyond the killed worker"
fi
echo "ok: nginx -s reload kept the counts (k 500, k2 3000) and raised the limit to 600: k got 100 more"
