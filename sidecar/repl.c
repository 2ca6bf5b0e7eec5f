/*
 * The replication loop of the master: planner moves become executor
 * commands, and answers become index updates.
 *
 * A move (planner.h) is one op here. Without an eviction it is a pull at
 * once. With one, the target's holder entry of the evicted file leaves
 * the index first (atomically), then the op waits cache_ttl so no node
 * still redirects readers to that copy from its lookup cache, checks
 * again that the evicted file keeps K >= N and K >= 1, drops, and only
 * then pulls. Every answer is mapped once: a pulled copy is added to its
 * record (a record gone meanwhile means the file was deleted: the fresh
 * copy is dropped); a source that lacks the file stops being listed as a
 * holder; other failures back the (file, node) pair off, doubling from
 * retry_after; "old epoch" ends this term.
 *
 * Drops that belong to no move (the copies of a deleted file, the stale
 * copies a returning node holds of files deleted while it was away) wait
 * in a queue and go out a bounded number at a time.
 *
 * Draining (`fsdfs drain`, <prefix>drain): a draining node's copies stop
 * counting, so the planner copies its files elsewhere (from it, when it
 * is the only holder); a copy whose file has its N elsewhere then goes
 * the way an evicted one does: out of the index, cache_ttl, checked
 * again, dropped. Progress (files and bytes still on it) is published in
 * <prefix>drain:<id> every second, and the log says once when it is empty.
 *
 * N per file comes from the policy (policy.h) each time a record is read:
 * at load and after every event naming the path, so nothing of the record
 * but its N is kept. The planner keeps the wanted N and caps it by the
 * nodes whose copies count, so a node loss or return needs no re-read.
 * Popularity lives in <prefix>pop as scores scaled by 2^((t - T0)/H); every
 * few seconds the master reads only the members popular enough to boost
 * (one ZREVRANGEBYSCORE above the scaled threshold) and keeps them in a
 * side table; a file whose boost step changed, or that left the range,
 * has its record re-read and its N recomputed. The master owns T0: when
 * scores grow past 2^64 they are all scaled down in one Lua script.
 */

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "executor.h"
#include "fsdfs_keys.h"
#include "fsdfs_path.h"
#include "index.h"
#include "log.h"
#include "planner.h"
#include "policy.h"
#include "repl.h"
#include "state.h"
#include "stats.h"


#define REPL_DEFAULT_N      3
#define REPL_PLAN_MAX       1000        /* decisions per loop turn */
#define REPL_DROPS_MAX      32          /* standalone drops in flight */
#define REPL_DRAINS_MAX     64          /* drain drops waiting or sent */
#define REPL_DROP_TRIES     8           /* a drop a node could not take yet */
#define REPL_DROP_RETRY_MS  500         /* first wait, doubling, ... */
#define REPL_DROP_RETRY_MAX 30000       /* ... up to this */
#define REPL_EVENTS_MAX     1000
#define REPL_BACKOFF_SLOTS  8192
#define REPL_BACKOFF_MAX    (10 * 60 * 1000)
#define REPL_TOMB_SLACK_S   10
#define REPL_POP_EVERY_MS   2000        /* popularity read period */
#define REPL_POP_MAX        10000       /* boosted files read per period */
#define REPL_POP_SLOTS      4096
#define REPL_POP_REBASE     64          /* half-lives before a rebase */
#define REPL_POP_FLOOR      1e-3        /* plays below which a member goes */


enum { OP_MOVE = 1, OP_DROP, OP_DRAIN, OP_CHECK, OP_SETTLE, OP_READD };
enum { PH_EVICT_WAIT = 1, PH_EVICT_DROP, PH_PULL, PH_QUEUED, PH_SENT,
       PH_RECORD };

#define REPL_RECORD_RETRY_MS 500        /* a pulled copy not yet indexed */
#define REPL_SETTLE_HOLD_MS  (10 * 60 * 1000)   /* pair kept from the planner
                                                   while its entry settles */
#define REPL_JFIELD_MAX      (FSDFS_PATH_MAX + 32)
#define REPL_JRETRY_MS       1000       /* journal read again for entries */
#define REPL_JRETRY_MAX      60000      /* left unsettled: doubling, ... */


typedef struct repl_op_s  repl_op_t;

struct repl_op_s {
    int              kind;
    int              phase;
    planner_move_t   m;             /* OP_MOVE */
    planner_drain_t  d;             /* OP_DRAIN */
    int64_t          due_ms;        /* PH_EVICT_WAIT, PH_RECORD */
    unsigned         node;          /* OP_DROP, OP_CHECK: where */
    unsigned         tries;         /* OP_DROP: sends so far */
    char            *path;          /* OP_DROP, OP_CHECK, OP_SETTLE */
    char            *jfield;        /* journal entry this op settles */
    int              held;          /* (path, node) kept from the planner */
    uint64_t         sum;           /* OP_CHECK: the record's */
    size_t           plen;
    repl_op_t       *prev, *next;   /* in `ops` */
    repl_op_t       *qnext;         /* in the wait or drop queue */
};


typedef struct {
    planner_file_t   file;
    unsigned         node;
    int64_t          backoff_ms;
} repl_backoff_t;


/* A file popular enough for pop_boost to add a copy. */
typedef struct repl_pop_s  repl_pop_t;

struct repl_pop_s {
    repl_pop_t      *next;
    double           pop;           /* decayed plays at the last read */
    unsigned         boost;         /* copies it added then */
    uint32_t         stamp;         /* read in that period */
    size_t           len;
    char             path[];        /* NUL-terminated */
};


struct repl_s {
    rds_t               *r;
    const fsd_conf_t    *conf;
    planner_t           *p;
    executor_t          *ex;
    state_t             *st;
    uint64_t             epoch;
    char                 master[96];
    repl_keepalive_pt    keepalive;
    void                *keepalive_arg;

    uint32_t             buckets;
    unsigned             cfg_replicas;
    int                  fenced;
    int                  loaded;

    repl_op_t           *ops;           /* every op alive */
    repl_op_t           *wait_head, *wait_tail;     /* evictions waiting */
    repl_op_t           *drop_head, *drop_tail;     /* drops not yet sent */
    repl_op_t           *record;        /* pulled, index not yet updated */
    repl_op_t           *readd;         /* kept copies not yet indexed */
    unsigned             drops_inflight;
    unsigned             drains;        /* OP_DRAIN ops alive */

    /* holders of the file just deleted from the planner (record gone),
     * for the rm event that follows */
    char                 del_path[FSDFS_PATH_MAX + 1];
    size_t               del_plen;
    uint16_t             del_holders[PLANNER_MAX_HOLDERS];
    unsigned             del_n;

    repl_backoff_t      *backoff;

    /* <prefix>inflight edits not tied to a record edit: entries of
     * plain pulls, written before the executor sends them, and entries
     * whose outcome is settled, deleted in one batch */
    char                 jkey[FSDFS_KEY_MAX];
    char               **jset, **jval, **jdel;
    unsigned             njset, njdel, capjset, capjval, capjdel;

    policy_t            *pol;
    policy_t            *own_pol;       /* when the config has none */
    unsigned             default_n;     /* `replicas`, before the clamp */
    unsigned             live;          /* nodes whose copies count */

    repl_pop_t         **pop;           /* REPL_POP_SLOTS chains */
    uint64_t             npop;
    uint32_t             pop_stamp;
    double               pop_t0, pop_h; /* seconds */
    char                 pop_t0s[64];   /* pop_t0 as Redis has it */
    int64_t              pop_next_ms;

    stats_counters_t     counters;
    uint64_t             plan_usec;
    int64_t              nodekn_next_ms;    /* next <prefix>nodekn */
    int64_t              back_seen;     /* rds back_wall_ms last seen */
    int64_t              jretry_ms;     /* next reading of the journal */
    int64_t              jretry_wait;
    unsigned             jleft;         /* entries this reading left */
};


static void repl_drop_enqueue(repl_t *rp, repl_op_t *op);
static repl_op_t *repl_node_queue(repl_t *rp, int kind, unsigned node,
    const char *path, size_t plen, uint64_t sum, const char *jfield);
static void repl_drop_queue(repl_t *rp, unsigned node, const char *path,
    size_t plen);
static void repl_drain_copied(repl_t *rp, planner_file_t f);
static void repl_drain_send(repl_t *rp, repl_op_t *op);
static void repl_settle_pulled(repl_t *rp, repl_op_t *op,
    const executor_result_t *res);
static void repl_journal_settle(repl_t *rp, const char *when);


/* Ops ------------------------------------------------------------------- */

static repl_op_t *
repl_op_new(repl_t *rp, int kind)
{
    repl_op_t  *op = calloc(1, sizeof(*op));

    if (op == NULL) {
        return NULL;
    }

    op->kind = kind;
    op->next = rp->ops;
    if (rp->ops) {
        rp->ops->prev = op;
    }
    rp->ops = op;
    return op;
}


static void repl_op_free(repl_t *rp, repl_op_t *op);


/* An op about one path on one node, with its own copy of the path (and
 * of its journal field, if any); NULL, logged, when memory runs out. */
static repl_op_t *
repl_op_at(repl_t *rp, int kind, unsigned node, const char *path,
    size_t plen, const char *jfield)
{
    repl_op_t  *op = repl_op_new(rp, kind);

    if (op == NULL || (op->path = malloc(plen + 1)) == NULL
        || (jfield && (op->jfield = strdup(jfield)) == NULL))
    {
        if (op) {
            repl_op_free(rp, op);
        }
        fsd_log(FSD_LOG_ERROR, "out of memory: work on %.*s at node %u "
                "lost", (int) plen, path, node);
        return NULL;
    }

    memcpy(op->path, path, plen);
    op->path[plen] = '\0';
    op->plen = plen;
    op->node = node;
    return op;
}


static void
repl_op_free(repl_t *rp, repl_op_t *op)
{
    if (op->prev) {
        op->prev->next = op->next;
    } else {
        rp->ops = op->next;
    }
    if (op->next) {
        op->next->prev = op->prev;
    }

    free(op->path);
    free(op->jfield);
    free(op);
}


static const char *
repl_url(repl_t *rp, unsigned id)
{
    fsd_node_t  *n = state_node(rp->st, id);

    return (n && n->url[0]) ? n->url : NULL;
}


/* The planner keeps paths unterminated in its arena: libcurl and the
 * logs want C strings, so each use copies one out. */
static const char *
repl_path(repl_t *rp, planner_file_t f, char *buf, size_t *len)
{
    const char  *p = planner_file_path(rp->p, f, len);

    if (p == NULL || *len > FSDFS_PATH_MAX) {
        *len = 0;
        buf[0] = '\0';
        return buf;
    }

    memcpy(buf, p, *len);
    buf[*len] = '\0';
    return buf;
}


/* In-flight journal ----------------------------------------------------- */

/*
 * <prefix>inflight names every copy this master may have put on a disk,
 * or kept there, without the index saying so: a pull sent ("pull <dst>
 * <path>") and an evicted or drained copy out of the index whose drop is
 * not confirmed ("drop <node> <path>"). A master killed in between leaves
 * such copies unindexed, using quota for good; the next one settles each
 * entry at takeover (repl_journal_settle). Writes are not fenced in Redis
 * (no index write is): a deposed master's late edit at worst leaves an
 * entry the next takeover settles again, and every settlement is
 * idempotent.
 */

static void
repl_jfield(char *buf, const char *kind, unsigned node, const char *path,
    size_t plen)
{
    snprintf(buf, REPL_JFIELD_MAX, "%s %u %.*s", kind, node, (int) plen,
             path);
}


static void
repl_jpush(char ***v, unsigned *n, unsigned *cap, const char *s)
{
    char  **nv, *c;

    if (*n == *cap) {
        nv = realloc(*v, (*cap ? *cap * 2 : 64) * sizeof(char *));
        if (nv == NULL) {
            return;
        }
        *v = nv;
        *cap = *cap ? *cap * 2 : 64;
    }
    if ((c = strdup(s)) != NULL) {
        (*v)[(*n)++] = c;
    }
}


