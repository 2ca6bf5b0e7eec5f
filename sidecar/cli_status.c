/*
 * fsdfs status: the cluster on one screen. Nodes come from their own
 * heartbeats, the figures and the K-N histogram from what the master
 * publishes every second (fsdfs:stats, fsdfs:kn), the lease and epoch
 * from their keys, each node's max(K-N) (the surplus it carries: what is
 * evictable there) from fsdfs:nodekn, published every 5 s. Each part is shown for what it is: a cluster whose
 * fsdfsd never ran has nodes, no master and no figures, and says so.
 * Stats fields the CLI does not know are still shown (text: "other";
 * JSON: every field), so master and CLI can grow apart safely.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"


#define STATUS_BAR   20
#define STATUS_HIST  40


typedef struct {
    int          id;
    const char  *name;
    redisReply  *h;           /* HMGET of node_fields */
    int          alive;
    int          draining;    /* in <prefix>drain (fsdfs drain) */
    int          has_kn;      /* in <prefix>nodekn */
    long long    max_kn;      /* max(K-N) of the files it holds */
} status_node_t;


typedef struct {
    long long  kn;
    long long  files;
} status_kn_t;


typedef struct {
    status_node_t  *nodes;
    size_t          nnodes;
    redisReply     *names;     /* HGETALL nodes: owns the names */
    redisReply     *stats;     /* HGETALL stats */
    status_kn_t    *kn;
    size_t          nkn;
    redisReply     *master;    /* GET master */
    long long       master_ttl;
    redisReply     *epoch;     /* GET epoch */
    long long       now;       /* unix ms */
} status_t;


enum {
    F_URL, F_STATE, F_QUOTA, F_USED, F_FREE, F_FILES, F_LOAD, F_TS, F_N
};

/* in the order of the HMGET in status_load() */
static const char  *status_node_fields[F_N] = {
    "url", "state", "quota", "used", "free", "files", "load", "ts"
};


/* Stats fields the text view names; the rest go under "other". */
static const char  *status_known[] = {
    "files", "bytes", "copy_bytes", "min_kn", "under", "lost",
    "pulls_inflight", "pulls_done", "pulls_failed", "drops_done",
    "drops_failed", "plan_usec", "nodes_live", "master", "epoch", "updated",
    NULL
};


static const char *
status_field(redisReply *h, int i)
{
    return (h && (size_t) i < h->elements
            && h->element[i]->type == REDIS_REPLY_STRING)
           ? h->element[i]->str : "";
}


/* A stats field by name, NULL if absent. */
static const char *
status_stat(const status_t *st, const char *name)
{
    size_t  i;

    if (st->stats == NULL) {
        return NULL;
    }

    for (i = 0; i + 1 < st->stats->elements; i += 2) {
        if (strcmp(st->stats->element[i]->str, name) == 0) {
            return st->stats->element[i + 1]->str;
        }
    }

    return NULL;
}


/* A decimal integer, possibly negative, and nothing else. */
static int
status_is_int(const char *s)
{
    if (*s == '-') {
        s++;
    }

    return *s && strspn(s, "0123456789") == strlen(s) && strlen(s) < 19;
}


static void
status_bytes(char *buf, size_t cap, long long v)
{
    int          i;
    double       d = (double) v;
    const char  *units = "BKMGTP";

    for (i = 0; d >= 1024 && units[i + 1]; i++) {
        d /= 1024;
    }

    if (i == 0) {
        snprintf(buf, cap, "%lldB", v);
    } else {
        snprintf(buf, cap, "%.1f%c", d, units[i]);
    }
}


/* Milliseconds since a unix timestamp given in seconds or milliseconds. */
static long long
status_age_ms(long long now, const char *ts)
{
    long long  t;

    if (ts == NULL || !status_is_int(ts) || (t = atoll(ts)) <= 0) {
        return -1;
    }

    if (t < 100000000000LL) {
        t *= 1000;
    }

    return now > t ? now - t : 0;
}


/*
 * Copies short of min(K-N) >= 0: |K-N| x files over the negative buckets,
 * the figure watch counts down; -1 without a histogram.
 */
