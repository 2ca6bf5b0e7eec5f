#!/usr/bin/env bash
# The demo cluster: Redis and three fsdfs nodes on loopback, real MP3 and
# OGG files spread two copies each, indexed with `fsdfs scan`.
#   demo.sh start | stop | status
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
run=${FSDFS_DEMO_DIR:-$top/demo-run}
build=${FSDFS_BUILD:-$top/build}
redis_port=${FSDFS_DEMO_REDIS_PORT:-6399}
ports=(8081 8082 8083)
names=(a b c)
fsdfs() { "$build/fsdfs" -r "127.0.0.1:$redis_port" "$@"; }

die() { echo "demo: $*" >&2; exit 1; }

make_audio() {
    local dir=$1 i
    mkdir -p "$dir"
    for i in $(seq 1 12); do
        local f=$((200 + i * 40))
        sox -q -n -r 44100 -c 2 "$dir/tone.wav" synth 2 sine "$f" fade 0.1 2 0.3
        if (( i % 2 )); then
            lame --quiet -b 128 "$dir/tone.wav" "$dir/track$i.mp3"
        else
            sox -q "$dir/tone.wav" "$dir/track$i.ogg"
        fi
    done
    rm -f "$dir/tone.wav"
}

start_node() {
    local i=$1 name=${names[$1]} port=${ports[$1]} prefix=$run/${names[$1]} user=""
    mkdir -p "$prefix/data/music" "$prefix/tmp"
    [ "$(id -u)" = 0 ] && user="user root;"
    sed -e "s|@MODULE@|$build/ngx_http_fsdfs_module.so|" -e "s|@PREFIX@|$prefix|g" \
        -e "s|@NAME@|$name|g" -e "s|@PORT@|$port|g" -e "s|@REDIS_PORT@|$redis_port|g" \
        -e "s|@USER@|$user|" "$top/conf.d/demo/node.conf.in" > "$prefix/nginx.conf"
    nginx -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log" \
        || die "node $name failed to start; see $prefix/error.log"
}

start() {
    [ -x "$build/fsdfs" ] || die "build first: make"
    [ -e "$run/redis.pid" ] && die "already running; make demo-stop first"
    mkdir -p "$run"
    redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no \
        --dir "$run" --daemonize yes --pidfile "$run/redis.pid" --logfile "$run/redis.log"
    for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
    fsdfs init >/dev/null

    echo "demo: making 12 tracks (MP3 and OGG) with sox and lame"
    make_audio "$run/audio"

    # two copies of each track: track i on nodes i%3 and (i+1)%3
    local i=0 f
    for f in "$run"/audio/*; do
        for n in $((i % 3)) $(((i + 1) % 3)); do
            mkdir -p "$run/${names[$n]}/data/music"
            cp "$f" "$run/${names[$n]}/data/music/"
        done
        i=$((i + 1))
    done

    for i in 0 1 2; do start_node "$i"; done
    sleep 1.5
    for i in 0 1 2; do fsdfs scan "${names[$i]}" "$run/${names[$i]}/data" | tail -1; done
    sleep 1
    show
}

show() {
    echo
    fsdfs nodes || true
    echo
    fsdfs where /music/track1.mp3 || true
    cat <<MSG

Try:
  curl -sI http://127.0.0.1:8081/music/track1.mp3     # held by a: 200 from disk
  curl -sI http://127.0.0.1:8083/music/track1.mp3     # not on c: 302 to a holder
  curl -sL -o /tmp/t.mp3 http://127.0.0.1:8083/music/track1.mp3 && file /tmp/t.mp3
  curl -s  http://127.0.0.1:8081/_fsdfs/status        # node status (JSON)
  curl -s 'http://127.0.0.1:8081/_fsdfs/status?format=prometheus'
  redis-cli -p $redis_port HGETALL fsdfs:nodes
  $build/fsdfs -r 127.0.0.1:$redis_port where /music/track2.ogg
Stop with: make demo-stop
MSG
}

stop() {
    local p
    for p in "$run"/*/nginx.pid; do
        [ -e "$p" ] && nginx -p "$(dirname "$p")" -c "$(dirname "$p")/nginx.conf" \
            -e "$(dirname "$p")/error.log" -s quit 2>/dev/null || true
    done
    if [ -e "$run/redis.pid" ]; then
        redis-cli -p "$redis_port" shutdown nosave >/dev/null 2>&1 || kill "$(cat "$run/redis.pid")" 2>/dev/null || true
    fi
    sleep 0.5
    rm -rf "$run"
    echo "demo: stopped"
}

case "${1:-start}" in
    start) start ;;
    stop) stop ;;
    status) show ;;
    *) die "usage: demo.sh start|stop|status" ;;
esac
