/*
 * fsdfs fsck [--repair] [--sums] [--node NAME] [--json]: the index against
 * the disks. Each live node (or the one named) lists its data root by a
 * signed GET /_fsdfs/inventory (with sums=1 under --sums: the node reads
 * every file); the index is read bucket by bucket with pipelined
 * HGETALLs. Per node:
 *
 *   missing  the record names the node, the disk has no copy
 *   size     the node holds the path, its copy has another size
 *   sum      the same with another checksum (only with --sums)
 *   extra    a copy the index does not hold: of a known path (matching
 *            the record or not) or of a path the index does not know
 *
 * Nothing changes without --repair. With it: missing drops the holder
 * from the record (WATCH/MULTI, with a "type set" event so the master
 * re-plans); size and sum quarantine the copy on the node and drop the
 * holder; an extra copy that matches its record gains the node as holder
 * (as scan does, "type have" event); an extra copy that differs from its
 * record is quarantined; an unknown path is only reported. Every repair
 * re-reads the record under WATCH and does nothing if it changed its
 * mind meanwhile (the master may be running).
 *
 * Exit: 0 clean, 1 problems found (also when repaired: run it again to
 * see 0), 3 Redis unreachable, 4 a node could not be listed or another
 * error.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "cli.h"
#include "fsdfs_keys.h"
#include "fsdfs_path.h"
#include "fsdfs_record.h"
#include "fsdfs_sign.h"


#define FSCK_SECRET_MAX   1024
#define FSCK_QUERY_MAX    (FSDFS_PATH_MAX * 3 + 512)
#define FSCK_PIPELINE     128           /* buckets per round trip */
#define FSCK_RETRIES      10

enum { FSCK_MISSING, FSCK_EXTRA, FSCK_SIZE, FSCK_SUM, FSCK_KINDS };

static const char  *fsck_kind_name[] = { "missing", "extra", "size", "sum" };


typedef struct {
    char           *path;
    uint64_t        size;
    uint64_t        sum;
    unsigned        has_sum:1;
    unsigned        unreadable:1;
    unsigned        known:1;            /* the index has the path */
} fsck_file_t;


typedef struct {
    int             id;
    char            name[64];
    char            url[256];
    int             alive;
    int             listed;             /* inventory fetched */
    fsck_file_t    *files;
    size_t          nfiles;
    size_t          counts[FSCK_KINDS];
} fsck_node_t;


typedef struct {
    int             kind;
    fsck_node_t    *node;
    char           *path;
    uint64_t        size;               /* on disk (not for missing) */
    uint64_t        sum;
    uint64_t        rsize;              /* in the record, if known */
    uint64_t        rsum;
    unsigned        known:1;
    unsigned        matches:1;          /* extra: equals its record */
    unsigned        has_sum:1;
    const char     *done;               /* what the repair did, or NULL */
} fsck_problem_t;


typedef struct {
    cli_t          *cli;
    int             repair;
    int             sums;
    int             adopt;
    const char     *only;               /* --node */
    unsigned char   key[FSCK_SECRET_MAX];
    size_t          keylen;
    long long       epoch;
    long long       buckets;
    fsck_node_t    *nodes;
    size_t          nnodes;
    fsck_problem_t *problems;
    size_t          nproblems;
    size_t          cap;
    size_t          records;
    size_t          repaired;
    int             failed;             /* a node or repair failed */
    char           *body;               /* an inventory being read */
    size_t          body_len;
    size_t          body_cap;
    int             oom;
} fsck_t;


/* Arguments ----------------------------------------------------------------*/

static int
fsck_args(fsck_t *f, int argc, char **argv)
{
    int  i;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--repair") == 0) {
            f->repair = 1;

        } else if (strcmp(argv[i], "--sums") == 0) {
            f->sums = 1;

        } else if (strcmp(argv[i], "--adopt") == 0) {
            f->adopt = 1;

        } else if (strcmp(argv[i], "--json") == 0) {
            f->cli->json = 1;

        } else if (strcmp(argv[i], "--node") == 0 && i + 1 < argc
                   && f->only == NULL)
        {
            f->only = argv[++i];

        } else {
            fprintf(stderr, "fsdfs fsck: invalid argument \"%s\"\n", argv[i]);
            return -1;
        }
    }

    if (f->adopt && !(f->repair && f->sums)) {
        fprintf(stderr, "fsdfs fsck: --adopt needs --repair and --sums\n");
        return -1;
    }

    return 0;
}


