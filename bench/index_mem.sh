#!/usr/bin/env bash
# Index benchmarks: Redis memory per indexed file at FILES files (goal <= 150
# bytes), fsdfsd's index load at takeover (goal >= 200k files/s), and
# `fsdfs scan` throughput over SCAN_FILES small files (goal >=
# 50k files/s). Redis runs with the listpack limits of conf.d/redis.conf.
#
#   FILES=1000000 SCAN_FILES=100000 bench/index_mem.sh
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${FSDFS_BUILD:-$top/build}
files=${FILES:-1000000}
scan_files=${SCAN_FILES:-100000}
tmp=$(mktemp -d /tmp/fsdfs-index-XXXXXX)
port=$(perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(LocalAddr=>"127.0.0.1",LocalPort=>0,Listen=>1)->sockport')

cleanup() { redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true; rm -rf "$tmp"; }
trap cleanup EXIT

[ -x "$build/bench/fill_index" ] || make -s -C "$top" "$build/bench/fill_index" BUILD="$build"

redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$tmp" \
    --daemonize yes --logfile "$tmp/redis.log" \
    --hash-max-listpack-entries 512 --hash-max-listpack-value 128 >/dev/null
for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done

mem() { redis-cli -p "$port" info memory | awk -F: '/^used_memory:/ { print $2 + 0 }'; }

# buckets: files/64 rounded up to a power of two (about 64 files a bucket:
# short listpacks for a fast HGET; 256 a bucket measured the same bytes/file)
buckets=1
while (( buckets * 64 < files )); do buckets=$((buckets * 2)); done
"$build/fsdfs" -r "127.0.0.1:$port" init --buckets "$buckets" >/dev/null

before=$(mem)
t0=$(date +%s.%N)
"$build/bench/fill_index" 127.0.0.1 "$port" "$files" "$buckets"
t1=$(date +%s.%N)
after=$(mem)
enc=$(redis-cli -p "$port" object encoding fsdfs:loc:0)

awk -v b="$before" -v a="$after" -v n="$files" -v k="$buckets" -v e="$enc" 'BEGIN {
    per = (a - b) / n
    printf "%-44s %12.1f %12s %8.3f  goal <= 150  %s\n",
           "index bytes/file at " n " files (" k " buckets, " e ")", per, "-",
           150 / per, ((per <= 150) ? "PASS" : "MISS")
}'

# fsdfsd takeover: the whole index loaded into the planner (pipelined HSCAN)
head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$tmp/secret"
chmod 600 "$tmp/secret"
printf 'redis 127.0.0.1:%s\nsecret %s\nname bench\n' "$port" "$tmp/secret" > "$tmp/fsdfsd.conf"
: > "$tmp/fsdfsd.log"
"$build/fsdfsd" -c "$tmp/fsdfsd.conf" 2>> "$tmp/fsdfsd.log" &
dpid=$!
for _ in $(seq 600); do grep -q 'index loaded' "$tmp/fsdfsd.log" && break; sleep 0.1; done
kill "$dpid" 2>/dev/null; wait "$dpid" 2>/dev/null || true
grep 'index loaded' "$tmp/fsdfsd.log" | awk -v n="$files" '{
    for (i = 1; i <= NF; i++) if ($i == "files/s),") r = substr($(i - 1), 2)
} END {
    if (r == "") { print "fsdfsd takeover: no \"index loaded\" line"; exit 1 }
    printf "%-44s %12d %12s %8.3f  goal >= 200000  %s\n",
           "fsdfsd index load files/s (" n " files)", r, "-", r / 200000,
           ((r >= 200000) ? "PASS" : "MISS")
}'

# scan throughput over small real files
mkdir -p "$tmp/root"
perl -e 'for my $i (1 .. $ARGV[1]) {
    my $d = sprintf "%s/m/%03d", $ARGV[0], $i % 500; mkdir "$ARGV[0]/m"; mkdir $d;
    open my $f, ">", "$d/$i.mp3" or die; print $f "x" x 1024; close $f }' "$tmp/root" "$scan_files"
out=$("$build/fsdfs" -r "127.0.0.1:$port" scan benchnode "$tmp/root")
echo "$out" | awk -v n="$scan_files" '{
    for (i = 1; i <= NF; i++) if ($i == "files/s)") r = substr($(i - 1), 2)
} END {
    printf "%-44s %12d %12s %8.3f  goal >= 50000  %s\n",
           "fsdfs scan files/s (" n " files of 1 KB)", r, "-", r / 50000,
           ((r >= 50000) ? "PASS" : "MISS")
}'