/* The outcome of that entry is settled: deleted with the next batch. */
static void
repl_jdel_later(repl_t *rp, const char *field)
{
    repl_jpush(&rp->jdel, &rp->njdel, &rp->capjdel, field);
}


static void
repl_jset_later(repl_t *rp, const char *field, const char *val)
{
    unsigned  n = rp->njset, nv = n;

    repl_jpush(&rp->jset, &rp->njset, &rp->capjset, field);
    repl_jpush(&rp->jval, &nv, &rp->capjval, val);
    if (rp->njset != n + 1 || nv != n + 1) {        /* out of memory */
        if (rp->njset == n + 1) {
            free(rp->jset[n]);
        }
        if (nv == n + 1) {
            free(rp->jval[n]);
        }
        rp->njset = n;
    }
}


static void
repl_jfree(char **v, unsigned n)
{
    unsigned  i;

    for (i = 0; i < n; i++) {
        free(v[i]);
    }
}


/*
 * One round trip for all: the deletes first, then the new entries. Pulls
 * are only queued in the executor until executor_run(), so entries
 * written here before it precede their pull. Deletes that fail stay for
 * the next batch; entries that fail are logged (their pulls go anyway:
 * Redis is away, and the lease with it soon).
 */
static void
repl_journal_flush(repl_t *rp)
{
    unsigned      i, argc;
    int           dels = 0, sets = 0;
    const char  **argv;
    redisReply   *rd = NULL, *rs = NULL;

    if (rp->njdel == 0 && rp->njset == 0) {
        return;
    }
    argv = malloc((2 + 2 * (rp->njset > rp->njdel ? rp->njset : rp->njdel))
                  * sizeof(char *));
    if (argv == NULL) {
        return;
    }

    if (rp->njdel) {
        argv[0] = "HDEL";
        argv[1] = rp->jkey;
        for (i = 0; i < rp->njdel; i++) {
            argv[2 + i] = rp->jdel[i];
        }
        dels = rds_append_argv(rp->r, (int) (2 + rp->njdel), argv, NULL) == 0;
    }
    if (rp->njset) {
        argv[0] = "HSET";
        argv[1] = rp->jkey;
        for (i = 0, argc = 2; i < rp->njset; i++) {
            argv[argc++] = rp->jset[i];
            argv[argc++] = rp->jval[i];
        }
        sets = rds_append_argv(rp->r, (int) argc, argv, NULL) == 0;
    }
    free(argv);

    if (dels) {
        rd = rds_get(rp->r);
    }
    if (sets) {
        rs = rds_get(rp->r);
    }

    if (rp->njdel && rds_is(rd, REDIS_REPLY_INTEGER)) {
        repl_jfree(rp->jdel, rp->njdel);
        rp->njdel = 0;
    }
    if (rp->njset && !rds_is(rs, REDIS_REPLY_INTEGER)) {
        fsd_log(FSD_LOG_WARN, "journal: %u pull(s) sent unjournaled",
                rp->njset);
    }
    repl_jfree(rp->jset, rp->njset);
    repl_jfree(rp->jval, rp->njset);
    rp->njset = 0;
    freeReplyObject(rd);
    freeReplyObject(rs);
}


/* Keeps the planner off (path, node) while a settling op works on it: a
 * pull planned there would find the copy a settling drop then deletes. */
static void
repl_hold(repl_t *rp, repl_op_t *op, int hold)
{
    planner_file_t  f;
    int64_t         now = fsd_now_ms();

    if (!hold && !op->held) {
        return;
    }
    op->held = hold;
    f = planner_file_find(rp->p, op->path, op->plen);
    if (f != PLANNER_NOFILE) {
        planner_fail(rp->p, f, op->node, hold ? now + REPL_SETTLE_HOLD_MS
                                              : now);
    }
}


/* An entry that could not be settled now (no live holder, the node
 * away, Redis away): the journal is read again later, each time later. */
static void
repl_jleft(repl_t *rp)
{
    rp->jleft++;
    if (rp->jretry_ms == 0) {
        rp->jretry_ms = fsd_now_ms() + rp->jretry_wait;
    }
}


/* A drop or settling pull that carried a journal entry ended. */
static void
repl_op_settled(repl_t *rp, repl_op_t *op, int settled)
{
    repl_hold(rp, op, 0);
    if (op->jfield && settled) {
        repl_jdel_later(rp, op->jfield);
    } else if (op->jfield) {
        fsd_log(FSD_LOG_WARN, "journal: \"%s\" left for later", op->jfield);
        repl_jleft(rp);
    }
}


/* Backoff of failed (file, node) pairs ------------------------------------ */

static repl_backoff_t *
repl_backoff_slot(repl_t *rp, planner_file_t f, unsigned node, int create)
{
    unsigned         i, h;
    repl_backoff_t  *b;

    h = (unsigned) ((f * 2654435761u) ^ (node * 40503u)) % REPL_BACKOFF_SLOTS;

    for (i = 0; i < 8; i++) {
        b = &rp->backoff[(h + i) % REPL_BACKOFF_SLOTS];
        if (b->file == f && b->node == node && b->backoff_ms) {
            return b;
        }
    }

    if (!create) {
        return NULL;
    }

    for (i = 0; i < 8; i++) {
        b = &rp->backoff[(h + i) % REPL_BACKOFF_SLOTS];
        if (b->backoff_ms == 0) {
            break;
        }
    }

    /* full neighbourhood: the pair forgets an older pair's history */
    b->file = f;
    b->node = node;
    b->backoff_ms = 0;
    return b;
}


static int64_t
repl_fail(repl_t *rp, planner_file_t f, unsigned node, int64_t now)
{
    repl_backoff_t  *b = repl_backoff_slot(rp, f, node, 1);

    b->backoff_ms = b->backoff_ms ? b->backoff_ms * 2 : rp->conf->retry_after_ms;
    if (b->backoff_ms > REPL_BACKOFF_MAX) {
        b->backoff_ms = REPL_BACKOFF_MAX;
    }

    planner_fail(rp->p, f, node, now + b->backoff_ms);
    return b->backoff_ms;
}


static void
repl_succeeded(repl_t *rp, planner_file_t f, unsigned node)
{
    repl_backoff_t  *b = repl_backoff_slot(rp, f, node, 0);

    if (b) {
        b->backoff_ms = 0;
    }
}


/* State callbacks --------------------------------------------------------- */

static int
repl_planner_state(node_live_t live)
{
    return live == NODE_LIVE ? PLANNER_LIVE
           : live == NODE_STALE ? PLANNER_STALE : PLANNER_DEAD;
}


static const char *
repl_live_name(node_live_t live)
{
    return live == NODE_LIVE ? "live" : live == NODE_STALE ? "stale" : "dead";
}


/* A node back from STALE/DEAD drops what was deleted while it was away. */
static void
repl_tombstones(repl_t *rp, fsd_node_t *n)
{
    char             key[FSDFS_KEY_MAX], from[32];
    size_t           i;
    unsigned         queued = 0;
    uint16_t         h[PLANNER_MAX_HOLDERS];
    unsigned         nh, j;
    int              held;
    planner_file_t   f;
    redisReply      *rep, *e;

    fsdfs_key(key, sizeof(key), rp->conf->prefix, "tomb");
    snprintf(from, sizeof(from), "%lld",
             (long long) (n->away_ms / 1000 - REPL_TOMB_SLACK_S));

    rep = rds_cmd(rp->r, "ZRANGEBYSCORE %s %s +inf", key, from);
    if (!rds_is(rep, REDIS_REPLY_ARRAY)) {
        fsd_log(FSD_LOG_WARN, "node %u: cannot read tombstones", n->id);
        freeReplyObject(rep);
        return;
    }

    for (i = 0; i < rep->elements; i++) {
        e = rep->element[i];
        if (e->type != REDIS_REPLY_STRING) {
            continue;
        }

        /* deleted, then put again with this node as a holder: keep it */
        f = planner_file_find(rp->p, e->str, e->len);
        held = 0;
        if (f != PLANNER_NOFILE) {
            nh = planner_file_holders(rp->p, f, h, PLANNER_MAX_HOLDERS);
            for (j = 0; j < nh && j < PLANNER_MAX_HOLDERS; j++) {
                held |= (h[j] == n->id);
            }
        }
        if (!held) {
            repl_drop_queue(rp, n->id, e->str, e->len);
            queued++;
        }
    }

    freeReplyObject(rep);
    if (queued) {
        fsd_log(FSD_LOG_INFO, "node %u (%s) is back: dropping %u path(s) "
                "deleted while it was away", n->id, n->name, queued);
    }
}


static void
repl_on_node(void *ctx, fsd_node_t *n, node_live_t old, int is_new)
{
    repl_t  *rp = ctx;

    planner_node_state(rp->p, n->id, repl_planner_state(n->live));
    planner_node_space(rp->p, n->id, n->quota,
                       n->free ? n->free : PLANNER_DISK_UNKNOWN);
    planner_node_load(rp->p, n->id, n->load);
    planner_node_draining(rp->p, n->id, n->draining || n->drain_since);

    if (is_new) {
        fsd_log(FSD_LOG_INFO, "node %u (%s) %s", n->id, n->name,
                repl_live_name(n->live));
        return;
    }

    fsd_log(n->live == NODE_LIVE ? FSD_LOG_INFO : FSD_LOG_WARN,
            "node %u (%s) %s, was %s%s", n->id, n->name,
            repl_live_name(n->live), repl_live_name(old),
            n->live == NODE_DEAD ? ": its copies stop counting" : "");

    if (n->live == NODE_LIVE && rp->loaded) {
        repl_tombstones(rp, n);
    }
}


static void
repl_on_forget(void *ctx, fsd_node_t *n)
{
    repl_t  *rp = ctx;
    long     purged;

    purged = index_purge_node(rp->r, rp->conf->prefix, rp->buckets, n->id);
    planner_node_forget(rp->p, n->id);
    fsd_log(FSD_LOG_WARN, "node %u (%s) dead for forget_after: removed as "
            "holder from %ld record(s)%s", n->id, n->name, purged,
            purged < 0 ? " (redis failed, partly done)" : "");
    if (purged < 0) {
        n->forgotten = 0;               /* again at the next refresh */
    }
}


static unsigned
repl_n_of(const fsdfs_record_t *rec)
{
    return rec->n <= PLANNER_MAX_N ? rec->n : 0;
}


/* Popularity side table ------------------------------------------------- */

static repl_pop_t **
repl_pop_slot(repl_t *rp, const char *path, size_t len)
{
    return &rp->pop[fsdfs_fnv1a64(path, len) % REPL_POP_SLOTS];
}


static repl_pop_t *
repl_pop_find(repl_t *rp, const char *path, size_t len)
{
    repl_pop_t  *e;

    for (e = *repl_pop_slot(rp, path, len); e; e = e->next) {
        if (e->len == len && memcmp(e->path, path, len) == 0) {
            return e;
        }
    }
    return NULL;
}


static repl_pop_t *
repl_pop_add(repl_t *rp, const char *path, size_t len)
{
    repl_pop_t  **slot = repl_pop_slot(rp, path, len), *e;

    e = calloc(1, sizeof(*e) + len + 1);
    if (e == NULL) {
        return NULL;
    }
    memcpy(e->path, path, len);
    e->len = len;
    e->next = *slot;
    *slot = e;
    rp->npop++;
    return e;
}


static void
repl_pop_del(repl_t *rp, repl_pop_t *del)
{
    repl_pop_t  **pp;

    for (pp = repl_pop_slot(rp, del->path, del->len); *pp; pp = &(*pp)->next) {
        if (*pp == del) {
            *pp = del->next;
            free(del);
            rp->npop--;
            return;
        }
    }
}


