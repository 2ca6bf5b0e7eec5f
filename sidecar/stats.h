/*
 * fsdfsd's published figures: <prefix>stats (one hash, rewritten every
 * second) and <prefix>kn (K-N -> number of files, replaced atomically so
 * a reader never sees half a histogram), every second; <prefix>nodekn
 * (node id -> max K-N of its files) every 5 s. What `fsdfs status` and
 * the cluster tests read.
 */

#ifndef FSD_STATS_H
#define FSD_STATS_H

#include <stdint.h>

#include "planner.h"
#include "rds.h"

typedef struct {
    uint64_t  pulls_done;
    uint64_t  pulls_failed;
    uint64_t  drops_done;
    uint64_t  drops_failed;
    uint64_t  plan_usec;        /* planner time in the last second */
    unsigned  nodes_live;
    uint64_t  policy_clamped;   /* plug-in answers clamped since the start */
    uint64_t  pop_boosted;      /* files popular enough for pop_boost */
} stats_counters_t;

/* 0, or -1 if Redis failed. */
int stats_publish(rds_t *r, const char *prefix, const planner_t *p,
    const stats_counters_t *c, const char *master, uint64_t epoch);

/* <prefix>nodekn: node id -> max(K-N) over the files it holds
 * (planner_node_max_kn), nodes holding nothing left out, replaced
 * atomically (MULTI DEL HSET EXEC). One pass over every file and copy, so
 * fsdfsd calls it every STATS_NODEKN_EVERY_MS, not every second. 0, or -1
 * if Redis failed or out of memory. */
#define STATS_NODEKN_EVERY_MS  5000
int stats_publish_nodekn(rds_t *r, const char *prefix, const planner_t *p);

#endif
