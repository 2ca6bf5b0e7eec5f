/*
 * fsdfs nginx module: the read path.
 *
 * A precontent-phase handler, like try_files: if the file is on this
 * node's disk it declines and nginx's static handler serves it (sendfile,
 * ranges, conditional GET, HEAD) exactly as without the module. Otherwise
 * it finds the holders (shared-memory cache, else one asynchronous HGET),
 * picks a live one by load-weighted rendezvous hashing and answers 302,
 * or hands the request to a proxy location. While Redis answers, the
 * handler returns NGX_AGAIN; the reply (or the request's timer) resumes
 * the phases, which call the handler again to finish. A request marked
 * X-Fsdfs-Local (a peer pulling a copy) is served from this disk or
 * answered 404, never redirected, proxied or looked up.
 */

#include "ngx_http_fsdfs_module.h"

#include "fsdfs_path.h"
#include "fsdfs_hrw.h"


typedef enum {
    NGX_HTTP_FSDFS_WAITING = 0,
    NGX_HTTP_FSDFS_FOUND,
    NGX_HTTP_FSDFS_UNKNOWN,
    NGX_HTTP_FSDFS_FAILED
} ngx_http_fsdfs_result_e;


typedef struct {
    ngx_http_request_t          *request;
    ngx_http_fsdfs_redis_cmd_t  *cmd;
    ngx_event_t                  timer;
    ngx_http_fsdfs_result_e      result;
    ngx_uint_t                   hop;
    ngx_uint_t                   nholders;
    ngx_uint_t                   nstale;
    uint16_t                     holders[FSDFS_MAX_HOLDERS];
    uint16_t                     stale[FSDFS_MAX_HOLDERS];
} ngx_http_fsdfs_ctx_t;


static ngx_int_t ngx_http_fsdfs_holder_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static ngx_str_t  ngx_http_fsdfs_holder_name = ngx_string("fsdfs_holder");
static ngx_int_t  ngx_http_fsdfs_holder_index;


static ngx_int_t
ngx_http_fsdfs_header(ngx_http_request_t *r, char *name, char *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.len = ngx_strlen(name);
    h->key.data = (u_char *) name;
    h->value.len = ngx_strlen(value);
    h->value.data = (u_char *) value;

    return NGX_OK;
}


static ngx_int_t
ngx_http_fsdfs_unavailable(ngx_http_request_t *r, const char *why)
{
    ngx_http_fsdfs_count(unavailable);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "fsdfs: 503: %s", why);

    if (ngx_http_fsdfs_header(r, "Retry-After", "5") != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_HTTP_SERVICE_UNAVAILABLE;
}


