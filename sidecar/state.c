/*
 * Reading the cluster's state from Redis for the master.
 *
 * The index load is the takeover's critical path (goal: 200k files/s and
 * more). Every bucket hash is read with HSCAN; buckets are small enough
 * to stay listpacks, which HSCAN returns whole in one reply whatever the
 * COUNT, so one command per bucket is the common case. Commands go out in
 * windows of LOAD_WINDOW with two windows in flight, so Redis answers one
 * while this side decodes the other; a bucket whose cursor is not done
 * (a big hash) goes back in the queue with its cursor.
 *
 * The stream's last id is read *before* the load: whatever changes
 * during the load shows up again as an event, and replaying an event is
 * harmless because every event is handled by re-reading its record.
 * The events of the last STATE_REPLAY_MS are read again too: a master
 * that died after an `fsdfs rm` may not have sent its drops (they are
 * retried for up to about 90 s), and a new master that started after the
 * event would leave those copies on live nodes, served as local hits.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fsdfs_keys.h"
#include "fsdfs_path.h"
#include "log.h"
#include "state.h"


#define LOAD_WINDOW    1024
#define STATE_REPLAY_MS 300000   /* events read again at takeover */
#define LOAD_COUNT     "1000"
#define NODE_TABLE     (FSDFS_MAX_NODE_ID + 1)


struct state_s {
    rds_t              *r;
    const fsd_conf_t   *conf;
    state_cb_t          cb;
    uint32_t            buckets;
    char                key_config[FSDFS_KEY_MAX];
    char                key_nodes[FSDFS_KEY_MAX];
    char                key_events[FSDFS_KEY_MAX];
    char                last_id[64];
    fsd_node_t        **nodes;          /* by id */
    unsigned            max_id;
    uint64_t            corrupt_logged;
    unsigned            node_up;        /* a node-up event was read */
};


state_t *
state_new(rds_t *r, const fsd_conf_t *conf, const state_cb_t *cb)
{
    state_t  *st;

    st = calloc(1, sizeof(*st));
    if (st == NULL) {
        return NULL;
    }

    st->nodes = calloc(NODE_TABLE, sizeof(fsd_node_t *));
    if (st->nodes == NULL) {
        free(st);
        return NULL;
    }

    st->r = r;
    st->conf = conf;
    st->cb = *cb;
    fsdfs_key(st->key_config, sizeof(st->key_config), conf->prefix, "config");
    fsdfs_key(st->key_nodes, sizeof(st->key_nodes), conf->prefix, "nodes");
    fsdfs_key(st->key_events, sizeof(st->key_events), conf->prefix, "events");
    snprintf(st->last_id, sizeof(st->last_id), "0-0");
    return st;
}


void
state_free(state_t *st)
{
    unsigned  i;

    if (st == NULL) {
        return;
    }

    for (i = 0; i <= st->max_id; i++) {
        free(st->nodes[i]);
    }

    free(st->nodes);
    free(st);
}


fsd_node_t *
state_node(state_t *st, unsigned id)
{
    return id < NODE_TABLE ? st->nodes[id] : NULL;
}


fsd_node_t **
state_node_table(state_t *st, unsigned *max_id)
{
    *max_id = st->max_id;
    return st->nodes;
}


static unsigned long long
state_ull(const char *s)
{
    return strtoull(s, NULL, 10);
}


/* Config ---------------------------------------------------------------- */

