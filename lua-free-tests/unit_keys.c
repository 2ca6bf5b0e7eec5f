/*
 * The key schema: names, bucket range and stability.
 */

#include "tap.h"
#include "fsdfs_keys.h"


int
main(void)
{
    int       i, out;
    char      buf[FSDFS_KEY_MAX], small[8];
    uint32_t  b;

    is_int(fsdfs_key_loc(buf, sizeof(buf), "fsdfs:", 4711), 14, "loc key length");
    is_str(buf, "fsdfs:loc:4711", "loc key");
    fsdfs_key_node(buf, sizeof(buf), "fsdfs:", 3);
    is_str(buf, "fsdfs:node:3", "node key");
    fsdfs_key_alive(buf, sizeof(buf), "x:", 12);
    is_str(buf, "x:alive:12", "alive key with another prefix");
    fsdfs_key(buf, sizeof(buf), "fsdfs:", "config");
    is_str(buf, "fsdfs:config", "plain key");
    is_int(fsdfs_key_loc(small, sizeof(small), "fsdfs:", 1), -1,
           "a key that does not fit is refused");

    out = 0;
    for (i = 0; i < 10000; i++) {
        b = fsdfs_bucket((const char *) &i, sizeof(i), 65536);
        out += (b >= 65536);
    }
    is_int(out, 0, "buckets stay in range");
    is_int(fsdfs_bucket("/music/track1.mp3", 17, 65536),
           fsdfs_bucket("/music/track1.mp3", 17, 65536), "bucket is stable");
    is_int(fsdfs_bucket("/a", 2, 0), 0, "zero buckets does not divide by zero");

    /* published FNV-1a 64 test vectors, then buckets pinned: every process
     * (module, CLI, fsdfsd, any rewrite) must find a path in the same hash */
    ok(fsdfs_fnv1a64("", 0) == 0xcbf29ce484222325ULL, "fnv1a64(\"\")");
    ok(fsdfs_fnv1a64("foobar", 6) == 0x85944171f73967e8ULL,
       "fnv1a64(\"foobar\")");
    is_int(fsdfs_bucket("/music/a.mp3", 12, 65536), 48053,
           "bucket of /music/a.mp3 in 65536");
    is_int(fsdfs_bucket("/caf\xc3\xa9.ogg", 10, 65536), 55385,
           "bucket of a UTF-8 path");
    is_int(fsdfs_bucket("/music/a.mp3", 12, 1), 0, "one bucket holds all");

    return done_testing();
}