/* Is there a request header of this name (any value)? */
static ngx_uint_t
ngx_http_fsdfs_has_header(ngx_http_request_t *r, const char *name, size_t len)
{
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;
    ngx_uint_t        i;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }
            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == len
            && ngx_strncasecmp(h[i].key.data, (u_char *) name, len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/* A GET served from this disk is a play, unless a peer pulls a copy. */
static void
ngx_http_fsdfs_play(ngx_http_request_t *r)
{
    ngx_http_fsdfs_main_conf_t  *fmcf;

    fmcf = ngx_http_get_module_main_conf(r, ngx_http_fsdfs_module);

    if (fmcf->pop_zone == NULL || r->method != NGX_HTTP_GET
        || ngx_http_fsdfs_has_header(r, "X-Fsdfs-Local", 13))
    {
        return;
    }

    ngx_http_fsdfs_pop_hit(fmcf->pop_zone, &r->uri);
}


/* Incoming hop count: ?fsdfs_hop=N from a redirect, X-Fsdfs-Hop from a
 * proxying peer (which must never be bounced on). */
static ngx_uint_t
ngx_http_fsdfs_hop(ngx_http_request_t *r)
{
    ngx_int_t  n;
    ngx_str_t  v;

    if (ngx_http_fsdfs_has_header(r, "X-Fsdfs-Hop", 11)) {
        return NGX_HTTP_FSDFS_MAX_HOPS;
    }

    if (ngx_http_arg(r, (u_char *) "fsdfs_hop", 9, &v) != NGX_OK) {
        return 0;
    }

    n = ngx_atoi(v.data, v.len);

    return (n == NGX_ERROR) ? NGX_HTTP_FSDFS_MAX_HOPS : (ngx_uint_t) n;
}


/* The request's args without any fsdfs_hop=..., for the Location. */
static ngx_str_t
ngx_http_fsdfs_args(ngx_http_request_t *r, u_char *buf)
{
    u_char     *p, *end, *amp, *out;
    ngx_str_t   args;

    out = buf;
    p = r->args.data;
    end = p + r->args.len;

    while (p < end) {
        amp = ngx_strlchr(p, end, '&');
        if (amp == NULL) {
            amp = end;
        }

        if (!(amp - p >= 10 && ngx_strncmp(p, "fsdfs_hop=", 10) == 0)
            && amp > p)
        {
            if (out != buf) {
                *out++ = '&';
            }
            out = ngx_cpymem(out, p, amp - p);
        }

        p = amp + 1;
    }

    args.data = buf;
    args.len = out - buf;

    return args;
}


static ngx_int_t
ngx_http_fsdfs_redirect(ngx_http_request_t *r, ngx_http_fsdfs_node_t *node,
    ngx_uint_t hop)
{
    size_t      len;
    u_char     *p, *buf;
    uintptr_t   escape;
    ngx_str_t   args;

    escape = 2 * ngx_escape_uri(NULL, r->uri.data, r->uri.len,
                                NGX_ESCAPE_URI);

    len = node->url_len + r->uri.len + escape + r->args.len
          + sizeof("?&fsdfs_hop=") + NGX_INT_T_LEN;

    buf = ngx_pnalloc(r->pool, len + r->args.len);
    if (buf == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    args = ngx_http_fsdfs_args(r, buf + len);

    p = ngx_cpymem(buf, node->url, node->url_len);

    if (escape) {
        p = (u_char *) ngx_escape_uri(p, r->uri.data, r->uri.len,
                                      NGX_ESCAPE_URI);
    } else {
        p = ngx_cpymem(p, r->uri.data, r->uri.len);
    }

    *p++ = '?';

    if (args.len) {
        p = ngx_cpymem(p, args.data, args.len);
        *p++ = '&';
    }

    p = ngx_sprintf(p, "fsdfs_hop=%ui", hop + 1);

    ngx_http_clear_location(r);

    r->headers_out.location = ngx_list_push(&r->headers_out.headers);
    if (r->headers_out.location == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.location->hash = 1;
    ngx_str_set(&r->headers_out.location->key, "Location");
    r->headers_out.location->value.data = buf;
    r->headers_out.location->value.len = p - buf;

    ngx_http_fsdfs_count(redirects);

    return NGX_HTTP_MOVED_TEMPORARILY;
}


static ngx_int_t
ngx_http_fsdfs_proxy(ngx_http_request_t *r, ngx_http_fsdfs_loc_conf_t *flcf,
    ngx_http_fsdfs_node_t *node)
{
    u_char                     *url;
    ngx_http_variable_value_t  *vv;

    url = ngx_pnalloc(r->pool, node->url_len);
    if (url == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(url, node->url, node->url_len);

    /* r->variables survive the redirect; module contexts do not */
    vv = &r->variables[ngx_http_fsdfs_holder_index];
    vv->data = url;
    vv->len = node->url_len;
    vv->valid = 1;
    vv->no_cacheable = 0;
    vv->not_found = 0;

    ngx_http_fsdfs_count(proxied);

    (void) ngx_http_named_location(r, &flcf->proxy_location);
    ngx_http_finalize_request(r, NGX_DONE);

    return NGX_DONE;
}


/* The holders that are alive and not this node, with their loads. */
static ngx_uint_t
ngx_http_fsdfs_live(uint16_t *holders, ngx_uint_t n, fsdfs_hrw_node_t *cand,
    ngx_http_fsdfs_node_t **pick)
{
    ngx_uint_t              i, j, nnodes, ncand, self;
    ngx_http_fsdfs_node_t  *nodes;

    nodes = ngx_http_fsdfs_nodes_snapshot(&nnodes);
    self = ngx_http_fsdfs_state()->self_id;
    ncand = 0;

    for (i = 0; i < n; i++) {
        for (j = 0; j < nnodes; j++) {
            if (nodes[j].id == holders[i]) {
                break;
            }
        }

        if (j == nnodes || !nodes[j].alive || nodes[j].id == self
            || nodes[j].url_len == 0)
        {
            continue;
        }

        cand[ncand].id = nodes[j].id;
        cand[ncand].load = nodes[j].load;
        pick[ncand++] = &nodes[j];
    }

    return ncand;
}


/* A live holder other than this node, by rendezvous; then answer. */
static ngx_int_t
ngx_http_fsdfs_answer(ngx_http_request_t *r, ngx_http_fsdfs_loc_conf_t *flcf,
    uint16_t *holders, ngx_uint_t n, ngx_uint_t hop)
{
    ngx_int_t               best;
    ngx_uint_t              ncand;
    fsdfs_hrw_node_t        cand[FSDFS_MAX_HOLDERS];
    ngx_http_fsdfs_node_t  *pick[FSDFS_MAX_HOLDERS];

    if (n == 0) {
        ngx_http_fsdfs_count(not_found);
        return NGX_HTTP_NOT_FOUND;
    }

    if (hop >= NGX_HTTP_FSDFS_MAX_HOPS) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "fsdfs: \"%V\" indexed here or on a peer but not on "
                      "disk after %ui hops", &r->uri, hop);
        return ngx_http_fsdfs_unavailable(r, "hop limit");
    }

    ncand = ngx_http_fsdfs_live(holders, n, cand, pick);
    best = fsdfs_hrw_pick((char *) r->uri.data, r->uri.len, cand, ncand);

    if (best < 0) {
        return ngx_http_fsdfs_unavailable(r, "no live holder");
    }

    if (flcf->miss == NGX_HTTP_FSDFS_MISS_PROXY) {
        return ngx_http_fsdfs_proxy(r, flcf, pick[best]);
    }

    return ngx_http_fsdfs_redirect(r, pick[best], hop);
}


static void
ngx_http_fsdfs_resume(ngx_http_fsdfs_ctx_t *ctx)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r = ctx->request;

    if (ctx->timer.timer_set) {
        ngx_del_timer(&ctx->timer);
    }

    c = r->connection;

    ngx_http_core_run_phases(r);
    ngx_http_run_posted_requests(c);
}


static void
ngx_http_fsdfs_reply(redisReply *reply, void *data)
{
    ngx_uint_t                   i;
    fsdfs_record_t               rec;
    ngx_http_fsdfs_ctx_t        *ctx = data;
    ngx_http_request_t          *r = ctx->request;
    ngx_http_fsdfs_main_conf_t  *fmcf;

    ctx->cmd = NULL;
    fmcf = ngx_http_get_module_main_conf(r, ngx_http_fsdfs_module);

    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        if (reply) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "fsdfs: redis lookup of \"%V\" failed: %s",
                          &r->uri, reply->str);
        }
        ctx->result = NGX_HTTP_FSDFS_FAILED;

    } else if (reply->type != REDIS_REPLY_STRING) {
        ctx->result = NGX_HTTP_FSDFS_UNKNOWN;

    } else if (fsdfs_record_decode(&rec, reply->str, reply->len) != 0) {
        ngx_http_fsdfs_count(corrupt_records);
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "fsdfs: corrupt record for \"%V\" treated as unknown: "
                      "\"%*s\"", &r->uri, ngx_min(reply->len, 200),
                      reply->str);
        ctx->result = NGX_HTTP_FSDFS_UNKNOWN;

    } else {
        ctx->result = NGX_HTTP_FSDFS_FOUND;
        ctx->nholders = rec.nholders;
        for (i = 0; i < rec.nholders; i++) {
            ctx->holders[i] = rec.holders[i];
        }
    }

    /* a record without holders is a lost file, not an unknown one: it is
     * not cached, so its first new copy is seen at once */
    if (ctx->result == NGX_HTTP_FSDFS_FOUND && ctx->nholders) {
        ngx_http_fsdfs_cache_put(fmcf->cache_zone, &r->uri, ctx->holders,
                                 ctx->nholders, fmcf->cache_ttl);

    } else if (ctx->result == NGX_HTTP_FSDFS_UNKNOWN) {
        ctx->nholders = 0;
        ngx_http_fsdfs_cache_put(fmcf->cache_zone, &r->uri, NULL, 0,
                                 fmcf->cache_neg_ttl);
    }

    ngx_http_fsdfs_resume(ctx);
}