static long long
status_missing(const status_t *st)
{
    size_t     i;
    long long  m = 0;

    if (st->nkn == 0) {
        return -1;
    }

    for (i = 0; i < st->nkn; i++) {
        if (st->kn[i].kn < 0 && st->kn[i].files > 0) {
            m += -st->kn[i].kn * st->kn[i].files;
        }
    }

    return m;
}


static int
status_node_cmp(const void *a, const void *b)
{
    return ((const status_node_t *) a)->id - ((const status_node_t *) b)->id;
}


static int
status_kn_cmp(const void *a, const void *b)
{
    long long  x = ((const status_kn_t *) a)->kn;
    long long  y = ((const status_kn_t *) b)->kn;

    return (x > y) - (x < y);
}


/* Reads everything; an exit code. */
static int
status_load(cli_t *cli, status_t *st)
{
    size_t          i, n;
    redisReply     *r, *a;
    status_node_t  *nd;

    st->now = cli_now_ms();

    st->names = cli_cmd(cli, "HGETALL %snodes", cli->prefix);
    if (!cli_reply_ok(st->names, REDIS_REPLY_ARRAY)) {
        return cli_fail(cli);
    }

    n = st->names->elements / 2;
    st->nodes = calloc(n + 1, sizeof(status_node_t));
    if (st->nodes == NULL) {
        return CLI_ERROR;
    }

    for (i = 0; i < n; i++) {
        nd = &st->nodes[st->nnodes++];
        nd->name = st->names->element[2 * i]->str;
        nd->id = atoi(st->names->element[2 * i + 1]->str);
    }

    qsort(st->nodes, st->nnodes, sizeof(status_node_t), status_node_cmp);

    for (i = 0; i < st->nnodes; i++) {
        nd = &st->nodes[i];
        nd->h = cli_cmd(cli, "HMGET %snode:%d url state quota used free "
                        "files load ts", cli->prefix, nd->id);
        if (!cli_reply_ok(nd->h, REDIS_REPLY_ARRAY) || nd->h->elements != F_N) {
            return cli_fail(cli);
        }

        a = cli_cmd(cli, "EXISTS %salive:%d", cli->prefix, nd->id);
        if (!cli_reply_ok(a, REDIS_REPLY_INTEGER)) {
            freeReplyObject(a);
            return cli_fail(cli);
        }
        nd->alive = (a->integer == 1);
        freeReplyObject(a);

        a = cli_cmd(cli, "HEXISTS %sdrain %d", cli->prefix, nd->id);
        if (!cli_reply_ok(a, REDIS_REPLY_INTEGER)) {
            freeReplyObject(a);
            return cli_fail(cli);
        }
        nd->draining = (a->integer == 1);
        freeReplyObject(a);
    }

    st->stats = cli_cmd(cli, "HGETALL %sstats", cli->prefix);
    if (!cli_reply_ok(st->stats, REDIS_REPLY_ARRAY)) {
        return cli_fail(cli);
    }

    r = cli_cmd(cli, "HGETALL %skn", cli->prefix);
    if (!cli_reply_ok(r, REDIS_REPLY_ARRAY)) {
        freeReplyObject(r);
        return cli_fail(cli);
    }

    st->kn = calloc(r->elements / 2 + 1, sizeof(status_kn_t));
    if (st->kn == NULL) {
        freeReplyObject(r);
        return CLI_ERROR;
    }

    for (i = 0; i + 1 < r->elements; i += 2) {
        if (status_is_int(r->element[i]->str)
            && status_is_int(r->element[i + 1]->str))
        {
            st->kn[st->nkn].kn = atoll(r->element[i]->str);
            st->kn[st->nkn++].files = atoll(r->element[i + 1]->str);
        }
    }

    freeReplyObject(r);
    qsort(st->kn, st->nkn, sizeof(status_kn_t), status_kn_cmp);

    r = cli_cmd(cli, "HGETALL %snodekn", cli->prefix);
    if (!cli_reply_ok(r, REDIS_REPLY_ARRAY)) {
        freeReplyObject(r);
        return cli_fail(cli);
    }

    for (i = 0; i + 1 < r->elements; i += 2) {
        if (!status_is_int(r->element[i]->str)
            || !status_is_int(r->element[i + 1]->str))
        {
            continue;
        }
        for (n = 0; n < st->nnodes; n++) {
            if (st->nodes[n].id == atoi(r->element[i]->str)) {
                st->nodes[n].has_kn = 1;
                st->nodes[n].max_kn = atoll(r->element[i + 1]->str);
            }
        }
    }

    freeReplyObject(r);

    st->master = cli_cmd(cli, "GET %smaster", cli->prefix);
    if (!cli_reply_ok(st->master, 0)) {
        return cli_fail(cli);
    }

    r = cli_cmd(cli, "PTTL %smaster", cli->prefix);
    if (!cli_reply_ok(r, REDIS_REPLY_INTEGER)) {
        freeReplyObject(r);
        return cli_fail(cli);
    }
    st->master_ttl = r->integer;
    freeReplyObject(r);

    st->epoch = cli_cmd(cli, "GET %sepoch", cli->prefix);
    if (!cli_reply_ok(st->epoch, 0)) {
        return cli_fail(cli);
    }

    return CLI_OK;
}


