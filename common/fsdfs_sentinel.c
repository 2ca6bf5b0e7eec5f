/*
 * The blocking half of Sentinel support. Asking is cheap and rare (only
 * when a connection is made), so it is done plainly: each sentinel in the
 * order written, each with the caller's timeout, the first that names a
 * master wins. The answer is then verified with ROLE, because a sentinel
 * may still name a master that was just demoted, or one that came back
 * as a replica; using a replica would fail every write with READONLY.
 */

#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "fsdfs_sentinel.h"


static struct timeval
fsdfs_tv(long ms)
{
    struct timeval  tv;

    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    return tv;
}


int
fsdfs_sentinel_ask(const fsdfs_hostport_t *sentinel, const char *name,
    long timeout_ms, fsdfs_hostport_t *master, char *err, size_t errcap)
{
    int             rc = -1;
    char            at[96];
    const char     *bad;
    redisReply     *rep;
    redisContext   *c;
    struct timeval  tv = fsdfs_tv(timeout_ms);

    fsdfs_hostport_str(sentinel, at, sizeof(at));

    c = redisConnectWithTimeout(sentinel->host, sentinel->port, tv);
    if (c == NULL || c->err) {
        snprintf(err, errcap, "sentinel %s: %s", at,
                 c ? c->errstr : "out of memory");
        redisFree(c);
        return -1;
    }

    if (redisSetTimeout(c, tv) != REDIS_OK) {
        snprintf(err, errcap, "sentinel %s: cannot set a timeout", at);
        redisFree(c);
        return -1;
    }

    rep = redisCommand(c, "SENTINEL get-master-addr-by-name %s", name);

    if (rep == NULL) {
        snprintf(err, errcap, "sentinel %s: %s", at,
                 c->errstr[0] ? c->errstr : "no reply");

    } else if (rep->type == REDIS_REPLY_ERROR) {
        snprintf(err, errcap, "sentinel %s: %s", at, rep->str);

    } else if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2
               || rep->element[0]->type != REDIS_REPLY_STRING
               || rep->element[1]->type != REDIS_REPLY_STRING)
    {
        snprintf(err, errcap, "sentinel %s: no master named \"%s\"", at, name);

    } else {
        bad = fsdfs_addr_master(master, rep->element[0]->str,
                                rep->element[0]->len, rep->element[1]->str,
                                rep->element[1]->len);
        if (bad) {
            snprintf(err, errcap, "sentinel %s: %s", at, bad);
        } else {
            rc = 0;
        }
    }

    freeReplyObject(rep);
    redisFree(c);
    return rc;
}


/* NULL if the server is a master, else why not. */
static const char *
fsdfs_redis_role(redisContext *c, char *buf, size_t cap)
{
    redisReply  *rep;

    rep = redisCommand(c, "ROLE");

    if (rep == NULL) {
        snprintf(buf, cap, "ROLE: %s", c->errstr[0] ? c->errstr : "no reply");

    } else if (rep->type == REDIS_REPLY_ERROR) {
        snprintf(buf, cap, "ROLE: %s", rep->str);

    } else if (rep->type != REDIS_REPLY_ARRAY || rep->elements == 0
               || rep->element[0]->type != REDIS_REPLY_STRING)
    {
        snprintf(buf, cap, "ROLE: unexpected reply");

    } else if (strcmp(rep->element[0]->str, "master") != 0) {
        snprintf(buf, cap, "it is a %s, not a master", rep->element[0]->str);

    } else {
        freeReplyObject(rep);
        return NULL;
    }

    freeReplyObject(rep);
    return buf;
}


static redisContext *
fsdfs_redis_open(const fsdfs_addr_t *a, const fsdfs_hostport_t *hp,
    const char *password, int db, long timeout_ms, char *err, size_t errcap)
{
    char            at[300], why[256];
    const char     *bad = NULL;
    redisReply     *rep;
    redisContext   *c;
    struct timeval  tv = fsdfs_tv(timeout_ms);

    if (a->kind == FSDFS_ADDR_UNIX) {
        snprintf(at, sizeof(at), "unix:%s", a->path);
        c = redisConnectUnixWithTimeout(a->path, tv);
    } else {
        fsdfs_hostport_str(hp, at, sizeof(at));
        c = redisConnectWithTimeout(hp->host, hp->port, tv);
    }

    if (c == NULL || c->err) {
        snprintf(err, errcap, "%s: %s", at, c ? c->errstr : "out of memory");
        redisFree(c);
        return NULL;
    }

    if (redisSetTimeout(c, tv) != REDIS_OK) {
        snprintf(err, errcap, "%s: cannot set a timeout", at);
        redisFree(c);
        return NULL;
    }

    if (password && password[0]) {
        rep = redisCommand(c, "AUTH %s", password);
        if (rep == NULL || rep->type != REDIS_REPLY_STATUS) {
            snprintf(why, sizeof(why), "refused AUTH%s%s",
                     rep && rep->type == REDIS_REPLY_ERROR ? ": " : "",
                     rep && rep->type == REDIS_REPLY_ERROR ? rep->str : "");
            bad = why;
        }
        freeReplyObject(rep);
    }

    if (bad == NULL && db) {
        rep = redisCommand(c, "SELECT %d", db);
        if (rep == NULL || rep->type != REDIS_REPLY_STATUS) {
            snprintf(why, sizeof(why), "refused SELECT %d", db);
            bad = why;
        }
        freeReplyObject(rep);
    }

    if (bad == NULL && a->kind == FSDFS_ADDR_SENTINEL) {
        bad = fsdfs_redis_role(c, why, sizeof(why));
    }

    if (bad) {
        snprintf(err, errcap, "%s: %s", at, bad);
        redisFree(c);
        return NULL;
    }

    return c;
}


redisContext *
fsdfs_redis_connect(const fsdfs_addr_t *a, const char *password, int db,
    long timeout_ms, fsdfs_hostport_t *master, char *err, size_t errcap)
{
    int    i;
    char   why[256];
    char  *p;

    memset(master, 0, sizeof(*master));

    if (a->kind != FSDFS_ADDR_SENTINEL) {
        if (a->kind == FSDFS_ADDR_TCP) {
            *master = a->tcp;
        }
        return fsdfs_redis_open(a, &a->tcp, password, db, timeout_ms, err,
                                errcap);
    }

    /* every sentinel's complaint, so the one message says it all */
    err[0] = '\0';
    p = err;

    for (i = 0; i < a->nsentinels; i++) {
        if (fsdfs_sentinel_ask(&a->sentinel[i], a->name, timeout_ms, master,
                               why, sizeof(why))
            == 0)
        {
            return fsdfs_redis_open(a, master, password, db, timeout_ms,
                                    err, errcap);
        }

        if ((size_t) (p - err) < errcap) {
            p += snprintf(p, errcap - (p - err), "%s%s", i ? "; " : "", why);
        }
    }

    return NULL;
}


int
fsdfs_redis_readonly(const redisReply *rep)
{
    return rep && rep->type == REDIS_REPLY_ERROR
           && strncmp(rep->str, "READONLY", 8) == 0;
}
