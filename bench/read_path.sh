#!/usr/bin/env bash
# Read-path benchmark: the fsdfs module against its baselines, side by side
# in one run on loopback, each nginx with one worker, each target driven by
# the same wrk settings. Prints absolute figures and ratios with their goals.
# A MISS is reported, never fatal; a target that cannot start or answers
# wrongly is.
#
#   BENCH_SECONDS=3 BENCH_ROUNDS=3 BENCH_CONNS=32 bench/read_path.sh
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${FSDFS_BUILD:-$top/build}
secs=${BENCH_SECONDS:-3}
rounds=${BENCH_ROUNDS:-3}
conns=${BENCH_CONNS:-32}
peer=${FSDFS_PEER_DIR:-$top/../shared/peers/lua-redirect}
tmp=$(mktemp -d /tmp/fsdfs-bench-XXXXXX)
ok=0

free_port() { perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(LocalAddr=>"127.0.0.1",LocalPort=>0,Listen=>1)->sockport'; }
die() { echo "bench: $*" >&2; exit 1; }

cleanup() {
    local p
    for p in "$tmp"/*/nginx.pid; do
        [ -e "$p" ] && kill -QUIT "$(cat "$p")" 2>/dev/null || true
    done
    [ -n "${redis_pid:-}" ] && kill "$redis_pid" 2>/dev/null || true
    for _ in $(seq 40); do
        ls "$tmp"/*/nginx.pid >/dev/null 2>&1 || break; sleep 0.05
    done
    if [ "$ok" = 1 ]; then rm -rf "$tmp"; else echo "bench: logs kept in $tmp" >&2; fi
}
trap cleanup EXIT

for cmd in wrk redis-server nginx; do
    command -v "$cmd" >/dev/null || die "needs $cmd (make deps installs it)"
done
[ -f "$build/ngx_http_fsdfs_module.so" ] || die "build first: make"

# --- servers -----------------------------------------------------------------

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no \
    --dir "$tmp" --logfile "$tmp/redis.log" &
redis_pid=$!
for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done

user=""; [ "$(id -u)" = 0 ] && user="user root;"

# the file-descriptor cache a static-file server runs with (conf.d has it),
# on every server alike; BENCH_OPEN_FILE_CACHE=0 measures without it
ofc="open_file_cache max=10000 inactive=60s; open_file_cache_valid 10s; open_file_cache_errors on;"
[ "${BENCH_OPEN_FILE_CACHE:-1}" = 1 ] || ofc=""

# one nginx: $1 name, $2 port, $3 http-level lines, $4 location / body
start_nginx() {
    local name=$1 port=$2 http=$3 loc=$4 p=$tmp/$1
    mkdir -p "$p/data/bench" "$p/tmp"
    head -c 16384 /dev/urandom > "$p/data/bench/hit.mp3"
    cat > "$p/nginx.conf" <<EOF
load_module $build/ngx_http_fsdfs_module.so;
$user
worker_processes 1;
error_log $p/error.log notice;
pid $p/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    $ofc
    client_body_temp_path $p/tmp;
    proxy_temp_path $p/tmp;
    fastcgi_temp_path $p/tmp;
    uwsgi_temp_path $p/tmp;
    scgi_temp_path $p/tmp;
    $http
    server {
        listen 127.0.0.1:$port backlog=4096;
        root $p/data;
        location = /302 { return 302 http://127.0.0.1:1/x.mp3; }
        location / { $loc }
    }
}
EOF
    nginx -p "$p" -c "$p/nginx.conf" -e "$p/error.log" || die "$name did not start"
}

fsdfs_http() {
    echo "fsdfs_node $1 http://127.0.0.1:$2; fsdfs_redis 127.0.0.1:$redis_port; $3"
}

stock=$(free_port); node_a=$(free_port); node_b=$(free_port); node_c=$(free_port)
node_p=$(free_port)
start_nginx stock "$stock" "" ""
start_nginx a "$node_a" "$(fsdfs_http a "$node_a" "fsdfs_cache zone=a:16m ttl=60s;")" "fsdfs on;"
# node a again, with hit counting (flushed every second, to count the flushes too)
start_nginx p "$node_p" "$(fsdfs_http p "$node_p" "fsdfs_cache zone=p:16m ttl=60s; fsdfs_popularity zone=pop:16m flush=1s;")" "fsdfs on;"
start_nginx b "$node_b" "$(fsdfs_http b "$node_b" "")" "fsdfs on;"
start_nginx c "$node_c" "$(fsdfs_http c "$node_c" "fsdfs_cache zone=c:1m ttl=0;")" "fsdfs on;"
head -c 16384 /dev/urandom > "$tmp/b/data/bench/miss.mp3"

lua=""
if [ -f /usr/lib/nginx/modules/ngx_http_lua_module.so ] && [ -x "$peer/run.sh" -o -f "$peer/run.sh" ]; then
    lua=$(free_port)
    mkdir -p "$tmp/lua/data/bench"
    cp "$tmp/stock/data/bench/hit.mp3" "$tmp/lua/data/bench/"
    sh "$peer/run.sh" "$tmp/lua" "$lua" "$redis_port" "$tmp/lua/data" || die "lua peer did not start"
    redis-cli -p "$redis_port" SADD peer:loc:/bench/miss.mp3 "http://127.0.0.1:$node_b" >/dev/null
else
    echo "bench: Lua peer not available (needs libnginx-mod-http-lua, lua-nginx-redis and $peer); its ratio is skipped"
fi

"$build/fsdfs" -r "127.0.0.1:$redis_port" init >/dev/null
for _ in $(seq 50); do
    [ "$(redis-cli -p "$redis_port" HLEN fsdfs:nodes)" = 4 ] && break; sleep 0.1
done
"$build/fsdfs" -r "127.0.0.1:$redis_port" scan b "$tmp/b/data" >/dev/null
sleep 2.5   # two heartbeats: every node sees every other alive

# --- checks: every target answers what it should ----------------------------

expect() {
    local url=$1 code=$2 loc=${3:-} got
    got=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "$url")
    [ "${got%% *}" = "$code" ] || die "$url answered '$got', expected $code"
    [ -z "$loc" ] || [[ "${got#* }" == "$loc"* ]] || die "$url redirects to '${got#* }', expected $loc"
}
expect "http://127.0.0.1:$stock/bench/hit.mp3" 200
expect "http://127.0.0.1:$stock/302" 302
expect "http://127.0.0.1:$node_a/bench/hit.mp3" 200
expect "http://127.0.0.1:$node_p/bench/hit.mp3" 200
expect "http://127.0.0.1:$node_a/bench/miss.mp3" 302 "http://127.0.0.1:$node_b/bench/miss.mp3"
expect "http://127.0.0.1:$node_c/bench/miss.mp3" 302 "http://127.0.0.1:$node_b/bench/miss.mp3"
[ -n "$lua" ] && expect "http://127.0.0.1:$lua/bench/miss.mp3" 302 "http://127.0.0.1:$node_b/bench/miss.mp3"

