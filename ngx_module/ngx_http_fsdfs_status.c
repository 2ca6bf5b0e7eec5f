/*
 * fsdfs nginx module: the status endpoint.
 *
 * `fsdfs_status;` in a location answers with this node's identity, its
 * counters (summed over workers through the state zone), its disk figures,
 * the node table as this worker sees it (with each node's fill from its
 * heartbeat) and the cluster's figures: JSON by default, Prometheus text
 * with ?format=prometheus, so any node can be scraped. The cluster's
 * figures are fsdfsd's `<prefix>stats` and `<prefix>kn`, read by the
 * heartbeating worker every second (one HGETALL each) into the state
 * zone; the handler only copies them out.
 */
#include "ngx_http_fsdfs_module.h"


typedef struct {
    const char  *name;
    size_t       offset;
    const char  *prom;          /* Prometheus name, before _total */
    ngx_uint_t   div;           /* shown in base units: value / div */
    const char  *help;
} ngx_http_fsdfs_metric_t;


/* one field of <prefix>stats; its index is its slot in the cluster's v[] */
typedef struct {
    const char  *name;
    const char  *prom;          /* after fsdfs_cluster_ */
    const char  *type;
    ngx_uint_t   div;
    const char  *help;
} ngx_http_fsdfs_cstat_t;


#define ngx_http_fsdfs_ctr(name, help)                                        \
    { #name, offsetof(ngx_http_fsdfs_counters_t, name), #name, 1, help }

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
    { "redis_usec", offsetof(ngx_http_fsdfs_counters_t, redis_usec),
      "redis_request_seconds", 1000000,
      "total redis reply latency in ms steps; over redis_requests: the mean" },
    ngx_http_fsdfs_ctr(corrupt_records, "index records that failed to decode"),
    ngx_http_fsdfs_ctr(commands, "signed commands accepted"),
    ngx_http_fsdfs_ctr(commands_refused, "commands refused: signature, time, epoch"),
    ngx_http_fsdfs_ctr(pulls_done, "pulls in: pulls that left a copy here"),
    ngx_http_fsdfs_ctr(pulls_failed, "pulls in that failed"),
    ngx_http_fsdfs_ctr(pulls_bytes, "pulls in: bytes of the copies made here"),
    ngx_http_fsdfs_ctr(pulls_out, "pulls out: copies served to a pulling peer"),
    ngx_http_fsdfs_ctr(pulls_out_bytes, "pulls out: bytes of those copies"),
    ngx_http_fsdfs_ctr(drops, "copies dropped"),
    ngx_http_fsdfs_ctr(puts, "files stored and indexed by put"),
    ngx_http_fsdfs_ctr(puts_bytes, "bytes stored by put"),
    { NULL, 0, NULL, 0, NULL }
};


static ngx_http_fsdfs_cstat_t  ngx_http_fsdfs_cstats[] = {
    { "files", "files", "gauge", 1, "files in the index" },
    { "bytes", "bytes", "gauge", 1, "bytes in the index, one copy each" },
    { "copy_bytes", "copy_bytes", "gauge", 1, "bytes of all copies" },
    { "min_kn", "min_kn", "gauge", 1, "lowest copies minus replicas (K-N)" },
    { "under", "under", "gauge", 1, "files with fewer than N copies" },
    { "lost", "lost", "gauge", 1, "files with no copy left" },
    { "pulls_inflight", "pulls_inflight", "gauge", 1, "pulls running now" },
    { "pulls_done", "pulls_done_total", "counter", 1, "pulls done" },
    { "pulls_failed", "pulls_failed_total", "counter", 1, "pulls failed" },
    { "drops_done", "drops_done_total", "counter", 1, "drops done" },
    { "drops_failed", "drops_failed_total", "counter", 1, "drops failed" },
    { "plan_usec", "plan_seconds", "gauge", 1000000, "planning time" },
    { "epoch", "epoch", "gauge", 1, "the publishing master's epoch" },
    { "nodes_live", "nodes_live", "gauge", 1, "live nodes" },
    { "updated", "updated_timestamp_seconds", "gauge", 1000,
      "when the master published these figures" },
    { NULL, NULL, NULL, 0, NULL }
};


