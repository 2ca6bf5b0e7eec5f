/*
 * fsdfs nginx module: live popularity, counted in shared memory.
 *
 * Every GET this node answers from its own disk adds one hit to its path
 * in a slab zone shared by all workers: an rbtree keyed by a crc32 of the
 * path with an LRU queue (the shape of limit_req), so a hit costs one
 * short hold of the zone's mutex and no Redis call. The zone is bounded:
 * when it is full the coldest entry goes, and is counted as evicted.
 *
 * Worker 0 empties the zone every `flush` interval, at most a batch of
 * entries at a time (taken from the cold end, a chunk per hold of the
 * mutex), and sends each batch as one EVAL that does ZINCRBY <prefix>pop
 * <delta> <path> for every entry, with delta = hits * 2^((now - T0) / H):
 * a score that decays with half-life H without ever being rewritten, since
 * popularity now = score * 2^(-(now - T0) / H). T0 and H are pop_t0 and
 * pop_half_life in <prefix>config, read every second by the node tick
 * (and set with HSETNX when absent); the script refuses a batch computed
 * with a T0 or H that the master has changed meanwhile, so a rebase never
 * meets a delta of the old scale. A batch that fails or is refused goes
 * back into the zone; one batch at most is in flight. Misses are not
 * counted here: the holder that serves the bytes counts them.
 */

#include "ngx_http_fsdfs_module.h"

#include <math.h>


#define NGX_HTTP_FSDFS_POP_BATCH     1000       /* entries per EVAL */
#define NGX_HTTP_FSDFS_POP_CHUNK     128        /* entries per mutex hold */
#define NGX_HTTP_FSDFS_POP_ARENA     (256 * 1024)
#define NGX_HTTP_FSDFS_POP_BATCHES   64         /* batches per flush, max */
#define NGX_HTTP_FSDFS_POP_DELTA     32
#define NGX_HTTP_FSDFS_POP_NUM       64         /* pop_t0 / half_life text */
#define NGX_HTTP_FSDFS_POP_MAX_EXP   900.0      /* 2^900: far from DBL_MAX */


typedef struct {
    ngx_rbtree_node_t            node;
    ngx_queue_t                  queue;
    uint32_t                     hits;
    u_short                      len;
    u_char                       data[1];   /* the path */
} ngx_http_fsdfs_pop_node_t;


typedef struct {
    ngx_rbtree_t                 rbtree;
    ngx_rbtree_node_t            sentinel;
    ngx_queue_t                  queue;
    ngx_atomic_t                 entries;
    ngx_atomic_t                 hits;
    ngx_atomic_t                 flushed;
    ngx_atomic_t                 evicted;
} ngx_http_fsdfs_pop_sh_t;


/* One entry taken out of the zone, waiting for its batch's reply. */
typedef struct {
    u_char                      *path;
    size_t                       len;
    uint32_t                     hits;
} ngx_http_fsdfs_pop_item_t;


/* Worker 0's flush state: T0 and H as Redis has them, the batch out. */
typedef struct {
    ngx_shm_zone_t              *zone;
    ngx_http_fsdfs_main_conf_t  *fmcf;
    ngx_event_t                  timer;
    ngx_str_t                    pop_key;       /* <prefix>pop */
    ngx_str_t                    config_key;    /* <prefix>config */
    ngx_uint_t                   n;
    ngx_uint_t                   batches;
    size_t                       used;
    ngx_http_fsdfs_pop_item_t   *items;
    u_char                      *arena;
    u_char                      *deltas;
    const char                 **argv;
    size_t                      *argvlen;
    double                       t0;
    double                       half_life;
    u_char                       t0_text[NGX_HTTP_FSDFS_POP_NUM];
    u_char                       hl_text[NGX_HTTP_FSDFS_POP_NUM];
    size_t                       t0_len;
    size_t                       hl_len;
    unsigned                     known:1;
    unsigned                     flushing:1;
    unsigned                     reading:1;
    unsigned                     error_logged:1;
    unsigned                     config_logged:1;
} ngx_http_fsdfs_pop_t;


