#!/usr/bin/env bash
# The demo cluster on loopback: Redis, three fsdfs nodes and fsdfsd.
# Twelve MP3 and OGG tracks are put once each, onto one node each; fsdfsd
# copies every one to a second node (N=2), then keeps copying while the
# nodes' quotas have room (each can hold about 80% of the tracks).
#   demo.sh start | stop | status
# Environment: FSDFS_BUILD (default build/), FSDFS_DEMO_DIR (default
# demo-run/), FSDFS_DEMO_REDIS_PORT (6399), FSDFS_DEMO_PORTS ("8081 8082 8083").
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
run=${FSDFS_DEMO_DIR:-$top/demo-run}
build=${FSDFS_BUILD:-$top/build}
case $build in /*) ;; *) build=$top/$build ;; esac
redis_port=${FSDFS_DEMO_REDIS_PORT:-6399}
read -r -a ports <<< "${FSDFS_DEMO_PORTS:-8081 8082 8083}"
names=(a b c)
replicas=2
fsdfs() { "$build/fsdfs" -r "127.0.0.1:$redis_port" -s "$run/secret" "$@"; }

die() { echo "demo: $*" >&2; exit 1; }

[ "${#ports[@]}" = 3 ] || die "FSDFS_DEMO_PORTS needs three ports, got '${ports[*]}'"

# 12 tracks of 14 to 36 s, a tone each; odd ones MP3 (128 kbit/s), even OGG
make_audio() {
    local dir=$1 i
    mkdir -p "$dir"
    for i in $(seq 1 12); do
        local f=$((200 + i * 40)) d=$((12 + 2 * i))
        sox -q -n -r 44100 -c 2 "$dir/tone.wav" synth "$d" sine "$f" fade 0.1 "$d" 0.3
        if (( i % 2 )); then
            lame --quiet -b 128 "$dir/tone.wav" "$dir/track$i.mp3"
        else
            sox -q "$dir/tone.wav" "$dir/track$i.ogg"
        fi
    done
    rm -f "$dir/tone.wav"
}

# the tracks in number order, track1 to track12
tracks() {
    local i
    for i in $(seq 1 12); do ls "$run"/audio/track"$i".*; done
}

# 48 random bytes as hex, readable by root (and the nodes) only
make_secret() {
    (umask 077 && od -An -tx1 -N48 /dev/urandom | tr -d ' \n' > "$run/secret" && echo >> "$run/secret")
    chmod 0600 "$run/secret"
}

start_node() {
    local i=$1 name=${names[$1]} port=${ports[$1]} prefix=$run/${names[$1]} user=""
    mkdir -p "$prefix/data/music" "$prefix/tmp"
    [ "$(id -u)" = 0 ] && user="user root;"
    sed -e "s|@MODULE@|$build/ngx_http_fsdfs_module.so|" -e "s|@PREFIX@|$prefix|g" \
        -e "s|@NAME@|$name|g" -e "s|@PORT@|$port|g" -e "s|@REDIS_PORT@|$redis_port|g" \
        -e "s|@QUOTA@|$quota|" -e "s|@SECRET@|$run/secret|" \
        -e "s|@USER@|$user|" -e "s|@DASHBOARD@|$top/conf.d/dashboard|" \
        "$top/conf.d/demo/node.conf.in" > "$prefix/nginx.conf"
    nginx -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log" \
        || die "node $name failed to start; see $prefix/error.log"
}

# true once every node has an id, a live heartbeat and a quota in Redis
nodes_ready() {
    local n id
    for n in "${names[@]}"; do
        id=$(redis-cli -p "$redis_port" HGET fsdfs:nodes "$n" 2>/dev/null) || return 1
        [ -n "$id" ] || return 1
        [ "$(redis-cli -p "$redis_port" EXISTS "fsdfs:alive:$id")" = 1 ] || return 1
    done
}

# The Redis commands that read every track's record (from `fsdfs where`),
# and node id -> name; then one pipelined redis-cli call per progress line.
index_setup() {
    local f
    : > "$run/index.cmds"
    for f in $(tracks); do
        { fsdfs where "/music/$(basename "$f")" || true; } \
            | sed -n 's/^raw .* \(HGET .*\)$/\1/p' >> "$run/index.cmds"
    done
    echo "HGET fsdfs:stats min_kn" >> "$run/index.cmds"
    echo "HGET fsdfs:stats pulls_inflight" >> "$run/index.cmds"
    redis-cli -p "$redis_port" HGETALL fsdfs:nodes | paste - - > "$run/index.nodes"
}

# "copies N (a X, b Y, c Z), K per track ..., min(K-N) M, pulls P": copies
# read from the index now, min(K-N) and pulls as fsdfsd last published them
progress() {
    redis-cli -p "$redis_port" < "$run/index.cmds" | awk -v n="${#names[@]}" '
        FILENAME == ARGV[1] { name[$2] = $1; order[++nn] = $2; next }
        { line[++nl] = $0 }
        END {
            tracks = nl - 2
            for (i = 1; i <= tracks; i++) {
                split(line[i], r, " "); k = 0
                if (r[5] != "" && r[5] != "-") { k = split(r[5], ids, ","); for (j = 1; j <= k; j++) held[ids[j]]++ }
                ks = ks " " k; copies += k
            }
            per = ""
            for (i = 1; i <= nn; i++) per = per (i > 1 ? ", " : "") name[order[i]] " " held[order[i]] + 0
            printf "copies %2d (%s), K per track%s, min(K-N) %s, pulls %s\n", copies, per, ks,
                   line[nl - 1] == "" ? "?" : line[nl - 1], line[nl] == "" ? "?" : line[nl]
        }' "$run/index.nodes" -
}

start_fsdfsd() {
    cat > "$run/fsdfsd.conf" <<CONF
# fsdfsd for the demo (written by demo.sh); conf.d/fsdfsd.conf explains every key
redis        127.0.0.1:$redis_port
secret       $run/secret
name         demo
lease        3s
dead_after   10s
cache_ttl    2s
retry_after  2s
pull_timeout 20s
pulls_in     1
log_level    info
CONF
    # fsdfsd stays in the foreground and logs to stderr: run it in a
    # session of its own (no hangup when the terminal goes), keep its pid
    setsid "$build/fsdfsd" -c "$run/fsdfsd.conf" < /dev/null >> "$run/fsdfsd.log" 2>&1 &
    echo $! > "$run/fsdfsd.pid"
}

fsdfsd_running() {
    [ -e "$run/fsdfsd.pid" ] && kill -0 "$(cat "$run/fsdfsd.pid")" 2>/dev/null
}

start() {
    [ -x "$build/fsdfs" ] || die "build first: make"
    [ -e "$build/ngx_http_fsdfs_module.so" ] || die "build first: make"
    [ -e "$run/redis.pid" ] && die "already running in $run; make demo-stop first"
    mkdir -p "$run"
    touch "$run/.fsdfs-demo"
    make_secret
    redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no \
        --dir "$run" --daemonize yes --pidfile "$run/redis.pid" --logfile "$run/redis.log" \
        --hash-max-listpack-entries 512 --hash-max-listpack-value 128
    for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
    fsdfs init --replicas "$replicas" >/dev/null

    echo "demo: making 12 tracks (MP3 and OGG) with sox and lame"
    make_audio "$run/audio"
    local total f i out
    total=$(cat "$run"/audio/* | wc -c)
    # each node may hold about 80% of the tracks: two copies of everything
    # fit, three do not, so fsdfsd's filling stops at the quotas
    quota=$((total * 8 / 10 / 1024))k
    echo "demo: $((total / 1024)) KB of audio; nodes ${names[*]} on ports ${ports[*]}, quota $quota each, N=$replicas"

    for i in 0 1 2; do start_node "$i"; done
    for _ in $(seq 100); do nodes_ready && break; sleep 0.1; done
    nodes_ready || die "the nodes did not register in Redis; see $run/*/error.log"
    sleep 1.2   # every worker has read the node table (puts answer 503 before)

    echo "demo: fsdfs put, each track onto one node"
    i=0
    for f in $(tracks); do
        # retried a few times: a node answers 503 until it has read the node table
        for _ in 1 2 3 4 5; do
            out=$(fsdfs put "$f" "/music/$(basename "$f")" --node "${names[$((i % 3))]}" 2>&1) && break
            sleep 0.5
        done
        grep -v '^{' <<< "$out" || true
        i=$((i + 1))
    done

    if [ -x "$build/fsdfsd" ]; then
        echo
        echo "demo: starting fsdfsd (log: $run/fsdfsd.log)"
        index_setup
        echo "  (K per track: copies of track1 to track12; min(K-N) and pulls as fsdfsd publishes them)"
        echo "  before  $(progress)"
        start_fsdfsd
        watch_replication
    else
        echo "demo: no $build/fsdfsd (make daemon): no replication, one copy of each track"
    fi
    show
}