/* Problems -----------------------------------------------------------------*/

static fsck_problem_t *
fsck_problem(fsck_t *f, int kind, fsck_node_t *n, const char *path)
{
    fsck_problem_t  *p;

    if (f->nproblems == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 64;
        p = realloc(f->problems, f->cap * sizeof(fsck_problem_t));
        if (p == NULL) {
            f->oom = 1;
            f->cap = f->nproblems;
            return NULL;
        }
        f->problems = p;
    }

    p = &f->problems[f->nproblems];
    memset(p, 0, sizeof(*p));
    p->path = strdup(path);
    if (p->path == NULL) {
        f->oom = 1;
        return NULL;
    }

    p->kind = kind;
    p->node = n;
    n->counts[kind]++;
    f->nproblems++;
    return p;
}


/* The node table -----------------------------------------------------------*/

static int
fsck_nodes(fsck_t *f)
{
    cli_t       *cli = f->cli;
    size_t       i;
    redisReply  *r, *h, *a;
    fsck_node_t *n;

    r = cli_cmd(cli, "HGETALL %snodes", cli->prefix);
    if (!cli_reply_ok(r, REDIS_REPLY_ARRAY)) {
        freeReplyObject(r);
        return cli_fail(cli);
    }

    f->nodes = calloc(r->elements / 2 + 1, sizeof(fsck_node_t));
    if (f->nodes == NULL) {
        freeReplyObject(r);
        return CLI_ERROR;
    }

    for (i = 0; i + 1 < r->elements; i += 2) {
        if (f->only && strcmp(f->only, r->element[i]->str) != 0) {
            continue;
        }

        n = &f->nodes[f->nnodes];
        n->id = atoi(r->element[i + 1]->str);
        if (n->id <= 0 || n->id > FSDFS_MAX_NODE_ID) {
            continue;
        }
        snprintf(n->name, sizeof(n->name), "%s", r->element[i]->str);

        h = cli_cmd(cli, "HGET %snode:%d url", cli->prefix, n->id);
        a = cli_cmd(cli, "EXISTS %salive:%d", cli->prefix, n->id);
        if (!cli_reply_ok(h, 0) || !cli_reply_ok(a, REDIS_REPLY_INTEGER)) {
            freeReplyObject(h);
            freeReplyObject(a);
            freeReplyObject(r);
            return cli_fail(cli);
        }

        if (h->type == REDIS_REPLY_STRING) {
            snprintf(n->url, sizeof(n->url), "%s", h->str);
        }
        n->alive = (a->integer == 1);
        freeReplyObject(h);
        freeReplyObject(a);

        if (!n->alive && f->only == NULL) {
            fprintf(stderr, "fsdfs fsck: node %s (id %d) is not alive: "
                    "skipped\n", n->name, n->id);
            continue;
        }

        f->nnodes++;
    }

    freeReplyObject(r);

    if (f->only && f->nnodes == 0) {
        fprintf(stderr, "fsdfs fsck: unknown node \"%s\"\n", f->only);
        return CLI_ERROR;
    }

    return CLI_OK;
}


/* Signed commands to a node ------------------------------------------------*/

static size_t
fsck_write(char *data, size_t size, size_t nmemb, void *ctx)
{
    char    *b;
    size_t   n = size * nmemb, cap;
    fsck_t  *f = ctx;

    if (f->body_len + n + 1 > f->body_cap) {
        cap = f->body_cap ? f->body_cap : 65536;
        while (cap < f->body_len + n + 1) {
            cap *= 2;
        }
        b = realloc(f->body, cap);
        if (b == NULL) {
            f->oom = 1;
            return 0;
        }
        f->body = b;
        f->body_cap = cap;
    }

    memcpy(f->body + f->body_len, data, n);
    f->body_len += n;
    f->body[f->body_len] = '\0';
    return n;
}