/* The N the planner keeps for this record: 0 when only the default
 * decided, so a change of `replicas` reaches the file without a re-read. */
static unsigned
repl_policy_n(repl_t *rp, const char *path, size_t len,
    const fsdfs_record_t *rec)
{
    char           buf[FSDFS_PATH_MAX + 1];
    policy_in_t    in;
    policy_out_t   out;
    repl_pop_t    *e;

    if (len > FSDFS_PATH_MAX) {
        return repl_n_of(rec);
    }
    memcpy(buf, path, len);
    buf[len] = '\0';

    e = rp->npop ? repl_pop_find(rp, path, len) : NULL;

    memset(&in, 0, sizeof(in));
    in.path = buf;
    in.len = len;
    in.size = rec->size;
    in.explicit_n = repl_n_of(rec);
    in.vars = rec->vars;
    in.nvars = rec->nvars;
    in.popularity = e ? e->pop : 0;
    in.live = rp->live;
    in.default_n = rp->default_n;

    policy_eval(rp->pol, &in, fsd_now_ms(), &out);
    return out.by_default ? 0 : out.want;
}


/* Make the planner's picture of one file match its record. */
static void
repl_on_record(void *ctx, const char *path, size_t len,
    const fsdfs_record_t *rec)
{
    repl_t          *rp = ctx;
    planner_file_t   f;
    uint16_t         h[PLANNER_MAX_HOLDERS];
    unsigned         nh, i, n, old;

    f = planner_file_find(rp->p, path, len);

    if (rec == NULL) {
        if (f == PLANNER_NOFILE) {
            return;
        }
        rp->del_n = planner_file_holders(rp->p, f, rp->del_holders,
                                         PLANNER_MAX_HOLDERS);
        if (rp->del_n > PLANNER_MAX_HOLDERS) {
            rp->del_n = PLANNER_MAX_HOLDERS;
        }
        memcpy(rp->del_path, path, len);
        rp->del_plen = len;
        planner_file_del(rp->p, f);
        return;
    }

    if (f != PLANNER_NOFILE
        && (planner_file_size(rp->p, f) != rec->size
            || planner_file_sum(rp->p, f) != rec->sum))
    {
        planner_file_del(rp->p, f);             /* replaced: a new file */
        f = PLANNER_NOFILE;
    }

    n = repl_policy_n(rp, path, len, rec);

    if (f == PLANNER_NOFILE) {
        f = planner_file_add(rp->p, path, len, rec->size, rec->sum,
                             n, rec->holders, rec->nholders);
        if (f == PLANNER_NOFILE) {
            fsd_log(FSD_LOG_WARN, "planner refused \"%.*s\"", (int) len, path);
        }
        return;
    }

    nh = planner_file_holders(rp->p, f, h, PLANNER_MAX_HOLDERS);
    for (i = 0; i < nh && i < PLANNER_MAX_HOLDERS; i++) {
        if (!fsdfs_record_has_holder(rec, h[i])) {
            planner_file_holder_del(rp->p, f, h[i]);
        }
    }
    for (i = 0; i < rec->nholders; i++) {
        planner_file_holder_add(rp->p, f, rec->holders[i]);
    }

    old = planner_file_n_explicit(rp->p, f);
    if (old != n) {
        fsd_log(FSD_LOG_INFO, "N of %.*s is now %u (%s), was %u%s", (int) len,
                path, n ? n : planner_default_n(rp->p),
                n ? "by policy" : "the default",
                old ? old : planner_default_n(rp->p),
                n > rp->live && rp->live ? ": more than the nodes, capped"
                                          : "");
        planner_file_set_n(rp->p, f, n);
    }
}


/* An rm event: every live holder drops its copy now; the others get the
 * drop from the tombstone when they come back. */
static void
repl_on_removed(void *ctx, const char *path, size_t len,
    const unsigned *holders, unsigned nholders)
{
    repl_t       *rp = ctx;
    unsigned      i, j, ids[2 * PLANNER_MAX_HOLDERS], n = 0, dup;
    fsd_node_t   *node;

    for (i = 0; i < nholders; i++) {
        ids[n++] = holders[i];
    }
    if (rp->del_plen == len && memcmp(rp->del_path, path, len) == 0) {
        for (i = 0; i < rp->del_n; i++) {
            ids[n++] = rp->del_holders[i];
        }
        rp->del_plen = 0;
    }

    for (i = 0; i < n; i++) {
        for (j = 0, dup = 0; j < i; j++) {
            dup |= (ids[j] == ids[i]);
        }
        node = state_node(rp->st, ids[i]);
        if (dup || node == NULL || node->live != NODE_LIVE) {
            continue;
        }
        fsd_log(FSD_LOG_INFO, "drop %.*s on %u (deleted)", (int) len, path,
                ids[i]);
        repl_drop_queue(rp, ids[i], path, len);
    }
}


static int
repl_on_progress(void *ctx)
{
    repl_t  *rp = ctx;

    return rp->keepalive ? rp->keepalive(rp->keepalive_arg) : 0;
}


/* Standalone drops ---------------------------------------------------------- */

static void
repl_drop_queue(repl_t *rp, unsigned node, const char *path, size_t plen)
{
    (void) repl_node_queue(rp, OP_DROP, node, path, plen, 0, NULL);
}


/* A drop that settles a journal entry: deleted once the node confirms. */
static repl_op_t *
repl_drop_queue_j(repl_t *rp, unsigned node, const char *path, size_t plen,
    const char *jfield)
{
    return repl_node_queue(rp, OP_DROP, node, path, plen, 0, jfield);
}


/* A holder whose copy a pull found other bytes in: the node hashes it and
 * moves it aside if it is bad (OP_CHECK), so it is neither served nor
 * counted; the holder goes when the node says so. */
static void
repl_check_queue(repl_t *rp, unsigned node, const char *path, size_t plen,
    uint64_t sum)
{
    (void) repl_node_queue(rp, OP_CHECK, node, path, plen, sum, NULL);
}


/* Drops and checks share one queue, sent as drops_inflight allows. */
static repl_op_t *
repl_node_queue(repl_t *rp, int kind, unsigned node, const char *path,
    size_t plen, uint64_t sum, const char *jfield)
{
    repl_op_t  *op = repl_op_at(rp, kind, node, path, plen, jfield);

    if (op == NULL) {
        return NULL;
    }

    op->sum = sum;
    op->due_ms = 0;
    repl_drop_enqueue(rp, op);
    return op;
}


/* Appends op to a queue kept as head and tail (linked by qnext). */
static void
repl_queue_push(repl_op_t **head, repl_op_t **tail, repl_op_t *op)
{
    op->qnext = NULL;
    if (*tail) {
        (*tail)->qnext = op;
    } else {
        *head = op;
    }
    *tail = op;
}


static void
repl_drop_enqueue(repl_t *rp, repl_op_t *op)
{
    op->phase = PH_QUEUED;
    repl_queue_push(&rp->drop_head, &rp->drop_tail, op);
}


/* Evictions and drain drops wait cache_ttl, every cached location of the
 * copy expired, before the drop is sent. */
static void
repl_wait_append(repl_t *rp, repl_op_t *op, int64_t now)
{
    op->phase = PH_EVICT_WAIT;
    op->due_ms = now + rp->conf->cache_ttl_ms;
    repl_queue_push(&rp->wait_head, &rp->wait_tail, op);
}


/*
 * A node that just came back answers 503 until it has read the node table,
 * and a restarting one refuses connections: such a drop is sent again
 * later, since a tombstoned copy that is never dropped could be served.
 */
static int
repl_drop_retry(repl_t *rp, repl_op_t *op, executor_outcome_t outcome,
    int64_t now)
{
    int64_t  wait;

    if (op->tries >= REPL_DROP_TRIES
        || (outcome != EXECUTOR_BUSY && outcome != EXECUTOR_UNREACHABLE
            && outcome != EXECUTOR_TIMEOUT && outcome != EXECUTOR_NODE_ERROR))
    {
        return 0;
    }

    wait = (int64_t) REPL_DROP_RETRY_MS << (op->tries - 1);
    op->due_ms = now + (wait < REPL_DROP_RETRY_MAX ? wait
                                                   : REPL_DROP_RETRY_MAX);
    repl_drop_enqueue(rp, op);
    return 1;
}


/* Takes the first drop that is due off the queue, or NULL. */
static repl_op_t *
repl_drop_due(repl_t *rp, int64_t now)
{
    repl_op_t  *op, *prev = NULL;

    for (op = rp->drop_head; op; prev = op, op = op->qnext) {
        if (op->due_ms > now) {
            continue;
        }

        if (prev) {
            prev->qnext = op->qnext;
        } else {
            rp->drop_head = op->qnext;
        }

        if (rp->drop_tail == op) {
            rp->drop_tail = prev;
        }

        op->qnext = NULL;
        return op;
    }

    return NULL;
}


/* The file a check is about is still the one the failed pull wanted:
 * the same path with the same sum. A path deleted and put again holds
 * other bytes, which the old sum would have the node move aside. */
static int
repl_check_current(repl_t *rp, const repl_op_t *op)
{
    planner_file_t  f = planner_file_find(rp->p, op->path, op->plen);

    return f != PLANNER_NOFILE && planner_file_sum(rp->p, f) == op->sum;
}


static void
repl_drops_send(repl_t *rp)
{
    repl_op_t   *op;
    const char  *url;
    int64_t      now = fsd_now_ms();

    while (rp->drops_inflight < REPL_DROPS_MAX
           && (op = repl_drop_due(rp, now)) != NULL)
    {
        if (op->kind == OP_CHECK && !repl_check_current(rp, op)) {
            fsd_log(FSD_LOG_INFO, "check of %s on %u: deleted or put again "
                    "meanwhile, not sent", op->path, op->node);
            repl_op_free(rp, op);
            continue;
        }

        url = repl_url(rp, op->node);
        if (url == NULL
            || (op->kind == OP_CHECK
                ? executor_quarantine(rp->ex, url, op->path, op->sum,
                                      rp->epoch, op)
                : executor_drop(rp->ex, url, op->path, rp->epoch, op)) != 0)
        {
            fsd_log(FSD_LOG_WARN, "%s %s on %u: cannot send",
                    op->kind == OP_CHECK ? "check" : "drop", op->path,
                    op->node);
            repl_op_settled(rp, op, 0);
            repl_op_free(rp, op);
            continue;
        }

        op->phase = PH_SENT;
        op->tries++;
        rp->drops_inflight++;
    }
}


/* Moves ------------------------------------------------------------------- */

static void
repl_move_end(repl_t *rp, repl_op_t *op, int ok)
{
    planner_done(rp->p, &op->m, ok);
    repl_op_free(rp, op);
}


static int
repl_pull_send(repl_t *rp, repl_op_t *op, int64_t now)
{
    char            pbuf[FSDFS_PATH_MAX + 1], jf[REPL_JFIELD_MAX];
    size_t       plen;
    const char  *path, *url;

    path = repl_path(rp, op->m.file, pbuf, &plen);
    url = repl_url(rp, op->m.dst);
    op->phase = PH_PULL;

    if (url == NULL
        || executor_pull(rp->ex, url, path, op->m.src, op->m.size,
                         planner_file_sum(rp->p, op->m.file), rp->epoch,
                         op) != 0)
    {
        fsd_log(FSD_LOG_WARN, "pull %s to %u: cannot send", path, op->m.dst);
        repl_jfield(jf, "pull", op->m.dst, path, plen);
        repl_jdel_later(rp, jf);
        rp->counters.pulls_failed++;
        repl_fail(rp, op->m.file, op->m.dst, now);
        repl_move_end(rp, op, 0);
        return -1;
    }
    return 0;
}