static ngx_uint_t  ngx_http_fsdfs_status_outstanding;


#define ngx_http_fsdfs_counter(st, m)                                         \
    (*(ngx_atomic_t *) ((u_char *) &(st)->counters + (m)->offset))


/* a JSON string, escaped; nothing if it does not fit */
static u_char *
ngx_http_fsdfs_json_str(u_char *p, u_char *last, u_char *s, size_t len)
{
    size_t  n;

    n = len + ngx_escape_json(NULL, s, len);

    if (n + 2 > (size_t) (last - p)) {
        return p;
    }

    *p++ = '"';
    p = (u_char *) ngx_escape_json(p, s, len);
    *p++ = '"';

    return p;
}


/* a Prometheus label value: backslash, quote and newline escaped */
static u_char *
ngx_http_fsdfs_prom_label(u_char *p, u_char *last, u_char *s, size_t len)
{
    size_t  i;

    for (i = 0; i < len && last - p > 2; i++) {
        if (s[i] == '\\' || s[i] == '"') {
            *p++ = '\\';
            *p++ = s[i];

        } else if (s[i] == '\n') {
            *p++ = '\\';
            *p++ = 'n';

        } else {
            *p++ = s[i];
        }
    }

    return p;
}


/* value / div in decimal, for base units (seconds) */
static u_char *
ngx_http_fsdfs_scaled(u_char *p, u_char *last, int64_t v, ngx_uint_t div)
{
    if (div == 1) {
        return ngx_slprintf(p, last, "%L", v);
    }

    if (v < 0) {
        v = 0;
    }

    return ngx_slprintf(p, last, div == 1000 ? "%L.%03L" : "%L.%06L",
                        v / (int64_t) div, v % (int64_t) div);
}


static void
ngx_http_fsdfs_cluster_copy(ngx_http_fsdfs_cluster_t *c)
{
    ngx_http_fsdfs_state_t  *st = ngx_http_fsdfs_state();

    ngx_shmtx_lock(&st->mutex);
    *c = st->cluster;
    ngx_shmtx_unlock(&st->mutex);
}


static u_char *
ngx_http_fsdfs_status_json_cluster(u_char *p, u_char *last)
{
    ngx_uint_t                 i, first;
    ngx_http_fsdfs_cstat_t    *f;
    ngx_http_fsdfs_cluster_t   c;

    ngx_http_fsdfs_cluster_copy(&c);

    if (c.read == 0) {
        return ngx_slprintf(p, last, ",\"cluster\":{\"age\":null,"
                            "\"stats\":null,\"kn\":{}}");
    }

    p = ngx_slprintf(p, last, ",\"cluster\":{\"age\":%T,\"stats\":",
                     ngx_time() - c.read);

    if (c.present == 0 && c.master_len == 0) {
        p = ngx_slprintf(p, last, "null");

    } else {
        p = ngx_slprintf(p, last, "{");
        first = 1;

        for (i = 0, f = ngx_http_fsdfs_cstats; f->name; i++, f++) {
            if (c.present & (1u << i)) {
                p = ngx_slprintf(p, last, "%s\"%s\":%L", first ? "" : ",",
                                 f->name, c.v[i]);
                first = 0;
            }
        }

        if (c.master_len) {
            p = ngx_slprintf(p, last, "%s\"master\":", first ? "" : ",");
            p = ngx_http_fsdfs_json_str(p, last, c.master, c.master_len);
        }

        p = ngx_slprintf(p, last, "}");
    }

    p = ngx_slprintf(p, last, ",\"kn\":{");

    for (i = 0; i < c.nkn; i++) {
        p = ngx_slprintf(p, last, "%s\"%i\":%uL", i ? "," : "", c.kn[i],
                         c.kn_files[i]);
    }

    return ngx_slprintf(p, last, "}}");
}