int
state_config(state_t *st, uint32_t *buckets, unsigned *replicas,
    unsigned *pulls_in, unsigned *pulls_out)
{
    size_t       i;
    const char  *f, *v;
    redisReply  *rep;
    unsigned long long  n;

    rep = rds_cmd(st->r, "HGETALL %s", st->key_config);
    if (!rds_is(rep, REDIS_REPLY_ARRAY)) {
        freeReplyObject(rep);
        return -1;
    }

    *buckets = 0;
    *replicas = *pulls_in = *pulls_out = 0;

    for (i = 0; i + 1 < rep->elements; i += 2) {
        f = rep->element[i]->str;
        v = rep->element[i + 1]->str;
        if (f == NULL || v == NULL) {
            continue;
        }
        n = state_ull(v);
        if (strcmp(f, "buckets") == 0 && n > 0 && n <= FSDFS_MAX_BUCKETS) {
            *buckets = (uint32_t) n;
        } else if (strcmp(f, "replicas") == 0 && n <= 255) {
            *replicas = (unsigned) n;
        } else if (strcmp(f, "pulls_in") == 0 && n <= 1024) {
            *pulls_in = (unsigned) n;
        } else if (strcmp(f, "pulls_out") == 0 && n <= 1024) {
            *pulls_out = (unsigned) n;
        }
    }

    freeReplyObject(rep);
    return 0;
}


/* Nodes ----------------------------------------------------------------- */

static void
state_node_fields(fsd_node_t *n, const redisReply *h)
{
    size_t       i;
    const char  *f, *v;

    for (i = 0; i + 1 < h->elements; i += 2) {
        f = h->element[i]->str;
        v = h->element[i + 1]->str;
        if (f == NULL || v == NULL) {
            continue;
        }
        if (strcmp(f, "name") == 0) {
            snprintf(n->name, sizeof(n->name), "%s", v);
        } else if (strcmp(f, "url") == 0) {
            snprintf(n->url, sizeof(n->url), "%s", v);
        } else if (strcmp(f, "state") == 0) {
            n->draining = strcmp(v, "draining") == 0;
        } else if (strcmp(f, "quota") == 0) {
            n->quota = state_ull(v);
        } else if (strcmp(f, "used") == 0) {
            n->used = state_ull(v);
        } else if (strcmp(f, "free") == 0) {
            n->free = state_ull(v);
        } else if (strcmp(f, "files") == 0) {
            n->files = state_ull(v);
        } else if (strcmp(f, "load") == 0) {
            n->load = (unsigned) state_ull(v);
        } else if (strcmp(f, "conns") == 0) {
            n->conns = (unsigned) state_ull(v);
        } else if (strcmp(f, "ts") == 0) {
            n->ts_ms = (int64_t) state_ull(v);
        }
    }
}


/* When the dead_after and forget_after clocks of an absent node start:
 * when it was last alive, but not before our Redis connection came back
 * from an outage. While Redis is unreachable the nodes cannot heartbeat
 * (their alive keys expire) and this side cannot see them: a Redis
 * outage is not node death, so they get dead_after from its end. */
static int64_t
state_away_clock(state_t *st, const fsd_node_t *n)
{
    return n->away_ms > st->r->back_wall_ms ? n->away_ms
                                            : st->r->back_wall_ms;
}


/* Liveness after one refresh: the DESIGN's LIVE -> STALE -> DEAD ladder. */
static void
state_node_live(state_t *st, fsd_node_t *n, int alive, int is_new,
    int64_t wall)
{
    node_live_t  old = n->live;

    if (alive) {
        if (is_new || n->live != NODE_LIVE) {
            n->live = NODE_LIVE;
            st->cb.node(st->cb.ctx, n, is_new ? NODE_LIVE : old, is_new);
            n->away_ms = 0;
            n->forgotten = 0;
        }
        return;
    }

    if (is_new || n->live == NODE_LIVE) {
        /* it was last alive at its last heartbeat, unless that is in the
         * future by our clock: then when the alive key could have expired */
        n->away_ms = (n->ts_ms > 0 && n->ts_ms <= wall) ? n->ts_ms
                     : wall - FSDFS_ALIVE_TTL_MS;
        n->live = (wall - state_away_clock(st, n) >= st->conf->dead_after_ms)
                  ? NODE_DEAD : NODE_STALE;
        st->cb.node(st->cb.ctx, n, is_new ? n->live : old, is_new);

    } else if (n->live == NODE_STALE
               && wall - state_away_clock(st, n) >= st->conf->dead_after_ms)
    {
        n->live = NODE_DEAD;
        st->cb.node(st->cb.ctx, n, old, 0);
    }

    if (n->live == NODE_DEAD && !n->forgotten
        && wall - state_away_clock(st, n) >= st->conf->forget_after_ms)
    {
        n->forgotten = 1;
        st->cb.forget(st->cb.ctx, n);
    }
}