/* Sends a signed command; the answer in f->body; HTTP status, or -1. */
static long
fsck_send(fsck_t *f, fsck_node_t *n, const char *method, const char *op,
    const fsdfs_sign_param_t *params, unsigned nparams, long timeout)
{
    char       uri[32], query[FSCK_QUERY_MAX], *url;
    long       status;
    size_t     len;
    CURL      *curl;
    CURLcode   cc;
    char       errbuf[CURL_ERROR_SIZE];

    snprintf(uri, sizeof(uri), "/_fsdfs/%s", op);

    if (fsdfs_sign_query(query, sizeof(query), f->key, f->keylen, method,
                         uri, params, nparams, (int64_t) time(NULL),
                         (uint64_t) f->epoch) < 0)
    {
        fprintf(stderr, "fsdfs fsck: cannot sign the command\n");
        return -1;
    }

    len = strlen(n->url) + strlen(uri) + strlen(query) + 2;
    url = malloc(len);
    curl = curl_easy_init();
    if (url == NULL || curl == NULL) {
        free(url);
        curl_easy_cleanup(curl);
        return -1;
    }

    snprintf(url, len, "%s%s?%s", n->url, uri, query);

    f->body_len = 0;
    if (f->body) {
        f->body[0] = '\0';
    }

    errbuf[0] = '\0';
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, 0L);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
    }
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, fsck_write);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, timeout);

    cc = curl_easy_perform(curl);
    status = -1;

    if (cc != CURLE_OK) {
        fprintf(stderr, "fsdfs fsck: node %s (%s): %s %s: %s\n", n->name,
                n->url, method, uri,
                errbuf[0] ? errbuf : curl_easy_strerror(cc));

    } else {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    }

    curl_easy_cleanup(curl);
    free(url);
    return status;
}


static int
fsck_file_cmp(const void *a, const void *b)
{
    return strcmp(((const fsck_file_t *) a)->path,
                  ((const fsck_file_t *) b)->path);
}


/* Parses "path\tsize[\tsum]" lines and "# end N"; 0, or -1 if malformed
 * or cut short. */
static int
fsck_parse(fsck_t *f, fsck_node_t *n)
{
    char         *p, *nl, *t, *end;
    size_t        cap, count;
    long long     total;
    fsck_file_t  *file, *nf;

    total = -1;
    count = 0;
    cap = 0;

    for (p = f->body; p < f->body + f->body_len; p = nl + 1) {
        nl = memchr(p, '\n', f->body + f->body_len - p);
        if (nl == NULL) {
            return -1;                              /* cut in a line */
        }
        *nl = '\0';

        if (p[0] == '#') {
            if (strncmp(p, "# end ", 6) == 0) {
                total = strtoll(p + 6, &end, 10);
                if (*end) {
                    return -1;
                }
            }
            continue;
        }

        if (total >= 0) {
            return -1;                              /* after the end */
        }

        t = strchr(p, '\t');
        if (t == NULL) {
            return -1;
        }
        *t++ = '\0';

        if (n->nfiles == cap) {
            cap = cap ? cap * 2 : 1024;
            nf = realloc(n->files, cap * sizeof(fsck_file_t));
            if (nf == NULL) {
                f->oom = 1;
                return -1;
            }
            n->files = nf;
        }

        file = &n->files[n->nfiles];
        memset(file, 0, sizeof(*file));

        file->size = strtoull(t, &end, 10);
        if (end == t || (*end != '\0' && *end != '\t')) {
            return -1;
        }

        if (*end == '\t') {
            t = end + 1;
            if (strcmp(t, "-") == 0) {
                file->unreadable = 1;

            } else {
                file->sum = strtoull(t, &end, 16);
                if (end - t != 16 || *end) {
                    return -1;
                }
                file->has_sum = 1;
            }
        }

        file->path = strdup(p);
        if (file->path == NULL) {
            f->oom = 1;
            return -1;
        }

        n->nfiles++;
        count++;
    }

    if (total < 0 || (size_t) total != count) {
        return -1;
    }

    qsort(n->files, n->nfiles, sizeof(fsck_file_t), fsck_file_cmp);
    return 0;
}