/* A copy an aborted eviction or drain keeps, whose holder entry could not
 * be written back (Redis away): written when Redis answers, its journal
 * entry deleted with it. Left alone, the copy would stay unindexed until
 * the next takeover, and this master may keep the lease for long. */
static void
repl_readd_queue(repl_t *rp, unsigned node, const char *path, size_t plen,
    const char *jfield)
{
    repl_op_t  *op = repl_op_at(rp, OP_READD, node, path, plen, jfield);

    if (op == NULL) {
        return;
    }
    op->due_ms = fsd_now_ms() + REPL_RECORD_RETRY_MS;
    op->qnext = rp->readd;
    rp->readd = op;
}


static void
repl_readds_due(repl_t *rp, int64_t now)
{
    repl_op_t       *op, **pp;
    index_result_t   ir;
    index_journal_t  j = { { NULL }, { NULL }, { NULL, NULL } };

    pp = &rp->readd;
    while ((op = *pp) != NULL) {
        if (op->due_ms > now) {
            pp = &op->qnext;
            continue;
        }
        j.del[0] = op->jfield;
        ir = index_holder_j(rp->r, rp->conf->prefix, rp->buckets, op->path,
                            op->plen, op->node, 1, &j);
        if (ir == INDEX_ERROR) {
            op->due_ms = now + REPL_RECORD_RETRY_MS;
            pp = &op->qnext;
            continue;
        }
        *pp = op->qnext;
        if (ir == INDEX_GONE) {
            repl_drop_queue_j(rp, op->node, op->path, op->plen, op->jfield);
        } else {
            fsd_log(FSD_LOG_INFO, "%s on %u: a holder again", op->path,
                    op->node);
        }
        repl_op_free(rp, op);
    }
}


/* Undo an eviction that will not happen: the copy is still on the
 * target, so it is a holder again, in the index and in the planner. */
static void
repl_evict_abort(repl_t *rp, repl_op_t *op, const char *why, int64_t now)
{
    char             pbuf[FSDFS_PATH_MAX + 1], fbuf[FSDFS_PATH_MAX + 1];
    char             jd[REPL_JFIELD_MAX], jp[REPL_JFIELD_MAX];
    size_t           plen, flen;
    const char      *path = repl_path(rp, op->m.evict, pbuf, &plen);
    const char      *fpath = repl_path(rp, op->m.file, fbuf, &flen);
    index_journal_t  j = { { NULL }, { NULL }, { jd, jp, NULL } };

    fsd_log(FSD_LOG_INFO, "evict %.*s from %u abandoned: %s", (int) plen,
            path, op->m.dst, why);
    repl_jfield(jd, "drop", op->m.dst, path, plen);
    repl_jfield(jp, "pull", op->m.dst, fpath, flen);
    switch (index_holder_j(rp->r, rp->conf->prefix, rp->buckets, path, plen,
                           op->m.dst, 1, &j))
    {
    case INDEX_GONE:
        /* deleted meanwhile: the copy kept would be nobody's */
        repl_drop_queue_j(rp, op->m.dst, path, plen, jd);
        repl_jdel_later(rp, jp);
        break;
    case INDEX_ERROR:
        repl_readd_queue(rp, op->m.dst, path, plen, jd);
        repl_jdel_later(rp, jp);
        break;
    default:
        break;
    }
    planner_dropped(rp->p, &op->m, 0);
    repl_fail(rp, op->m.file, op->m.dst, now);
    repl_move_end(rp, op, 0);
}


/* After cache_ttl: drop the evicted copy, if that still leaves its file
 * with K >= N and a copy at all. */
static void
repl_evict_send(repl_t *rp, repl_op_t *op, int64_t now)
{
    char            pbuf[FSDFS_PATH_MAX + 1];
    size_t          plen;
    const char     *path, *url;
    planner_file_t  f;
    unsigned        k;

    path = repl_path(rp, op->m.evict, pbuf, &plen);
    f = planner_file_find(rp->p, path, plen);

    /* a file deleted meanwhile: its copy here goes anyway */
    if (f == op->m.evict) {
        k = planner_file_k(rp->p, f);
        if (k == 0 || k < planner_file_n(rp->p, f)) {
            repl_evict_abort(rp, op, "it would leave too few copies", now);
            return;
        }
    }

    url = repl_url(rp, op->m.dst);
    if (url == NULL || executor_drop(rp->ex, url, path, rp->epoch, op) != 0) {
        repl_evict_abort(rp, op, "cannot send the drop", now);
        return;
    }

    op->phase = PH_EVICT_DROP;
}


static void
repl_move_start(repl_t *rp, const planner_move_t *m, int64_t now)
{
    char             pbuf[FSDFS_PATH_MAX + 1];
    char             ebuf[FSDFS_PATH_MAX + 1];
    char             jd[REPL_JFIELD_MAX], jp[REPL_JFIELD_MAX], jv[96];
    size_t           plen, elen;
    const char      *path, *epath;
    repl_op_t       *op;
    index_result_t   res;
    index_journal_t  j = { { jd, jp, NULL }, { jv, jv, NULL }, { NULL } };

    op = repl_op_new(rp, OP_MOVE);
    if (op == NULL) {
        planner_move_t  copy = *m;

        planner_done(rp->p, &copy, 0);
        return;
    }
    op->m = *m;
    path = repl_path(rp, m->file, pbuf, &plen);

    if (m->evict == PLANNER_NOFILE) {
        fsd_log(FSD_LOG_INFO, "pull %.*s to %u from %u", (int) plen, path,
                m->dst, m->src);
        repl_jfield(jp, "pull", m->dst, path, plen);
        snprintf(jv, sizeof(jv), "src=%u epoch=%" PRIu64 " ts=%lld", m->src,
                 rp->epoch, (long long) fsd_wall_ms());
        if (repl_pull_send(rp, op, now) == 0) {
            repl_jset_later(rp, jp, jv);
        }
        return;
    }

    epath = repl_path(rp, m->evict, ebuf, &elen);
    fsd_log(FSD_LOG_INFO, "pull %.*s to %u from %u, evicting %.*s there",
            (int) plen, path, m->dst, m->src, (int) elen, epath);

    /* readers must stop being sent to the copy before it goes; the
     * journal names the copy from then on, and the pull that follows */
    repl_jfield(jd, "drop", m->dst, epath, elen);
    repl_jfield(jp, "pull", m->dst, path, plen);
    snprintf(jv, sizeof(jv), "src=%u epoch=%" PRIu64 " ts=%lld", m->src,
             rp->epoch, (long long) fsd_wall_ms());
    res = index_holder_j(rp->r, rp->conf->prefix, rp->buckets, epath, elen,
                         m->dst, 0, &j);
    if (res == INDEX_ERROR) {
        fsd_log(FSD_LOG_WARN, "evict %.*s from %u: index update failed",
                (int) elen, epath, m->dst);
        planner_dropped(rp->p, &op->m, 0);
        /* Redis away: not again at once, or this spins and floods the log */
        planner_fail(rp->p, m->file, m->dst, now + 1000);
        repl_move_end(rp, op, 0);
        return;
    }

    repl_wait_append(rp, op, now);
}


/* A pulled copy whose holder entry is written (DONE, ALREADY) or whose
 * file was deleted meanwhile (GONE): the move ends. ms < 0: recorded
 * late, after a failed index update. */
static void
repl_pull_indexed(repl_t *rp, repl_op_t *op, index_result_t ir,
    const char *path, size_t plen, const char *jp, long ms)
{
    if (ir == INDEX_GONE) {
        fsd_log(FSD_LOG_INFO, "pulled %.*s to %u, but it was deleted: "
                "dropping it", (int) plen, path, op->m.dst);
        repl_drop_queue_j(rp, op->m.dst, path, plen, jp);
        repl_move_end(rp, op, 0);
        return;
    }

    if (ms < 0) {
        fsd_log(FSD_LOG_INFO, "pulled %.*s to %u from %u: recorded",
                (int) plen, path, op->m.dst, op->m.src);
    } else {
        fsd_log(FSD_LOG_INFO, "pulled %.*s to %u from %u (%ld ms)",
                (int) plen, path, op->m.dst, op->m.src, ms);
    }
    rp->counters.pulls_done++;
    repl_succeeded(rp, op->m.file, op->m.dst);
    repl_drain_copied(rp, op->m.file);
    repl_move_end(rp, op, 1);
}


/* Pulled copies whose holder entry could not be written yet. */
static void
repl_records_due(repl_t *rp, int64_t now)
{
    char             pbuf[FSDFS_PATH_MAX + 1], jp[REPL_JFIELD_MAX];
    size_t           plen;
    const char      *path;
    repl_op_t       *op, **pp;
    index_result_t   ir;
    index_journal_t  j = { { NULL }, { NULL }, { jp, NULL } };

    pp = &rp->record;
    while ((op = *pp) != NULL) {
        if (op->due_ms > now) {
            pp = &op->qnext;
            continue;
        }
        path = repl_path(rp, op->m.file, pbuf, &plen);
        repl_jfield(jp, "pull", op->m.dst, path, plen);
        ir = index_holder_j(rp->r, rp->conf->prefix, rp->buckets, path, plen,
                            op->m.dst, 1, &j);
        if (ir == INDEX_ERROR) {
            op->due_ms = now + REPL_RECORD_RETRY_MS;
            pp = &op->qnext;
            continue;
        }
        *pp = op->qnext;
        op->qnext = NULL;
        repl_pull_indexed(rp, op, ir, path, plen, jp, -1);
    }
}


static void
repl_evictions_due(repl_t *rp, int64_t now)
{
    repl_op_t  *op;

    /* cache_ttl is the same for all: the queue is in due order */
    while (rp->wait_head && rp->wait_head->due_ms <= now) {
        op = rp->wait_head;
        rp->wait_head = op->qnext;
        if (rp->wait_head == NULL) {
            rp->wait_tail = NULL;
        }
        op->qnext = NULL;
        if (op->kind == OP_DRAIN) {
            repl_drain_send(rp, op);
        } else {
            repl_evict_send(rp, op, now);
        }
    }
}


/* Drain drops --------------------------------------------------------------- */

static void
repl_drain_end(repl_t *rp, repl_op_t *op, int ok)
{
    planner_drain_done(rp->p, &op->d, ok);
    rp->drains--;
    repl_op_free(rp, op);
}


/* The copy stays: a holder again, in the index and in the planner. */
static void
repl_drain_abort(repl_t *rp, repl_op_t *op, const char *why)
{
    char             pbuf[FSDFS_PATH_MAX + 1], jd[REPL_JFIELD_MAX];
    size_t           plen;
    const char      *path = repl_path(rp, op->d.file, pbuf, &plen);
    index_journal_t  j = { { NULL }, { NULL }, { jd, NULL } };

    fsd_log(FSD_LOG_INFO, "drain %.*s off %u abandoned: %s", (int) plen,
            path, op->d.node, why);
    repl_jfield(jd, "drop", op->d.node, path, plen);
    switch (index_holder_j(rp->r, rp->conf->prefix, rp->buckets, path, plen,
                           op->d.node, 1, &j))
    {
    case INDEX_GONE:
        repl_drop_queue_j(rp, op->d.node, path, plen, jd);
        break;
    case INDEX_ERROR:
        repl_readd_queue(rp, op->d.node, path, plen, jd);
        break;
    default:
        break;
    }
    repl_drain_end(rp, op, 0);
}


