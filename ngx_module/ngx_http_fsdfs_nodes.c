/*
 * fsdfs nginx module: membership, heartbeat and the node table.
 *
 * Worker 0 does the talking: it registers this node's name (name -> id in
 * fsdfs:nodes, ids from INCR fsdfs:node_seq, so a restart keeps its id),
 * writes the node's status hash and alive key every second, and reads
 * every node's url, state, load and liveness into the shared state zone.
 * Every worker copies that table into its own memory when its generation
 * changes, so a lookup never takes a lock. Disk usage comes from a walk
 * of the data root in nginx's thread pool, never in the event loop.
 */

#include "ngx_http_fsdfs_module.h"

#include <ftw.h>
#include <sys/statvfs.h>


#define NGX_HTTP_FSDFS_TICK        1000
#define NGX_HTTP_FSDFS_DISK_EVERY  30


typedef struct {
    ngx_uint_t                   outstanding;
    ngx_uint_t                   failed;
    ngx_uint_t                   n;
    ngx_uint_t                   buckets;
    ngx_http_fsdfs_node_t        nodes[NGX_HTTP_FSDFS_MAX_NODES];
} ngx_http_fsdfs_refresh_t;


static void ngx_http_fsdfs_nodes_tick(ngx_event_t *ev);
static void ngx_http_fsdfs_heartbeat(void);
static void ngx_http_fsdfs_refresh_start(void);
static void ngx_http_fsdfs_disk_post(ngx_cycle_t *cycle);


static ngx_http_fsdfs_state_t      *ngx_http_fsdfs_st;
static ngx_http_fsdfs_main_conf_t  *ngx_http_fsdfs_mcf;
static ngx_event_t                  ngx_http_fsdfs_tick_ev;
static ngx_uint_t                   ngx_http_fsdfs_registering;
static ngx_uint_t                   ngx_http_fsdfs_announce;
static ngx_uint_t                   ngx_http_fsdfs_ticks;
static ngx_http_fsdfs_refresh_t     ngx_http_fsdfs_refresh;

/* this worker's copy of the node table */
static ngx_atomic_uint_t            ngx_http_fsdfs_local_gen;
static ngx_uint_t                   ngx_http_fsdfs_local_n;
static ngx_http_fsdfs_node_t        ngx_http_fsdfs_local[NGX_HTTP_FSDFS_MAX_NODES];

#if (NGX_THREADS)
static ngx_thread_pool_t           *ngx_http_fsdfs_tp;
static ngx_uint_t                   ngx_http_fsdfs_disk_busy;
#endif


ngx_int_t
ngx_http_fsdfs_state_init_zone(ngx_shm_zone_t *zone, void *data)
{
    ngx_slab_pool_t         *shpool;
    ngx_http_fsdfs_state_t  *st;

    shpool = (ngx_slab_pool_t *) zone->shm.addr;

    if (data) {
        zone->data = data;
        ngx_http_fsdfs_st = data;
        return NGX_OK;
    }

    if (zone->shm.exists) {
        zone->data = shpool->data;
        ngx_http_fsdfs_st = shpool->data;
        return NGX_OK;
    }

    st = ngx_slab_calloc(shpool, sizeof(ngx_http_fsdfs_state_t));
    if (st == NULL) {
        return NGX_ERROR;
    }

    if (ngx_shmtx_create(&st->mutex, &st->lock, NULL) != NGX_OK) {
        return NGX_ERROR;
    }

    shpool->data = st;
    zone->data = st;
    ngx_http_fsdfs_st = st;

    return NGX_OK;
}


ngx_http_fsdfs_state_t *
ngx_http_fsdfs_state(void)
{
    return ngx_http_fsdfs_st;
}


ngx_http_fsdfs_node_t *
ngx_http_fsdfs_nodes_snapshot(ngx_uint_t *n)
{
    ngx_http_fsdfs_state_t  *st = ngx_http_fsdfs_st;

    if (ngx_http_fsdfs_local_gen != st->generation) {
        ngx_shmtx_lock(&st->mutex);

        ngx_http_fsdfs_local_n = st->nnodes;
        ngx_memcpy(ngx_http_fsdfs_local, st->nodes,
                   st->nnodes * sizeof(ngx_http_fsdfs_node_t));
        ngx_http_fsdfs_local_gen = st->generation;

        ngx_shmtx_unlock(&st->mutex);
    }

    *n = ngx_http_fsdfs_local_n;

    return ngx_http_fsdfs_local;
}