static u_char *
ngx_http_fsdfs_status_json(ngx_http_request_t *r, u_char *p, u_char *last)
{
    ngx_uint_t                   i, n;
    ngx_atomic_uint_t            hits, flushed, evicted, entries, looked;
    ngx_http_fsdfs_node_t       *nodes;
    ngx_http_fsdfs_metric_t     *m;
    ngx_http_fsdfs_state_t      *st = ngx_http_fsdfs_state();
    ngx_http_fsdfs_main_conf_t  *fmcf;

    fmcf = ngx_http_get_module_main_conf(r, ngx_http_fsdfs_module);

    p = ngx_slprintf(p, last, "{\"node\":{\"name\":");
    p = ngx_http_fsdfs_json_str(p, last, fmcf->name.data, fmcf->name.len);
    p = ngx_slprintf(p, last, ",\"url\":");
    p = ngx_http_fsdfs_json_str(p, last, fmcf->url.data, fmcf->url.len);
    p = ngx_slprintf(p, last, ",\"id\":%uA,\"version\":\""
                     NGX_HTTP_FSDFS_VERSION "\","
                     "\"epoch\":%uA,\"pulls\":%uA},"
                     "\"redis\":{\"addr\":\"%V\",\"up\":%s,\"buckets\":%uA},"
                     "\"disk\":{\"quota\":%O,\"used\":%uA,\"free\":%uA,"
                     "\"files\":%uA},\"counters\":{",
                     st->self_id, st->epoch,
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
                     "\"pop_evicted\":%uA,\"pop_entries\":%uA}",
                     hits, flushed, evicted, entries);

    /* derived figures; Prometheus computes its own from the counters */
    looked = st->counters.cache_hits + st->counters.cache_stale
             + st->counters.cache_misses;

    if (looked) {
        p = ngx_slprintf(p, last, ",\"ratios\":{\"cache_hit\":%.4f",
                         (double) (st->counters.cache_hits
                                   + st->counters.cache_stale) / looked);
    } else {
        p = ngx_slprintf(p, last, ",\"ratios\":{\"cache_hit\":null");
    }

    if (st->counters.redis_requests) {
        p = ngx_slprintf(p, last, ",\"redis_ms\":%.3f}",
                         (double) st->counters.redis_usec / 1000
                         / st->counters.redis_requests);
    } else {
        p = ngx_slprintf(p, last, ",\"redis_ms\":null}");
    }

    p = ngx_http_fsdfs_status_json_cluster(p, last);

    p = ngx_slprintf(p, last, ",\"nodes\":[");

    nodes = ngx_http_fsdfs_nodes_snapshot(&n);

    for (i = 0; i < n; i++) {
        p = ngx_slprintf(p, last, "%s{\"id\":%ui,\"name\":", i ? "," : "",
                         nodes[i].id);
        p = ngx_http_fsdfs_json_str(p, last, nodes[i].name,
                                    nodes[i].name_len);
        p = ngx_slprintf(p, last, ",\"url\":");
        p = ngx_http_fsdfs_json_str(p, last, nodes[i].url, nodes[i].url_len);
        p = ngx_slprintf(p, last, ",\"alive\":%s,\"active\":%s,\"self\":%s,"
                         "\"load\":%ui,\"quota\":%uL,\"used\":%uL,"
                         "\"files\":%uL,\"pulls\":%uL}",
                         nodes[i].alive ? "true" : "false",
                         nodes[i].active ? "true" : "false",
                         nodes[i].id == st->self_id ? "true" : "false",
                         nodes[i].load, nodes[i].quota, nodes[i].used,
                         nodes[i].files, nodes[i].pulls);
    }

    return ngx_slprintf(p, last, "]}\n");
}


static u_char *
ngx_http_fsdfs_prom_head(u_char *p, u_char *last, const char *name,
    const char *type, const char *help)
{
    return ngx_slprintf(p, last, "# HELP fsdfs_%s %s\n# TYPE fsdfs_%s %s\n",
                        name, help, name, type);
}


