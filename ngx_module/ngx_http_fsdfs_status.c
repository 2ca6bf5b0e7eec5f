/*
 * fsdfs nginx module: the status endpoint.
 *
 * `fsdfs_status;` in a location answers with this node's identity, its
 * counters (summed over workers through the state zone), its disk figures
 * and the node table as this worker sees it: JSON by default, Prometheus
 * text with ?format=prometheus, so any node can be scraped.
 */

#include "ngx_http_fsdfs_module.h"


typedef struct {
    const char  *name;
    size_t       offset;
    const char  *help;
} ngx_http_fsdfs_metric_t;


#define ngx_http_fsdfs_ctr(name, help)                                        \
    { #name, offsetof(ngx_http_fsdfs_counters_t, name), help }

static ngx_http_fsdfs_metric_t  ngx_http_fsdfs_metrics[] = {
    ngx_http_fsdfs_ctr(local, "requests served from local disk"),
    ngx_http_fsdfs_ctr(redirects, "requests redirected to a holder"),
    ngx_http_fsdfs_ctr(proxied, "requests proxied to a holder"),
    ngx_http_fsdfs_ctr(not_found, "requests for paths not in the index"),
    ngx_http_fsdfs_ctr(unavailable, "503 answers: no live holder or index"),
    ngx_http_fsdfs_ctr(rejected, "bad method, bad path or outside match"),
    ngx_http_fsdfs_ctr(cache_hits, "lookups answered by the shm cache"),
    ngx_http_fsdfs_ctr(cache_stale, "lookups answered by a stale entry"),
    ngx_http_fsdfs_ctr(cache_misses, "lookups sent to redis"),
    ngx_http_fsdfs_ctr(redis_requests, "redis commands sent"),
    ngx_http_fsdfs_ctr(redis_errors, "redis commands without a reply"),
    ngx_http_fsdfs_ctr(redis_timeouts, "lookups that timed out"),
    ngx_http_fsdfs_ctr(redis_usec, "total redis reply latency, usec (ms steps)"),
    ngx_http_fsdfs_ctr(corrupt_records, "index records that failed to decode"),
    ngx_http_fsdfs_ctr(commands, "signed commands accepted"),
    ngx_http_fsdfs_ctr(commands_refused, "commands refused: signature, time, epoch"),
    ngx_http_fsdfs_ctr(pulls_done, "pulls that left a copy here"),
    ngx_http_fsdfs_ctr(pulls_failed, "pulls that failed"),
    ngx_http_fsdfs_ctr(drops, "copies dropped"),
    ngx_http_fsdfs_ctr(puts, "files stored and indexed by put"),
    { NULL, 0, NULL }
};


#define ngx_http_fsdfs_counter(st, m)                                         \
    (*(ngx_atomic_t *) ((u_char *) &(st)->counters + (m)->offset))


static u_char *
ngx_http_fsdfs_status_json(ngx_http_request_t *r, u_char *p, u_char *last)
{
    ngx_uint_t                   i, n;
    ngx_atomic_uint_t            hits, flushed, evicted, entries;
    ngx_http_fsdfs_node_t       *nodes;
    ngx_http_fsdfs_metric_t     *m;
    ngx_http_fsdfs_state_t      *st = ngx_http_fsdfs_state();
    ngx_http_fsdfs_main_conf_t  *fmcf;

    fmcf = ngx_http_get_module_main_conf(r, ngx_http_fsdfs_module);

    p = ngx_slprintf(p, last, "{\"node\":{\"name\":\"%V\",\"url\":\"%V\","
                     "\"id\":%uA,\"version\":\"" NGX_HTTP_FSDFS_VERSION "\","
                     "\"epoch\":%uA,\"pulls\":%uA},"
                     "\"redis\":{\"addr\":\"%V\",\"up\":%s,\"buckets\":%uA},"
                     "\"disk\":{\"quota\":%O,\"used\":%uA,\"free\":%uA,"
                     "\"files\":%uA},\"counters\":{",
                     &fmcf->name, &fmcf->url, st->self_id, st->epoch,
                     st->pulls, &fmcf->redis_addr,
                     ngx_http_fsdfs_redis_up() ? "true" : "false",
                     st->buckets, fmcf->quota, st->disk_used, st->disk_free,
                     st->disk_files);

    for (m = ngx_http_fsdfs_metrics; m->name; m++) {
        p = ngx_slprintf(p, last, "%s\"%s\":%uA", m == ngx_http_fsdfs_metrics
                         ? "" : ",", m->name, ngx_http_fsdfs_counter(st, m));
    }

    ngx_http_fsdfs_pop_stats(fmcf, &hits, &flushed, &evicted, &entries);

    p = ngx_slprintf(p, last, ",\"pop_hits\":%uA,\"pop_flushed\":%uA,"
                     "\"pop_evicted\":%uA,\"pop_entries\":%uA",
                     hits, flushed, evicted, entries);

    p = ngx_slprintf(p, last, "},\"nodes\":[");

    nodes = ngx_http_fsdfs_nodes_snapshot(&n);

    for (i = 0; i < n; i++) {
        p = ngx_slprintf(p, last, "%s{\"id\":%ui,\"url\":\"%*s\","
                         "\"alive\":%s,\"active\":%s,\"load\":%ui}",
                         i ? "," : "", nodes[i].id, nodes[i].url_len,
                         nodes[i].url, nodes[i].alive ? "true" : "false",
                         nodes[i].active ? "true" : "false", nodes[i].load);
    }

    return ngx_slprintf(p, last, "]}\n");
}


static u_char *
ngx_http_fsdfs_status_prometheus(ngx_http_request_t *r, u_char *p,
    u_char *last)
{
    ngx_uint_t                   i, n;
    ngx_atomic_uint_t            hits, flushed, evicted, entries;
    ngx_http_fsdfs_node_t       *nodes;
    ngx_http_fsdfs_metric_t     *m;
    ngx_http_fsdfs_state_t      *st = ngx_http_fsdfs_state();
    ngx_http_fsdfs_main_conf_t  *fmcf;

    fmcf = ngx_http_get_module_main_conf(r, ngx_http_fsdfs_module);

    for (m = ngx_http_fsdfs_metrics; m->name; m++) {
        p = ngx_slprintf(p, last, "# HELP fsdfs_%s_total %s\n"
                         "# TYPE fsdfs_%s_total counter\n"
                         "fsdfs_%s_total{node=\"%V\"} %uA\n",
                         m->name, m->help, m->name, m->name, &fmcf->name,
                         ngx_http_fsdfs_counter(st, m));
    }

    ngx_http_fsdfs_pop_stats(fmcf, &hits, &flushed, &evicted, &entries);

    p = ngx_slprintf(p, last,
                     "# HELP fsdfs_pop_hits_total GETs counted for "
                     "popularity\n"
                     "# TYPE fsdfs_pop_hits_total counter\n"
                     "fsdfs_pop_hits_total{node=\"%V\"} %uA\n"
                     "# HELP fsdfs_pop_flushed_total hits flushed to redis\n"
                     "# TYPE fsdfs_pop_flushed_total counter\n"
                     "fsdfs_pop_flushed_total{node=\"%V\"} %uA\n"
                     "# HELP fsdfs_pop_evicted_total popularity entries "
                     "evicted from a full zone\n"
                     "# TYPE fsdfs_pop_evicted_total counter\n"
                     "fsdfs_pop_evicted_total{node=\"%V\"} %uA\n"
                     "# HELP fsdfs_pop_entries paths with hits not yet "
                     "flushed\n"
                     "# TYPE fsdfs_pop_entries gauge\n"
                     "fsdfs_pop_entries{node=\"%V\"} %uA\n",
                     &fmcf->name, hits, &fmcf->name, flushed, &fmcf->name,
                     evicted, &fmcf->name, entries);

    p = ngx_slprintf(p, last,
                     "# TYPE fsdfs_redis_up gauge\n"
                     "fsdfs_redis_up{node=\"%V\"} %d\n"
                     "# TYPE fsdfs_disk_quota_bytes gauge\n"
                     "fsdfs_disk_quota_bytes{node=\"%V\"} %O\n"
                     "# TYPE fsdfs_disk_used_bytes gauge\n"
                     "fsdfs_disk_used_bytes{node=\"%V\"} %uA\n"
                     "# TYPE fsdfs_disk_free_bytes gauge\n"
                     "fsdfs_disk_free_bytes{node=\"%V\"} %uA\n"
                     "# TYPE fsdfs_disk_files gauge\n"
                     "fsdfs_disk_files{node=\"%V\"} %uA\n"
                     "# TYPE fsdfs_peer_alive gauge\n",
                     &fmcf->name, ngx_http_fsdfs_redis_up() ? 1 : 0,
                     &fmcf->name, fmcf->quota, &fmcf->name, st->disk_used,
                     &fmcf->name, st->disk_free, &fmcf->name, st->disk_files);

    nodes = ngx_http_fsdfs_nodes_snapshot(&n);

    for (i = 0; i < n; i++) {
        p = ngx_slprintf(p, last, "fsdfs_peer_alive{node=\"%V\",peer=\"%ui\"}"
                         " %d\n", &fmcf->name, nodes[i].id,
                         nodes[i].alive ? 1 : 0);
    }

    return p;
}


static ngx_int_t
ngx_http_fsdfs_status_handler(ngx_http_request_t *r)
{
    size_t        size;
    ngx_int_t     rc, prom;
    ngx_str_t     fmt;
    ngx_buf_t    *b;
    ngx_uint_t    n;
    ngx_chain_t   out;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_fsdfs_state() == NULL) {
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    prom = (ngx_http_arg(r, (u_char *) "format", 6, &fmt) == NGX_OK
            && fmt.len == 10 && ngx_strncmp(fmt.data, "prometheus", 10) == 0);

    (void) ngx_http_fsdfs_nodes_snapshot(&n);
    size = 8192 + n * 256;

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = prom ? ngx_http_fsdfs_status_prometheus(r, b->pos, b->end)
                   : ngx_http_fsdfs_status_json(r, b->pos, b->end);
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    if (prom) {
        ngx_str_set(&r->headers_out.content_type,
                    "text/plain; version=0.0.4");
    } else {
        ngx_str_set(&r->headers_out.content_type, "application/json");
    }

    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


char *
ngx_http_fsdfs_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_fsdfs_status_handler;

    return NGX_CONF_OK;
}
