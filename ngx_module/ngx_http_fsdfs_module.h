/*
 * fsdfs nginx module: types shared by its files.
 *
 * One file per concern: ngx_http_fsdfs_module.c (directives, init),
 * _read.c (GET/HEAD path), _redis.c (hiredis in nginx's event loop),
 * _cache.c (shared-memory lookup cache), _nodes.c (membership,
 * heartbeat, node table), _status.c (status endpoint), _commands.c
 * (signed command endpoint: arguments, signature, epoch, JSON answers;
 * drop), _pull.c (pull from a peer in the thread pool, stale temp files),
 * _put.c (store a new file and create its record), _pop.c (live
 * popularity: hits per path in shared memory, flushed to Redis in
 * batches).
 */

#ifndef _NGX_HTTP_FSDFS_MODULE_H_INCLUDED_
#define _NGX_HTTP_FSDFS_MODULE_H_INCLUDED_

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <hiredis/hiredis.h>

#include "fsdfs_addr.h"
#include "fsdfs_record.h"
#include "fsdfs_keys.h"
#include "fsdfs_sign.h"


#define NGX_HTTP_FSDFS_VERSION      "0.2.0"
#define NGX_HTTP_FSDFS_MAX_NODES    1024
#define NGX_HTTP_FSDFS_URL_MAX      128
#define NGX_HTTP_FSDFS_NAME_MAX     32
#define NGX_HTTP_FSDFS_MAX_HOPS     2
#define NGX_HTTP_FSDFS_SECRET_MAX   1024
#define NGX_HTTP_FSDFS_TIME_WINDOW  30          /* seconds, either side */
#define NGX_HTTP_FSDFS_TMP_PREFIX   ".fsdfs-tmp-"

#define NGX_HTTP_FSDFS_MISS_REDIRECT  0
#define NGX_HTTP_FSDFS_MISS_PROXY     1


/* One entry of the node table as every worker sees it. */
typedef struct {
    ngx_uint_t                  id;
    ngx_uint_t                  load;
    unsigned                    alive:1;
    unsigned                    active:1;
    size_t                      url_len;
    u_char                      url[NGX_HTTP_FSDFS_URL_MAX];
    /* from its heartbeat, for the status page only */
    size_t                      name_len;
    u_char                      name[NGX_HTTP_FSDFS_NAME_MAX];
    uint64_t                    quota;
    uint64_t                    used;
    uint64_t                    files;
    uint64_t                    pulls;
} ngx_http_fsdfs_node_t;


/* Counters shown by fsdfs_status; updated with atomic adds. */
typedef struct {
    ngx_atomic_t                local;
    ngx_atomic_t                redirects;
    ngx_atomic_t                proxied;
    ngx_atomic_t                not_found;
    ngx_atomic_t                unavailable;
    ngx_atomic_t                rejected;
    ngx_atomic_t                cache_hits;
    ngx_atomic_t                cache_stale;
    ngx_atomic_t                cache_misses;
    ngx_atomic_t                redis_requests;
    ngx_atomic_t                redis_errors;
    ngx_atomic_t                redis_timeouts;
    ngx_atomic_t                redis_usec;
    ngx_atomic_t                corrupt_records;
    ngx_atomic_t                commands;
    ngx_atomic_t                commands_refused;
    ngx_atomic_t                pulls_done;
    ngx_atomic_t                pulls_failed;
    ngx_atomic_t                pulls_bytes;
    ngx_atomic_t                pulls_out;
    ngx_atomic_t                pulls_out_bytes;
    ngx_atomic_t                drops;
    ngx_atomic_t                puts;
    ngx_atomic_t                puts_bytes;
} ngx_http_fsdfs_counters_t;


#define NGX_HTTP_FSDFS_CSTATS       16
#define NGX_HTTP_FSDFS_KN_MAX       64
#define NGX_HTTP_FSDFS_MASTER_MAX   64

/* The cluster's figures as fsdfsd last published them (<prefix>stats and
 * <prefix>kn), read by the heartbeating worker every second. */
typedef struct {
    time_t                      read;           /* last good read, 0: none */
    uint32_t                    present;        /* bit i: field i is set */
    int64_t                     v[NGX_HTTP_FSDFS_CSTATS];
    size_t                      master_len;
    u_char                      master[NGX_HTTP_FSDFS_MASTER_MAX];
    ngx_uint_t                  nkn;
    ngx_int_t                   kn[NGX_HTTP_FSDFS_KN_MAX];
    uint64_t                    kn_files[NGX_HTTP_FSDFS_KN_MAX];
} ngx_http_fsdfs_cluster_t;


/* The state zone: the node table one worker refreshes each second, this
 * node's identity and status figures, and the counters. */