static void
repl_drain_start(repl_t *rp, const planner_drain_t *d, int64_t now)
{
    char             pbuf[FSDFS_PATH_MAX + 1], jd[REPL_JFIELD_MAX], jv[64];
    size_t           plen;
    const char      *path;
    repl_op_t       *op;
    index_result_t   res;
    index_journal_t  j = { { jd, NULL }, { jv, NULL }, { NULL } };

    op = repl_op_new(rp, OP_DRAIN);
    if (op == NULL) {
        planner_drain_t  copy = *d;

        planner_drain_done(rp->p, &copy, 0);
        return;
    }
    op->d = *d;
    rp->drains++;
    path = repl_path(rp, d->file, pbuf, &plen);
    fsd_log(FSD_LOG_INFO, "drain %.*s off %u: its copies are elsewhere",
            (int) plen, path, d->node);

    /* readers must stop being sent to the copy before it goes; the
     * journal names it until the drop is confirmed */
    repl_jfield(jd, "drop", d->node, path, plen);
    snprintf(jv, sizeof(jv), "drain epoch=%" PRIu64 " ts=%lld", rp->epoch,
             (long long) fsd_wall_ms());
    res = index_holder_j(rp->r, rp->conf->prefix, rp->buckets, path, plen,
                         d->node, 0, &j);
    if (res == INDEX_ERROR) {
        fsd_log(FSD_LOG_WARN, "drain %.*s off %u: index update failed",
                (int) plen, path, d->node);
        repl_drain_end(rp, op, 0);
        return;
    }
    repl_wait_append(rp, op, now);
}


/* After cache_ttl: drop it if its file still has its copies elsewhere. */
static void
repl_drain_send(repl_t *rp, repl_op_t *op)
{
    char         pbuf[FSDFS_PATH_MAX + 1];
    size_t       plen;
    const char  *path, *url;

    if (!planner_drain_ok(rp->p, &op->d)) {
        repl_drain_abort(rp, op, "it would leave too few copies");
        return;
    }
    path = repl_path(rp, op->d.file, pbuf, &plen);
    url = repl_url(rp, op->d.node);
    if (url == NULL
        || executor_drop(rp->ex, url, path, rp->epoch, op) != 0)
    {
        repl_drain_abort(rp, op, "cannot send the drop");
        return;
    }
    op->phase = PH_EVICT_DROP;
}


static void
repl_drain_dropped(repl_t *rp, repl_op_t *op, const executor_result_t *res)
{
    char         pbuf[FSDFS_PATH_MAX + 1], jd[REPL_JFIELD_MAX];
    size_t       plen;
    const char  *path = repl_path(rp, op->d.file, pbuf, &plen);
    fsd_node_t  *n = state_node(rp->st, op->d.node);

    if (res->outcome == EXECUTOR_OK) {
        fsd_log(FSD_LOG_INFO, "dropped %.*s on %u (drained)", (int) plen,
                path, op->d.node);
        repl_jfield(jd, "drop", op->d.node, path, plen);
        repl_jdel_later(rp, jd);
        rp->counters.drops_done++;
        if (n) {
            n->drain_drops++;
        }
        repl_drain_end(rp, op, 1);
        return;
    }
    rp->counters.drops_failed++;
    rp->fenced |= (res->outcome == EXECUTOR_FENCED);
    repl_drain_abort(rp, op, executor_outcome_name(res->outcome));
}


/* A pull of a file a draining node holds: one more copy made for it. */
static void
repl_drain_copied(repl_t *rp, planner_file_t f)
{
    uint16_t     h[PLANNER_MAX_HOLDERS];
    unsigned     nh, i;
    fsd_node_t  *n;

    nh = planner_file_holders(rp->p, f, h, PLANNER_MAX_HOLDERS);
    for (i = 0; i < nh && i < PLANNER_MAX_HOLDERS; i++) {
        n = state_node(rp->st, h[i]);
        if (n && (n->draining || n->drain_since)) {
            n->drain_copies++;
        }
    }
}


/* Every second: apply the drain flags, publish <prefix>drain:<id>, say
 * once when a draining node is empty. */
static void
repl_drain_tick(repl_t *rp)
{
    char                  key[FSDFS_KEY_MAX];
    unsigned              max_id, i;
    int                   drain;
    uint64_t              files, bytes;
    fsd_node_t          **nodes, *n;
    planner_node_info_t   in;
    redisReply           *rep;

    nodes = state_node_table(rp->st, &max_id);
    for (i = 1; i <= max_id; i++) {
        n = nodes[i];
        if (n == NULL) {
            continue;
        }
        drain = n->draining || n->drain_since;
        snprintf(key, sizeof(key), "%sdrain:%u", rp->conf->prefix, n->id);
        planner_node_info(rp->p, n->id, &in);
        if (drain != in.draining) {
            planner_node_draining(rp->p, n->id, drain);
            planner_drain_left(rp->p, n->id, &files, &bytes);
            fsd_log(FSD_LOG_INFO, drain ? "node %u (%s) drains: %" PRIu64
                    " file(s) to move off" : "node %u (%s) no longer drains"
                    " (%" PRIu64 " file(s) on it)", n->id, n->name, files);
            n->drained = 0;
            n->drain_copies = n->drain_drops = 0;
            if (!drain) {
                freeReplyObject(rds_cmd(rp->r, "DEL %s", key));
            }
        }
        if (!drain) {
            continue;
        }
        planner_drain_left(rp->p, n->id, &files, &bytes);
        rep = rds_cmd(rp->r, "HSET %s since %lld files %" PRIu64 " bytes %"
                      PRIu64 " copies %" PRIu64 " drops %" PRIu64 " live %d"
                      " ts %lld", key, (long long) n->drain_since, files,
                      bytes, n->drain_copies, n->drain_drops,
                      n->live == NODE_LIVE, (long long) fsd_wall_ms());
        freeReplyObject(rep);
        if (files == 0 && !n->drained) {
            fsd_log(FSD_LOG_INFO, "node %u (%s) drained: empty", n->id,
                    n->name);
        }
        n->drained = (files == 0);
    }
}


/* Answers ------------------------------------------------------------------- */

static void
repl_pulled(repl_t *rp, repl_op_t *op, const executor_result_t *res,
    int64_t now)
{
    char             pbuf[FSDFS_PATH_MAX + 1], jp[REPL_JFIELD_MAX];
    size_t           plen;
    const char      *path = repl_path(rp, op->m.file, pbuf, &plen);
    int64_t          avoid, wait;
    index_result_t   ir;
    planner_file_t   f = op->m.file;
    index_journal_t  j = { { NULL }, { NULL }, { jp, NULL } };

    repl_jfield(jp, "pull", op->m.dst, path, plen);

    /* no copy came of it; but after a timeout or a cut connection one
     * may still arrive, so its entry stays for a later reading */
    if (res->outcome == EXECUTOR_TIMEOUT
        || res->outcome == EXECUTOR_UNREACHABLE)
    {
        repl_jleft(rp);
    } else if (res->outcome != EXECUTOR_OK) {
        repl_jdel_later(rp, jp);
    }

    switch (res->outcome) {

    case EXECUTOR_OK:
        ir = index_holder_j(rp->r, rp->conf->prefix, rp->buckets, path, plen,
                            op->m.dst, 1, &j);
        if (ir != INDEX_ERROR) {
            repl_pull_indexed(rp, op, ir, path, plen, jp, res->ms);
            return;
        }
        /* the copy is on the node: planned again it would go elsewhere
         * and this one would fill the node's quota unindexed for good */
        fsd_log(FSD_LOG_WARN, "pulled %.*s to %u, index update failed: "
                "recorded when Redis answers", (int) plen, path, op->m.dst);
        op->phase = PH_RECORD;
        op->due_ms = now + REPL_RECORD_RETRY_MS;
        op->qnext = rp->record;
        rp->record = op;
        return;

    case EXECUTOR_SOURCE_LACKS:
        fsd_log(FSD_LOG_WARN, "pull %.*s to %u: source %u lacks it, no "
                "longer a holder", (int) plen, path, op->m.dst, op->m.src);
        rp->counters.pulls_failed++;
        index_holder(rp->r, rp->conf->prefix, rp->buckets, path, plen,
                     op->m.src, 0);
        planner_file_holder_del(rp->p, f, op->m.src);
        planner_fail(rp->p, f, op->m.dst, now + 1000);
        repl_move_end(rp, op, 0);
        return;

    case EXECUTOR_BUSY:
        /* the node is at its own pull limit or not ready: soon, same pair */
        fsd_log(FSD_LOG_INFO, "pull %.*s to %u: node busy (%ld), again in 1 s",
                (int) plen, path, op->m.dst, res->status);
        planner_fail(rp->p, f, op->m.dst, now + 1000);
        repl_move_end(rp, op, 0);
        return;

    case EXECUTOR_SOURCE_FAILED:
    case EXECUTOR_CHECKSUM:
        /* the source died, stalled or sent other bytes: its pair with the
         * file backs off, so the next try takes another holder if any.
         * The target must come back while the source is still avoided:
         * with both back at once (retry_after 1 s or less) the same bad
         * source was the first choice again. With no other holder the
         * retry could only ask the same source: it waits out its backoff */
        rp->counters.pulls_failed++;
        avoid = repl_fail(rp, f, op->m.src, now);
        wait = avoid;
        if (planner_file_k(rp->p, f) > 1) {
            wait = avoid / 2 < 1000 ? avoid / 2 : 1000;
        }
        fsd_log(FSD_LOG_WARN, "pull %.*s to %u from %u failed: %s (%ld%s%s), "
                "source avoided for %lld ms", (int) plen, path, op->m.dst,
                op->m.src, executor_outcome_name(res->outcome), res->status,
                res->error[0] ? ", " : "", res->error, (long long) avoid);
        planner_fail(rp->p, f, op->m.dst, now + wait);
        if (res->outcome == EXECUTOR_CHECKSUM
            && planner_file_find(rp->p, path, plen) == f)
        {
            repl_check_queue(rp, op->m.src, path, plen,
                             planner_file_sum(rp->p, f));
        }
        repl_move_end(rp, op, 0);
        return;

    case EXECUTOR_FENCED:
        fsd_log(FSD_LOG_WARN, "pull %.*s to %u: node knows a newer epoch",
                (int) plen, path, op->m.dst);
        rp->fenced = 1;
        repl_move_end(rp, op, 0);
        return;

    default:
        rp->counters.pulls_failed++;
        fsd_log(FSD_LOG_WARN, "pull %.*s to %u from %u failed: %s (%ld%s%s), "
                "retry in %lld ms", (int) plen, path, op->m.dst, op->m.src,
                executor_outcome_name(res->outcome), res->status,
                res->error[0] ? ", " : "", res->error,
                (long long) repl_fail(rp, f, op->m.dst, now));
        repl_move_end(rp, op, 0);
        return;
    }
}


/* The holder's answer about its own copy: moved aside (bad bytes, or none
 * at all) and no longer a holder, or kept since it matches the record. */
static void
repl_checked(repl_t *rp, repl_op_t *op, const executor_result_t *res)
{
    planner_file_t  f;
    index_result_t  ir;

    if (res->outcome != EXECUTOR_OK && res->outcome != EXECUTOR_SOURCE_LACKS)
    {
        fsd_log(res->status == 409 ? FSD_LOG_INFO : FSD_LOG_WARN,
                "check of %s on %u: %s (%ld)", op->path, op->node,
                res->status == 409 ? "the copy matches its sum, kept"
                                   : executor_outcome_name(res->outcome),
                res->status);
        rp->fenced |= (res->outcome == EXECUTOR_FENCED);
        return;
    }

    if (!repl_check_current(rp, op)) {
        fsd_log(FSD_LOG_WARN, "check of %s on %u: %s, but the path was "
                "deleted or put again meanwhile: left to the index",
                op->path, op->node, executor_outcome_name(res->outcome));
        return;
    }

    ir = index_holder(rp->r, rp->conf->prefix, rp->buckets, op->path,
                      op->plen, op->node, 0);
    if (ir == INDEX_ERROR) {
        /* the planner keeps it too: as a source it answers 404, and
         * that removes the holder again */
        fsd_log(FSD_LOG_WARN, "check of %s on %u: copy moved aside, but "
                "the index update failed", op->path, op->node);
        return;
    }

    fsd_log(FSD_LOG_WARN, "check of %s on %u: %s, no longer a holder",
            op->path, op->node, res->outcome == EXECUTOR_OK
            ? "other bytes than its record, quarantined on the node"
            : "no copy there");

    f = planner_file_find(rp->p, op->path, op->plen);
    if (f != PLANNER_NOFILE) {
        planner_file_holder_del(rp->p, f, op->node);
    }
}