static u_char *
ngx_http_fsdfs_status_prom_cluster(u_char *p, u_char *last)
{
    ngx_uint_t                 i;
    ngx_http_fsdfs_cstat_t    *f;
    ngx_http_fsdfs_cluster_t   c;
    u_char                     name[64];

    ngx_http_fsdfs_cluster_copy(&c);

    if (c.read == 0) {
        return p;
    }

    p = ngx_http_fsdfs_prom_head(p, last, "cluster_figures_age_seconds",
                                 "gauge", "since this node last read the "
                                 "cluster figures from redis");
    p = ngx_slprintf(p, last, "fsdfs_cluster_figures_age_seconds %T\n",
                     ngx_time() - c.read);

    for (i = 0, f = ngx_http_fsdfs_cstats; f->name; i++, f++) {
        if (!(c.present & (1u << i))) {
            continue;
        }

        *ngx_slprintf(name, name + sizeof(name) - 1, "cluster_%s", f->prom)
            = '\0';
        p = ngx_http_fsdfs_prom_head(p, last, (char *) name, f->type,
                                     f->help);
        p = ngx_slprintf(p, last, "fsdfs_%s ", name);
        p = ngx_http_fsdfs_scaled(p, last, c.v[i], f->div);
        p = ngx_slprintf(p, last, "\n");
    }

    if (c.master_len) {
        p = ngx_http_fsdfs_prom_head(p, last, "cluster_master_info", "gauge",
                                     "the master that published the figures");
        p = ngx_slprintf(p, last, "fsdfs_cluster_master_info{master=\"");
        p = ngx_http_fsdfs_prom_label(p, last, c.master, c.master_len);
        p = ngx_slprintf(p, last, "\"} 1\n");
    }

    if (c.nkn) {
        p = ngx_http_fsdfs_prom_head(p, last, "cluster_kn_files", "gauge",
                                     "files by copies minus replicas (K-N)");
    }

    for (i = 0; i < c.nkn; i++) {
        p = ngx_slprintf(p, last, "fsdfs_cluster_kn_files{kn=\"%i\"} %uL\n",
                         c.kn[i], c.kn_files[i]);
    }

    return p;
}