typedef struct {
    ngx_shmtx_sh_t              lock;
    ngx_shmtx_t                 mutex;
    ngx_atomic_t                generation;     /* bumped on each refresh */
    ngx_atomic_t                self_id;        /* 0 until registered */
    ngx_atomic_t                buckets;        /* 0 until read */
    ngx_atomic_t                disk_used;
    ngx_atomic_t                disk_files;
    ngx_atomic_t                disk_free;
    ngx_atomic_t                epoch;          /* highest seen, fencing */
    ngx_atomic_t                pulls;          /* running, all workers */
    ngx_msec_t                  refreshed;
    ngx_uint_t                  nnodes;
    ngx_http_fsdfs_node_t       nodes[NGX_HTTP_FSDFS_MAX_NODES];
    ngx_http_fsdfs_counters_t   counters;
    ngx_http_fsdfs_cluster_t    cluster;
} ngx_http_fsdfs_state_t;


typedef struct {
    ngx_str_t                   name;
    ngx_str_t                   url;

    ngx_str_t                   redis_addr;     /* as written, for logs */
    ngx_str_t                   redis_host;     /* IP literal, NUL-ended */
    ngx_int_t                   redis_port;
    ngx_str_t                   redis_unix;     /* NUL-ended */
    fsdfs_addr_t               *redis_sentinel; /* sentinel://, or NULL */
    ngx_str_t                   redis_password;
    ngx_int_t                   redis_db;
    ngx_msec_t                  redis_timeout;
    ngx_str_t                   prefix;         /* NUL-ended */

    ngx_shm_zone_t             *cache_zone;
    time_t                      cache_ttl;
    time_t                      cache_neg_ttl;
    time_t                      cache_stale;

    ngx_shm_zone_t             *state_zone;
    off_t                       quota;
    ngx_str_t                   root;           /* data root, for status */

    ngx_str_t                   secret;         /* key bytes, not a string */
    ngx_uint_t                  pull_concurrency;
    ngx_msec_t                  pull_timeout;
    ngx_str_t                   thread_pool_name;
#if (NGX_THREADS)
    ngx_thread_pool_t          *thread_pool;
#endif
    ngx_flag_t                  commands;       /* some fsdfs_commands */

    ngx_shm_zone_t             *pop_zone;       /* NULL: not counted */
    ngx_msec_t                  pop_flush;
    ngx_uint_t                  pop_min_hits;
} ngx_http_fsdfs_main_conf_t;


typedef struct {
    ngx_flag_t                  enable;
    ngx_uint_t                  miss;
    ngx_str_t                   proxy_location;
    ngx_regex_t                *match;
    ngx_str_t                   match_src;
    ngx_flag_t                  commands;
} ngx_http_fsdfs_loc_conf_t;


/* One signed command being carried out; lives in the request pool. */
typedef struct {
    ngx_http_request_t         *request;
    ngx_str_t                   op;             /* "pull", "drop", "put" */
    ngx_str_t                   path;           /* decoded and checked */
    ngx_str_t                   file;           /* <root><path>, NUL-ended */
    size_t                      root_len;
    uint64_t                    size;
    uint64_t                    sum;
    ngx_uint_t                  n;              /* put: explicit N or 0 */
    ngx_http_fsdfs_node_t       source;         /* pull: a copy, not a ref */
    ngx_msec_t                  start;
    ngx_uint_t                  nparams;
    ngx_str_t                   names[FSDFS_SIGN_MAX_PARAMS];
    ngx_str_t                   values[FSDFS_SIGN_MAX_PARAMS];
    unsigned                    path_ok:1;
    unsigned                    has_sum:1;      /* quarantine: sum= given */
    unsigned                    source_down:1;  /* pull: from is not alive */
    unsigned                    dropped:1;
    unsigned                    answered:1;
} ngx_http_fsdfs_command_t;


typedef void (*ngx_http_fsdfs_redis_handler_pt)(redisReply *reply,
    void *data);
typedef struct ngx_http_fsdfs_redis_cmd_s  ngx_http_fsdfs_redis_cmd_t;


extern ngx_module_t  ngx_http_fsdfs_module;


/* _redis.c */
ngx_int_t ngx_http_fsdfs_redis_init_process(ngx_cycle_t *cycle);
void ngx_http_fsdfs_redis_exit_process(void);
ngx_int_t ngx_http_fsdfs_redis_up(void);
ngx_http_fsdfs_redis_cmd_t *ngx_http_fsdfs_redis_command(
    ngx_http_fsdfs_redis_handler_pt h, void *data, const char *fmt, ...);
ngx_http_fsdfs_redis_cmd_t *ngx_http_fsdfs_redis_argv(
    ngx_http_fsdfs_redis_handler_pt h, void *data, int argc,
    const char **argv, const size_t *argvlen);