/* <prefix>drain, written by `fsdfs drain`: a node listed there drains. */
static int
state_drain(state_t *st)
{
    size_t       i;
    unsigned     id;
    int64_t      since;
    char         key[FSDFS_KEY_MAX];
    redisReply  *rep;

    fsdfs_key(key, sizeof(key), st->conf->prefix, "drain");
    rep = rds_cmd(st->r, "HGETALL %s", key);
    if (!rds_is(rep, REDIS_REPLY_ARRAY)) {
        freeReplyObject(rep);
        return -1;
    }

    for (id = 0; id <= st->max_id; id++) {
        if (st->nodes[id]) {
            st->nodes[id]->drain_since = 0;
        }
    }
    for (i = 0; i + 1 < rep->elements; i += 2) {
        if (rep->element[i]->str == NULL || rep->element[i + 1]->str == NULL) {
            continue;
        }
        id = (unsigned) state_ull(rep->element[i]->str);
        if (id == 0 || id > st->max_id || st->nodes[id] == NULL) {
            continue;
        }
        since = (int64_t) state_ull(rep->element[i + 1]->str);
        st->nodes[id]->drain_since = since ? since : 1;
    }

    freeReplyObject(rep);
    return 0;
}


int
state_nodes(state_t *st, int64_t wall)
{
    size_t         i, m;
    unsigned       id, *ids;
    int            is_new, rc;
    char           key[FSDFS_KEY_MAX];
    fsd_node_t    *n;
    redisReply    *all, **reps;

    all = rds_cmd(st->r, "HGETALL %s", st->key_nodes);
    if (!rds_is(all, REDIS_REPLY_ARRAY)) {
        freeReplyObject(all);
        return -1;
    }

    ids = calloc(all->elements / 2 + 1, sizeof(unsigned));
    reps = calloc(all->elements + 2, sizeof(redisReply *));
    if (ids == NULL || reps == NULL) {
        free(ids);
        free(reps);
        freeReplyObject(all);
        return -1;
    }

    for (i = 0, m = 0; i + 1 < all->elements; i += 2) {
        id = (unsigned) state_ull(all->element[i + 1]->str
                                  ? all->element[i + 1]->str : "0");
        if (id == 0 || id > FSDFS_MAX_NODE_ID) {
            continue;
        }
        ids[m++] = id;
        fsdfs_key_node(key, sizeof(key), st->conf->prefix, id);
        rds_append(st->r, "HGETALL %s", key);
        fsdfs_key_alive(key, sizeof(key), st->conf->prefix, id);
        rds_append(st->r, "EXISTS %s", key);
    }

    freeReplyObject(all);
    rc = 0;

    /* Every reply of the pipeline is read before any callback runs: a
     * callback talks to Redis (a node back reads the tombstones), and a
     * command sent with replies still due would read one of them as its
     * own and leave every later reply one step out. Liveness changes
     * only after a refresh read whole: a failed read says nothing about
     * the nodes. */
    for (i = 0; i < m; i++) {
        reps[2 * i] = rds_get(st->r);
        reps[2 * i + 1] = rds_get(st->r);
        if (!rds_is(reps[2 * i], REDIS_REPLY_ARRAY)
            || !rds_is(reps[2 * i + 1], REDIS_REPLY_INTEGER))
        {
            rc = -1;
            break;
        }
    }

    if (rc != 0 && i + 1 < m) {
        /* replies still due: they go with the connection */
        rds_close(st->r);
    }

    for (i = 0; rc == 0 && i < m; i++) {
        id = ids[i];
        n = st->nodes[id];
        is_new = (n == NULL);
        if (is_new) {
            n = calloc(1, sizeof(*n));
            if (n == NULL) {
                rc = -1;
                break;
            }
            n->id = id;
            st->nodes[id] = n;
            if (id > st->max_id) {
                st->max_id = id;
            }
        }

        state_node_fields(n, reps[2 * i]);
        n->seen = 1;
        state_node_live(st, n, reps[2 * i + 1]->integer > 0, is_new, wall);
    }

    for (i = 0; i < 2 * m; i++) {
        freeReplyObject(reps[i]);
    }
    free(reps);
    free(ids);
    return rc == 0 ? state_drain(st) : rc;
}