static int
fsck_inventory(fsck_t *f, fsck_node_t *n)
{
    long                status;
    fsdfs_sign_param_t  sums = { "sums", 4, "1", 1 };

    if (n->url[0] == '\0') {
        fprintf(stderr, "fsdfs fsck: node %s has no url (it never sent a "
                "heartbeat)\n", n->name);
        return -1;
    }

    status = fsck_send(f, n, "GET", "inventory", &sums, f->sums ? 1 : 0,
                       f->sums ? 3600 : 600);
    if (status < 0) {
        return -1;
    }

    if (status != 200) {
        fprintf(stderr, "fsdfs fsck: node %s refused the inventory: %ld %s\n",
                n->name, status, f->body ? f->body : "");
        return -1;
    }

    if (fsck_parse(f, n) != 0) {
        fprintf(stderr, "fsdfs fsck: node %s: inventory malformed or cut "
                "short (no matching \"# end\" line)\n", n->name);
        return -1;
    }

    n->listed = 1;
    return 0;
}


static fsck_file_t *
fsck_find(fsck_node_t *n, const char *path)
{
    fsck_file_t  key;

    key.path = (char *) path;
    return bsearch(&key, n->files, n->nfiles, sizeof(fsck_file_t),
                   fsck_file_cmp);
}


/* The index ----------------------------------------------------------------*/

static void
fsck_record(fsck_t *f, const char *path, const char *raw, size_t len)
{
    size_t           i;
    int              held;
    fsck_node_t     *n;
    fsck_file_t     *file;
    fsdfs_record_t   rec;
    fsck_problem_t  *p;

    if (fsdfs_record_decode(&rec, raw, len) != 0) {
        fprintf(stderr, "fsdfs fsck: corrupt record for \"%s\" left alone\n",
                path);
        return;
    }

    f->records++;

    for (i = 0; i < f->nnodes; i++) {
        n = &f->nodes[i];
        if (!n->listed) {
            continue;
        }

        held = fsdfs_record_has_holder(&rec, (unsigned) n->id);
        file = fsck_find(n, path);

        if (file == NULL) {
            if (held) {
                p = fsck_problem(f, FSCK_MISSING, n, path);
                if (p) {
                    p->known = 1;
                    p->rsize = rec.size;
                    p->rsum = rec.sum;
                }
            }
            continue;
        }

        file->known = 1;

        if (held && file->size == rec.size
            && !(f->sums && (file->unreadable
                             || (file->has_sum && file->sum != rec.sum))))
        {
            continue;                                       /* good */
        }

        if (held) {
            p = fsck_problem(f, file->size != rec.size ? FSCK_SIZE : FSCK_SUM,
                             n, path);
        } else {
            p = fsck_problem(f, FSCK_EXTRA, n, path);
        }

        if (p == NULL) {
            continue;
        }

        p->known = 1;
        p->size = file->size;
        p->sum = file->sum;
        p->has_sum = file->has_sum;
        p->rsize = rec.size;
        p->rsum = rec.sum;
        p->matches = file->size == rec.size
                     && !(f->sums && (file->unreadable
                                      || (file->has_sum
                                          && file->sum != rec.sum)));
    }
}