# --- measurements -----------------------------------------------------------

# rps of one target, one run
rps_once() {
    wrk -t1 -c"$conns" -d"${secs}s" "$1" | awk '/^Requests\/sec/ { print $2 }'
}

# "BASE TARGET": medians over $rounds rounds that alternate the two, so a
# drift of the machine's speed during the run hits both sides alike
pair() {
    local base=$1 target=$2 i b=() t=()
    wrk -t1 -c"$conns" -d1s "$base" >/dev/null 2>&1 || true
    wrk -t1 -c"$conns" -d1s "$target" >/dev/null 2>&1 || true
    for ((i = 0; i < rounds; i++)); do
        b+=("$(rps_once "$base")")
        t+=("$(rps_once "$target")")
    done
    echo "$(median "${b[@]}") $(median "${t[@]}")"
}

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# p99 in ms at about $2 requests/s in total
p99_at() {
    local delay
    delay=$(awk -v c="$conns" -v r="$2" 'BEGIN { printf "%.3f", c * 1000 / r }')
    printf 'function delay() return %s end\n' "$delay" > "$tmp/rate.lua"
    wrk -t1 -c"$conns" -d"${secs}s" --latency -s "$tmp/rate.lua" "$1" \
        | awk '$1 == "99%" { v = $2; if (v ~ /us$/) { sub(/us/, "", v); v /= 1000 }
                              else if (v ~ /ms$/) { sub(/ms/, "", v) }
                              else if (v ~ /s$/) { sub(/s/, "", v); v *= 1000 }
                              print v }'
}

