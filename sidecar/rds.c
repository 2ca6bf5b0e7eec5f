/*
 * The synchronous Redis connection of fsdfsd. hiredis's blocking API is
 * what a control loop wants (one question, one answer, or a pipeline),
 * provided no call can wait forever: connect and every read/write have a
 * timeout (redisConnectWithTimeout, redisSetTimeout). Hostnames are
 * resolved by hiredis; give an IP literal to keep resolving out of the
 * loop. Connecting (directly or through Sentinel, then AUTH, SELECT and
 * for Sentinel a ROLE check) is common/fsdfs_sentinel.c's, shared with
 * the CLI.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fsdfs_sentinel.h"
#include "log.h"
#include "rds.h"


int64_t
fsd_now_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


int64_t
fsd_wall_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


void
rds_init(rds_t *r, const fsd_conf_t *conf, long timeout_ms)
{
    memset(r, 0, sizeof(*r));
    r->conf = conf;
    r->timeout_ms = timeout_ms;

    /* checked by the config; a bad one leaves kind 0 and never connects */
    (void) fsdfs_addr_parse(&r->addr, conf->redis, strlen(conf->redis), 0);
}


void
rds_close(rds_t *r)
{
    if (r->rc) {
        redisFree(r->rc);
        r->rc = NULL;
    }
}


void
rds_lost(rds_t *r, const char *why)
{
    if (!r->down) {
        fsd_log(FSD_LOG_ERROR, "redis \"%s\" failed: %s; retrying",
                r->conf->redis, why);
        r->down = 1;
    }

    rds_close(r);
    r->next_try_ms = fsd_now_ms() + RDS_RETRY_MS;
}


int
rds_ready(rds_t *r)
{
    char              err[1024], at[96];
    int64_t           now;
    fsdfs_hostport_t  master;

    if (r->rc) {
        return 0;
    }

    now = fsd_now_ms();
    if (now < r->next_try_ms) {
        return -1;
    }

    if (r->addr.kind == 0) {
        rds_lost(r, "invalid address");
        return -1;
    }

    r->rc = fsdfs_redis_connect(&r->addr, r->conf->redis_password,
                                r->conf->redis_db, r->timeout_ms, &master,
                                err, sizeof(err));
    if (r->rc == NULL) {
        rds_lost(r, err);
        return -1;
    }

    if (r->addr.kind == FSDFS_ADDR_SENTINEL
        && (strcmp(master.host, r->master.host) != 0
            || master.port != r->master.port))
    {
        r->master = master;
        fsd_log(FSD_LOG_INFO, "redis master for \"%s\" is now %s",
                r->addr.name, fsdfs_hostport_str(&master, at, sizeof(at)));
    }

    if (r->down) {
        fsd_log(FSD_LOG_INFO, "redis \"%s\" is back", r->conf->redis);
        r->down = 0;
        r->back_wall_ms = fsd_wall_ms();
    }

    return 0;
}


static redisReply *
rds_checked(rds_t *r, redisReply *rep)
{
    if (rep == NULL) {
        rds_lost(r, r->rc && r->rc->errstr[0] ? r->rc->errstr : "no reply");

    } else if (fsdfs_redis_readonly(rep)) {
        /* a demoted master: drop it, the next call asks the sentinels */
        rds_lost(r, rep->str);
    }

    return rep;
}


redisReply *
rds_cmd(rds_t *r, const char *fmt, ...)
{
    va_list      ap;
    redisReply  *rep;

    if (rds_ready(r) != 0) {
        return NULL;
    }

    va_start(ap, fmt);
    rep = redisvCommand(r->rc, fmt, ap);
    va_end(ap);

    return rds_checked(r, rep);
}


redisReply *
rds_argv(rds_t *r, int argc, const char **argv, const size_t *lens)
{
    if (rds_ready(r) != 0) {
        return NULL;
    }

    return rds_checked(r, redisCommandArgv(r->rc, argc, argv, lens));
}


int
rds_append(rds_t *r, const char *fmt, ...)
{
    int      rc;
    va_list  ap;

    if (rds_ready(r) != 0) {
        return -1;
    }

    va_start(ap, fmt);
    rc = redisvAppendCommand(r->rc, fmt, ap);
    va_end(ap);

    return rc == REDIS_OK ? 0 : -1;
}


int
rds_append_argv(rds_t *r, int argc, const char **argv, const size_t *lens)
{
    if (rds_ready(r) != 0) {
        return -1;
    }

    return redisAppendCommandArgv(r->rc, argc, argv, lens) == REDIS_OK ? 0 : -1;
}


redisReply *
rds_get(rds_t *r)
{
    void  *rep = NULL;

    if (r->rc == NULL) {
        return NULL;
    }

    if (redisGetReply(r->rc, &rep) != REDIS_OK) {
        rep = NULL;
    }

    return rds_checked(r, rep);
}


int
rds_is(const redisReply *rep, int type)
{
    if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
        return 0;
    }

    return type == 0 || rep->type == type;
}


redisReply *
rds_scan_items(const redisReply *rep)
{
    if (!rds_is(rep, REDIS_REPLY_ARRAY) || rep->elements != 2
        || rep->element[0]->type != REDIS_REPLY_STRING
        || rep->element[1]->type != REDIS_REPLY_ARRAY)
    {
        return NULL;
    }

    return rep->element[1];
}


int
rds_exec_ok(const redisReply *rep)
{
    size_t  i;

    if (!rds_is(rep, REDIS_REPLY_ARRAY)) {
        return 0;
    }

    for (i = 0; i < rep->elements; i++) {
        if (rep->element[i]->type == REDIS_REPLY_ERROR) {
            return 0;
        }
    }

    return 1;
}
