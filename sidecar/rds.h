/*
 * fsdfsd's Redis connection: one synchronous hiredis context with connect
 * and command timeouts, so a frozen Redis costs the loop a bounded wait
 * and never a hang. A broken connection is dropped at once and made again
 * on a later call, at most every RDS_RETRY_MS; the outage is logged once
 * when it starts and once when it ends, not per command. With a
 * sentinel:// address every new connection asks the sentinels for the
 * master first, and a READONLY error (a demoted master) drops the
 * connection, so a failover is followed without a restart.
 */

#ifndef FSD_RDS_H
#define FSD_RDS_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "conf.h"
#include "fsdfs_addr.h"

#define RDS_RETRY_MS  500

typedef struct {
    const fsd_conf_t  *conf;
    redisContext      *rc;
    int64_t            next_try_ms;
    int                down;            /* an outage was logged */
    int64_t            back_wall_ms;    /* unix ms the last outage ended */
    long               timeout_ms;      /* per command */
    fsdfs_addr_t       addr;            /* conf->redis, parsed */
    fsdfs_hostport_t   master;          /* sentinel://: the last master */
} rds_t;

/* Monotonic and wall clocks in milliseconds. */
int64_t fsd_now_ms(void);
int64_t fsd_wall_ms(void);

void rds_init(rds_t *r, const fsd_conf_t *conf, long timeout_ms);

/* 0 if connected (connecting now if due), else -1. */
int rds_ready(rds_t *r);

/* Closes the connection after an I/O error; logs the outage once. */
void rds_lost(rds_t *r, const char *why);

void rds_close(rds_t *r);

/* One command; NULL if the connection failed (then it is closed). An
 * error reply is returned as such: the caller judges it. */
redisReply *rds_cmd(rds_t *r, const char *fmt, ...);
redisReply *rds_argv(rds_t *r, int argc, const char **argv,
    const size_t *lens);

/* Pipelining: append commands, then read their replies in order. */
int rds_append(rds_t *r, const char *fmt, ...);
int rds_append_argv(rds_t *r, int argc, const char **argv,
    const size_t *lens);
redisReply *rds_get(rds_t *r);

/* 1 if rep is a non-error reply of that type (0: any type). */
int rds_is(const redisReply *rep, int type);
/* The field/value array of a well-formed HSCAN/SCAN reply, else NULL. */
redisReply *rds_scan_items(const redisReply *rep);

/* Whether EXEC's reply says the transaction ran (not aborted by WATCH,
 * no command in it failed). */
int rds_exec_ok(const redisReply *rep);

#endif
