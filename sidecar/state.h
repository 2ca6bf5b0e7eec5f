/*
 * What the master knows of the cluster, read from Redis: the node table
 * with each node's liveness, the whole location index at takeover, and
 * the event stream after it. This file only reads and reports; what the
 * reports mean for replication is the caller's (repl.c), through the
 * callbacks below, so the reading can be measured and tested alone.
 *
 * Liveness, per DESIGN §6.5: alive key present -> LIVE; absent -> STALE
 * at once (no source, no target, copies still count); absent for
 * dead_after -> DEAD (copies stop counting); for forget_after -> its
 * holdings are purged from the index (reported once, as `forget`).
 */

#ifndef FSD_STATE_H
#define FSD_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "fsdfs_record.h"
#include "rds.h"

typedef enum {
    NODE_LIVE = 0,
    NODE_STALE,
    NODE_DEAD
} node_live_t;

typedef struct {
    unsigned      id;
    char          name[40];
    char          url[256];
    int           draining;         /* its heartbeat says "draining" */
    int64_t       drain_since;      /* <prefix>drain: unix s asked, 0 no */
    int           drained;          /* repl: "drained: empty" logged */
    uint64_t      drain_copies;     /* repl: pulls of its files, drops */
    uint64_t      drain_drops;
    uint64_t      quota, used, free, files;
    unsigned      load, conns;
    int64_t       ts_ms;            /* last heartbeat, unix ms (its own) */
    node_live_t   live;
    int64_t       away_ms;          /* unix ms it was last known alive */
    int           forgotten;        /* holdings purged for this absence */
    int           seen;             /* in the last refresh */
} fsd_node_t;

typedef struct state_s  state_t;

typedef struct {
    void  *ctx;
    /* a node appeared, or changed liveness (old = its previous; new nodes
     * come with old == live) */
    void (*node)(void *ctx, fsd_node_t *node, node_live_t old, int is_new);
    /* dead for forget_after: purge its holdings */
    void (*forget)(void *ctx, fsd_node_t *node);
    /* a record of the index (load, or re-read after an event); rec NULL:
     * the path is not in the index (any more) */
    void (*record)(void *ctx, const char *path, size_t len,
                   const fsdfs_record_t *rec);
    /* an rm event: the path was deleted; holders as the event lists them */
    void (*removed)(void *ctx, const char *path, size_t len,
                    const unsigned *holders, unsigned nholders);
    /* during the index load, once per window: -1 abandons the load */
    int  (*progress)(void *ctx);
} state_cb_t;

typedef struct {
    uint64_t  files, corrupt, buckets;
    double    secs;
} state_load_stats_t;

state_t *state_new(rds_t *r, const fsd_conf_t *conf, const state_cb_t *cb);
void state_free(state_t *st);

/* Reads <prefix>config (buckets, replicas, pulls_in, pulls_out); 0 or -1.
 * replicas/pulls are 0 when absent. */
int state_config(state_t *st, uint32_t *buckets, unsigned *replicas,
    unsigned *pulls_in, unsigned *pulls_out);

/* Reads the node table and applies liveness (callbacks fire), then
 * <prefix>drain (node id -> unix time `fsdfs drain` asked) into each
 * node's drain_since; 0 or -1. */
int state_nodes(state_t *st, int64_t wall_ms);

/* Node by id, or NULL; and the table (index = id, entries may be NULL). */
fsd_node_t *state_node(state_t *st, unsigned id);
fsd_node_t **state_node_table(state_t *st, unsigned *max_id);

/* Takeover: remember the stream's last id, then report every record of
 * every bucket (callback `record`); corrupt records are logged once each
 * and skipped. 0 or -1 (Redis failed: start again later). */
int state_load(state_t *st, uint32_t buckets, state_load_stats_t *stats);

/* Reads new events (at most `max`) and reports them: every event with a
 * path re-reads its record (`record`), an rm event also `removed`.
 * Returns the number of events read, or -1. */
int state_events(state_t *st, unsigned max);

/* 1 once after state_events read a node-up event (a node registered or
 * restarted: the node table is worth reading now), else 0. */
int state_node_up(state_t *st);

#endif