static int
fsck_index(fsck_t *f)
{
    long long    b, first, last;
    size_t       i;
    redisReply  *r;
    cli_t       *cli = f->cli;
    char         key[FSDFS_KEY_MAX];

    for (first = 0; first < f->buckets; first = last) {
        last = first + FSCK_PIPELINE;
        if (last > f->buckets) {
            last = f->buckets;
        }

        for (b = first; b < last; b++) {
            (void) fsdfs_key_loc(key, sizeof(key), cli->prefix, (uint32_t) b);
            if (redisAppendCommand(cli->rc, "HGETALL %s", key) != REDIS_OK) {
                return cli_fail(cli);
            }
        }

        for (b = first; b < last; b++) {
            if (redisGetReply(cli->rc, (void **) &r) != REDIS_OK) {
                fprintf(stderr, "fsdfs fsck: redis \"%s\": %s\n", cli->addr,
                        cli->rc->errstr);
                return CLI_NOREDIS;
            }

            if (!cli_reply_ok(r, REDIS_REPLY_ARRAY)) {
                freeReplyObject(r);
                return cli_fail(cli);
            }

            for (i = 0; i + 1 < r->elements; i += 2) {
                fsck_record(f, r->element[i]->str, r->element[i + 1]->str,
                            r->element[i + 1]->len);
            }

            freeReplyObject(r);
        }
    }

    return CLI_OK;
}


/* Extra copies of paths the index does not know. */
static void
fsck_unknown(fsck_t *f)
{
    size_t           i, j;
    fsck_node_t     *n;
    fsck_problem_t  *p;

    for (i = 0; i < f->nnodes; i++) {
        n = &f->nodes[i];

        for (j = 0; j < n->nfiles; j++) {
            if (n->files[j].known) {
                continue;
            }

            p = fsck_problem(f, FSCK_EXTRA, n, n->files[j].path);
            if (p) {
                p->size = n->files[j].size;
                p->sum = n->files[j].sum;
                p->has_sum = n->files[j].has_sum;
            }
        }
    }
}


/* Repair -------------------------------------------------------------------*/

/*
 * Adds (add) or removes the node as holder of path, if the record still
 * says what fsck saw (for add: size, and sum with --sums, still match);
 * one WATCH/MULTI transaction with an event, retried on a race. Returns
 * what was done, or NULL with f->failed set.
 */
static const char *
fsck_holder(fsck_t *f, fsck_problem_t *p, int add)
{
    int              rc, tries;
    char             key[FSDFS_KEY_MAX], value[FSDFS_RECORD_MAX + 1];
    char             id[8];
    cli_t           *cli = f->cli;
    redisReply      *r;
    fsdfs_record_t   rec;

    if (cli_loc_key(cli, "fsck", p->path, key, sizeof(key)) != CLI_OK) {
        f->failed = 1;
        return NULL;
    }

    snprintf(id, sizeof(id), "%d", p->node->id);

    for (tries = 0; tries < FSCK_RETRIES; tries++) {
        if (cli_cmd_ok(cli, "WATCH %s", key) != 0) {
            break;
        }

        r = cli_cmd(cli, "HGET %s %s", key, p->path);
        if (!cli_reply_ok(r, 0)) {
            freeReplyObject(r);
            break;
        }

        if (r->type != REDIS_REPLY_STRING
            || fsdfs_record_decode(&rec, r->str, r->len) != 0)
        {
            freeReplyObject(r);
            (void) cli_cmd_ok(cli, "UNWATCH");
            return "record gone or corrupt: nothing done";
        }

        freeReplyObject(r);

        if (add) {
            if (fsdfs_record_has_holder(&rec, (unsigned) p->node->id)) {
                (void) cli_cmd_ok(cli, "UNWATCH");
                return "already a holder";
            }
            if (rec.size != p->size || (f->sums && rec.sum != p->sum)) {
                (void) cli_cmd_ok(cli, "UNWATCH");
                return "record changed: nothing done";
            }
            if (fsdfs_record_add_holder(&rec, (unsigned) p->node->id) != 0) {
                (void) cli_cmd_ok(cli, "UNWATCH");
                f->failed = 1;
                return NULL;
            }

        } else if (fsdfs_record_del_holder(&rec, (unsigned) p->node->id)
                   != 0)
        {
            (void) cli_cmd_ok(cli, "UNWATCH");
            return "holder already gone";
        }

        if (fsdfs_record_encode(&rec, value, sizeof(value)) < 0) {
            (void) cli_cmd_ok(cli, "UNWATCH");
            f->failed = 1;
            return NULL;
        }

        if (cli_cmd_ok(cli, "MULTI") != 0
            || cli_cmd_ok(cli, "HSET %s %s %s", key, p->path, value) != 0
            || (add
                ? cli_cmd_ok(cli, "XADD %sevents MAXLEN ~ 100000 * type have "
                             "node %s path %s", cli->prefix, id, p->path)
                : cli_cmd_ok(cli, "XADD %sevents MAXLEN ~ 100000 * type set "
                             "path %s", cli->prefix, p->path))
               != 0)
        {
            (void) cli_cmd_ok(cli, "DISCARD");
            break;
        }

        rc = cli_exec(cli);
        if (rc == 1) {
            f->repaired++;
            return add ? "holder added" : "holder removed";
        }
        if (rc < 0) {
            break;
        }
    }

    f->failed = 1;
    return NULL;
}


