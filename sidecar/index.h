/*
 * The master's writes to the location index. One writer changes holders
 * (DESIGN §4), but nodes create records and the CLI deletes them at any
 * time, so every change is an optimistic transaction on the record's
 * bucket: WATCH, read, edit, MULTI/HSET/EXEC, again if the bucket moved.
 */

#ifndef FSD_INDEX_H
#define FSD_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "rds.h"

typedef enum {
    INDEX_DONE = 0,         /* changed */
    INDEX_ALREADY,          /* nothing to change */
    INDEX_GONE,             /* no record for the path (deleted) */
    INDEX_ERROR             /* Redis failed, corrupt record, too busy */
} index_result_t;

/* Adds (add = 1) or removes node id as a holder of path. */
index_result_t index_holder(rds_t *r, const char *prefix, uint32_t buckets,
    const char *path, size_t len, unsigned id, int add);

/* Edits of <prefix>inflight (the master's journal of moves in flight)
 * that go with a holder edit: NULL-ended lists of fields to set (set[i]
 * to val[i]) and to delete. */
#define INDEX_JOURNAL_MAX  2

typedef struct {
    const char  *set[INDEX_JOURNAL_MAX + 1];
    const char  *val[INDEX_JOURNAL_MAX + 1];
    const char  *del[INDEX_JOURNAL_MAX + 1];
} index_journal_t;

/* index_holder() whose MULTI also carries the journal edits j, so a move
 * costs no extra round trip and the index and the journal never disagree
 * about it. When the record needs no edit (INDEX_ALREADY) the journal
 * edits are still made, pipelined after; when it is gone (INDEX_GONE)
 * only the sets are: the caller still has a copy to drop, which its
 * entry must name until the drop is confirmed. On an error none is. */
index_result_t index_holder_j(rds_t *r, const char *prefix, uint32_t buckets,
    const char *path, size_t len, unsigned id, int add,
    const index_journal_t *j);

/* Removes node id from every record that lists it (forget_after): walks
 * every bucket. Returns the number of records changed, or -1. */
long index_purge_node(rds_t *r, const char *prefix, uint32_t buckets,
    unsigned id);

const char *index_result_name(index_result_t res);

#endif