static void ngx_http_fsdfs_pop_send(void);


static ngx_http_fsdfs_pop_t  ngx_http_fsdfs_pop;

/* KEYS[1] the sorted set, KEYS[2] the config hash; ARGV: T0 and H as
 * read, then delta/path pairs */
static const char  ngx_http_fsdfs_pop_script[] =
    "if redis.call('HGET', KEYS[2], 'pop_t0') ~= ARGV[1] or "
    "redis.call('HGET', KEYS[2], 'pop_half_life') ~= ARGV[2] then "
    "return redis.error_reply('FSDFSSTALE pop_t0 or pop_half_life changed') "
    "end "
    "for i = 3, #ARGV, 2 do "
    "redis.call('ZINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) "
    "end "
    "return (#ARGV - 2) / 2";


/* The directive: fsdfs_popularity zone=NAME:SIZE [flush=T] [min_hits=N] */

char *
ngx_http_fsdfs_pop_set(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_fsdfs_main_conf_t *fmcf = conf;

    u_char      *p;
    ssize_t      size;
    ngx_int_t    n;
    ngx_str_t   *value, name, s;
    ngx_uint_t   i;
    ngx_msec_t   t;

    if (fmcf->pop_zone) {
        return "is duplicate";
    }

    value = cf->args->elts;
    size = 0;
    name.len = 0;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "zone=", 5) == 0) {
            name.data = value[i].data + 5;
            p = (u_char *) ngx_strchr(name.data, ':');
            if (p == NULL) {
                goto invalid;
            }
            name.len = p - name.data;
            s.data = p + 1;
            s.len = value[i].data + value[i].len - s.data;
            size = ngx_parse_size(&s);
            if (name.len == 0 || size == NGX_ERROR
                || size < (ssize_t) (8 * ngx_pagesize))
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid zone \"%V\" in \"%V\" directive, "
                                   "expected zone=NAME:SIZE with SIZE at "
                                   "least %uz", &value[i], &cmd->name,
                                   8 * ngx_pagesize);
                return NGX_CONF_ERROR;
            }
            continue;
        }

        if (ngx_strncmp(value[i].data, "flush=", 6) == 0) {
            s.data = value[i].data + 6;
            s.len = value[i].len - 6;
            t = ngx_parse_time(&s, 0);
            if (t == (ngx_msec_t) NGX_ERROR || t < 100 || t > 3600 * 1000) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid flush interval \"%V\" in \"%V\" "
                                   "directive, expected 100ms to 1h",
                                   &value[i], &cmd->name);
                return NGX_CONF_ERROR;
            }
            fmcf->pop_flush = t;
            continue;
        }

        if (ngx_strncmp(value[i].data, "min_hits=", 9) == 0) {
            n = ngx_atoi(value[i].data + 9, value[i].len - 9);
            if (n < 1 || n > 1000000) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid min_hits \"%V\" in \"%V\" "
                                   "directive, expected 1 to 1000000",
                                   &value[i], &cmd->name);
                return NGX_CONF_ERROR;
            }
            fmcf->pop_min_hits = n;
            continue;
        }

        goto invalid;
    }

    if (name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must have \"zone=NAME:SIZE\" parameter",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    fmcf->pop_zone = ngx_shared_memory_add(cf, &name, size,
                                           &ngx_http_fsdfs_module);
    if (fmcf->pop_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (fmcf->pop_zone->init) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" in \"%V\" directive is already used",
                           &name, &cmd->name);
        return NGX_CONF_ERROR;
    }

    fmcf->pop_zone->init = ngx_http_fsdfs_pop_init_zone;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" in \"%V\" directive",
                       &value[i], &cmd->name);
    return NGX_CONF_ERROR;
}


/* The zone. */