static u_char *
ngx_http_fsdfs_status_prometheus(ngx_http_request_t *r, u_char *p,
    u_char *last)
{
    u_char                       label[256], *l;
    ngx_uint_t                   i, n;
    ngx_atomic_uint_t            hits, flushed, evicted, entries;
    ngx_http_fsdfs_node_t       *nodes;
    ngx_http_fsdfs_metric_t     *m;
    ngx_http_fsdfs_state_t      *st = ngx_http_fsdfs_state();
    ngx_http_fsdfs_main_conf_t  *fmcf;
    ngx_str_t                    node;

    fmcf = ngx_http_get_module_main_conf(r, ngx_http_fsdfs_module);

    l = ngx_http_fsdfs_prom_label(label, label + sizeof(label),
                                  fmcf->name.data, fmcf->name.len);
    node.data = label;
    node.len = l - label;

    for (m = ngx_http_fsdfs_metrics; m->name; m++) {
        p = ngx_slprintf(p, last, "# HELP fsdfs_%s_total %s\n"
                         "# TYPE fsdfs_%s_total counter\n"
                         "fsdfs_%s_total{node=\"%V\"} ",
                         m->prom, m->help, m->prom, m->prom, &node);
        p = ngx_http_fsdfs_scaled(p, last,
                                  (int64_t) ngx_http_fsdfs_counter(st, m),
                                  m->div);
        p = ngx_slprintf(p, last, "\n");
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
                     &node, hits, &node, flushed, &node, evicted, &node,
                     entries);

    p = ngx_slprintf(p, last,
                     "# HELP fsdfs_redis_up 1 if this worker's redis "
                     "connection is up\n"
                     "# TYPE fsdfs_redis_up gauge\n"
                     "fsdfs_redis_up{node=\"%V\"} %d\n"
                     "# HELP fsdfs_pulls_running pulls running here now\n"
                     "# TYPE fsdfs_pulls_running gauge\n"
                     "fsdfs_pulls_running{node=\"%V\"} %uA\n"
                     "# HELP fsdfs_disk_quota_bytes fsdfs_quota, 0: none\n"
                     "# TYPE fsdfs_disk_quota_bytes gauge\n"
                     "fsdfs_disk_quota_bytes{node=\"%V\"} %O\n"
                     "# HELP fsdfs_disk_used_bytes bytes of copies here\n"
                     "# TYPE fsdfs_disk_used_bytes gauge\n"
                     "fsdfs_disk_used_bytes{node=\"%V\"} %uA\n"
                     "# HELP fsdfs_disk_free_bytes room left: disk or "
                     "quota\n"
                     "# TYPE fsdfs_disk_free_bytes gauge\n"
                     "fsdfs_disk_free_bytes{node=\"%V\"} %uA\n"
                     "# HELP fsdfs_disk_files copies here\n"
                     "# TYPE fsdfs_disk_files gauge\n"
                     "fsdfs_disk_files{node=\"%V\"} %uA\n",
                     &node, ngx_http_fsdfs_redis_up() ? 1 : 0,
                     &node, st->pulls, &node, fmcf->quota, &node,
                     st->disk_used, &node, st->disk_free, &node,
                     st->disk_files);

    nodes = ngx_http_fsdfs_nodes_snapshot(&n);

    p = ngx_http_fsdfs_prom_head(p, last, "peer_alive", "gauge",
                                 "1 if the peer's alive key is set");
    for (i = 0; i < n; i++) {
        p = ngx_slprintf(p, last, "fsdfs_peer_alive{node=\"%V\",peer=\"%ui\"}"
                         " %d\n", &node, nodes[i].id, nodes[i].alive ? 1 : 0);
    }

    p = ngx_http_fsdfs_prom_head(p, last, "peer_used_bytes", "gauge",
                                 "the peer's used bytes, from its heartbeat");
    for (i = 0; i < n; i++) {
        p = ngx_slprintf(p, last, "fsdfs_peer_used_bytes{node=\"%V\","
                         "peer=\"%ui\"} %uL\n", &node, nodes[i].id,
                         nodes[i].used);
    }

    p = ngx_http_fsdfs_prom_head(p, last, "peer_quota_bytes", "gauge",
                                 "the peer's quota, from its heartbeat");
    for (i = 0; i < n; i++) {
        p = ngx_slprintf(p, last, "fsdfs_peer_quota_bytes{node=\"%V\","
                         "peer=\"%ui\"} %uL\n", &node, nodes[i].id,
                         nodes[i].quota);
    }

    return ngx_http_fsdfs_status_prom_cluster(p, last);
}


/*
 * The cluster's figures, read by the heartbeating worker each second: one
 * HGETALL of <prefix>stats and one of <prefix>kn, each replacing what the
 * state zone had. A round still out (Redis slow) skips the next.
 */

static ngx_int_t
ngx_http_fsdfs_reply_i64(redisReply *e, int64_t *v)
{
    size_t    i;
    int64_t   n;
    unsigned  neg;

    if (e->type != REDIS_REPLY_STRING || e->len == 0 || e->len > 19) {
        return NGX_ERROR;
    }

    neg = (e->str[0] == '-');
    i = neg;
    n = 0;

    if (i == e->len) {
        return NGX_ERROR;
    }

    for ( /* void */ ; i < e->len; i++) {
        if (e->str[i] < '0' || e->str[i] > '9') {
            return NGX_ERROR;
        }
        n = n * 10 + (e->str[i] - '0');
    }

    *v = neg ? -n : n;

    return NGX_OK;
}