static void
ngx_http_fsdfs_timeout(ngx_event_t *ev)
{
    ngx_http_fsdfs_ctx_t  *ctx = ev->data;

    ngx_http_fsdfs_count(redis_timeouts);

    if (ctx->cmd) {
        ngx_http_fsdfs_redis_cancel(ctx->cmd);
        ctx->cmd = NULL;
    }

    ctx->result = NGX_HTTP_FSDFS_FAILED;

    ngx_http_fsdfs_resume(ctx);
}


static void
ngx_http_fsdfs_cleanup(void *data)
{
    ngx_http_fsdfs_ctx_t  *ctx = data;

    if (ctx->cmd) {
        ngx_http_fsdfs_redis_cancel(ctx->cmd);
        ctx->cmd = NULL;
    }

    if (ctx->timer.timer_set) {
        ngx_del_timer(&ctx->timer);
    }
}


/* Second call, after the lookup: turn its result into a response. */
static ngx_int_t
ngx_http_fsdfs_finish(ngx_http_request_t *r, ngx_http_fsdfs_ctx_t *ctx)
{
    ngx_http_fsdfs_loc_conf_t  *flcf;

    flcf = ngx_http_get_module_loc_conf(r, ngx_http_fsdfs_module);

    switch (ctx->result) {

    case NGX_HTTP_FSDFS_WAITING:
        return NGX_AGAIN;

    case NGX_HTTP_FSDFS_FOUND:
        if (ctx->nholders == 0) {
            return ngx_http_fsdfs_unavailable(r, "indexed, no copy left");
        }

        /* fall through */

    case NGX_HTTP_FSDFS_UNKNOWN:
        return ngx_http_fsdfs_answer(r, flcf, ctx->holders, ctx->nholders,
                                     ctx->hop);

    default: /* NGX_HTTP_FSDFS_FAILED */
        if (ctx->nstale) {
            ngx_http_fsdfs_count(cache_stale);
            return ngx_http_fsdfs_answer(r, flcf, ctx->stale, ctx->nstale,
                                         ctx->hop);
        }

        return ngx_http_fsdfs_unavailable(r, "index unreachable");
    }
}