/* A new record for an unknown path, held by the node (as scan creates
 * one): HSETNX, and a "type have" event if it was created. */
static const char *
fsck_adopt(fsck_t *f, fsck_problem_t *p)
{
    char             key[FSDFS_KEY_MAX], value[FSDFS_RECORD_MAX + 1];
    char             id[8];
    cli_t           *cli = f->cli;
    redisReply      *r;
    fsdfs_record_t   rec;

    if (!p->has_sum) {
        return "unreadable: left alone";
    }

    if (fsdfs_path_check(p->path, strlen(p->path)) != NULL
        || cli_loc_key(cli, "fsck", p->path, key, sizeof(key)) != CLI_OK)
    {
        f->failed = 1;
        return NULL;
    }

    memset(&rec, 0, sizeof(rec));
    rec.size = p->size;
    rec.sum = p->sum;
    rec.ctime = (int64_t) time(NULL);
    (void) fsdfs_record_add_holder(&rec, (unsigned) p->node->id);

    if (fsdfs_record_encode(&rec, value, sizeof(value)) < 0) {
        f->failed = 1;
        return NULL;
    }

    r = cli_cmd(cli, "HSETNX %s %s %s", key, p->path, value);
    if (!cli_reply_ok(r, REDIS_REPLY_INTEGER)) {
        freeReplyObject(r);
        f->failed = 1;
        return NULL;
    }

    if (r->integer != 1) {
        freeReplyObject(r);
        return "indexed meanwhile: nothing done";
    }

    freeReplyObject(r);
    snprintf(id, sizeof(id), "%d", p->node->id);

    if (cli_cmd_ok(cli, "XADD %sevents MAXLEN ~ 100000 * type have node %s "
                   "path %s", cli->prefix, id, p->path) != 0)
    {
        f->failed = 1;
    }

    f->repaired++;
    return "adopted: new record";
}


/* Moves the copy into the node's quarantine; 0 (also if already gone). */
static int
fsck_quarantine(fsck_t *f, fsck_problem_t *p)
{
    long                status;
    fsdfs_sign_param_t  path;

    path = (fsdfs_sign_param_t) { "path", 4, p->path, strlen(p->path) };

    status = fsck_send(f, p->node, "POST", "quarantine", &path, 1, 60);
    if (status == 200 || status == 404) {
        return 0;
    }

    if (status > 0) {
        fprintf(stderr, "fsdfs fsck: node %s refused to quarantine \"%s\": "
                "%ld %s\n", p->node->name, p->path, status,
                f->body ? f->body : "");
    }

    f->failed = 1;
    return -1;
}


static void
fsck_repair(fsck_t *f)
{
    size_t           i;
    fsck_problem_t  *p;

    for (i = 0; i < f->nproblems; i++) {
        p = &f->problems[i];

        switch (p->kind) {

        case FSCK_MISSING:
            p->done = fsck_holder(f, p, 0);
            break;

        case FSCK_SIZE:
        case FSCK_SUM:
            if (fsck_quarantine(f, p) == 0) {
                p->done = fsck_holder(f, p, 0);
                if (p->done && strcmp(p->done, "holder removed") == 0) {
                    p->done = "quarantined, holder removed";
                }
            }
            break;

        default:                                            /* extra */
            if (!p->known) {
                p->done = f->adopt ? fsck_adopt(f, p)
                                   : "unknown path: left alone";

            } else if (p->matches) {
                p->done = fsck_holder(f, p, 1);

            } else if (fsck_quarantine(f, p) == 0) {
                p->done = "quarantined";
                f->repaired++;
            }
            break;
        }
    }
}


