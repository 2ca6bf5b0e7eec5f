/*
 * fsdfs nginx module: the shared-memory lookup cache.
 *
 * path -> holder ids, shared by all workers: an rbtree keyed by a crc32
 * of the path with an LRU queue, in one slab zone (the shape of
 * limit_req). Entries keep holder ids, not URLs, so a holder that dies is
 * skipped at once through the node table even while its entry is fresh.
 * An expired entry is kept for `stale` more seconds: it answers only when
 * Redis cannot. A negative entry (unknown path) has no holders.
 */

#include "ngx_http_fsdfs_module.h"


typedef struct {
    ngx_rbtree_node_t            node;
    ngx_queue_t                  queue;
    time_t                       expire;
    u_short                      len;
    u_char                       nholders;
    u_char                       pad;
    u_char                       data[1];   /* holders (uint16), then path */
} ngx_http_fsdfs_cache_node_t;


typedef struct {
    ngx_rbtree_t                 rbtree;
    ngx_rbtree_node_t            sentinel;
    ngx_queue_t                  queue;
} ngx_http_fsdfs_cache_sh_t;


#define ngx_http_fsdfs_cache_path(cn)                                         \
    ((cn)->data + (cn)->nholders * sizeof(uint16_t))


static void
ngx_http_fsdfs_cache_insert(ngx_rbtree_node_t *temp, ngx_rbtree_node_t *node,
    ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t            **p;
    ngx_http_fsdfs_cache_node_t   *cn, *cnt;

    for ( ;; ) {

        if (node->key != temp->key) {
            p = (node->key < temp->key) ? &temp->left : &temp->right;

        } else {
            cn = (ngx_http_fsdfs_cache_node_t *) node;
            cnt = (ngx_http_fsdfs_cache_node_t *) temp;

            p = (ngx_memn2cmp(ngx_http_fsdfs_cache_path(cn),
                              ngx_http_fsdfs_cache_path(cnt),
                              cn->len, cnt->len) < 0)
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
ngx_http_fsdfs_cache_init_zone(ngx_shm_zone_t *zone, void *data)
{
    ngx_slab_pool_t            *shpool;
    ngx_http_fsdfs_cache_sh_t  *sh;

    if (data) {
        zone->data = data;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) zone->shm.addr;

    if (zone->shm.exists) {
        zone->data = shpool->data;
        return NGX_OK;
    }

    sh = ngx_slab_alloc(shpool, sizeof(ngx_http_fsdfs_cache_sh_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    ngx_rbtree_init(&sh->rbtree, &sh->sentinel, ngx_http_fsdfs_cache_insert);
    ngx_queue_init(&sh->queue);

    shpool->data = sh;
    shpool->log_nomem = 0;
    zone->data = sh;

    return NGX_OK;
}


static ngx_http_fsdfs_cache_node_t *
ngx_http_fsdfs_cache_find(ngx_http_fsdfs_cache_sh_t *sh, ngx_str_t *path,
    uint32_t hash)
{
    ngx_int_t                     rc;
    ngx_rbtree_node_t            *node, *sentinel;
    ngx_http_fsdfs_cache_node_t  *cn;

    node = sh->rbtree.root;
    sentinel = sh->rbtree.sentinel;

    while (node != sentinel) {

        if (hash != node->key) {
            node = (hash < node->key) ? node->left : node->right;
            continue;
        }

        cn = (ngx_http_fsdfs_cache_node_t *) node;

        rc = ngx_memn2cmp(path->data, ngx_http_fsdfs_cache_path(cn),
                          path->len, cn->len);
        if (rc == 0) {
            return cn;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


static void
ngx_http_fsdfs_cache_delete(ngx_slab_pool_t *shpool,
    ngx_http_fsdfs_cache_sh_t *sh, ngx_http_fsdfs_cache_node_t *cn)
{
    ngx_queue_remove(&cn->queue);
    ngx_rbtree_delete(&sh->rbtree, &cn->node);
    ngx_slab_free_locked(shpool, cn);
}


/*
 * NGX_OK: fresh entry (n == 0 means "known unknown"); NGX_AGAIN: expired
 * but within `stale`, use only if Redis fails; NGX_DECLINED: nothing.
 */
ngx_int_t
ngx_http_fsdfs_cache_get(ngx_shm_zone_t *zone, ngx_str_t *path,
    uint16_t *holders, ngx_uint_t *n, time_t stale)
{
    time_t                        now;
    ngx_int_t                     rc;
    ngx_slab_pool_t              *shpool;
    ngx_http_fsdfs_cache_sh_t    *sh;
    ngx_http_fsdfs_cache_node_t  *cn;

    shpool = (ngx_slab_pool_t *) zone->shm.addr;
    sh = zone->data;
    now = ngx_time();

    ngx_shmtx_lock(&shpool->mutex);

    cn = ngx_http_fsdfs_cache_find(sh, path, ngx_crc32_short(path->data,
                                                             path->len));
    if (cn == NULL) {
        rc = NGX_DECLINED;

    } else if (cn->expire + stale < now) {
        ngx_http_fsdfs_cache_delete(shpool, sh, cn);
        rc = NGX_DECLINED;

    } else {
        *n = cn->nholders;
        ngx_memcpy(holders, cn->data, cn->nholders * sizeof(uint16_t));

        ngx_queue_remove(&cn->queue);
        ngx_queue_insert_head(&sh->queue, &cn->queue);

        rc = (now < cn->expire) ? NGX_OK : NGX_AGAIN;
    }

    ngx_shmtx_unlock(&shpool->mutex);

    return rc;
}


static ngx_http_fsdfs_cache_node_t *
ngx_http_fsdfs_cache_alloc(ngx_slab_pool_t *shpool,
    ngx_http_fsdfs_cache_sh_t *sh, size_t size)
{
    ngx_uint_t                    i;
    ngx_queue_t                  *q;
    ngx_http_fsdfs_cache_node_t  *cn;

    for (i = 0; i < 32; i++) {

        cn = ngx_slab_alloc_locked(shpool, size);
        if (cn) {
            return cn;
        }

        /* full: the least recently used entries make room */
        if (ngx_queue_empty(&sh->queue)) {
            return NULL;
        }

        q = ngx_queue_last(&sh->queue);
        ngx_http_fsdfs_cache_delete(shpool, sh,
                  ngx_queue_data(q, ngx_http_fsdfs_cache_node_t, queue));
    }

    return NULL;
}


void
ngx_http_fsdfs_cache_put(ngx_shm_zone_t *zone, ngx_str_t *path,
    uint16_t *holders, ngx_uint_t n, time_t ttl)
{
    size_t                        size;
    uint32_t                      hash;
    ngx_slab_pool_t              *shpool;
    ngx_http_fsdfs_cache_sh_t    *sh;
    ngx_http_fsdfs_cache_node_t  *cn;

    if (ttl == 0 || path->len > 65535 || n > FSDFS_MAX_HOLDERS) {
        return;
    }

    shpool = (ngx_slab_pool_t *) zone->shm.addr;
    sh = zone->data;
    hash = ngx_crc32_short(path->data, path->len);

    ngx_shmtx_lock(&shpool->mutex);

    cn = ngx_http_fsdfs_cache_find(sh, path, hash);

    if (cn && cn->nholders != n) {
        ngx_http_fsdfs_cache_delete(shpool, sh, cn);
        cn = NULL;
    }

    if (cn == NULL) {
        size = offsetof(ngx_http_fsdfs_cache_node_t, data)
               + n * sizeof(uint16_t) + path->len;

        cn = ngx_http_fsdfs_cache_alloc(shpool, sh, size);
        if (cn == NULL) {
            ngx_shmtx_unlock(&shpool->mutex);
            ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                          "fsdfs: cache zone \"%V\" has no room for \"%V\" "
                          "even after evicting; make it larger",
                          &zone->shm.name, path);
            return;
        }

        cn->node.key = hash;
        cn->len = (u_short) path->len;
        cn->nholders = (u_char) n;
        ngx_memcpy(ngx_http_fsdfs_cache_path(cn), path->data, path->len);
        ngx_rbtree_insert(&sh->rbtree, &cn->node);

    } else {
        ngx_queue_remove(&cn->queue);
    }

    if (n) {
        ngx_memcpy(cn->data, holders, n * sizeof(uint16_t));
    }

    cn->expire = ngx_time() + ttl;
    ngx_queue_insert_head(&sh->queue, &cn->queue);

    ngx_shmtx_unlock(&shpool->mutex);
}
