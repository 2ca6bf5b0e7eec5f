#!/bin/sh
# Replays every fuzz target's seed corpus (lua-free-tests/corpus/<target>/,
# crash reproducers included) through the plain ASan/UBSan build of the
# target: a crash or a broken invariant fails the test.

build="${FSDFS_BUILD:-build}"
dir=$(dirname "$0")
targets="record sign path conf"

echo "1..4"
n=0
for t in $targets; do
    n=$((n + 1))
    bin="$build/tests/fuzz_$t"
    if [ ! -x "$bin" ]; then
        echo "ok $n # skip $bin not built"
        continue
    fi
    if out=$(ASAN_OPTIONS=detect_leaks=1 "$bin" "$dir/corpus/$t" 2>&1); then
        echo "ok $n - fuzz_$t replays its corpus: ${out##*: }"
    else
        echo "not ok $n - fuzz_$t on its corpus"
        printf '%s\n' "$out" | sed 's/^/# /' | tail -40
    fi
done