static void
repl_done(const executor_result_t *res, void *ctx)
{
    char            pbuf[FSDFS_PATH_MAX + 1], jf[REPL_JFIELD_MAX];
    repl_t      *rp = ctx;
    repl_op_t   *op = res->token;
    int64_t      now = fsd_now_ms();
    size_t       plen;
    const char  *path;

    if (op->kind == OP_DROP) {
        rp->drops_inflight--;
        if (res->outcome == EXECUTOR_OK) {
            rp->counters.drops_done++;
            fsd_log(FSD_LOG_INFO, "dropped %s on %u", op->path, op->node);
            repl_op_settled(rp, op, 1);
        } else if (repl_drop_retry(rp, op, res->outcome, now)) {
            fsd_log(FSD_LOG_INFO, "drop %s on %u: %s (%ld), trying again",
                    op->path, op->node, executor_outcome_name(res->outcome),
                    res->status);
            return;
        } else {
            rp->counters.drops_failed++;
            rp->fenced |= (res->outcome == EXECUTOR_FENCED);
            fsd_log(FSD_LOG_WARN, "drop %s on %u failed: %s (%ld)", op->path,
                    op->node, executor_outcome_name(res->outcome),
                    res->status);
            repl_op_settled(rp, op, 0);
        }
        repl_op_free(rp, op);
        return;
    }

    if (op->kind == OP_DRAIN) {
        repl_drain_dropped(rp, op, res);
        return;
    }

    if (op->kind == OP_SETTLE) {
        repl_settle_pulled(rp, op, res);
        repl_op_free(rp, op);
        return;
    }

    if (op->kind == OP_CHECK) {
        rp->drops_inflight--;
        repl_checked(rp, op, res);
        repl_op_free(rp, op);
        return;
    }

    if (op->phase == PH_EVICT_DROP) {
        path = repl_path(rp, op->m.evict, pbuf, &plen);
        if (res->outcome == EXECUTOR_OK) {
            fsd_log(FSD_LOG_INFO, "dropped %.*s on %u (evicted)", (int) plen,
                    path, op->m.dst);
            rp->counters.drops_done++;
            planner_dropped(rp->p, &op->m, 1);
            repl_jfield(jf, "drop", op->m.dst, path, plen);
            repl_jdel_later(rp, jf);
            repl_pull_send(rp, op, now);
            return;
        }
        rp->counters.drops_failed++;
        rp->fenced |= (res->outcome == EXECUTOR_FENCED);
        repl_evict_abort(rp, op, executor_outcome_name(res->outcome), now);
        return;
    }

    repl_pulled(rp, op, res, now);
}


static int64_t
repl_usec(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}


/* Journal settling at takeover ------------------------------------------ */

/* A holder in rec that is live and not dst, or 0. */
static unsigned
repl_live_holder(repl_t *rp, const fsdfs_record_t *rec, unsigned dst)
{
    unsigned     i;
    fsd_node_t  *n;

    for (i = 0; i < rec->nholders; i++) {
        n = state_node(rp->st, rec->holders[i]);
        if (rec->holders[i] != dst && n && n->live == NODE_LIVE) {
            return rec->holders[i];
        }
    }
    return 0;
}


/* The pull may have ended while no master listened: sent again (a node
 * that has the copy answers 200 at once), and indexed on 200. */
static void
repl_settle_pull(repl_t *rp, const char *field, unsigned dst,
    const fsdfs_record_t *rec, const char *path, size_t plen)
{
    unsigned     src = repl_live_holder(rp, rec, dst);
    const char  *url = repl_url(rp, dst);
    repl_op_t   *op;

    if (src == 0 || url == NULL) {
        fsd_log(FSD_LOG_WARN, "journal: \"%s\": no live holder to pull "
                "from, left for later", field);
        repl_jleft(rp);
        return;
    }

    op = repl_op_at(rp, OP_SETTLE, dst, path, plen, field);
    if (op == NULL) {
        return;
    }
    op->sum = rec->sum;

    if (executor_pull(rp->ex, url, op->path, src, rec->size, rec->sum,
                      rp->epoch, op) != 0)
    {
        fsd_log(FSD_LOG_WARN, "journal: \"%s\": cannot send the pull, left "
                "for later", field);
        repl_op_free(rp, op);
        repl_jleft(rp);
        return;
    }
    repl_hold(rp, op, 1);
    op->phase = PH_PULL;
    fsd_log(FSD_LOG_INFO, "journal: \"%s\": pulling again from %u", field,
            src);
}


/* The answer to a settling pull. */
/* Answers a node gives a pull only after finding no copy of its own:
 * a busy (429, 503), refused, fenced or silent node said nothing of its
 * disk, and the last master's pull may still be running there. */
static int
repl_says_absent(executor_outcome_t outcome)
{
    return outcome == EXECUTOR_SOURCE_LACKS
           || outcome == EXECUTOR_SOURCE_FAILED
           || outcome == EXECUTOR_CHECKSUM
           || outcome == EXECUTOR_NO_SPACE;
}


static void
repl_settle_pulled(repl_t *rp, repl_op_t *op, const executor_result_t *res)
{
    planner_file_t   f;
    index_result_t   ir;
    index_journal_t  j = { { NULL }, { NULL }, { op->jfield, NULL } };

    if (res->outcome != EXECUTOR_OK) {
        rp->fenced |= (res->outcome == EXECUTOR_FENCED);
        fsd_log(FSD_LOG_INFO, "journal: \"%s\": pull %s (%ld), %s",
                op->jfield, executor_outcome_name(res->outcome), res->status,
                repl_says_absent(res->outcome) ? "no copy there"
                                               : "left for later");
        repl_op_settled(rp, op, repl_says_absent(res->outcome));
        return;
    }

    ir = index_holder_j(rp->r, rp->conf->prefix, rp->buckets, op->path,
                        op->plen, op->node, 1, &j);
    if (ir == INDEX_GONE) {
        fsd_log(FSD_LOG_INFO, "journal: \"%s\": deleted meanwhile, dropping "
                "it", op->jfield);
        repl_hold(rp, op, 0);
        repl_drop_queue_j(rp, op->node, op->path, op->plen, op->jfield);
        return;
    }
    if (ir == INDEX_ERROR) {
        repl_op_settled(rp, op, 0);
        return;
    }

    f = planner_file_find(rp->p, op->path, op->plen);
    if (f != PLANNER_NOFILE) {
        planner_file_holder_add(rp->p, f, op->node);
    }
    repl_hold(rp, op, 0);
    fsd_log(FSD_LOG_INFO, "journal: \"%s\": settled, %u holds it (%ld ms)",
            op->jfield, op->node, res->ms);
}


/* The entry names an op of this master still under way: it is that op's
 * to settle (after a Redis outage the journal is read again, see
 * repl_tick). Also the entries already settled, not yet deleted. */
static int
repl_entry_busy(repl_t *rp, const char *field)
{
    char         f[REPL_JFIELD_MAX], pbuf[FSDFS_PATH_MAX + 1];
    size_t       plen;
    const char  *path;
    unsigned     i;
    repl_op_t   *op;

    for (i = 0; i < rp->njdel; i++) {
        if (strcmp(rp->jdel[i], field) == 0) {
            return 1;
        }
    }
    for (op = rp->ops; op; op = op->next) {
        if (op->jfield && strcmp(op->jfield, field) == 0) {
            return 1;
        }
        /* a drop left for later must not delete the copy a pull of this
         * master is making on the same node */
        if (op->kind == OP_SETTLE && op->jfield
            && strncmp(op->jfield, "pull ", 5) == 0
            && strncmp(field, "drop ", 5) == 0
            && strcmp(op->jfield + 5, field + 5) == 0)
        {
            return 1;
        }
        if (op->kind == OP_MOVE) {
            path = repl_path(rp, op->m.file, pbuf, &plen);
            repl_jfield(f, "pull", op->m.dst, path, plen);
            if (strcmp(f, field) == 0) {
                return 1;
            }
            repl_jfield(f, "drop", op->m.dst, path, plen);
            if (strcmp(f, field) == 0) {
                return 1;
            }
            if (op->m.evict != PLANNER_NOFILE) {
                path = repl_path(rp, op->m.evict, pbuf, &plen);
                repl_jfield(f, "drop", op->m.dst, path, plen);
                if (strcmp(f, field) == 0) {
                    return 1;
                }
            }
        }
        if (op->kind == OP_DRAIN) {
            path = repl_path(rp, op->d.file, pbuf, &plen);
            repl_jfield(f, "drop", op->d.node, path, plen);
            if (strcmp(f, field) == 0) {
                return 1;
            }
        }
    }
    return 0;
}


/*
 * One entry: "pull <dst> <path>" or "drop <node> <path>", judged by the
 * record in the index (at takeover the planner says the same; after a
 * Redis outage that lost writes, only the index is right about them).
 */
static void
repl_settle_entry(repl_t *rp, const char *field, size_t flen)
{
    char             buf[REPL_JFIELD_MAX], *end, key[FSDFS_KEY_MAX];
    char             rbuf[FSDFS_RECORD_MAX + 1];
    const char      *path = NULL, *bad = NULL;
    size_t           plen = 0;
    unsigned long    id;
    int              pull;
    fsd_node_t      *n;
    fsdfs_record_t   rec;
    redisReply      *rep;
    repl_op_t       *op;
    size_t           shown = flen;

    if (flen >= sizeof(buf) || memchr(field, '\0', flen) != NULL) {
        bad = "too long or binary";
        shown = flen < 64 ? flen : 64;
    }
    memcpy(buf, field, shown);
    buf[shown] = '\0';

    pull = strncmp(buf, "pull ", 5) == 0;
    if (bad == NULL && !pull && strncmp(buf, "drop ", 5) != 0) {
        bad = "unknown kind";
    }
    id = 0;
    if (bad == NULL) {
        id = strtoul(buf + 5, &end, 10);
        if (id == 0 || id > PLANNER_MAX_NODE_ID || *end != ' '
            || buf[5] < '0' || buf[5] > '9')
        {
            bad = "no node id";
        }
    }
    if (bad == NULL) {
        path = end + 1;
        plen = strlen(path);
        bad = fsdfs_path_check(path, plen);
    }
    if (bad) {
        fsd_log(FSD_LOG_WARN, "journal: corrupt entry \"%s\" (%s): removed",
                buf, bad);
        if (shown == flen) {
            repl_jdel_later(rp, buf);
        } else {
            /* buf is only its start: the field itself goes, binary-safe */
            freeReplyObject(rds_cmd(rp->r, "HDEL %s %b", rp->jkey, field,
                                    flen));
        }
        return;
    }

    if (repl_entry_busy(rp, buf)) {
        return;
    }

    n = state_node(rp->st, (unsigned) id);
    if (n == NULL || n->forgotten) {
        fsd_log(FSD_LOG_WARN, "journal: \"%s\": node %lu is %s: removed", buf,
                id, n ? "forgotten" : "unknown");
        repl_jdel_later(rp, buf);
        return;
    }

    fsdfs_key_loc(key, sizeof(key), rp->conf->prefix,
                  fsdfs_bucket(path, plen, rp->buckets));
    rep = rds_cmd(rp->r, "HGET %s %b", key, path, plen);
    if (!rds_is(rep, 0)) {
        freeReplyObject(rep);
        repl_jleft(rp);
        return;
    }

    if (rep->type == REDIS_REPLY_NIL) {
        freeReplyObject(rep);
        fsd_log(FSD_LOG_INFO, "journal: \"%s\": deleted since, dropping the "
                "copy", buf);
        repl_drop_queue_j(rp, (unsigned) id, path, plen, buf);
        return;
    }

    /* the decoded record points into its text: copied out of the reply */
    if (rep->type != REDIS_REPLY_STRING || rep->len > FSDFS_RECORD_MAX
        || (memcpy(rbuf, rep->str, rep->len),
            fsdfs_record_decode(&rec, rbuf, rep->len) != 0))
    {
        freeReplyObject(rep);
        fsd_log(FSD_LOG_WARN, "journal: \"%s\": its record is corrupt: "
                "removed", buf);
        repl_jdel_later(rp, buf);
        return;
    }
    freeReplyObject(rep);

    if (fsdfs_record_has_holder(&rec, (unsigned) id)) {
        fsd_log(FSD_LOG_INFO, "journal: \"%s\": %lu is a holder: settled",
                buf, id);
        repl_jdel_later(rp, buf);
        return;
    }

    if (pull) {
        repl_settle_pull(rp, buf, (unsigned) id, &rec, path, plen);
        return;
    }

    fsd_log(FSD_LOG_INFO, "journal: \"%s\": dropping again", buf);
    op = repl_drop_queue_j(rp, (unsigned) id, path, plen, buf);
    if (op) {
        repl_hold(rp, op, 1);
    }
}