static void
ngx_http_fsdfs_status_stats_reply(redisReply *reply, void *data)
{
    size_t                     i, j, len;
    int64_t                    v;
    redisReply                *k, *e;
    ngx_http_fsdfs_cstat_t    *f;
    ngx_http_fsdfs_state_t    *st = ngx_http_fsdfs_state();
    ngx_http_fsdfs_cluster_t  *c = &st->cluster;

    ngx_http_fsdfs_status_outstanding--;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        return;
    }

    ngx_shmtx_lock(&st->mutex);

    c->present = 0;
    c->master_len = 0;
    c->read = ngx_time();

    for (i = 0; i + 1 < reply->elements; i += 2) {
        k = reply->element[i];
        e = reply->element[i + 1];

        if (k->type != REDIS_REPLY_STRING) {
            continue;
        }

        if (k->len == 6 && ngx_strncmp(k->str, "master", 6) == 0) {
            if (e->type == REDIS_REPLY_STRING) {
                len = ngx_min(e->len, NGX_HTTP_FSDFS_MASTER_MAX);
                ngx_memcpy(c->master, e->str, len);
                c->master_len = len;
            }
            continue;
        }

        for (j = 0, f = ngx_http_fsdfs_cstats; f->name; j++, f++) {
            if (ngx_strlen(f->name) == k->len
                && ngx_strncmp(k->str, f->name, k->len) == 0
                && ngx_http_fsdfs_reply_i64(e, &v) == NGX_OK)
            {
                c->v[j] = v;
                c->present |= 1u << j;
                break;
            }
        }
    }

    ngx_shmtx_unlock(&st->mutex);
}


static void
ngx_http_fsdfs_status_kn_reply(redisReply *reply, void *data)
{
    size_t                     i;
    int64_t                    kn, files;
    ngx_uint_t                 j, n;
    ngx_int_t                  okn[NGX_HTTP_FSDFS_KN_MAX];
    uint64_t                   ofiles[NGX_HTTP_FSDFS_KN_MAX];
    ngx_http_fsdfs_state_t    *st = ngx_http_fsdfs_state();

    ngx_http_fsdfs_status_outstanding--;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        return;
    }

    /* sorted by K-N, by insertion: a few dozen entries at most */
    n = 0;

    for (i = 0; i + 1 < reply->elements && n < NGX_HTTP_FSDFS_KN_MAX; i += 2)
    {
        if (ngx_http_fsdfs_reply_i64(reply->element[i], &kn) != NGX_OK
            || ngx_http_fsdfs_reply_i64(reply->element[i + 1], &files)
               != NGX_OK
            || files < 0 || kn < -100000 || kn > 100000)
        {
            continue;
        }

        for (j = n; j > 0 && okn[j - 1] > kn; j--) {
            okn[j] = okn[j - 1];
            ofiles[j] = ofiles[j - 1];
        }

        okn[j] = (ngx_int_t) kn;
        ofiles[j] = (uint64_t) files;
        n++;
    }

    ngx_shmtx_lock(&st->mutex);

    ngx_memcpy(st->cluster.kn, okn, n * sizeof(ngx_int_t));
    ngx_memcpy(st->cluster.kn_files, ofiles, n * sizeof(uint64_t));
    st->cluster.nkn = n;

    ngx_shmtx_unlock(&st->mutex);
}


void
ngx_http_fsdfs_status_tick(void)
{
    ngx_http_fsdfs_main_conf_t  *fmcf;

    if (ngx_http_fsdfs_status_outstanding) {
        return;
    }

    fmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_fsdfs_module);

    if (ngx_http_fsdfs_redis_command(ngx_http_fsdfs_status_stats_reply, NULL,
                                     "HGETALL %sstats", fmcf->prefix.data)
        != NULL)
    {
        ngx_http_fsdfs_status_outstanding++;
    }

    if (ngx_http_fsdfs_redis_command(ngx_http_fsdfs_status_kn_reply, NULL,
                                     "HGETALL %skn", fmcf->prefix.data)
        != NULL)
    {
        ngx_http_fsdfs_status_outstanding++;
    }
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
    size = 16384 + n * 768 + NGX_HTTP_FSDFS_KN_MAX * 64;

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