/* Output -------------------------------------------------------------------*/

static void
fsck_print_text(fsck_t *f)
{
    size_t           i, k, total;
    fsck_node_t     *n;
    fsck_problem_t  *p;

    for (i = 0; i < f->nproblems; i++) {
        p = &f->problems[i];
        printf("%-8s %-7s %s", p->node->name, fsck_kind_name[p->kind],
               p->path);

        switch (p->kind) {
        case FSCK_MISSING:
            printf(" (indexed %" PRIu64 " bytes, not on disk)", p->rsize);
            break;
        case FSCK_SIZE:
            printf(" (%" PRIu64 " bytes, indexed %" PRIu64 ")", p->size,
                   p->rsize);
            break;
        case FSCK_SUM:
            printf(" (sum %016" PRIx64 ", indexed %016" PRIx64 ")", p->sum,
                   p->rsum);
            break;
        default:
            printf(" (%" PRIu64 " bytes, %s)", p->size,
                   !p->known ? "unknown path"
                   : p->matches ? "matches its record, not held"
                                : "differs from its record");
            break;
        }

        if (p->done) {
            printf(": %s", p->done);
        }
        putchar('\n');
    }

    total = 0;
    for (i = 0; i < f->nnodes; i++) {
        n = &f->nodes[i];
        printf("node %s (id %d): ", n->name, n->id);
        if (!n->listed) {
            printf("not listed\n");
            continue;
        }
        printf("%zu files", n->nfiles);
        for (k = 0; k < FSCK_KINDS; k++) {
            printf(", %zu %s", n->counts[k], fsck_kind_name[k]);
            total += n->counts[k];
        }
        putchar('\n');
    }

    printf("fsck: %zu records, %zu problem%s%s", f->records, total,
           total == 1 ? "" : "s", f->sums ? "" : " (sizes only; --sums "
           "checks the contents)");
    if (f->repair) {
        printf(", %zu repaired", f->repaired);
    }
    putchar('\n');
}


static void
fsck_print_json(fsck_t *f)
{
    size_t           i, k, total;
    fsck_node_t     *n;
    fsck_problem_t  *p;

    printf("{\"repair\":%s,\"sums\":%s,\"records\":%zu,\"nodes\":[",
           f->repair ? "true" : "false", f->sums ? "true" : "false",
           f->records);

    total = 0;
    for (i = 0; i < f->nnodes; i++) {
        n = &f->nodes[i];
        printf("%s{\"name\":", i ? "," : "");
        cli_json_str(n->name, strlen(n->name));
        printf(",\"id\":%d,\"listed\":%s,\"files\":%zu", n->id,
               n->listed ? "true" : "false", n->nfiles);
        for (k = 0; k < FSCK_KINDS; k++) {
            printf(",\"%s\":%zu", fsck_kind_name[k], n->counts[k]);
            total += n->counts[k];
        }
        putchar('}');
    }

    printf("],\"problems\":[");

    for (i = 0; i < f->nproblems; i++) {
        p = &f->problems[i];
        printf("%s{\"node\":", i ? "," : "");
        cli_json_str(p->node->name, strlen(p->node->name));
        printf(",\"kind\":\"%s\",\"path\":", fsck_kind_name[p->kind]);
        cli_json_str(p->path, strlen(p->path));
        printf(",\"known\":%s", p->known ? "true" : "false");

        if (p->kind != FSCK_MISSING) {
            printf(",\"size\":%" PRIu64, p->size);
            if (p->has_sum) {
                printf(",\"sum\":\"%016" PRIx64 "\"", p->sum);
            }
        }
        if (p->known) {
            printf(",\"indexed_size\":%" PRIu64 ",\"indexed_sum\":\"%016"
                   PRIx64 "\"", p->rsize, p->rsum);
        }
        if (p->kind == FSCK_EXTRA) {
            printf(",\"matches\":%s", p->matches ? "true" : "false");
        }
        printf(",\"repair\":");
        if (p->done) {
            cli_json_str(p->done, strlen(p->done));
        } else {
            printf("null");
        }
        putchar('}');
    }

    printf("],\"total\":%zu,\"repaired\":%zu,\"clean\":%s}\n", total,
           f->repaired, total ? "false" : "true");
}