/* Every entry is settled or on its way (drops queued, pulls queued in
 * the executor): at takeover, before any planning, those a previous
 * master left; after a Redis outage, those whose deletion an AOF reload
 * lost along with the index write it went with. */
static void
repl_journal_settle(repl_t *rp, const char *when)
{
    char          cursor[32] = "0";
    size_t        i;
    unsigned      seen = 0;
    redisReply   *rep, *items, *fl;

    rp->jleft = 0;
    rp->jretry_ms = 0;
    do {
        rep = rds_cmd(rp->r, "HSCAN %s %s COUNT 1000", rp->jkey, cursor);
        items = rds_scan_items(rep);
        if (items == NULL) {
            fsd_log(FSD_LOG_WARN, "journal: cannot read %s", rp->jkey);
            freeReplyObject(rep);
            repl_jleft(rp);
            break;
        }
        for (i = 0; i + 1 < items->elements; i += 2) {
            fl = items->element[i];
            if (fl->type == REDIS_REPLY_STRING) {
                repl_settle_entry(rp, fl->str, fl->len);
                seen++;
            }
        }
        snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
        freeReplyObject(rep);
    } while (strcmp(cursor, "0") != 0);

    if (seen) {
        fsd_log(FSD_LOG_INFO, "journal: %u entr%s %s%s", seen,
                seen == 1 ? "y" : "ies", when,
                rp->jleft ? ", some left for later" : "");
    }
    repl_journal_flush(rp);

    /* a dead node's entries wait for it without flooding the log */
    rp->jretry_wait = rp->jleft ? rp->jretry_wait * 2 : REPL_JRETRY_MS;
    if (rp->jretry_wait > REPL_JRETRY_MAX) {
        rp->jretry_wait = REPL_JRETRY_MAX;
    }
}


/* Popularity ---------------------------------------------------------------- */

/* Scales every score of <prefix>pop by 2^-k and sets pop_t0 and
 * pop_half_life, in one script, so no node's ZINCRBY lands between the
 * two: nodes compute with the T0 and H they last read, and their script
 * refuses a batch once either changed. The script first checks that T0
 * and H are still what this master read (t0, h: the exact strings), so
 * the same rescale is never applied twice. Members left below
 * REPL_POP_FLOOR plays go. Returns the members scaled, or -1. */
static const char  repl_scale_lua[] =
    "if redis.call('HGET', KEYS[2], 'pop_t0') ~= ARGV[2] or "
    "redis.call('HGET', KEYS[2], 'pop_half_life') ~= ARGV[3] then "
    "return -1 end\n"
    "local f = 2 ^ (-tonumber(ARGV[1]))\n"
    "local m = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')\n"
    "for i = 1, #m, 2 do\n"
    "  redis.call('ZADD', KEYS[1], tonumber(m[i + 1]) * f, m[i])\n"
    "end\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[6])\n"
    "redis.call('HSET', KEYS[2], 'pop_t0', ARGV[4], 'pop_half_life', ARGV[5])\n"
    "return #m / 2\n";


static long long
repl_pop_scale(repl_t *rp, double k, const char *t0, const char *h,
    long long new_t0, long long new_h)
{
    char         kpop[FSDFS_KEY_MAX], kcfg[FSDFS_KEY_MAX], ks[64], fl[32];
    long long    n = -1;
    redisReply  *rep;

    fsdfs_key(kpop, sizeof(kpop), rp->conf->prefix, "pop");
    fsdfs_key(kcfg, sizeof(kcfg), rp->conf->prefix, "config");
    snprintf(ks, sizeof(ks), "%.17g", k);
    snprintf(fl, sizeof(fl), "%g", REPL_POP_FLOOR);

    rep = rds_cmd(rp->r, "EVAL %s 2 %s %s %s %s %s %lld %lld %s",
                  repl_scale_lua, kpop, kcfg, ks, t0, h, new_t0, new_h, fl);
    if (rds_is(rep, REDIS_REPLY_INTEGER)) {
        n = rep->integer;
    } else {
        fsd_log(FSD_LOG_WARN, "popularity rescale failed%s%s",
                rep && rep->type == REDIS_REPLY_ERROR ? ": " : "",
                rep && rep->type == REDIS_REPLY_ERROR ? rep->str : "");
    }
    freeReplyObject(rep);
    return n;
}


/* The master's half of the encoding nodes use to add hits to <prefix>pop:
 * H is the config's, T0 is set once and only moves at a rescale. When the
 * configured H differs from the one the scores were made with, they are
 * converted: popularity now is kept, T0 becomes now. */
static int
repl_pop_init(repl_t *rp)
{
    char         key[FSDFS_KEY_MAX], t0s[64], hs[64];
    long long    h, now, old_h, n;
    redisReply  *rep;

    fsdfs_key(key, sizeof(key), rp->conf->prefix, "config");
    h = (long long) (rp->conf->pop_half_life_ms / 1000);
    if (h < 1) {
        h = 1;
    }
    now = (long long) (fsd_wall_ms() / 1000);

    rep = rds_cmd(rp->r, "HMGET %s pop_t0 pop_half_life", key);
    if (rds_is(rep, REDIS_REPLY_ARRAY) && rep->elements == 2
        && rep->element[0]->type == REDIS_REPLY_STRING
        && rep->element[1]->type == REDIS_REPLY_STRING
        && rep->element[0]->len < sizeof(t0s) && rep->element[1]->len < sizeof(hs))
    {
        snprintf(t0s, sizeof(t0s), "%s", rep->element[0]->str);
        snprintf(hs, sizeof(hs), "%s", rep->element[1]->str);
        old_h = strtoll(hs, NULL, 10);
        if (old_h >= 1 && old_h != h) {
            n = repl_pop_scale(rp, (double) (now - strtoll(t0s, NULL, 10))
                                   / (double) old_h, t0s, hs, now, h);
            if (n >= 0) {
                fsd_log(FSD_LOG_INFO, "popularity half-life %llds -> %llds: "
                        "%lld member(s) rescaled, pop_t0 is now %lld",
                        old_h, h, n, now);
            }
        }
    }
    freeReplyObject(rep);

    rds_append(rp->r, "HSET %s pop_half_life %lld", key, h);
    rds_append(rp->r, "HSETNX %s pop_t0 %lld", key, now);
    rds_append(rp->r, "HGET %s pop_t0", key);
    freeReplyObject(rds_get(rp->r));
    freeReplyObject(rds_get(rp->r));
    rep = rds_get(rp->r);
    if (!rds_is(rep, REDIS_REPLY_STRING)) {
        freeReplyObject(rep);
        fsd_log(FSD_LOG_WARN, "cannot set %spop_t0: popularity ignored",
                key);
        return -1;
    }

    rp->pop_t0 = strtod(rep->str, NULL);
    snprintf(rp->pop_t0s, sizeof(rp->pop_t0s), "%.*s",
             (int) (rep->len < sizeof(rp->pop_t0s) ? rep->len : 0), rep->str);
    rp->pop_h = (double) h;
    freeReplyObject(rep);
    return 0;
}


/* Scores grow by 2 every half-life: past 2^64 they would lose the plays
 * added now to rounding. Every score is scaled down by 2^k and T0 moves
 * by k half-lives, so every score keeps its meaning. */
static void
repl_pop_rebase(repl_t *rp, double x)
{
    char         hs[64];
    long long    k = (long long) floor(x), n;

    snprintf(hs, sizeof(hs), "%.0f", rp->pop_h);
    n = repl_pop_scale(rp, (double) k, rp->pop_t0s, hs,
                       (long long) rp->pop_t0 + k * (long long) rp->pop_h,
                       (long long) rp->pop_h);
    if (n >= 0) {
        fsd_log(FSD_LOG_INFO, "popularity rebased: %lld member(s) scaled by "
                "2^-%lld, pop_t0 %.0f -> %lld", n, k, rp->pop_t0,
                (long long) rp->pop_t0 + k * (long long) rp->pop_h);
    }

    /* whoever rebased, the config now says where T0 is */
    repl_pop_init(rp);
}


/* Re-reads the records of these paths and recomputes their N. */
static void
repl_pop_reeval(repl_t *rp, char **paths, unsigned n)
{
    char             key[FSDFS_KEY_MAX];
    unsigned         i;
    redisReply      *rep;
    fsdfs_record_t   rec;

    for (i = 0; i < n; i++) {
        fsdfs_key_loc(key, sizeof(key), rp->conf->prefix,
                      fsdfs_bucket(paths[i], strlen(paths[i]), rp->buckets));
        rds_append(rp->r, "HGET %s %b", key, paths[i], strlen(paths[i]));
    }
    for (i = 0; i < n; i++) {
        rep = rds_get(rp->r);
        if (rds_is(rep, REDIS_REPLY_STRING)
            && fsdfs_record_decode(&rec, rep->str, rep->len) == 0)
        {
            repl_on_record(rp, paths[i], strlen(paths[i]), &rec);
        }
        freeReplyObject(rep);
    }
}


/* Every few seconds: who is popular enough to boost, and who stopped
 * being. Cost: the boosted members only, never the whole zset. */
