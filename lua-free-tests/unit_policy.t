#!/bin/sh
# unit_policy with the sample plug-in and three broken ones built here:
# one without the symbol, one answering -5, one answering 1000.
build="${FSDFS_BUILD:-build}"
dir=$(mktemp -d) || exit 1
trap 'rm -rf "$dir"' EXIT
cd "$(dirname "$0")/.." || exit 1

printf 'int fsdfs_other(void) { return 3; }\n' > "$dir/nosym.c"
printf '#include "fsdfs_policy.h"\nint fsdfs_policy(const fsdfs_policy_input_t *in) { (void) in; return -5; }\n' > "$dir/neg.c"
printf '#include "fsdfs_policy.h"\nint fsdfs_policy(const fsdfs_policy_input_t *in) { (void) in; return 1000; }\n' > "$dir/big.c"
for p in nosym neg big; do
    ${CC:-cc} -shared -fPIC -Icommon -o "$dir/$p.so" "$dir/$p.c" || exit 1
done

"$build/tests/unit_policy" "$(cd "$build" && pwd)/sample_policy.so" \
    "$dir/nosym.so" "$dir/neg.so" "$dir/big.so"
