/*
 * Synchronous connect to the data Redis for fsdfsd and the CLI (never the
 * nginx module, which does the same steps asynchronously): directly, or
 * by asking each sentinel in turn for the master and checking with ROLE
 * that it is one.
 */

#ifndef FSDFS_SENTINEL_H
#define FSDFS_SENTINEL_H

#include <hiredis/hiredis.h>

#include "fsdfs_addr.h"

/*
 * Connects to a (any kind), authenticates with password (NULL or "":
 * none), selects db, and for a sentinel address checks the server is a
 * master. Every step is bounded by timeout_ms, which also becomes the
 * context's command timeout. On success *master is where it connected
 * (for logs); on failure NULL with the reason in err.
 */
redisContext *fsdfs_redis_connect(const fsdfs_addr_t *a, const char *password,
    int db, long timeout_ms, fsdfs_hostport_t *master, char *err,
    size_t errcap);

/* Ask one sentinel for name's master: 0, or -1 with the reason in err. */
int fsdfs_sentinel_ask(const fsdfs_hostport_t *sentinel, const char *name,
    long timeout_ms, fsdfs_hostport_t *master, char *err, size_t errcap);

/* 1 if rep is an error a demoted master gives (READONLY). */
int fsdfs_redis_readonly(const redisReply *rep);

#endif