/* Index load ------------------------------------------------------------ */

typedef struct {
    uint32_t  bucket;
    char      cursor[24];
} load_job_t;


static void
state_corrupt(state_t *st, const char *path, size_t len)
{
    /* once each, and not a flood: the first hundred, then a count */
    if (st->corrupt_logged++ < 100) {
        fsd_log(FSD_LOG_WARN, "corrupt record of \"%.*s\" skipped",
                (int) (len > 200 ? 200 : len), path);
    }
}


/* One HSCAN reply: report its records; 1 if the bucket has more. */
static int
state_load_reply(state_t *st, redisReply *rep, load_job_t *job,
    state_load_stats_t *stats)
{
    size_t           i;
    redisReply      *items, *f, *v;
    fsdfs_record_t   rec;

    items = rds_scan_items(rep);
    if (items == NULL) {
        return -1;
    }

    for (i = 0; i + 1 < items->elements; i += 2) {
        f = items->element[i];
        v = items->element[i + 1];

        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING
            || fsdfs_path_check(f->str, f->len) != NULL
            || fsdfs_record_decode(&rec, v->str, v->len) != 0)
        {
            stats->corrupt++;
            state_corrupt(st, f->str ? f->str : "?", f->str ? f->len : 1);
            continue;
        }

        stats->files++;
        st->cb.record(st->cb.ctx, f->str, f->len, &rec);
    }

    if (strcmp(rep->element[0]->str, "0") == 0) {
        return 0;
    }

    snprintf(job->cursor, sizeof(job->cursor), "%s", rep->element[0]->str);
    return 1;
}


static int
state_last_event_id(state_t *st)
{
    int64_t      from;
    redisReply  *rep;

    rep = rds_cmd(st->r, "XREVRANGE %s + - COUNT 1", st->key_events);
    if (!rds_is(rep, REDIS_REPLY_ARRAY)) {
        freeReplyObject(rep);
        return -1;
    }

    if (rep->elements == 1 && rep->element[0]->type == REDIS_REPLY_ARRAY
        && rep->element[0]->elements >= 1
        && rep->element[0]->element[0]->type == REDIS_REPLY_STRING)
    {
        snprintf(st->last_id, sizeof(st->last_id), "%s",
                 rep->element[0]->element[0]->str);
    } else {
        snprintf(st->last_id, sizeof(st->last_id), "0-0");
    }
    freeReplyObject(rep);

    /* ids are "<unix ms>-<seq>": start STATE_REPLAY_MS back, if the
     * stream goes back that far */
    from = fsd_wall_ms() - STATE_REPLAY_MS;
    if (from > 0 && strtoll(st->last_id, NULL, 10) > from) {
        snprintf(st->last_id, sizeof(st->last_id), "%" PRId64 "-0", from);
    }

    return 0;
}


