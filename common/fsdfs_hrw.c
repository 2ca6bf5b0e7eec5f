/*
 * Load-weighted rendezvous hashing; see fsdfs_hrw.h for the idea.
 */

#include <math.h>

#include "fsdfs_hrw.h"
#include "fsdfs_keys.h"


static uint64_t
fsdfs_hrw_mix(uint64_t x)
{
    /* splitmix64 finaliser */
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}


int
fsdfs_hrw_pick(const char *path, size_t len, const fsdfs_hrw_node_t *nodes,
    unsigned n)
{
    int       best;
    double    u, w, score, top;
    uint64_t  h;
    unsigned  i;

    best = -1;
    top = 0;
    h = fsdfs_fnv1a64(path, len);

    for (i = 0; i < n; i++) {
        /* 53 random bits into (0,1), never 0 or 1 */
        u = ((double) (fsdfs_hrw_mix(h ^ fsdfs_hrw_mix(nodes[i].id)) >> 11)
             + 0.5) / 9007199254740992.0;
        w = 1.0 / (1.0 + nodes[i].load / 64.0);
        score = -w / log(u);

        if (best < 0 || score > top
            || (score == top && nodes[i].id < nodes[best].id))
        {
            best = (int) i;
            top = score;
        }
    }

    return best;
}