/* Registration: HGET name; if absent INCR seq, HSETNX, HGET the winner. */

static void ngx_http_fsdfs_register_get(redisReply *reply, void *data);


static void
ngx_http_fsdfs_register_fail(redisReply *reply, const char *step)
{
    ngx_http_fsdfs_registering = 0;

    ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                  "fsdfs: registering node \"%V\" failed at %s: %s",
                  &ngx_http_fsdfs_mcf->name, step,
                  reply && reply->str ? reply->str : "no reply");
}


static void
ngx_http_fsdfs_register_setnx(redisReply *reply, void *data)
{
    if (reply == NULL || reply->type != REDIS_REPLY_INTEGER) {
        ngx_http_fsdfs_register_fail(reply, "HSETNX");
        return;
    }

    if (ngx_http_fsdfs_redis_command(ngx_http_fsdfs_register_get, "final",
                                     "HGET %snodes %b",
                                     ngx_http_fsdfs_mcf->prefix.data,
                                     ngx_http_fsdfs_mcf->name.data,
                                     ngx_http_fsdfs_mcf->name.len)
        == NULL)
    {
        ngx_http_fsdfs_registering = 0;
    }
}


static void
ngx_http_fsdfs_register_incr(redisReply *reply, void *data)
{
    ngx_http_fsdfs_main_conf_t  *fmcf = ngx_http_fsdfs_mcf;

    if (reply == NULL || reply->type != REDIS_REPLY_INTEGER
        || reply->integer < 1 || reply->integer > FSDFS_MAX_NODE_ID)
    {
        ngx_http_fsdfs_register_fail(reply, "INCR");
        return;
    }

    if (ngx_http_fsdfs_redis_command(ngx_http_fsdfs_register_setnx, NULL,
                                     "HSETNX %snodes %b %lld",
                                     fmcf->prefix.data, fmcf->name.data,
                                     fmcf->name.len, reply->integer)
        == NULL)
    {
        ngx_http_fsdfs_registering = 0;
    }
}


static void
ngx_http_fsdfs_register_get(redisReply *reply, void *data)
{
    ngx_int_t                    id;
    ngx_http_fsdfs_main_conf_t  *fmcf = ngx_http_fsdfs_mcf;

    if (reply && reply->type == REDIS_REPLY_NIL && data == NULL) {
        if (ngx_http_fsdfs_redis_command(ngx_http_fsdfs_register_incr, NULL,
                                         "INCR %snode_seq", fmcf->prefix.data)
            == NULL)
        {
            ngx_http_fsdfs_registering = 0;
        }
        return;
    }

    if (reply == NULL || reply->type != REDIS_REPLY_STRING) {
        ngx_http_fsdfs_register_fail(reply, "HGET");
        return;
    }

    id = ngx_atoi((u_char *) reply->str, reply->len);

    if (id < 1 || id > FSDFS_MAX_NODE_ID) {
        ngx_http_fsdfs_register_fail(reply, "HGET (bad id)");
        return;
    }

    ngx_http_fsdfs_st->self_id = id;
    ngx_http_fsdfs_registering = 0;

    ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                  "fsdfs: node \"%V\" is id %i", &fmcf->name, id);

    /* beat and read the table now, not a tick later; once the table is
     * in (commands are answered from then on) a node-up event tells the
     * master, which re-reads the node table at once */
    ngx_http_fsdfs_announce = 1;
    ngx_http_fsdfs_heartbeat();
    ngx_http_fsdfs_refresh_start();
}


static void
ngx_http_fsdfs_register(void)
{
    if (ngx_http_fsdfs_registering) {
        return;
    }

    if (ngx_http_fsdfs_redis_command(ngx_http_fsdfs_register_get, NULL,
                                     "HGET %snodes %b",
                                     ngx_http_fsdfs_mcf->prefix.data,
                                     ngx_http_fsdfs_mcf->name.data,
                                     ngx_http_fsdfs_mcf->name.len)
        != NULL)
    {
        ngx_http_fsdfs_registering = 1;
    }
}


static void
ngx_http_fsdfs_ignore(redisReply *reply, void *data)
{
    if (reply && reply->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "fsdfs: heartbeat %s failed: %s", (char *) data,
                      reply->str);
    }
}