/* The command --------------------------------------------------------------*/

static int
fsck_run(fsck_t *f)
{
    int          rc;
    size_t       i;
    const char  *err;
    cli_t       *cli = f->cli;
    redisReply  *r;

    errno = 0;
    if (fsdfs_secret_load(cli->secret, f->key, sizeof(f->key), &f->keylen,
                          &err) != 0)
    {
        fprintf(stderr, "fsdfs fsck: secret \"%s\": %s (give it with -s "
                "FILE or $FSDFS_SECRET)\n", cli->secret, err);
        return CLI_USAGE;
    }

    rc = cli_connect(cli);
    if (rc != CLI_OK) {
        return rc;
    }

    f->buckets = cli_config_int(cli, "buckets");
    if (f->buckets <= 0 || f->buckets > FSDFS_MAX_BUCKETS) {
        if (cli->rc->err) {
            return CLI_NOREDIS;
        }
        fprintf(stderr, "fsdfs fsck: no %sconfig buckets: run fsdfs init "
                "first\n", cli->prefix);
        return CLI_ERROR;
    }

    r = cli_cmd(cli, "GET %sepoch", cli->prefix);
    if (!cli_reply_ok(r, 0)) {
        freeReplyObject(r);
        return cli_fail(cli);
    }
    f->epoch = (r->type == REDIS_REPLY_STRING) ? atoll(r->str) : 0;
    freeReplyObject(r);

    rc = fsck_nodes(f);
    if (rc != CLI_OK) {
        return rc;
    }

    for (i = 0; i < f->nnodes; i++) {
        if (fsck_inventory(f, &f->nodes[i]) != 0) {
            f->failed = 1;
        }
    }

    rc = fsck_index(f);
    if (rc != CLI_OK) {
        return rc;
    }

    fsck_unknown(f);

    if (f->oom) {
        fprintf(stderr, "fsdfs fsck: out of memory\n");
        return CLI_ERROR;
    }

    if (f->repair) {
        fsck_repair(f);
        if (cli->rc->err) {
            return CLI_NOREDIS;
        }
    }

    if (cli->json) {
        fsck_print_json(f);
    } else {
        fsck_print_text(f);
    }

    if (f->failed) {
        return CLI_ERROR;
    }

    return f->nproblems ? CLI_NOTFOUND : CLI_OK;
}


int
cli_fsck(cli_t *cli, int argc, char **argv)
{
    int      rc;
    size_t   i, j;
    fsck_t  *f;

    f = calloc(1, sizeof(fsck_t));
    if (f == NULL) {
        return CLI_ERROR;
    }

    f->cli = cli;

    if (fsck_args(f, argc, argv) != 0) {
        free(f);
        return CLI_USAGE;
    }

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        free(f);
        fprintf(stderr, "fsdfs fsck: libcurl failed to start\n");
        return CLI_ERROR;
    }

    rc = fsck_run(f);

    for (i = 0; i < f->nnodes; i++) {
        for (j = 0; j < f->nodes[i].nfiles; j++) {
            free(f->nodes[i].files[j].path);
        }
        free(f->nodes[i].files);
    }
    for (i = 0; i < f->nproblems; i++) {
        free(f->problems[i].path);
    }

    free(f->nodes);
    free(f->problems);
    free(f->body);
    OPENSSL_cleanse(f->key, sizeof(f->key));
    free(f);
    curl_global_cleanup();
    return rc;
}
