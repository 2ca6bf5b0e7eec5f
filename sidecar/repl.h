/*
 * One term of leadership: the planner, the executor and the state reader
 * wired together. Created when the lease is won, freed (everything in
 * flight abandoned, nothing more written) the moment it is lost, so a
 * deposed master cannot act on a stale picture. The next term starts
 * again from the index, the durable truth.
 */

#ifndef FSD_REPL_H
#define FSD_REPL_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "rds.h"

typedef struct repl_s  repl_t;

/* keepalive is called during long steps (the index load): 0 to go on,
 * -1 when the lease is gone (the step is abandoned). */
typedef int (*repl_keepalive_pt)(void *arg);

repl_t *repl_new(rds_t *r, const fsd_conf_t *conf, const unsigned char *key,
    size_t keylen, uint64_t epoch, const char *master,
    repl_keepalive_pt keepalive, void *arg);

/* Loads config, nodes and the whole index; 0, or -1 (try again later). */
int repl_takeover(repl_t *rp);

/* Every second: config, node table and liveness, stats. */
void repl_tick(repl_t *rp, int64_t now_ms);

/* Events, due drops, planning, then waits up to wait_ms on the transfers.
 * -1: a node answered "old epoch": step down. */
int repl_step(repl_t *rp, int64_t now_ms, int wait_ms);

/* Abandons whatever is in flight and frees. */
void repl_free(repl_t *rp);

#endif