static void
ngx_http_fsdfs_heartbeat(void)
{
    long long                    conns, ts;
    ngx_time_t                  *tp;
    ngx_http_fsdfs_state_t      *st = ngx_http_fsdfs_st;
    ngx_http_fsdfs_main_conf_t  *fmcf = ngx_http_fsdfs_mcf;

#if (NGX_STAT_STUB)
    conns = *ngx_stat_active;
#else
    conns = 0;
#endif

    tp = ngx_timeofday();
    ts = (long long) tp->sec * 1000 + tp->msec;

    /* hiredis formats with printf: plain C conversions only */
    (void) ngx_http_fsdfs_redis_command(ngx_http_fsdfs_ignore, "HSET",
              "HSET %snode:%lld name %b url %b state active quota %lld"
              " used %lld free %lld files %lld load %lld conns %lld"
              " pulls %lld epoch %lld"
              " version " NGX_HTTP_FSDFS_VERSION " ts %lld",
              fmcf->prefix.data, (long long) st->self_id,
              fmcf->name.data, fmcf->name.len, fmcf->url.data, fmcf->url.len,
              (long long) fmcf->quota, (long long) st->disk_used,
              (long long) st->disk_free, (long long) st->disk_files,
              conns, conns, (long long) st->pulls, (long long) st->epoch, ts);

    (void) ngx_http_fsdfs_redis_command(ngx_http_fsdfs_ignore, "SET",
              "SET %salive:%lld 1 PX %d", fmcf->prefix.data,
              (long long) st->self_id, FSDFS_ALIVE_TTL_MS);
}


/*
 * Node table refresh: HGETALL fsdfs:nodes, then for each id one HMGET of
 * its status hash and one EXISTS of its alive key, pipelined; the last
 * reply publishes the whole table at once, or nothing if any failed.
 */

static void
ngx_http_fsdfs_refresh_done(void)
{
    ngx_http_fsdfs_state_t    *st = ngx_http_fsdfs_st;
    ngx_http_fsdfs_refresh_t  *rf = &ngx_http_fsdfs_refresh;

    if (--rf->outstanding || rf->failed) {
        return;
    }

    ngx_shmtx_lock(&st->mutex);

    ngx_memcpy(st->nodes, rf->nodes, rf->n * sizeof(ngx_http_fsdfs_node_t));
    st->nnodes = rf->n;
    st->refreshed = ngx_current_msec;
    st->buckets = rf->buckets;
    st->generation++;

    ngx_shmtx_unlock(&st->mutex);

    if (ngx_http_fsdfs_announce) {
        ngx_http_fsdfs_announce = 0;
        (void) ngx_http_fsdfs_redis_command(ngx_http_fsdfs_ignore, "XADD",
                  "XADD %sevents MAXLEN ~ 100000 * type node-up node %lld",
                  ngx_http_fsdfs_mcf->prefix.data, (long long) st->self_id);
    }
}


static uint64_t
ngx_http_fsdfs_reply_u64(redisReply *e)
{
    off_t  v;

    if (e->type != REDIS_REPLY_STRING) {
        return 0;
    }

    v = ngx_atoof((u_char *) e->str, e->len);

    return (v == NGX_ERROR) ? 0 : (uint64_t) v;
}


static void
ngx_http_fsdfs_refresh_node(redisReply *reply, void *data)
{
    redisReply             **e;
    ngx_int_t                load;
    ngx_http_fsdfs_node_t   *node = data;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements != 8)
    {
        ngx_http_fsdfs_refresh.failed++;
        ngx_http_fsdfs_refresh_done();
        return;
    }

    e = reply->element;

    if (e[0]->type == REDIS_REPLY_STRING && e[0]->len < NGX_HTTP_FSDFS_URL_MAX)
    {
        node->url_len = e[0]->len;
        ngx_memcpy(node->url, e[0]->str, e[0]->len);
    }

    node->active = (e[1]->type != REDIS_REPLY_STRING
                    || ngx_strncmp(e[1]->str, "active", 6) == 0);

    if (e[2]->type == REDIS_REPLY_STRING) {
        load = ngx_atoi((u_char *) e[2]->str, e[2]->len);
        node->load = (load == NGX_ERROR) ? 0 : (ngx_uint_t) load;
    }

    /* name, quota, used, files, pulls: only the status page uses them */
    if (e[3]->type == REDIS_REPLY_STRING
        && e[3]->len < NGX_HTTP_FSDFS_NAME_MAX)
    {
        node->name_len = e[3]->len;
        ngx_memcpy(node->name, e[3]->str, e[3]->len);
    }

    node->quota = ngx_http_fsdfs_reply_u64(e[4]);
    node->used = ngx_http_fsdfs_reply_u64(e[5]);
    node->files = ngx_http_fsdfs_reply_u64(e[6]);
    node->pulls = ngx_http_fsdfs_reply_u64(e[7]);

    ngx_http_fsdfs_refresh_done();
}


