/*
 * Rendezvous hashing: deterministic, even over equal nodes, shy of loaded
 * nodes, and minimal movement when a node leaves.
 */

#include <stdio.h>

#include "tap.h"
#include "fsdfs_hrw.h"
#include "fsdfs_keys.h"


#define PATHS  50000


static int
pick(int i, const fsdfs_hrw_node_t *nodes, unsigned n)
{
    int   len;
    char  path[64];

    len = snprintf(path, sizeof(path), "/music/%02x/%d.mp3", i % 256, i);
    return fsdfs_hrw_pick(path, len, nodes, n);
}


int
main(void)
{
    int               i, w, moved, wrong, same, counts[5] = { 0 };
    fsdfs_hrw_node_t  five[5] = { {1, 0}, {2, 0}, {3, 0}, {4, 0}, {5, 0} };
    fsdfs_hrw_node_t  four[4] = { {1, 0}, {2, 0}, {4, 0}, {5, 0} };
    fsdfs_hrw_node_t  loaded[5] = { {1, 0}, {2, 0}, {3, 640}, {4, 0}, {5, 0} };

    is_int(fsdfs_hrw_pick("/a", 2, five, 0), -1, "no candidates: -1");
    is_int(fsdfs_hrw_pick("/a", 2, five, 1), 0, "one candidate wins");

    same = 1;
    for (i = 0; i < 1000; i++) {
        same &= (pick(i, five, 5) == pick(i, five, 5));
    }
    ok(same, "deterministic");

    for (i = 0; i < PATHS; i++) {
        counts[pick(i, five, 5)]++;
    }
    for (i = 0; i < 5; i++) {
        ok(counts[i] > PATHS / 5 * 0.85 && counts[i] < PATHS / 5 * 1.15,
           "node %d gets its share within 15%% (%d of %d)", i + 1, counts[i],
           PATHS);
    }

    moved = 0;
    wrong = 0;
    for (i = 0; i < PATHS; i++) {
        w = five[pick(i, five, 5)].id;
        if (w != (int) four[pick(i, four, 4)].id) {
            moved++;
            wrong += (w != 3);
        }
    }
    is_int(wrong, 0, "removing node 3 moves only node 3's paths");
    ok(moved > PATHS / 5 * 0.85 && moved < PATHS / 5 * 1.15,
       "and about a fifth of them move (%d)", moved);

    memset(counts, 0, sizeof(counts));
    for (i = 0; i < PATHS; i++) {
        counts[pick(i, loaded, 5)]++;
    }
    ok(counts[2] < PATHS / 5 / 3, "a heavily loaded node wins far less often "
       "(%d of %d)", counts[2], PATHS);

    /* pinned winners: the module and fsdfsd must agree on every build */
    is_int(fsdfs_hrw_pick("/music/a.mp3", 12, five, 5), 3,
           "pinned: /music/a.mp3 goes to node 4");
    is_int(fsdfs_hrw_pick("/caf\xc3\xa9.ogg", 10, five, 5), 1,
           "pinned: /caf\xc3\xa9.ogg goes to node 2");
    is_int(fsdfs_hrw_pick("/music/a.mp3", 12, five + 4, 1), 0,
           "a single node always wins");

    is_int((long long) (fsdfs_fnv1a64("a", 1) == 0xaf63dc4c8601ec8cULL), 1,
           "fnv1a64(\"a\") matches the reference value");

    return done_testing();
}