static void
ngx_http_fsdfs_pop_insert(ngx_rbtree_node_t *temp, ngx_rbtree_node_t *node,
    ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t          **p;
    ngx_http_fsdfs_pop_node_t   *pn, *pnt;

    for ( ;; ) {

        if (node->key != temp->key) {
            p = (node->key < temp->key) ? &temp->left : &temp->right;

        } else {
            pn = (ngx_http_fsdfs_pop_node_t *) node;
            pnt = (ngx_http_fsdfs_pop_node_t *) temp;

            p = (ngx_memn2cmp(pn->data, pnt->data, pn->len, pnt->len) < 0)
                ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


ngx_int_t
ngx_http_fsdfs_pop_init_zone(ngx_shm_zone_t *zone, void *data)
{
    ngx_slab_pool_t          *shpool;
    ngx_http_fsdfs_pop_sh_t  *sh;

    if (data) {
        zone->data = data;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) zone->shm.addr;

    if (zone->shm.exists) {
        zone->data = shpool->data;
        return NGX_OK;
    }

    sh = ngx_slab_calloc(shpool, sizeof(ngx_http_fsdfs_pop_sh_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    ngx_rbtree_init(&sh->rbtree, &sh->sentinel, ngx_http_fsdfs_pop_insert);
    ngx_queue_init(&sh->queue);

    shpool->data = sh;
    shpool->log_nomem = 0;
    zone->data = sh;

    return NGX_OK;
}


static ngx_http_fsdfs_pop_node_t *
ngx_http_fsdfs_pop_find(ngx_http_fsdfs_pop_sh_t *sh, u_char *path, size_t len,
    uint32_t hash)
{
    ngx_int_t                   rc;
    ngx_rbtree_node_t          *node, *sentinel;
    ngx_http_fsdfs_pop_node_t  *pn;

    node = sh->rbtree.root;
    sentinel = sh->rbtree.sentinel;

    while (node != sentinel) {

        if (hash != node->key) {
            node = (hash < node->key) ? node->left : node->right;
            continue;
        }

        pn = (ngx_http_fsdfs_pop_node_t *) node;

        rc = ngx_memn2cmp(path, pn->data, len, pn->len);
        if (rc == 0) {
            return pn;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


static void
ngx_http_fsdfs_pop_delete(ngx_slab_pool_t *shpool, ngx_http_fsdfs_pop_sh_t *sh,
    ngx_http_fsdfs_pop_node_t *pn)
{
    ngx_queue_remove(&pn->queue);
    ngx_rbtree_delete(&sh->rbtree, &pn->node);
    ngx_slab_free_locked(shpool, pn);
    sh->entries--;
}


/* Add hits to a path, making room from the cold end; mutex held. */
static void
ngx_http_fsdfs_pop_add_locked(ngx_slab_pool_t *shpool,
    ngx_http_fsdfs_pop_sh_t *sh, u_char *path, size_t len, uint32_t hits)
{
    uint32_t                    hash;
    ngx_uint_t                  i;
    ngx_queue_t                *q;
    ngx_http_fsdfs_pop_node_t  *pn;

    hash = ngx_crc32_short(path, len);

    pn = ngx_http_fsdfs_pop_find(sh, path, len, hash);

    if (pn) {
        pn->hits = (pn->hits > UINT32_MAX - hits) ? UINT32_MAX
                                                   : pn->hits + hits;
        ngx_queue_remove(&pn->queue);
        ngx_queue_insert_head(&sh->queue, &pn->queue);
        return;
    }

    for (i = 0; /* void */; i++) {

        pn = ngx_slab_alloc_locked(shpool,
                         offsetof(ngx_http_fsdfs_pop_node_t, data) + len);
        if (pn) {
            break;
        }

        /* full: the coldest entries make room, their hits are lost */
        if (i == 32 || ngx_queue_empty(&sh->queue)) {
            sh->evicted++;
            return;
        }

        q = ngx_queue_last(&sh->queue);
        ngx_http_fsdfs_pop_delete(shpool, sh,
                          ngx_queue_data(q, ngx_http_fsdfs_pop_node_t, queue));
        sh->evicted++;
    }

    pn->node.key = hash;
    pn->hits = hits;
    pn->len = (u_short) len;
    ngx_memcpy(pn->data, path, len);

    ngx_rbtree_insert(&sh->rbtree, &pn->node);
    ngx_queue_insert_head(&sh->queue, &pn->queue);
    sh->entries++;
}


/* The read path: one hit, under the mutex for a lookup and a few links. */
void
ngx_http_fsdfs_pop_hit(ngx_shm_zone_t *zone, ngx_str_t *path)
{
    ngx_slab_pool_t          *shpool;
    ngx_http_fsdfs_pop_sh_t  *sh;

    if (path->len > 65535) {
        return;
    }

    shpool = (ngx_slab_pool_t *) zone->shm.addr;
    sh = zone->data;

    ngx_shmtx_lock(&shpool->mutex);

    ngx_http_fsdfs_pop_add_locked(shpool, sh, path->data, path->len, 1);
    sh->hits++;

    ngx_shmtx_unlock(&shpool->mutex);
}


void
ngx_http_fsdfs_pop_stats(ngx_http_fsdfs_main_conf_t *fmcf,
    ngx_atomic_uint_t *hits, ngx_atomic_uint_t *flushed,
    ngx_atomic_uint_t *evicted, ngx_atomic_uint_t *entries)
{
    ngx_http_fsdfs_pop_sh_t  *sh;

    if (fmcf->pop_zone == NULL || fmcf->pop_zone->data == NULL) {
        *hits = *flushed = *evicted = *entries = 0;
        return;
    }

    sh = fmcf->pop_zone->data;

    *hits = sh->hits;
    *flushed = sh->flushed;
    *evicted = sh->evicted;
    *entries = sh->entries;
}


/* T0 and H: read each second; set with HSETNX when absent. */

static ngx_int_t
ngx_http_fsdfs_pop_number(redisReply *e, u_char *text, size_t *len,
    double *v)
{
    char  *end;

    if (e->type != REDIS_REPLY_STRING || e->len == 0
        || e->len >= NGX_HTTP_FSDFS_POP_NUM)
    {
        return NGX_ERROR;
    }

    ngx_memcpy(text, e->str, e->len);
    text[e->len] = '\0';

    errno = 0;
    *v = strtod((char *) text, &end);

    if (errno || *end != '\0' || !isfinite(*v)) {
        return NGX_ERROR;
    }

    *len = e->len;

    return NGX_OK;
}


static void
ngx_http_fsdfs_pop_ignore(redisReply *reply, void *data)
{
    if (reply && reply->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "fsdfs: popularity %s failed: %s", (char *) data,
                      reply->str);
    }
}


static void
ngx_http_fsdfs_pop_config_reply(redisReply *reply, void *data)
{
    double                 t0, hl;
    size_t                 t0_len, hl_len;
    u_char                 t0_text[NGX_HTTP_FSDFS_POP_NUM];
    u_char                 hl_text[NGX_HTTP_FSDFS_POP_NUM];
    redisReply           **e;
    ngx_http_fsdfs_pop_t  *pp = &ngx_http_fsdfs_pop;
    u_char                *prefix = pp->fmcf->prefix.data;

    pp->reading = 0;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements != 2)
    {
        return;
    }

    e = reply->element;

    /* the first node to run sets them; the master may change them */
    if (e[0]->type == REDIS_REPLY_NIL || e[1]->type == REDIS_REPLY_NIL) {
        if (e[0]->type == REDIS_REPLY_NIL) {
            (void) ngx_http_fsdfs_redis_command(ngx_http_fsdfs_pop_ignore,
                                                "HSETNX pop_t0",
                                                "HSETNX %sconfig pop_t0 %lld",
                                                prefix,
                                                (long long) ngx_time());
        }

        if (e[1]->type == REDIS_REPLY_NIL) {
            (void) ngx_http_fsdfs_redis_command(ngx_http_fsdfs_pop_ignore,
                                          "HSETNX pop_half_life",
                                          "HSETNX %sconfig pop_half_life 3600",
                                          prefix);
        }

        return;
    }

    if (ngx_http_fsdfs_pop_number(e[0], t0_text, &t0_len, &t0) != NGX_OK
        || ngx_http_fsdfs_pop_number(e[1], hl_text, &hl_len, &hl) != NGX_OK
        || hl <= 0)
    {
        if (!pp->config_logged) {
            pp->config_logged = 1;
            ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                          "fsdfs: %sconfig has a bad pop_t0 \"%*s\" or "
                          "pop_half_life \"%*s\"; popularity not flushed",
                          prefix,
                          e[0]->type == REDIS_REPLY_STRING ? e[0]->len : 0,
                          e[0]->type == REDIS_REPLY_STRING ? e[0]->str : "",
                          e[1]->type == REDIS_REPLY_STRING ? e[1]->len : 0,
                          e[1]->type == REDIS_REPLY_STRING ? e[1]->str : "");
        }

        pp->known = 0;
        return;
    }

    pp->config_logged = 0;
    pp->t0 = t0;
    pp->half_life = hl;
    pp->t0_len = t0_len;
    pp->hl_len = hl_len;
    ngx_memcpy(pp->t0_text, t0_text, t0_len);
    ngx_memcpy(pp->hl_text, hl_text, hl_len);
    pp->known = 1;
}


/* From the node tick, each second, in worker 0 while Redis is up. */
void
ngx_http_fsdfs_pop_tick(void)
{
    ngx_http_fsdfs_pop_t  *pp = &ngx_http_fsdfs_pop;

    if (pp->zone == NULL || pp->reading) {
        return;
    }

    if (ngx_http_fsdfs_redis_command(ngx_http_fsdfs_pop_config_reply, NULL,
                                     "HMGET %sconfig pop_t0 pop_half_life",
                                     pp->fmcf->prefix.data)
        != NULL)
    {
        pp->reading = 1;
    }
}


/* The flush. */

/* Take up to a batch of entries out of the zone, a chunk per mutex hold;
 * those under min_hits are dropped. */
static void
ngx_http_fsdfs_pop_take(void)
{
    ngx_uint_t                  i;
    ngx_queue_t                *q;
    ngx_slab_pool_t            *shpool;
    ngx_http_fsdfs_pop_t       *pp = &ngx_http_fsdfs_pop;
    ngx_http_fsdfs_pop_sh_t    *sh;
    ngx_http_fsdfs_pop_node_t  *pn;
    ngx_http_fsdfs_pop_item_t  *it;

    shpool = (ngx_slab_pool_t *) pp->zone->shm.addr;
    sh = pp->zone->data;

    pp->n = 0;
    pp->used = 0;

    while (pp->n < NGX_HTTP_FSDFS_POP_BATCH) {

        ngx_shmtx_lock(&shpool->mutex);

        for (i = 0; i < NGX_HTTP_FSDFS_POP_CHUNK
                    && pp->n < NGX_HTTP_FSDFS_POP_BATCH; i++)
        {
            if (ngx_queue_empty(&sh->queue)) {
                break;
            }

            q = ngx_queue_last(&sh->queue);
            pn = ngx_queue_data(q, ngx_http_fsdfs_pop_node_t, queue);

            if (pp->used + pn->len > NGX_HTTP_FSDFS_POP_ARENA) {
                break;
            }

            if (pn->hits >= pp->fmcf->pop_min_hits) {
                it = &pp->items[pp->n++];
                it->path = pp->arena + pp->used;
                it->len = pn->len;
                it->hits = pn->hits;
                ngx_memcpy(it->path, pn->data, pn->len);
                pp->used += pn->len;
            }

            ngx_http_fsdfs_pop_delete(shpool, sh, pn);
        }

        ngx_shmtx_unlock(&shpool->mutex);

        if (i < NGX_HTTP_FSDFS_POP_CHUNK) {
            break;          /* empty, or the arena is full */
        }
    }
}


/* A batch that did not land: its hits go back into the zone. */
static void
ngx_http_fsdfs_pop_giveback(void)
{
    ngx_uint_t                  i;
    ngx_slab_pool_t            *shpool;
    ngx_http_fsdfs_pop_t       *pp = &ngx_http_fsdfs_pop;
    ngx_http_fsdfs_pop_sh_t    *sh;
    ngx_http_fsdfs_pop_item_t  *it;

    shpool = (ngx_slab_pool_t *) pp->zone->shm.addr;
    sh = pp->zone->data;

    for (i = 0; i < pp->n; i++) {
        if (i % NGX_HTTP_FSDFS_POP_CHUNK == 0) {
            if (i) {
                ngx_shmtx_unlock(&shpool->mutex);
            }
            ngx_shmtx_lock(&shpool->mutex);
        }

        it = &pp->items[i];
        ngx_http_fsdfs_pop_add_locked(shpool, sh, it->path, it->len,
                                      it->hits);
    }

    if (pp->n) {
        ngx_shmtx_unlock(&shpool->mutex);
    }

    pp->n = 0;
}


static void
ngx_http_fsdfs_pop_reply(redisReply *reply, void *data)
{
    uint64_t                  sum;
    ngx_uint_t                i;
    ngx_http_fsdfs_pop_t     *pp = &ngx_http_fsdfs_pop;
    ngx_http_fsdfs_pop_sh_t  *sh = pp->zone->data;

    pp->flushing = 0;

    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {

        if (reply && ngx_strncmp(reply->str, "FSDFSSTALE", 10) == 0) {
            /* the master rebased T0 or changed H: read them again */
            pp->known = 0;
            ngx_http_fsdfs_pop_tick();

        } else if (reply && !pp->error_logged) {
            pp->error_logged = 1;
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "fsdfs: popularity flush to %spop failed: %s; "
                          "hits kept", pp->fmcf->prefix.data, reply->str);
        }

        ngx_http_fsdfs_pop_giveback();
        return;
    }

    pp->error_logged = 0;

    for (sum = 0, i = 0; i < pp->n; i++) {
        sum += pp->items[i].hits;
    }

    (void) ngx_atomic_fetch_add(&sh->flushed, sum);

    /* a full batch: there may be more, send the next one now */
    if (pp->n == NGX_HTTP_FSDFS_POP_BATCH
        && pp->batches < NGX_HTTP_FSDFS_POP_BATCHES
        && !ngx_exiting)
    {
        ngx_http_fsdfs_pop_send();
        return;
    }

    pp->n = 0;
}


static void
ngx_http_fsdfs_pop_send(void)
{
    int                    argc, len;
    double                 now, e;
    u_char                *d;
    ngx_uint_t             i;
    ngx_time_t            *tp;
    ngx_http_fsdfs_pop_t  *pp = &ngx_http_fsdfs_pop;

    tp = ngx_timeofday();
    now = (double) tp->sec + (double) tp->msec / 1000;
    e = (now - pp->t0) / pp->half_life;

    if (e > NGX_HTTP_FSDFS_POP_MAX_EXP) {
        if (!pp->config_logged) {
            pp->config_logged = 1;
            ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                          "fsdfs: pop_t0 %.0f is %.0f half-lives ago; "
                          "popularity waits for the master to rebase it",
                          pp->t0, e);
        }
        return;
    }

    ngx_http_fsdfs_pop_take();

    if (pp->n == 0) {
        return;
    }

    pp->batches++;

    pp->argv[0] = "EVAL";
    pp->argvlen[0] = 4;
    pp->argv[1] = ngx_http_fsdfs_pop_script;
    pp->argvlen[1] = sizeof(ngx_http_fsdfs_pop_script) - 1;
    pp->argv[2] = "2";
    pp->argvlen[2] = 1;
    pp->argv[3] = (char *) pp->pop_key.data;
    pp->argvlen[3] = pp->pop_key.len;
    pp->argv[4] = (char *) pp->config_key.data;
    pp->argvlen[4] = pp->config_key.len;
    pp->argv[5] = (char *) pp->t0_text;
    pp->argvlen[5] = pp->t0_len;
    pp->argv[6] = (char *) pp->hl_text;
    pp->argvlen[6] = pp->hl_len;
    argc = 7;

    e = exp2(e);

    for (i = 0; i < pp->n; i++) {
        d = pp->deltas + i * NGX_HTTP_FSDFS_POP_DELTA;
        len = snprintf((char *) d, NGX_HTTP_FSDFS_POP_DELTA, "%.17g",
                       pp->items[i].hits * e);

        pp->argv[argc] = (char *) d;
        pp->argvlen[argc++] = len;
        pp->argv[argc] = (char *) pp->items[i].path;
        pp->argvlen[argc++] = pp->items[i].len;
    }

    /* hiredis copies the arguments; the items wait for the reply */
    if (ngx_http_fsdfs_redis_argv(ngx_http_fsdfs_pop_reply, NULL, argc,
                                  pp->argv, pp->argvlen)
        == NULL)
    {
        ngx_http_fsdfs_pop_giveback();
        return;
    }

    pp->flushing = 1;
}


static void
ngx_http_fsdfs_pop_timer(ngx_event_t *ev)
{
    ngx_http_fsdfs_pop_t  *pp = &ngx_http_fsdfs_pop;

    if (ngx_exiting) {
        return;
    }

    ngx_add_timer(ev, pp->fmcf->pop_flush);

    /* Redis down or T0 unknown: the hits wait in the zone, bounded */
    if (pp->flushing || !pp->known || !ngx_http_fsdfs_redis_up()) {
        return;
    }

    pp->batches = 0;
    ngx_http_fsdfs_pop_send();
}


ngx_int_t
ngx_http_fsdfs_pop_init_process(ngx_cycle_t *cycle)
{
    ngx_http_fsdfs_pop_t        *pp = &ngx_http_fsdfs_pop;
    ngx_http_fsdfs_main_conf_t  *fmcf;

    ngx_memzero(pp, sizeof(ngx_http_fsdfs_pop_t));

    fmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_fsdfs_module);

    /* every worker counts; worker 0, the one that beats, flushes */
    if (fmcf->pop_zone == NULL || ngx_worker != 0) {
        return NGX_OK;
    }

    pp->fmcf = fmcf;

    pp->items = ngx_palloc(cycle->pool, NGX_HTTP_FSDFS_POP_BATCH
                                        * sizeof(ngx_http_fsdfs_pop_item_t));
    pp->arena = ngx_palloc(cycle->pool, NGX_HTTP_FSDFS_POP_ARENA);
    pp->deltas = ngx_palloc(cycle->pool, NGX_HTTP_FSDFS_POP_BATCH
                                         * NGX_HTTP_FSDFS_POP_DELTA);
    pp->argv = ngx_palloc(cycle->pool, (7 + 2 * NGX_HTTP_FSDFS_POP_BATCH)
                                       * sizeof(char *));
    pp->argvlen = ngx_palloc(cycle->pool, (7 + 2 * NGX_HTTP_FSDFS_POP_BATCH)
                                          * sizeof(size_t));

    if (pp->items == NULL || pp->arena == NULL || pp->deltas == NULL
        || pp->argv == NULL || pp->argvlen == NULL)
    {
        return NGX_ERROR;
    }

    pp->pop_key.data = ngx_pnalloc(cycle->pool, fmcf->prefix.len + 3);
    pp->config_key.data = ngx_pnalloc(cycle->pool, fmcf->prefix.len + 6);

    if (pp->pop_key.data == NULL || pp->config_key.data == NULL) {
        return NGX_ERROR;
    }

    pp->pop_key.len = ngx_sprintf(pp->pop_key.data, "%Vpop", &fmcf->prefix)
                      - pp->pop_key.data;
    pp->config_key.len = ngx_sprintf(pp->config_key.data, "%Vconfig",
                                     &fmcf->prefix)
                         - pp->config_key.data;

    pp->zone = fmcf->pop_zone;

    pp->timer.handler = ngx_http_fsdfs_pop_timer;
    pp->timer.log = cycle->log;
    pp->timer.data = pp;
    pp->timer.cancelable = 1;

    ngx_add_timer(&pp->timer, fmcf->pop_flush);

    return NGX_OK;
}