static void
ngx_http_fsdfs_refresh_alive(redisReply *reply, void *data)
{
    ngx_http_fsdfs_node_t  *node = data;

    if (reply == NULL || reply->type != REDIS_REPLY_INTEGER) {
        ngx_http_fsdfs_refresh.failed++;

    } else {
        node->alive = (reply->integer == 1);
    }

    ngx_http_fsdfs_refresh_done();
}


static void
ngx_http_fsdfs_refresh_buckets(redisReply *reply, void *data)
{
    ngx_int_t  b;

    if (reply && reply->type == REDIS_REPLY_STRING) {
        b = ngx_atoi((u_char *) reply->str, reply->len);
        if (b > 0 && b <= (ngx_int_t) FSDFS_MAX_BUCKETS) {
            ngx_http_fsdfs_refresh.buckets = b;
        }

    } else if (reply == NULL) {
        ngx_http_fsdfs_refresh.failed++;
    }

    ngx_http_fsdfs_refresh_done();
}


static void
ngx_http_fsdfs_refresh_one(ngx_http_fsdfs_node_t *node)
{
    u_char                      *prefix = ngx_http_fsdfs_mcf->prefix.data;
    ngx_http_fsdfs_refresh_t    *rf = &ngx_http_fsdfs_refresh;

    if (ngx_http_fsdfs_redis_command(ngx_http_fsdfs_refresh_node, node,
                                     "HMGET %snode:%lld url state load name"
                                     " quota used files pulls",
                                     prefix, (long long) node->id)
        == NULL)
    {
        rf->failed++;

    } else {
        rf->outstanding++;
    }

    if (ngx_http_fsdfs_redis_command(ngx_http_fsdfs_refresh_alive, node,
                                     "EXISTS %salive:%lld",
                                     prefix, (long long) node->id)
        == NULL)
    {
        rf->failed++;

    } else {
        rf->outstanding++;
    }
}


/* Our name must still map to our id: an operator may have wiped Redis. */
static void
ngx_http_fsdfs_check_self(redisReply *reply)
{
    size_t                       i;
    redisReply                  *k;
    ngx_http_fsdfs_main_conf_t  *fmcf = ngx_http_fsdfs_mcf;

    for (i = 0; i + 1 < reply->elements; i += 2) {
        k = reply->element[i];
        if (k->type == REDIS_REPLY_STRING && k->len == fmcf->name.len
            && ngx_strncmp(k->str, fmcf->name.data, k->len) == 0)
        {
            return;
        }
    }

    ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                  "fsdfs: node \"%V\" missing from %snodes, registering again",
                  &fmcf->name, fmcf->prefix.data);

    (void) ngx_http_fsdfs_redis_command(ngx_http_fsdfs_ignore, "HSETNX",
                                        "HSETNX %snodes %b %lld",
                                        fmcf->prefix.data, fmcf->name.data,
                                        fmcf->name.len,
                                        (long long) ngx_http_fsdfs_st->self_id);
}


static void
ngx_http_fsdfs_refresh_list(redisReply *reply, void *data)
{
    size_t                     i;
    ngx_int_t                  id;
    redisReply                *v;
    ngx_http_fsdfs_node_t     *node;
    ngx_http_fsdfs_refresh_t  *rf = &ngx_http_fsdfs_refresh;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        rf->failed++;
        ngx_http_fsdfs_refresh_done();
        return;
    }

    ngx_http_fsdfs_check_self(reply);

    for (i = 0; i + 1 < reply->elements; i += 2) {
        v = reply->element[i + 1];
        id = (v->type == REDIS_REPLY_STRING)
             ? ngx_atoi((u_char *) v->str, v->len) : NGX_ERROR;

        if (id < 1 || id > FSDFS_MAX_NODE_ID
            || rf->n == NGX_HTTP_FSDFS_MAX_NODES)
        {
            ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                          "fsdfs: ignoring node entry with id \"%*s\"",
                          v->type == REDIS_REPLY_STRING ? v->len : 0,
                          v->type == REDIS_REPLY_STRING ? v->str : "");
            continue;
        }

        node = &rf->nodes[rf->n++];
        ngx_memzero(node, sizeof(ngx_http_fsdfs_node_t));
        node->id = id;
        node->active = 1;

        ngx_http_fsdfs_refresh_one(node);
    }

    ngx_http_fsdfs_refresh_done();
}