int
state_load(state_t *st, uint32_t buckets, state_load_stats_t *stats)
{
    int          more;
    char         key[FSDFS_KEY_MAX];
    size_t       head, tail, sent, qcap;
    uint32_t     next;
    int64_t      t0;
    load_job_t  *q, job;
    redisReply  *rep;

    memset(stats, 0, sizeof(*stats));
    st->buckets = buckets;
    st->corrupt_logged = 0;
    t0 = fsd_now_ms();

    if (state_last_event_id(st) != 0) {
        return -1;
    }

    /* a ring of the jobs in flight: at most two windows */
    qcap = 2 * LOAD_WINDOW;
    q = calloc(qcap, sizeof(load_job_t));
    if (q == NULL) {
        return -1;
    }

    head = tail = sent = 0;     /* jobs [head, tail) are in flight */
    next = 0;

    for ( ;; ) {
        /* fill up to two windows; a continued bucket waits in `job` */
        while (tail - head < qcap && next < buckets) {
            q[tail % qcap].bucket = next++;
            snprintf(q[tail % qcap].cursor, sizeof(q[0].cursor), "0");
            fsdfs_key_loc(key, sizeof(key), st->conf->prefix,
                          q[tail % qcap].bucket);
            if (rds_append(st->r, "HSCAN %s 0 COUNT " LOAD_COUNT, key) != 0) {
                free(q);
                return -1;
            }
            tail++;
        }

        if (head == tail) {
            break;
        }

        if (st->cb.progress && st->cb.progress(st->cb.ctx) != 0) {
            /* the replies still due are dropped with the connection */
            rds_close(st->r);
            free(q);
            return -1;
        }

        /* read one window (or what is left) of replies */
        for (sent = 0; sent < LOAD_WINDOW && head < tail; sent++) {
            job = q[head % qcap];
            head++;

            rep = rds_get(st->r);
            more = state_load_reply(st, rep, &job, stats);
            freeReplyObject(rep);

            if (more < 0) {
                free(q);
                return -1;
            }

            if (more) {
                fsdfs_key_loc(key, sizeof(key), st->conf->prefix, job.bucket);
                if (rds_append(st->r, "HSCAN %s %s COUNT " LOAD_COUNT, key,
                               job.cursor) != 0)
                {
                    free(q);
                    return -1;
                }
                q[tail % qcap] = job;
                tail++;
            }
        }
    }

    free(q);
    stats->buckets = buckets;
    stats->secs = (fsd_now_ms() - t0) / 1000.0;
    if (st->corrupt_logged > 100) {
        fsd_log(FSD_LOG_WARN, "%" PRIu64 " corrupt records skipped in all",
                st->corrupt_logged);
    }
    return 0;
}


/* Events ---------------------------------------------------------------- */

typedef struct {
    const char  *type;
    const char  *path;
    size_t       plen;
    const char  *holders;
} event_t;


static void
state_event_fields(event_t *ev, const redisReply *kv)
{
    size_t       i;
    const char  *f;
    redisReply  *v;

    memset(ev, 0, sizeof(*ev));

    for (i = 0; i + 1 < kv->elements; i += 2) {
        f = kv->element[i]->str;
        v = kv->element[i + 1];
        if (f == NULL || v->type != REDIS_REPLY_STRING) {
            continue;
        }
        if (strcmp(f, "type") == 0) {
            ev->type = v->str;
        } else if (strcmp(f, "path") == 0) {
            ev->path = v->str;
            ev->plen = v->len;
        } else if (strcmp(f, "holders") == 0) {
            ev->holders = v->str;
        }
    }
}


static unsigned
state_parse_holders(const char *s, unsigned *ids, unsigned cap)
{
    char          *end;
    unsigned       n = 0;
    unsigned long  v;

    while (s && *s && n < cap) {
        v = strtoul(s, &end, 10);
        if (end == s) {
            break;
        }
        if (v >= 1 && v <= FSDFS_MAX_NODE_ID) {
            ids[n++] = (unsigned) v;
        }
        s = (*end == ',') ? end + 1 : end;
        if (*end != ',') {
            break;
        }
    }

    return n;
}


