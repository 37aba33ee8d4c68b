#!/bin/sh
# openresty.sh: make bench-openresty. One nginx, 2 workers, one hot
# customer; wrk -t2 -c32 on /none (no limiter), /shdict (a lua_shared_dict
# incr counter) and /limitr (limitr.resty.enforce on limitr.shared), 3
# interleaved rounds, best of each printed with limitr's ratios. Every
# answer must be 200. Then, once each, the parts of limitr's cost.
# Usage: openresty.sh SOURCE_DIR BUILD_DIR [SECONDS]. Exit 77 without nginx,
# its lua module or wrk.
set -u
src=${1:?source dir}
build=${2:?build dir}
secs=${3:-${LIMITR_BENCH_OPENRESTY_SECONDS:-5}}
. "$src/tests/openresty/require.sh"
require_host wrk curl
require_module "$build"
prefix=$build/bench-openresty
rm -rf "$prefix" && mkdir -p "$prefix"
port=$((30000 + $$ % 20000))
sed -e "s|PREFIX|$prefix|g" -e "s|SRC|$src|g" -e "s|BUILD|$build|g" -e "s|PORT|$port|g" \
    "$src/tests/bench/openresty.conf" >"$prefix/nginx.conf"
"$NGINX" -p "$prefix/" -c "$prefix/nginx.conf" -e "$prefix/error.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
url=http://127.0.0.1:$port
i=0
until curl -s -o /dev/null "$url/none"; do
    i=$((i + 1)); [ $i -lt 100 ] || { echo "FAIL: nginx did not start"; cat "$prefix/error.log"; exit 1; }
    sleep 0.1
done

# rps of a wrk run on path $1; fails on any answer that is not 2xx
run() {
    out=$(wrk -t2 -c32 -d"${secs}s" -H "X-Api-Key: hot" "$url$1")
    if echo "$out" | grep -q "Non-2xx"; then
        echo "FAIL: $1 answered non-2xx: $out" >&2
        exit 1
    fi
    echo "$out" | awk '/Requests\/sec/ {print int($2)}'
}
total() { # requests wrk made, from its summary line
    echo "$1" | awk '/requests in/ {print $1}'
}

best_none=0 best_shdict=0 best_limitr=0 limitr_requests=0
for round in 1 2 3; do
    n=$(run /none); [ "$n" -gt "$best_none" ] && best_none=$n
    s=$(run /shdict); [ "$s" -gt "$best_shdict" ] && best_shdict=$s
    waits_before=$(curl -s "$url/waits")
    l=$(run /limitr); [ "$l" -gt "$best_limitr" ] && best_limitr=$l
    waits_after=$(curl -s "$url/waits")
    echo "openresty round $round: none $n/s, shdict $s/s, limitr $l/s"
done
# the last limitr round's sections that found the lock held by the other
# worker (stats.lock_waits): what per-shard locks could win here
echo "$waits_before $waits_after" | awk '{w = $4 - $1; n = $6 - $3;
    printf "openresty   lock waits in the last enforce round: %d of %d sections (%.3f%%)\n", w, n, n ? 100 * w / n : 0}'
echo "openresty (2 workers, wrk -t2 -c32, ${secs}s runs, best of 3 interleaved rounds):"
echo "openresty   no limiter       $best_none req/s"
echo "openresty   shdict counter   $best_shdict req/s ($(awk -v a="$best_shdict" -v b="$best_none" 'BEGIN {printf "%.3f", a / b}') of no limiter)"
ratio=$(awk -v a="$best_limitr" -v b="$best_none" 'BEGIN {printf "%.3f", a / b}')
vs=$(awk -v a="$best_limitr" -v b="$best_shdict" 'BEGIN {printf "%.3f", a / b}')
verdict=$(awk -v r="$ratio" 'BEGIN {print (r >= 0.92) ? "ok" : "MISSED"}')
echo "openresty   limitr enforce   $best_limitr req/s ($ratio of no limiter, target >= 0.92: $verdict; $vs of shdict, goal >= 1)"
# where limitr's cost goes: an access phase that only reads the key (the
# floor of any Lua guard), the bare allow, decide (allow + the values of
# the headers), enforce without the RateLimit-* fields
for p in empty limitr_allow limitr_decide limitr_noheaders; do
    echo "openresty   [detail] /$p $(run /$p) req/s"
done
echo "openresty   limitr's count of the hot customer: $(curl -s "$url/value")"