echo "bench: open_file_cache $([ -n "$ofc" ] && echo on || echo off) on every server"
echo "bench: $rounds alternating rounds of $secs s per pair, $conns connections, 1 wrk thread, 1 nginx worker each"
read -r r_stock r_local < <(pair "http://127.0.0.1:$stock/bench/hit.mp3" "http://127.0.0.1:$node_a/bench/hit.mp3")
read -r r_nopop r_pop < <(pair "http://127.0.0.1:$node_a/bench/hit.mp3" "http://127.0.0.1:$node_p/bench/hit.mp3")
read -r r_302 r_warm < <(pair "http://127.0.0.1:$stock/302" "http://127.0.0.1:$node_a/bench/miss.mp3")
r_lua=""
if [ -n "$lua" ]; then
    read -r r_lua r_redis < <(pair "http://127.0.0.1:$lua/bench/miss.mp3" "http://127.0.0.1:$node_c/bench/miss.mp3")
else
    r_redis=$(rps_once "http://127.0.0.1:$node_c/bench/miss.mp3")
fi
half=$(awk -v r="$r_warm" 'BEGIN { printf "%d", r / 2 }')
p99=$(p99_at "http://127.0.0.1:$node_a/bench/miss.mp3" "$half")

line() {   # figure, measured, baseline, goal op, goal
    awk -v f="$1" -v a="$2" -v b="$3" -v op="$4" -v g="$5" 'BEGIN {
        r = (b == "") ? a : a / b
        pass = (op == ">=") ? (r >= g) : (r <= g)
        printf "%-44s %12s %12s %8.3f  goal %s %-5s %s\n", f, a, (b == "" ? "-" : b), r, op, g, pass ? "PASS" : "MISS"
    }'
}

printf '\n%-44s %12s %12s %8s  %s\n' figure measured baseline ratio goal
line "local hit rps / stock static rps" "$r_local" "$r_stock" ">=" 0.97
line "local hit rps, hit counting on / off" "$r_pop" "$r_nopop" ">=" 0.97
line "redirect (warm cache) rps / bare 302 rps" "$r_warm" "$r_302" ">=" 0.90
if [ -n "$r_lua" ]; then
    line "redirect (redis every time) rps / Lua peer" "$r_redis" "$r_lua" ">=" 2.0
else
    echo "redirect (redis every time) rps: $r_redis (Lua peer not run)"
fi
line "redirect p99 ms at half load ($half rps)" "$p99" "" "<=" 1.0

# the counted hits reached Redis: the figure above measured counting
for _ in $(seq 30); do
    pop=$(redis-cli -p "$redis_port" ZSCORE fsdfs:pop /bench/hit.mp3)
    [ -n "$pop" ] && break; sleep 0.1
done
[ -n "$pop" ] || die "hit counting on: /bench/hit.mp3 never reached fsdfs:pop"

if [ -x "$top/bench/index_mem.sh" ] && [ "${BENCH_SKIP_INDEX:-0}" != 1 ]; then
    echo
    "$top/bench/index_mem.sh"
fi

ok=1