static void
status_free(status_t *st)
{
    size_t  i;

    for (i = 0; i < st->nnodes; i++) {
        freeReplyObject(st->nodes[i].h);
    }

    free(st->nodes);
    free(st->kn);
    freeReplyObject(st->names);
    freeReplyObject(st->stats);
    freeReplyObject(st->master);
    freeReplyObject(st->epoch);
}


static const char *
status_str(redisReply *r)
{
    return (r && r->type == REDIS_REPLY_STRING) ? r->str : NULL;
}


/* The lease holder's part of "<holder>:<epoch>", length in *len. */
static const char *
status_master(const status_t *st, size_t *len, const char **epoch)
{
    const char  *m = status_str(st->master), *colon;

    if (m == NULL) {
        return NULL;
    }

    colon = strrchr(m, ':');
    *len = colon ? (size_t) (colon - m) : strlen(m);
    *epoch = colon ? colon + 1 : NULL;
    return m;
}


/* Text --------------------------------------------------------------------- */

static void
status_text_nodes(const status_t *st)
{
    size_t         i;
    int            fill;
    char           bar[STATUS_BAR + 1], used[16], quota[16], pct[8], kn[24];
    long long      u, q;
    status_node_t *nd;

    printf("nodes %zu\n", st->nnodes);

    if (st->nnodes == 0) {
        return;
    }

    printf("  %-4s %-12s %-8s %-5s %-22s %5s %8s/%-8s %9s %5s %7s\n", "id",
           "name", "state", "alive", "fill", "", "used", "quota", "files",
           "load", "max K-N");

    for (i = 0; i < st->nnodes; i++) {
        nd = &st->nodes[i];
        u = atoll(status_field(nd->h, F_USED));
        q = atoll(status_field(nd->h, F_QUOTA));
        fill = (q > 0) ? (int) (u * STATUS_BAR / q) : 0;
        fill = fill > STATUS_BAR ? STATUS_BAR : fill < 0 ? 0 : fill;

        memset(bar, '#', (size_t) fill);
        memset(bar + fill, '.', (size_t) (STATUS_BAR - fill));
        bar[STATUS_BAR] = '\0';

        status_bytes(used, sizeof(used), u);
        if (q > 0) {
            status_bytes(quota, sizeof(quota), q);
            snprintf(pct, sizeof(pct), "%lld%%", u * 100 / q);
        } else {
            snprintf(quota, sizeof(quota), "-");
            snprintf(pct, sizeof(pct), "-");
        }

        if (nd->has_kn) {
            snprintf(kn, sizeof(kn), "%+lld", nd->max_kn);
        } else {
            snprintf(kn, sizeof(kn), "-");
        }

        printf("  %-4d %-12s %-8s %-5s [%s] %5s %8s/%-8s %9s %5s %7s\n",
               nd->id,
               nd->name, nd->draining ? "draining"
                         : *status_field(nd->h, F_STATE)
                         ? status_field(nd->h, F_STATE) : "-",
               nd->alive ? "yes" : "NO", bar, pct, used, quota,
               status_field(nd->h, F_FILES), status_field(nd->h, F_LOAD), kn);
    }
}


static const char *
status_or(const status_t *st, const char *name)
{
    const char  *v = status_stat(st, name);

    return v ? v : "-";
}