# Progress every half second until min(K-N) >= 0, nothing is pulling and
# the copies have not changed for 1.5 s (the quotas are full); at most 20 s.
watch_replication() {
    local i line same=0 last="" t
    for i in $(seq 1 40); do
        sleep 0.5
        if ! fsdfsd_running; then
            echo "demo: fsdfsd exited; the last lines of its log:"
            tail -n 15 "$run/fsdfsd.log" | sed 's/^/    /'
            rm -f "$run/fsdfsd.pid"
            return 0
        fi
        line=$(progress)
        t=$(awk "BEGIN { printf \"%4.1f\", $i / 2 }")
        echo "  ${t}s  $line"
        if [ "${line%%, K per*}" = "$last" ]; then same=$((same + 1)); else same=0; fi
        last=${line%%, K per*}
        case $line in *"min(K-N) "[0-9]*", pulls 0") [ "$same" -ge 3 ] && break ;; esac
    done
    echo
    fsdfs status || true
}

show() {
    local track=/music/track1.mp3 hp=${ports[0]} mp=${ports[2]} pick
    # a track some node lacks: curl it from a holder (200) and that node (302)
    pick=$(pick_track) && read -r track hp mp <<< "$pick"
    echo
    fsdfs where "$track" || true
    cat <<MSG

Try:
  curl -sI http://127.0.0.1:$hp$track     # on a holder: 200 from disk
  curl -sI http://127.0.0.1:$mp$track     # on a node without it: 302 to a holder
  curl -sL -o /tmp/t.${track##*.} http://127.0.0.1:$mp$track && file /tmp/t.${track##*.}
  curl -s  http://127.0.0.1:$hp/_fsdfs/status       # node status (JSON): pulls, puts, drops
  curl -s 'http://127.0.0.1:$hp/_fsdfs/status?format=prometheus'   # the same for Prometheus
  $build/fsdfs -r 127.0.0.1:$redis_port status      # master, K-N histogram, fill bars
  $build/fsdfs -r 127.0.0.1:$redis_port where /music/track2.ogg
  redis-cli -p $redis_port HGETALL fsdfs:stats       # what fsdfsd publishes every second
  redis-cli -p $redis_port HGETALL fsdfs:kn          # K-N -> files
  redis-cli -p $redis_port GET fsdfs:master          # the lease: holder:epoch
  redis-cli -p $redis_port XREVRANGE fsdfs:events + - COUNT 5
  less $run/fsdfsd.log          # every pull, with its time
Dashboard: http://127.0.0.1:${ports[0]}/_fsdfs/dashboard/   (any node's)
Stop with: make demo-stop
MSG
}

# "PATH HOLDER_PORT OTHER_PORT" for the first track some node does not hold
pick_track() {
    local f path out i hp mp
    for f in $(tracks); do
        path=/music/$(basename "$f")
        out=$(fsdfs where "$path" --json 2>/dev/null) || continue
        hp="" mp=""
        for i in 0 1 2; do
            if grep -q "\"name\":\"${names[$i]}\"" <<< "$out"; then
                hp=${hp:-${ports[$i]}}
            else
                mp=${mp:-${ports[$i]}}
            fi
        done
        [ -n "$hp" ] && [ -n "$mp" ] && { echo "$path $hp $mp"; return 0; }
    done
    return 1
}

wait_gone() {    # pid, seconds: true once the process is gone
    local i
    for i in $(seq $(($2 * 10))); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.1
    done
    ! kill -0 "$1" 2>/dev/null
}

stop() {
    local p d pid
    if [ ! -e "$run/.fsdfs-demo" ]; then
        echo "demo: not running (no $run)"
        return 0
    fi
    if [ -e "$run/fsdfsd.pid" ]; then
        pid=$(cat "$run/fsdfsd.pid")
        if kill -TERM "$pid" 2>/dev/null && ! wait_gone "$pid" 10; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    for p in "$run"/*/nginx.pid; do
        [ -e "$p" ] || continue
        d=$(dirname "$p") pid=$(cat "$p")
        nginx -p "$d" -c "$d/nginx.conf" -e "$d/error.log" -s quit 2>/dev/null || kill -QUIT "$pid" 2>/dev/null || true
        if ! wait_gone "$pid" 10; then    # the workers first: they outlive a killed master
            pkill -KILL -P "$pid" 2>/dev/null || true
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    if [ -e "$run/redis.pid" ]; then
        pid=$(cat "$run/redis.pid")
        redis-cli -p "$redis_port" shutdown nosave >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
        wait_gone "$pid" 5 || kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -rf "$run"
    echo "demo: stopped"
}

case "${1:-start}" in
    start) start ;;
    stop) stop ;;
    status) [ -e "$run/.fsdfs-demo" ] || die "not running (no $run)"; fsdfs status || true; show ;;
    *) die "usage: demo.sh start|stop|status" ;;
esac
