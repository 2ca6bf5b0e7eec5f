/*
 * Load-weighted rendezvous (highest random weight) hashing: every node
 * scores each path independently; the best score wins. The same path
 * keeps landing on the same holder (warm page cache) while holders come
 * and go, and a loaded node's scores shrink so it wins less often.
 * Score = -w / ln(u), u = hash(path, node) in (0,1), w = 1 / (1 + load/64).
 */

#ifndef FSDFS_HRW_H
#define FSDFS_HRW_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    unsigned  id;
    unsigned  load;      /* active connections or any comparable figure */
} fsdfs_hrw_node_t;

/* Index in nodes[] of the winner, or -1 if n == 0. */
int fsdfs_hrw_pick(const char *path, size_t len,
    const fsdfs_hrw_node_t *nodes, unsigned n);

#endif