static ngx_int_t
ngx_http_fsdfs_lookup(ngx_http_request_t *r, ngx_http_fsdfs_ctx_t *ctx)
{
    uint32_t                     bucket;
    const char                  *argv[3];
    size_t                       argvlen[3];
    u_char                       key[FSDFS_KEY_MAX];
    int                          klen;
    ngx_pool_cleanup_t          *cln;
    ngx_http_fsdfs_state_t      *st = ngx_http_fsdfs_state();
    ngx_http_fsdfs_main_conf_t  *fmcf;

    fmcf = ngx_http_get_module_main_conf(r, ngx_http_fsdfs_module);

    if (!ngx_http_fsdfs_redis_up() || st->buckets == 0) {
        ctx->result = NGX_HTTP_FSDFS_FAILED;
        return ngx_http_fsdfs_finish(r, ctx);
    }

    bucket = fsdfs_bucket((char *) r->uri.data, r->uri.len, st->buckets);
    klen = fsdfs_key_loc((char *) key, sizeof(key),
                         (char *) fmcf->prefix.data, bucket);

    argv[0] = "HGET";
    argvlen[0] = 4;
    argv[1] = (char *) key;
    argvlen[1] = klen;
    argv[2] = (char *) r->uri.data;
    argvlen[2] = r->uri.len;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->cmd = ngx_http_fsdfs_redis_argv(ngx_http_fsdfs_reply, ctx,
                                         3, argv, argvlen);
    if (ctx->cmd == NULL) {
        ctx->result = NGX_HTTP_FSDFS_FAILED;
        return ngx_http_fsdfs_finish(r, ctx);
    }

    cln->handler = ngx_http_fsdfs_cleanup;
    cln->data = ctx;

    ctx->timer.handler = ngx_http_fsdfs_timeout;
    ctx->timer.data = ctx;
    ctx->timer.log = r->connection->log;
    ngx_add_timer(&ctx->timer, fmcf->redis_timeout);

    ngx_http_fsdfs_count(cache_misses);

    return NGX_AGAIN;
}