int
state_node_up(state_t *st)
{
    unsigned  up = st->node_up;

    st->node_up = 0;
    return up != 0;
}


int
state_events(state_t *st, unsigned max)
{
    size_t          i, m;
    unsigned        holders[FSDFS_MAX_HOLDERS], nh;
    char            key[FSDFS_KEY_MAX], count[16], next_id[64] = "";
    redisReply     *rep, *entries, *e, *got;
    event_t        *evs;
    fsdfs_record_t  rec;

    if (st->buckets == 0) {
        return 0;
    }

    snprintf(count, sizeof(count), "%u", max);
    rep = rds_cmd(st->r, "XREAD COUNT %s STREAMS %s %s", count,
                  st->key_events, st->last_id);
    if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
        freeReplyObject(rep);
        return -1;
    }

    if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 1
        || rep->element[0]->type != REDIS_REPLY_ARRAY
        || rep->element[0]->elements < 2)
    {
        freeReplyObject(rep);
        return 0;                               /* nil: nothing new */
    }

    entries = rep->element[0]->element[1];
    evs = calloc(entries->elements + 1, sizeof(event_t));
    if (evs == NULL) {
        freeReplyObject(rep);
        return -1;
    }

    /* one HGET per event with a path, pipelined */
    for (i = 0, m = 0; i < entries->elements; i++) {
        e = entries->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 2
            || e->element[0]->type != REDIS_REPLY_STRING)
        {
            continue;
        }
        snprintf(next_id, sizeof(next_id), "%s", e->element[0]->str);
        if (e->element[1]->type != REDIS_REPLY_ARRAY) {
            continue;
        }
        state_event_fields(&evs[m], e->element[1]);
        if (evs[m].type != NULL && strcmp(evs[m].type, "node-up") == 0) {
            st->node_up = 1;
            continue;
        }
        if (evs[m].type == NULL || evs[m].path == NULL
            || fsdfs_path_check(evs[m].path, evs[m].plen) != NULL)
        {
            continue;
        }
        fsdfs_key_loc(key, sizeof(key), st->conf->prefix,
                      fsdfs_bucket(evs[m].path, evs[m].plen, st->buckets));
        rds_append(st->r, "HGET %s %b", key, evs[m].path, evs[m].plen);
        m++;
    }

    for (i = 0; i < m; i++) {
        got = rds_get(st->r);
        if (got == NULL || got->type == REDIS_REPLY_ERROR) {
            freeReplyObject(got);
            free(evs);
            freeReplyObject(rep);
            if (i + 1 < m) {
                rds_close(st->r);       /* the replies still due with it */
            }
            return -1;          /* last_id kept: the batch is read again */
        }

        fsd_log(FSD_LOG_DEBUG, "event %s %.*s", evs[i].type,
                (int) evs[i].plen, evs[i].path);

        if (got->type == REDIS_REPLY_STRING) {
            if (fsdfs_record_decode(&rec, got->str, got->len) == 0) {
                st->cb.record(st->cb.ctx, evs[i].path, evs[i].plen, &rec);
            } else {
                state_corrupt(st, evs[i].path, evs[i].plen);
            }

        } else {
            st->cb.record(st->cb.ctx, evs[i].path, evs[i].plen, NULL);
            if (strcmp(evs[i].type, "rm") == 0) {
                nh = state_parse_holders(evs[i].holders, holders,
                                         FSDFS_MAX_HOLDERS);
                st->cb.removed(st->cb.ctx, evs[i].path, evs[i].plen,
                               holders, nh);
            }
        }
        freeReplyObject(got);
    }

    free(evs);
    if (next_id[0]) {
        memcpy(st->last_id, next_id, sizeof(st->last_id));
    }
    i = entries->elements;
    freeReplyObject(rep);
    return (int) i;
}