static void
ngx_http_fsdfs_refresh_start(void)
{
    u_char                    *prefix = ngx_http_fsdfs_mcf->prefix.data;
    ngx_http_fsdfs_refresh_t  *rf = &ngx_http_fsdfs_refresh;

    if (rf->outstanding) {
        return;             /* the last round is still out: Redis is slow */
    }

    rf->n = 0;
    rf->failed = 0;
    rf->buckets = 0;

    if (ngx_http_fsdfs_redis_command(ngx_http_fsdfs_refresh_buckets, NULL,
                                     "HGET %sconfig buckets", prefix)
        == NULL)
    {
        return;
    }

    rf->outstanding = 1;

    if (ngx_http_fsdfs_redis_command(ngx_http_fsdfs_refresh_list, NULL,
                                     "HGETALL %snodes", prefix)
        == NULL)
    {
        rf->failed++;
        return;
    }

    rf->outstanding++;
}


static void
ngx_http_fsdfs_nodes_tick(ngx_event_t *ev)
{
    if (ngx_exiting) {
        return;
    }

    ngx_add_timer(ev, NGX_HTTP_FSDFS_TICK);

    if (ngx_http_fsdfs_ticks++ % NGX_HTTP_FSDFS_DISK_EVERY == 0) {
        ngx_http_fsdfs_disk_post((ngx_cycle_t *) ngx_cycle);
    }

    if (ngx_http_fsdfs_redis_up()) {
        ngx_http_fsdfs_nodes_redis_up();
    }
}


/* The master's epoch: a node fences a deposed master even before the new
 * one sends it anything. */
static void
ngx_http_fsdfs_epoch_reply(redisReply *reply, void *data)
{
    uint64_t  epoch;
    size_t    i;

    if (reply == NULL || reply->type != REDIS_REPLY_STRING
        || reply->len == 0 || reply->len > 19)
    {
        return;
    }

    epoch = 0;

    for (i = 0; i < reply->len; i++) {
        if (reply->str[i] < '0' || reply->str[i] > '9') {
            return;
        }
        epoch = epoch * 10 + (reply->str[i] - '0');
    }

    ngx_http_fsdfs_epoch_raise(epoch);
}


/* Register, or beat and refresh; also at once when Redis comes (back) up. */
void
ngx_http_fsdfs_nodes_redis_up(void)
{
    if (ngx_worker != 0 || ngx_http_fsdfs_mcf == NULL) {
        return;
    }

    (void) ngx_http_fsdfs_redis_command(ngx_http_fsdfs_epoch_reply, NULL,
                                        "GET %sepoch",
                                        ngx_http_fsdfs_mcf->prefix.data);

    /* popularity's T0 and half-life, fresh each second */
    ngx_http_fsdfs_pop_tick();

    /* the cluster's figures for the status endpoint */
    ngx_http_fsdfs_status_tick();

    if (ngx_http_fsdfs_st->self_id == 0) {
        ngx_http_fsdfs_register();
        return;
    }

    ngx_http_fsdfs_heartbeat();
    ngx_http_fsdfs_refresh_start();
}


/* Disk usage of the data root, summed in a thread-pool task. */

#if (NGX_THREADS)

typedef struct {
    ngx_str_t                    root;
    off_t                        quota;
    uint64_t                     used;
    uint64_t                     files;
    uint64_t                     free;
} ngx_http_fsdfs_disk_t;


static __thread uint64_t  ngx_http_fsdfs_walk_used;
static __thread uint64_t  ngx_http_fsdfs_walk_files;


static int
ngx_http_fsdfs_walk(const char *path, const struct stat *sb, int flag,
    struct FTW *ftw)
{
    /* a pull's temp file is not a copy yet */
    if (flag == FTW_F && S_ISREG(sb->st_mode)
        && ngx_strncmp(path + ftw->base, NGX_HTTP_FSDFS_TMP_PREFIX,
                       sizeof(NGX_HTTP_FSDFS_TMP_PREFIX) - 1) != 0)
    {
        ngx_http_fsdfs_walk_used += sb->st_size;
        ngx_http_fsdfs_walk_files++;
    }