/*
 * Is the file on this node's disk? Same test as try_files. NGX_OK: a
 * file; NGX_DONE: a directory (nginx's business: index, 301, 403).
 */
static ngx_int_t
ngx_http_fsdfs_local(ngx_http_request_t *r, off_t *size)
{
    u_char                    *last;
    size_t                     root;
    ngx_str_t                  path;
    ngx_open_file_info_t       of;
    ngx_http_core_loc_conf_t  *clcf;

    last = ngx_http_map_uri_to_path(r, &path, &root, 0);
    if (last == NULL) {
        return NGX_ERROR;
    }

    path.len = last - path.data;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    ngx_memzero(&of, sizeof(ngx_open_file_info_t));
    of.read_ahead = clcf->read_ahead;
    of.directio = clcf->directio;

    /*
     * A peer pulling may ask for a copy that arrived less than
     * open_file_cache_valid ago, after a miss cached "not found": 404
     * would make the master drop this holder from the index. Valid 0
     * re-tests the entry, which refreshes it for the static handler too.
     */
    of.valid = ngx_http_fsdfs_has_header(r, "X-Fsdfs-Local", 13)
               ? 0 : clcf->open_file_cache_valid;
    of.min_uses = clcf->open_file_cache_min_uses;
    of.test_only = 1;
    of.errors = clcf->open_file_cache_errors;
    of.events = clcf->open_file_cache_events;

    if (ngx_http_set_disable_symlinks(r, clcf, &path, &of) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_open_cached_file(clcf->open_file_cache, &path, &of, r->pool)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    *size = of.size;

    return of.is_file ? NGX_OK : of.is_dir ? NGX_DONE : NGX_DECLINED;
}


static ngx_int_t
ngx_http_fsdfs_handler(ngx_http_request_t *r)
{
    off_t                        size;
    ngx_int_t                    rc;
    const char                  *bad;
    fsdfs_hrw_node_t             cand[FSDFS_MAX_HOLDERS];
    ngx_http_fsdfs_ctx_t        *ctx;
    ngx_http_fsdfs_node_t       *pick[FSDFS_MAX_HOLDERS];
    ngx_http_core_loc_conf_t    *clcf;
    ngx_http_fsdfs_loc_conf_t   *flcf;
    ngx_http_fsdfs_main_conf_t  *fmcf;

    flcf = ngx_http_get_module_loc_conf(r, ngx_http_fsdfs_module);
    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    /* named locations are where misses are proxied: never look up again;
     * the command endpoint is not a read path */
    if (!flcf->enable || flcf->commands || r != r->main || clcf->named) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_fsdfs_module);
    if (ctx) {
        return ngx_http_fsdfs_finish(r, ctx);
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        ngx_http_fsdfs_count(rejected);
        if (ngx_http_fsdfs_header(r, "Allow", "GET, HEAD") != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        return NGX_HTTP_NOT_ALLOWED;
    }

    /* directories are nginx's business (index, 301, 403) */
    if (r->uri.len && r->uri.data[r->uri.len - 1] == '/') {
        return NGX_DECLINED;
    }

    bad = fsdfs_path_check((char *) r->uri.data, r->uri.len);
    if (bad) {
        ngx_http_fsdfs_count(rejected);
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "fsdfs: bad path \"%V\": %s", &r->uri, bad);
        return (r->uri.len > FSDFS_PATH_MAX) ? NGX_HTTP_REQUEST_URI_TOO_LARGE
                                             : NGX_HTTP_BAD_REQUEST;
    }

    /* ngx_regex_exec() answers how many pairs fit (0 when the pattern
     * has more groups than the match data holds): negative is no match */
    if (flcf->match
        && ngx_regex_exec(flcf->match, &r->uri, NULL, 0) < 0)
    {
        ngx_http_fsdfs_count(rejected);
        return NGX_HTTP_NOT_FOUND;
    }

    rc = ngx_http_fsdfs_local(r, &size);
    if (rc == NGX_OK || rc == NGX_DONE) {
        if (rc == NGX_OK) {
            ngx_http_fsdfs_count(local);
            ngx_http_fsdfs_play(r);

            /* a peer pulling its copy from here */
            if (ngx_http_fsdfs_has_header(r, "X-Fsdfs-Local", 13)) {
                ngx_http_fsdfs_count(pulls_out);
                ngx_http_fsdfs_count_add(pulls_out_bytes, size);
            }
        }
        return NGX_DECLINED;
    }

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* a peer pulling: this node's own copy or nothing, never a redirect */
    if (ngx_http_fsdfs_has_header(r, "X-Fsdfs-Local", 13)) {
        ngx_http_fsdfs_count(not_found);
        return NGX_HTTP_NOT_FOUND;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_fsdfs_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->request = r;
    ctx->hop = ngx_http_fsdfs_hop(r);
    ngx_http_set_ctx(r, ctx, ngx_http_fsdfs_module);

    fmcf = ngx_http_get_module_main_conf(r, ngx_http_fsdfs_module);

    rc = ngx_http_fsdfs_cache_get(fmcf->cache_zone, &r->uri, ctx->holders,
                                  &ctx->nholders, fmcf->cache_stale);

    /* every cached holder dead: the index may know a newer copy */
    if (rc == NGX_OK && ctx->nholders
        && ngx_http_fsdfs_live(ctx->holders, ctx->nholders, cand, pick) == 0)
    {
        rc = NGX_AGAIN;
    }

    if (rc == NGX_OK) {
        ngx_http_fsdfs_count(cache_hits);
        ctx->result = ctx->nholders ? NGX_HTTP_FSDFS_FOUND
                                    : NGX_HTTP_FSDFS_UNKNOWN;
        return ngx_http_fsdfs_finish(r, ctx);
    }

    if (rc == NGX_AGAIN) {
        ctx->nstale = ctx->nholders;
        ngx_memcpy(ctx->stale, ctx->holders,
                   ctx->nholders * sizeof(uint16_t));
    }

    return ngx_http_fsdfs_lookup(r, ctx);
}


static ngx_int_t
ngx_http_fsdfs_holder_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    /* set by the proxy path before the internal redirect */
    v->not_found = 1;
    return NGX_OK;
}


ngx_int_t
ngx_http_fsdfs_read_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_variable_t        *var;
    ngx_http_core_main_conf_t  *cmcf;

    var = ngx_http_add_variable(cf, &ngx_http_fsdfs_holder_name, 0);
    if (var == NULL) {
        return NGX_ERROR;
    }

    var->get_handler = ngx_http_fsdfs_holder_variable;

    ngx_http_fsdfs_holder_index = ngx_http_get_variable_index(cf,
                                                &ngx_http_fsdfs_holder_name);
    if (ngx_http_fsdfs_holder_index == NGX_ERROR) {
        return NGX_ERROR;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PRECONTENT_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_fsdfs_handler;

    return NGX_OK;
}