/* A byte count from stats, human-sized, or "-". */
static void
status_stat_bytes(const status_t *st, const char *name, char *buf,
    size_t cap)
{
    const char  *v = status_stat(st, name);

    if (v && status_is_int(v) && v[0] != '-') {
        status_bytes(buf, cap, atoll(v));
    } else {
        snprintf(buf, cap, "-");
    }
}


static void
status_text_stats(const cli_t *cli, const status_t *st)
{
    int          known;
    size_t       i, j;
    char         bytes[16], copies[16], plan[32];
    long long    age;
    const char  *v;

    if (st->stats->elements == 0) {
        printf("figures  none yet: no master has published %sstats (is "
               "fsdfsd running?)\n", cli->prefix);
        return;
    }

    status_stat_bytes(st, "bytes", bytes, sizeof(bytes));
    status_stat_bytes(st, "copy_bytes", copies, sizeof(copies));

    printf("files    %s (%s, all copies %s), min(K-N) %s, under N %s, "
           "lost %s\n", status_or(st, "files"), bytes, copies,
           status_or(st, "min_kn"), status_or(st, "under"),
           status_or(st, "lost"));
    printf("pulls    %s in flight, %s done, %s failed; drops %s done, "
           "%s failed\n", status_or(st, "pulls_inflight"),
           status_or(st, "pulls_done"), status_or(st, "pulls_failed"),
           status_or(st, "drops_done"), status_or(st, "drops_failed"));

    v = status_stat(st, "plan_usec");
    if (v && status_is_int(v)) {
        snprintf(plan, sizeof(plan), "%.1f ms", (double) atoll(v) / 1000);
    } else {
        snprintf(plan, sizeof(plan), "-");
    }

    age = status_age_ms(st->now, status_stat(st, "updated"));
    printf("figures  by %s, epoch %s, %s live nodes, plan %s, updated ",
           status_or(st, "master"), status_or(st, "epoch"),
           status_or(st, "nodes_live"), plan);
    if (age < 0) {
        printf("-\n");
    } else {
        printf("%.1f s ago%s\n", (double) age / 1000,
               age > 5000 ? " (STALE: is the master running?)" : "");
    }

    for (i = 0; i + 1 < st->stats->elements; i += 2) {
        for (known = 0, j = 0; status_known[j]; j++) {
            known |= strcmp(status_known[j], st->stats->element[i]->str) == 0;
        }
        if (!known) {
            printf("other    %s %s\n", st->stats->element[i]->str,
                   st->stats->element[i + 1]->str);
        }
    }
}


static void
status_text_kn(const status_t *st)
{
    int        w;
    size_t     i;
    long long  max = 0;

    if (st->nkn == 0) {
        printf("K-N      no histogram yet\n");
        return;
    }

    for (i = 0; i < st->nkn; i++) {
        max = st->kn[i].files > max ? st->kn[i].files : max;
    }

    printf("K-N      files (%lld copies missing to reach min(K-N) >= 0)\n",
           status_missing(st));

    for (i = 0; i < st->nkn; i++) {
        w = max ? (int) (st->kn[i].files * STATUS_HIST / max) : 0;
        if (w == 0 && st->kn[i].files > 0) {
            w = 1;
        }
        printf("  %+5lld  %-*.*s %lld\n", st->kn[i].kn, STATUS_HIST, w,
               "########################################", st->kn[i].files);
    }
}


static void
status_text(const cli_t *cli, const status_t *st)
{
    size_t       len;
    const char  *m, *ep = NULL;

    m = status_master(st, &len, &ep);
    if (m == NULL) {
        printf("master   no master (no lease: fsdfsd not running)\n");
    } else {
        printf("master   %.*s, lease epoch %s, ", (int) len, m, ep ? ep : "?");
        if (st->master_ttl >= 0) {
            printf("%.1f s left\n", (double) st->master_ttl / 1000);
        } else {
            printf("no expiry\n");
        }
    }

    printf("epoch    %s\n", status_str(st->epoch) ? status_str(st->epoch)
                                                  : "0 (never set)");
    status_text_stats(cli, st);
    status_text_kn(st);
    printf("\n");
    status_text_nodes(st);
}


/* JSON --------------------------------------------------------------------- */

