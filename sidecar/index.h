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

/* Removes node id from every record that lists it (forget_after): walks
 * every bucket. Returns the number of records changed, or -1. */
long index_purge_node(rds_t *r, const char *prefix, uint32_t buckets,
    unsigned id);

const char *index_result_name(index_result_t res);

#endif