void ngx_http_fsdfs_redis_cancel(ngx_http_fsdfs_redis_cmd_t *cmd);

/* _cache.c */
ngx_int_t ngx_http_fsdfs_cache_init_zone(ngx_shm_zone_t *zone, void *data);
ngx_int_t ngx_http_fsdfs_cache_get(ngx_shm_zone_t *zone, ngx_str_t *path,
    uint16_t *holders, ngx_uint_t *n, time_t stale);
void ngx_http_fsdfs_cache_put(ngx_shm_zone_t *zone, ngx_str_t *path,
    uint16_t *holders, ngx_uint_t n, time_t ttl);

/* _nodes.c */
ngx_int_t ngx_http_fsdfs_state_init_zone(ngx_shm_zone_t *zone, void *data);
ngx_int_t ngx_http_fsdfs_nodes_conf(ngx_conf_t *cf);
ngx_int_t ngx_http_fsdfs_nodes_init_process(ngx_cycle_t *cycle);
ngx_http_fsdfs_state_t *ngx_http_fsdfs_state(void);
ngx_http_fsdfs_node_t *ngx_http_fsdfs_nodes_snapshot(ngx_uint_t *n);
void ngx_http_fsdfs_nodes_redis_up(void);

/* _read.c */
ngx_int_t ngx_http_fsdfs_read_init(ngx_conf_t *cf);

/* _commands.c */
char *ngx_http_fsdfs_commands_set(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
void ngx_http_fsdfs_epoch_raise(uint64_t epoch);
void ngx_http_fsdfs_guard(ngx_event_t *ev);
ngx_int_t ngx_http_fsdfs_command_answer(ngx_http_fsdfs_command_t *cmd,
    ngx_uint_t status, const char *error);
void ngx_http_fsdfs_command_finish(ngx_http_fsdfs_command_t *cmd,
    ngx_uint_t status, const char *error);
#if (NGX_THREADS)
ngx_int_t ngx_http_fsdfs_command_post(ngx_http_fsdfs_command_t *cmd,
    ngx_thread_task_t *task, void (*handler)(void *data, ngx_log_t *log),
    ngx_event_handler_pt done);
#endif
ngx_int_t ngx_http_fsdfs_mkdirs(char *file, size_t from, ngx_log_t *log);
void ngx_http_fsdfs_disk_adjust(uint64_t size, ngx_uint_t neg);
ngx_int_t ngx_http_fsdfs_space(ngx_http_fsdfs_main_conf_t *fmcf,
    const char *root, uint64_t size, const char **error);

/* _pull.c */
ngx_int_t ngx_http_fsdfs_pull(ngx_http_fsdfs_command_t *cmd);
ngx_int_t ngx_http_fsdfs_pull_init_process(ngx_cycle_t *cycle);
ngx_int_t ngx_http_fsdfs_tmp_name(char *buf, size_t cap, const char *file);

/* _put.c */
ngx_int_t ngx_http_fsdfs_put(ngx_http_fsdfs_command_t *cmd);

/* _inventory.c */
ngx_int_t ngx_http_fsdfs_inventory(ngx_http_fsdfs_command_t *cmd);
ngx_int_t ngx_http_fsdfs_quarantine(ngx_http_fsdfs_command_t *cmd);

/* _pop.c */
char *ngx_http_fsdfs_pop_set(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
ngx_int_t ngx_http_fsdfs_pop_init_zone(ngx_shm_zone_t *zone, void *data);
ngx_int_t ngx_http_fsdfs_pop_init_process(ngx_cycle_t *cycle);
void ngx_http_fsdfs_pop_hit(ngx_shm_zone_t *zone, ngx_str_t *path);
void ngx_http_fsdfs_pop_tick(void);
void ngx_http_fsdfs_pop_stats(ngx_http_fsdfs_main_conf_t *fmcf,
    ngx_atomic_uint_t *hits, ngx_atomic_uint_t *flushed,
    ngx_atomic_uint_t *evicted, ngx_atomic_uint_t *entries);

/* _status.c */
char *ngx_http_fsdfs_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
void ngx_http_fsdfs_status_tick(void);


#define ngx_http_fsdfs_count(name)                                            \
    (void) ngx_atomic_fetch_add(&ngx_http_fsdfs_state()->counters.name, 1)

#define ngx_http_fsdfs_count_add(name, n)                                     \
    (void) ngx_atomic_fetch_add(&ngx_http_fsdfs_state()->counters.name,       \
                                (ngx_atomic_int_t) (n))


#endif /* _NGX_HTTP_FSDFS_MODULE_H_INCLUDED_ */