static void
status_json_value(const char *s)
{
    if (status_is_int(s)) {
        printf("%lld", atoll(s));
    } else {
        cli_json_str(s, strlen(s));
    }
}


static void
status_json_nodes(const status_t *st)
{
    int             i;
    size_t          j;
    long long       age, u, q;
    status_node_t  *nd;

    printf("\"nodes\":[");

    for (j = 0; j < st->nnodes; j++) {
        nd = &st->nodes[j];
        printf("%s{\"id\":%d,\"name\":", j ? "," : "", nd->id);
        cli_json_str(nd->name, strlen(nd->name));
        printf(",\"alive\":%s,\"draining\":%s", nd->alive ? "true" : "false",
               nd->draining ? "true" : "false");

        for (i = 0; i < F_TS; i++) {
            printf(",\"%s\":", status_node_fields[i]);
            if (i == F_URL || i == F_STATE) {
                cli_json_str(status_field(nd->h, i),
                             strlen(status_field(nd->h, i)));
            } else {
                printf("%lld", atoll(status_field(nd->h, i)));
            }
        }

        /* used/quota as a fraction: the fill bar, for a dashboard */
        u = atoll(status_field(nd->h, F_USED));
        q = atoll(status_field(nd->h, F_QUOTA));
        if (q > 0) {
            printf(",\"fill\":%.4f", (double) u / (double) q);
        } else {
            printf(",\"fill\":null");
        }

        /* null: no file on it, or no master has published fsdfs:nodekn */
        if (nd->has_kn) {
            printf(",\"max_kn\":%lld", nd->max_kn);
        } else {
            printf(",\"max_kn\":null");
        }

        age = status_age_ms(st->now, status_field(nd->h, F_TS));
        if (age < 0) {
            printf(",\"age\":null}");
        } else {
            printf(",\"age\":%.3f}", (double) age / 1000);
        }
    }

    printf("]");
}


static void
status_json(const status_t *st)
{
    size_t       i, len;
    long long    age;
    const char  *m, *ep = NULL, *e;

    printf("{");
    status_json_nodes(st);

    printf(",\"stats\":");
    if (st->stats->elements == 0) {
        printf("null");
    } else {
        for (i = 0; i + 1 < st->stats->elements; i += 2) {
            printf("%s", i ? "," : "{");
            cli_json_str(st->stats->element[i]->str,
                         st->stats->element[i]->len);
            putchar(':');
            status_json_value(st->stats->element[i + 1]->str);
        }
        printf("}");
    }

    age = status_age_ms(st->now, status_stat(st, "updated"));
    if (age < 0) {
        printf(",\"stats_age\":null");
    } else {
        printf(",\"stats_age\":%.3f", (double) age / 1000);
    }

    printf(",\"kn\":{");
    for (i = 0; i < st->nkn; i++) {
        printf("%s\"%lld\":%lld", i ? "," : "", st->kn[i].kn,
               st->kn[i].files);
    }
    printf("}");

    if (status_missing(st) < 0) {
        printf(",\"missing\":null");
    } else {
        printf(",\"missing\":%lld", status_missing(st));
    }

    m = status_master(st, &len, &ep);
    if (m == NULL) {
        printf(",\"master\":null");
    } else {
        printf(",\"master\":{\"holder\":");
        cli_json_str(m, len);
        printf(",\"epoch\":");
        if (ep && status_is_int(ep)) {
            printf("%lld", atoll(ep));
        } else {
            printf("null");
        }
        printf(",\"ttl_ms\":%lld}", st->master_ttl);
    }

    e = status_str(st->epoch);
    printf(",\"epoch\":%lld}\n", (e && status_is_int(e)) ? atoll(e) : 0);
}


int
cli_status(cli_t *cli, int argc, char **argv)
{
    int       rc;
    status_t  st;

    cli->json = (argc == 2 && strcmp(argv[1], "--json") == 0);

    if (argc != 1 && !cli->json) {
        return CLI_USAGE;
    }

    rc = cli_connect(cli);
    if (rc != CLI_OK) {
        return rc;
    }

    memset(&st, 0, sizeof(st));
    rc = status_load(cli, &st);

    if (rc == CLI_OK) {
        if (cli->json) {
            status_json(&st);
        } else {
            status_text(cli, &st);
        }
    }

    status_free(&st);
    return rc;
}