static void
repl_pop_tick(repl_t *rp, int64_t wall_ms)
{
    char          key[FSDFS_KEY_MAX], thr[64], **changed;
    double        min = policy_pop_min(rp->pol), x, scale, pop;
    unsigned      i, nch = 0, boost, slot;
    size_t        got;
    redisReply   *rep, *m, *sc;
    repl_pop_t   *e, *next;

    if (min <= 0 || (rp->pop_h <= 0 && repl_pop_init(rp) != 0)) {
        return;
    }

    x = ((double) wall_ms / 1000 - rp->pop_t0) / rp->pop_h;
    if (x > REPL_POP_REBASE) {
        repl_pop_rebase(rp, x);
        x = ((double) wall_ms / 1000 - rp->pop_t0) / rp->pop_h;
    }
    scale = exp2(x);

    fsdfs_key(key, sizeof(key), rp->conf->prefix, "pop");
    snprintf(thr, sizeof(thr), "%.17g", min * scale);
    rep = rds_cmd(rp->r, "ZREVRANGEBYSCORE %s +inf %s WITHSCORES LIMIT 0 %d",
                  key, thr, REPL_POP_MAX);
    if (!rds_is(rep, REDIS_REPLY_ARRAY)) {
        freeReplyObject(rep);
        return;
    }

    got = rep->elements / 2;
    changed = calloc(got + rp->npop + 1, sizeof(char *));
    if (changed == NULL) {
        freeReplyObject(rep);
        return;
    }
    rp->pop_stamp++;

    for (i = 0; i + 1 < rep->elements; i += 2) {
        m = rep->element[i];
        sc = rep->element[i + 1];
        if (m->type != REDIS_REPLY_STRING || sc->type != REDIS_REPLY_STRING
            || fsdfs_path_check(m->str, m->len) != NULL)
        {
            continue;
        }
        pop = strtod(sc->str, NULL) / scale;
        boost = policy_pop_boost(rp->pol, pop);
        e = repl_pop_find(rp, m->str, m->len);
        if (boost == 0 && e == NULL) {
            continue;
        }
        if (e == NULL && (e = repl_pop_add(rp, m->str, m->len)) == NULL) {
            continue;
        }
        e->pop = pop;
        e->stamp = rp->pop_stamp;
        if (e->boost != boost) {
            fsd_log(FSD_LOG_INFO, "popularity of %s is %.1f: +%u cop%s "
                    "(was +%u)", e->path, pop, boost, boost == 1 ? "y" : "ies",
                    e->boost);
            e->boost = boost;
            changed[nch++] = strdup(e->path);
        }
    }

    /* boosted last time and out of the range now: cooled down (unless the
     * read was cut at REPL_POP_MAX: then they are only further down) */
    if (got < REPL_POP_MAX) {
        for (slot = 0; slot < REPL_POP_SLOTS; slot++) {
            for (e = rp->pop[slot]; e; e = next) {
                next = e->next;
                if (e->stamp == rp->pop_stamp) {
                    continue;
                }
                if (e->boost) {
                    fsd_log(FSD_LOG_INFO, "popularity of %s fell below %g: "
                            "no boost (was +%u)", e->path, min, e->boost);
                    changed[nch++] = strdup(e->path);
                }
                repl_pop_del(rp, e);
            }
        }
    }
    freeReplyObject(rep);

    /* before the load, the load itself reads them with their boost */
    if (rp->loaded) {
        for (i = 0; i < nch; i++) {
            if (changed[i]) {
                repl_pop_reeval(rp, &changed[i], 1);
            }
        }
    }
    for (i = 0; i < nch; i++) {
        free(changed[i]);
    }
    free(changed);
}


/* The term ---------------------------------------------------------------- */

repl_t *
repl_new(rds_t *r, const fsd_conf_t *conf, const unsigned char *key,
    size_t keylen, uint64_t epoch, const char *master,
    repl_keepalive_pt keepalive, void *arg)
{
    repl_t      *rp;
    state_cb_t   cb;

    rp = calloc(1, sizeof(*rp));
    if (rp == NULL) {
        return NULL;
    }

    rp->r = r;
    rp->conf = conf;
    rp->epoch = epoch;
    snprintf(rp->master, sizeof(rp->master), "%s", master);
    rp->keepalive = keepalive;
    rp->keepalive_arg = arg;
    fsdfs_key(rp->jkey, sizeof(rp->jkey), conf->prefix, "inflight");
    rp->back_seen = r->back_wall_ms;
    rp->jretry_wait = REPL_JRETRY_MS;

    memset(&cb, 0, sizeof(cb));
    cb.ctx = rp;
    cb.node = repl_on_node;
    cb.forget = repl_on_forget;
    cb.record = repl_on_record;
    cb.removed = repl_on_removed;
    cb.progress = repl_on_progress;

    rp->p = planner_new(conf->replicas ? conf->replicas : REPL_DEFAULT_N);
    rp->ex = executor_new(key, keylen, (long) conf->pull_timeout_ms);
    rp->st = state_new(r, conf, &cb);
    rp->backoff = calloc(REPL_BACKOFF_SLOTS, sizeof(repl_backoff_t));
    rp->pop = calloc(REPL_POP_SLOTS, sizeof(repl_pop_t *));
    rp->pol = conf->policy;
    if (rp->pol == NULL) {
        rp->pol = rp->own_pol = policy_new();
    }

    if (rp->p == NULL || rp->ex == NULL || rp->st == NULL
        || rp->backoff == NULL || rp->pop == NULL || rp->pol == NULL)
    {
        repl_free(rp);
        return NULL;
    }

    planner_set_reserve(rp->p, conf->reserve_is_pct ? 0 : conf->reserve_bytes,
                        conf->reserve_is_pct
                        ? (unsigned) (conf->reserve_pct * 100 + 0.5) : 0);
    planner_set_limits(rp->p, conf->pulls_in, conf->pulls_out);
    return rp;
}


void
repl_free(repl_t *rp)
{
    unsigned     i;
    repl_pop_t  *e;

    if (rp == NULL) {
        return;
    }

    /* no callbacks: nothing more is written by this term */
    if (rp->ex) {
        executor_free(rp->ex);
    }
    while (rp->ops) {
        repl_op_free(rp, rp->ops);
    }
    state_free(rp->st);
    planner_free(rp->p);
    free(rp->backoff);
    if (rp->pop) {
        for (i = 0; i < REPL_POP_SLOTS; i++) {
            while (rp->pop[i]) {
                e = rp->pop[i];
                rp->pop[i] = e->next;
                free(e);
            }
        }
        free(rp->pop);
    }
    policy_free(rp->own_pol);
    repl_jfree(rp->jset, rp->njset);
    repl_jfree(rp->jval, rp->njset);
    repl_jfree(rp->jdel, rp->njdel);
    free(rp->jset);
    free(rp->jval);
    free(rp->jdel);
    free(rp);
}


/* Limits, default N, node space and load: what may change every second. */
static void
repl_settings(repl_t *rp)
{
    uint32_t      buckets;
    unsigned      replicas, in, out, max_id, i, counted;
    fsd_node_t  **nodes, *n;

    if (state_config(rp->st, &buckets, &replicas, &in, &out) == 0) {
        if (buckets && !rp->buckets) {
            rp->buckets = buckets;
        }
        rp->cfg_replicas = replicas;
        planner_set_limits(rp->p, in ? in : rp->conf->pulls_in,
                           out ? out : rp->conf->pulls_out);
    }

    nodes = state_node_table(rp->st, &max_id);
    rp->counters.nodes_live = 0;
    counted = 0;
    for (i = 1; i <= max_id; i++) {
        n = nodes[i];
        if (n == NULL) {
            continue;
        }
        planner_node_space(rp->p, n->id, n->quota,
                           n->free ? n->free : PLANNER_DISK_UNKNOWN);
        planner_node_load(rp->p, n->id, n->load);
        rp->counters.nodes_live += (n->live == NODE_LIVE);
        counted += (n->live != NODE_DEAD && !n->draining && !n->drain_since);
    }

    /* N is clamped to the nodes there are: two nodes cannot hold three
     * copies, and asking for them would keep the cluster "under" forever */
    replicas = rp->conf->replicas ? rp->conf->replicas
               : rp->cfg_replicas ? rp->cfg_replicas : REPL_DEFAULT_N;
    if (replicas > rp->conf->max_replicas && rp->conf->max_replicas) {
        replicas = rp->conf->max_replicas;
    }
    rp->default_n = replicas;

    /* a file's own N is capped the same way, inside the planner, which
     * keeps the wanted N for when the nodes come back */
    if (counted != rp->live) {
        if (rp->live) {
            fsd_log(FSD_LOG_INFO, "%u node(s) count now: N is capped at %u",
                    counted, counted);
        }
        rp->live = counted;
        planner_set_cap(rp->p, counted);
    }
    if (counted && replicas > counted) {
        replicas = counted;
    }
    if (replicas && replicas != planner_default_n(rp->p)) {
        fsd_log(FSD_LOG_INFO, "default N is now %u", replicas);
        planner_set_default_n(rp->p, replicas);
    }
}


int
repl_takeover(repl_t *rp)
{
    state_load_stats_t  ls;
    uint64_t            mem, paths;

    repl_settings(rp);
    if (rp->buckets == 0) {
        fsd_log(FSD_LOG_ERROR, "no %sconfig buckets: run fsdfs init",
                rp->conf->prefix);
        return -1;
    }

    if (state_nodes(rp->st, fsd_wall_ms()) != 0) {
        return -1;
    }
    repl_settings(rp);

    /* boosted files first, so the load computes their N with it */
    if (repl_pop_init(rp) == 0) {
        repl_pop_tick(rp, fsd_wall_ms());
        rp->pop_next_ms = fsd_now_ms() + REPL_POP_EVERY_MS;
    }

    if (state_load(rp->st, rp->buckets, &ls) != 0) {
        fsd_log(FSD_LOG_WARN, "index load failed or abandoned");
        return -1;
    }

    planner_mem(rp->p, &mem, &paths);
    fsd_log(FSD_LOG_INFO, "index loaded: %" PRIu64 " files in %u buckets, "
            "%" PRIu64 " corrupt, %.3f s (%.0f files/s), planner %" PRIu64
            " bytes", ls.files, rp->buckets, ls.corrupt, ls.secs,
            ls.secs > 0 ? ls.files / ls.secs : 0.0, mem);
    rp->loaded = 1;
    repl_journal_settle(rp, "left by the last master");
    return 0;
}


void
repl_tick(repl_t *rp, int64_t now)
{
    state_nodes(rp->st, fsd_wall_ms());
    repl_settings(rp);
    repl_drain_tick(rp);

    if (rp->loaded && rp->r->back_wall_ms != rp->back_seen) {
        rp->back_seen = rp->r->back_wall_ms;
        repl_journal_settle(rp, "read again after a Redis outage");
    } else if (rp->jretry_ms && now >= rp->jretry_ms) {
        repl_journal_settle(rp, "read again for those left");
    }

    if (now >= rp->pop_next_ms) {
        repl_pop_tick(rp, fsd_wall_ms());
        rp->pop_next_ms = now + REPL_POP_EVERY_MS;
    }

    rp->counters.plan_usec = rp->plan_usec;
    rp->plan_usec = 0;
    rp->counters.policy_clamped = policy_clamped(rp->pol);
    rp->counters.pop_boosted = rp->npop;
    stats_publish(rp->r, rp->conf->prefix, rp->p, &rp->counters, rp->master,
                  rp->epoch);

    /* a pass over every copy: every 5 s, not every second */
    if (now >= rp->nodekn_next_ms) {
        stats_publish_nodekn(rp->r, rp->conf->prefix, rp->p);
        rp->nodekn_next_ms = now + STATS_NODEKN_EVERY_MS;
    }
}


int
repl_step(repl_t *rp, int64_t now, int wait_ms)
{
    int             i;
    int64_t         t0, t1;
    planner_move_t  m;
    planner_drain_t d;

    if (state_events(rp->st, REPL_EVENTS_MAX) < 0) {
        fsd_log(FSD_LOG_DEBUG, "events: read failed");
    }

    /* a node came up: read the table now rather than at the next tick */
    if (state_node_up(rp->st) && state_nodes(rp->st, fsd_wall_ms()) == 0) {
        repl_settings(rp);
    }

    repl_evictions_due(rp, now);
    repl_records_due(rp, now);
    repl_readds_due(rp, now);
    repl_drops_send(rp);
    repl_journal_flush(rp);

    if (!rp->fenced) {
        /* planner time only: the moves' own Redis writes do not count */
        for (i = 0; i < REPL_PLAN_MAX; i++) {
            t0 = repl_usec();
            if (!planner_next(rp->p, now, &m)) {
                rp->plan_usec += (uint64_t) (repl_usec() - t0);
                break;
            }
            t1 = repl_usec();
            rp->plan_usec += (uint64_t) (t1 - t0);
            repl_move_start(rp, &m, now);
        }
        while (rp->drains < REPL_DRAINS_MAX && planner_next_drain(rp->p, &d)) {
            repl_drain_start(rp, &d, now);
        }
        repl_journal_flush(rp);         /* before the executor sends */
    }

    if (executor_run(rp->ex, wait_ms, repl_done, rp) < 0) {
        fsd_log(FSD_LOG_ERROR, "executor failed");
    }

    return rp->fenced ? -1 : 0;
}