    return 0;
}


static void
ngx_http_fsdfs_disk_thread(void *data, ngx_log_t *log)
{
    uint64_t                left;
    struct statvfs          vfs;
    ngx_http_fsdfs_disk_t  *d = data;

    ngx_http_fsdfs_walk_used = 0;
    ngx_http_fsdfs_walk_files = 0;

    if (nftw((char *) d->root.data, ngx_http_fsdfs_walk, 32, FTW_PHYS) != 0) {
        ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                      "fsdfs: walking data root \"%V\" failed", &d->root);
    }

    d->used = ngx_http_fsdfs_walk_used;
    d->files = ngx_http_fsdfs_walk_files;
    d->free = 0;

    if (statvfs((char *) d->root.data, &vfs) == 0) {
        d->free = (uint64_t) vfs.f_bavail * vfs.f_frsize;
    }

    /* nodes fill their quota, not the disk: report what is left of it */
    if (d->quota > 0) {
        left = ((uint64_t) d->quota > d->used) ? d->quota - d->used : 0;
        d->free = ngx_min(d->free, left);
    }
}


static void
ngx_http_fsdfs_disk_done(ngx_event_t *ev)
{
    ngx_thread_task_t      *task = ev->data;
    ngx_http_fsdfs_disk_t  *d = task->ctx;

    ngx_http_fsdfs_st->disk_used = d->used;
    ngx_http_fsdfs_st->disk_files = d->files;
    ngx_http_fsdfs_st->disk_free = d->free;
    ngx_http_fsdfs_disk_busy = 0;
}


static void
ngx_http_fsdfs_disk_post(ngx_cycle_t *cycle)
{
    static ngx_thread_task_t   *task;
    ngx_http_fsdfs_disk_t      *d;

    if (ngx_http_fsdfs_tp == NULL || ngx_http_fsdfs_disk_busy
        || ngx_http_fsdfs_mcf->root.len == 0)
    {
        return;
    }

    if (task == NULL) {
        task = ngx_thread_task_alloc(cycle->pool,
                                     sizeof(ngx_http_fsdfs_disk_t));
        if (task == NULL) {
            return;
        }

        d = task->ctx;
        d->root.len = ngx_http_fsdfs_mcf->root.len;
        d->root.data = ngx_pnalloc(cycle->pool, d->root.len + 1);
        if (d->root.data == NULL) {
            task = NULL;
            return;
        }

        ngx_cpystrn(d->root.data, ngx_http_fsdfs_mcf->root.data,
                    d->root.len + 1);
        d->quota = ngx_http_fsdfs_mcf->quota;

        task->handler = ngx_http_fsdfs_disk_thread;
        task->event.handler = ngx_http_fsdfs_disk_done;
        task->event.data = task;
        task->event.log = cycle->log;
    }

    if (ngx_thread_task_post(ngx_http_fsdfs_tp, task) == NGX_OK) {
        ngx_http_fsdfs_disk_busy = 1;
    }
}

#else

static void
ngx_http_fsdfs_disk_post(ngx_cycle_t *cycle)
{
}

#endif


/* the thread pool (fsdfs_thread_pool) is added with the main conf */
ngx_int_t
ngx_http_fsdfs_nodes_conf(ngx_conf_t *cf)
{
    return NGX_OK;
}


ngx_int_t
ngx_http_fsdfs_nodes_init_process(ngx_cycle_t *cycle)
{
    ngx_http_fsdfs_mcf = ngx_http_cycle_get_module_main_conf(cycle,
                                                      ngx_http_fsdfs_module);

    /* one worker speaks for the node; all read the table it writes */
    if (ngx_worker != 0) {
        return NGX_OK;
    }

#if (NGX_THREADS)
    ngx_http_fsdfs_tp = ngx_http_fsdfs_mcf->thread_pool;
#endif

    ngx_http_fsdfs_tick_ev.handler = ngx_http_fsdfs_nodes_tick;
    ngx_http_fsdfs_tick_ev.log = cycle->log;
    ngx_http_fsdfs_tick_ev.data = cycle;
    ngx_http_fsdfs_tick_ev.cancelable = 1;

    ngx_add_timer(&ngx_http_fsdfs_tick_ev, 10);

    return NGX_OK;
}
