/*
 * fsdfs put FILE PATH: ingest one file. The CLI does not write the index
 * itself: it sends the bytes to one node in a signed PUT, and that node
 * stores them (temp file, checksum, fsync, rename) and creates the
 * record with itself as the holder; the master then copies the file to
 * N nodes. Checking that the path is free beforehand only gives a clear
 * message early: the node refuses a known path again (409), atomically.
 *
 * The node is the one named, else the live active node with the most
 * free space. Size and checksum are computed here and signed with the
 * path, so the node can refuse a body that differs from what was meant.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "cli.h"
#include "fsdfs_keys.h"
#include "fsdfs_path.h"
#include "fsdfs_sign.h"
#include "fsdfs_sum.h"


#define PUT_SECRET_MAX  1024
#define PUT_ANSWER_MAX  16384
#define PUT_QUERY_MAX   (FSDFS_PATH_MAX * 3 + 512)
#define PUT_TRIES       3       /* nodes tried when one refuses connections */


typedef struct {
    const char     *file;
    const char     *path;
    const char     *node;          /* --node, or NULL */
    unsigned        n;             /* --replicas, 0 if not given */
    int             fd;
    uint64_t        size;
    uint64_t        sum;
    unsigned char   key[PUT_SECRET_MAX];
    size_t          keylen;
    int             id;            /* chosen node */
    int             tried[PUT_TRIES];   /* nodes that refused connections */
    unsigned        ntried;
    int             unreachable;   /* the last send never reached a node */
    char            name[64];
    char            url[256];
    char            answer[PUT_ANSWER_MAX + 1];
    size_t          answer_len;
} put_t;


static int
put_args(put_t *p, int argc, char **argv)
{
    int    i;
    long   v;
    char  *end;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--node") == 0 && i + 1 < argc && !p->node) {
            p->node = argv[++i];

        } else if (strcmp(argv[i], "--replicas") == 0 && i + 1 < argc
                   && !p->n)
        {
            v = strtol(argv[++i], &end, 10);
            if (argv[i][0] < '0' || argv[i][0] > '9' || *end || v < 1
                || v > 255)
            {
                fprintf(stderr, "fsdfs put: invalid --replicas \"%s\": "
                        "1..255\n", argv[i]);
                return -1;
            }
            p->n = (unsigned) v;

        } else if (argv[i][0] == '-' && argv[i][1] == '-') {
            fprintf(stderr, "fsdfs put: invalid argument \"%s\"\n", argv[i]);
            return -1;

        } else if (p->file == NULL) {
            p->file = argv[i];

        } else if (p->path == NULL) {
            p->path = argv[i];

        } else {
            fprintf(stderr, "fsdfs put: extra argument \"%s\"\n", argv[i]);
            return -1;
        }
    }

    return (p->file && p->path) ? 0 : -1;
}


/* The local side: path rules, the file, its sum, the secret; exit code. */
static int
put_prepare(cli_t *cli, put_t *p)
{
    const char   *bad, *err;
    struct stat   st;

    bad = fsdfs_path_check(p->path, strlen(p->path));
    if (bad) {
        fprintf(stderr, "fsdfs put: invalid path \"%s\": %s\n", p->path, bad);
        return CLI_USAGE;
    }

    p->fd = open(p->file, O_RDONLY | O_CLOEXEC);
    if (p->fd == -1 || fstat(p->fd, &st) != 0) {
        fprintf(stderr, "fsdfs put: cannot read \"%s\": %s\n", p->file,
                strerror(errno));
        return CLI_USAGE;
    }

    if (!S_ISREG(st.st_mode)) {
        fprintf(stderr, "fsdfs put: \"%s\" is not a regular file\n", p->file);
        return CLI_USAGE;
    }

    errno = 0;
    if (fsdfs_secret_load(cli->secret, p->key, sizeof(p->key), &p->keylen,
                          &err) != 0)
    {
        fprintf(stderr, "fsdfs put: secret \"%s\": %s%s%s (give it with -s "
                "FILE or $FSDFS_SECRET)\n", cli->secret, err,
                strncmp(err, "cannot", 6) == 0 && errno ? ": " : "",
                strncmp(err, "cannot", 6) == 0 && errno ? strerror(errno)
                                                        : "");
        return CLI_USAGE;
    }

    if (fsdfs_sum_fd(p->fd, &p->sum, &p->size) != 0
        || lseek(p->fd, 0, SEEK_SET) != 0)
    {
        fprintf(stderr, "fsdfs put: cannot read \"%s\": %s\n", p->file,
                strerror(errno));
        return CLI_ERROR;
    }

    return CLI_OK;
}


/* Refuses early, with a clear message, a path the index already has. */
static int
put_check_absent(cli_t *cli, put_t *p)
{
    int          rc;
    char         key[FSDFS_KEY_MAX];
    redisReply  *r;

    rc = cli_loc_key(cli, "put", p->path, key, sizeof(key));
    if (rc != CLI_OK) {
        return rc;
    }

    r = cli_cmd(cli, "HGET %s %s", key, p->path);
    if (!cli_reply_ok(r, 0)) {
        freeReplyObject(r);
        return cli_fail(cli);
    }

    rc = CLI_OK;
    if (r->type == REDIS_REPLY_STRING) {
        fprintf(stderr, "fsdfs put: refused: \"%s\" already exists (%s: "
                "\"%s\"); files are immutable, fsdfs rm it first\n", p->path,
                key, r->str);
        rc = CLI_ERROR;
    }

    freeReplyObject(r);
    return rc;
}


typedef struct {
    long long  free;
    int        alive;
    int        active;
    char       url[256];
} put_node_t;


/* A node's url, state, free space and liveness; 0, or -1 on error. */
static int
put_node_info(cli_t *cli, int id, put_node_t *n)
{
    redisReply  *h, *a;
    int          ok;

    memset(n, 0, sizeof(*n));

    h = cli_cmd(cli, "HMGET %snode:%d url state free", cli->prefix, id);
    a = cli_cmd(cli, "EXISTS %salive:%d", cli->prefix, id);
    ok = cli_reply_ok(h, REDIS_REPLY_ARRAY) && h->elements == 3
         && cli_reply_ok(a, REDIS_REPLY_INTEGER);

    if (ok) {
        if (h->element[0]->type == REDIS_REPLY_STRING) {
            snprintf(n->url, sizeof(n->url), "%s", h->element[0]->str);
        }
        n->active = h->element[1]->type == REDIS_REPLY_STRING
                    && strcmp(h->element[1]->str, "active") == 0;
        if (h->element[2]->type == REDIS_REPLY_STRING) {
            n->free = atoll(h->element[2]->str);
        }
        n->alive = (a->integer == 1);
    }

    freeReplyObject(h);
    freeReplyObject(a);
    return ok ? 0 : -1;
}


static int
put_tried(const put_t *p, int id)
{
    unsigned  i;

    for (i = 0; i < p->ntried; i++) {
        if (p->tried[i] == id) {
            return 1;
        }
    }
    return 0;
}


/* The node to send to: --node, else the live active one with the most
 * free space (ties: the lowest id, so the choice is reproducible) among
 * those not tried yet: a node stopped a moment ago stays alive in the
 * index until its alive key expires. */
static int
put_pick(cli_t *cli, put_t *p)
{
    int          id, best;
    size_t       i;
    long long    best_free;
    redisReply  *r;
    put_node_t   n;

    if (p->node) {
        id = cli_node_id(cli, p->node, 0);
        if (id <= 0) {
            if (id == 0) {
                fprintf(stderr, "fsdfs put: unknown node \"%s\"\n", p->node);
            }
            return id == 0 ? CLI_USAGE : cli_fail(cli);
        }

        if (put_node_info(cli, id, &n) != 0) {
            return cli_fail(cli);
        }

        if (n.url[0] == '\0') {
            fprintf(stderr, "fsdfs put: node \"%s\" has no url (it never "
                    "sent a heartbeat)\n", p->node);
            return CLI_ERROR;
        }

        if (!n.alive || !n.active) {
            fprintf(stderr, "fsdfs put: warning: node \"%s\" is %s; trying "
                    "anyway\n", p->node, n.alive ? "not active" : "not alive");
        }

        p->id = id;
        snprintf(p->name, sizeof(p->name), "%s", p->node);
        memcpy(p->url, n.url, sizeof(p->url));
        return CLI_OK;
    }

    r = cli_cmd(cli, "HGETALL %snodes", cli->prefix);
    if (!cli_reply_ok(r, REDIS_REPLY_ARRAY)) {
        freeReplyObject(r);
        return cli_fail(cli);
    }

    best = 0;
    best_free = -1;

    for (i = 0; i + 1 < r->elements; i += 2) {
        id = atoi(r->element[i + 1]->str);
        if (id <= 0 || put_tried(p, id) || put_node_info(cli, id, &n) != 0) {
            continue;
        }

        if (n.alive && n.active && n.url[0]
            && (n.free > best_free || (n.free == best_free && id < best)))
        {
            best = id;
            best_free = n.free;
            snprintf(p->name, sizeof(p->name), "%s", r->element[i]->str);
            memcpy(p->url, n.url, sizeof(p->url));
        }
    }

    freeReplyObject(r);

    if (best == 0) {
        if (cli->rc->err) {
            return CLI_NOREDIS;
        }
        fprintf(stderr, "fsdfs put: no live active node to send \"%s\" to "
                "(see fsdfs nodes)\n", p->path);
        return CLI_ERROR;
    }

    p->id = best;
    return CLI_OK;
}


/* The master's epoch, 0 before any master took over; -1 on error. */
static long long
put_epoch(cli_t *cli)
{
    long long    e;
    char        *end;
    redisReply  *r;

    r = cli_cmd(cli, "GET %sepoch", cli->prefix);
    if (!cli_reply_ok(r, 0)) {
        freeReplyObject(r);
        return -1;
    }

    e = 0;
    if (r->type == REDIS_REPLY_STRING) {
        e = strtoll(r->str, &end, 10);
        if (*end || e < 0) {
            fprintf(stderr, "fsdfs put: %sepoch is not a number: \"%s\"\n",
                    cli->prefix, r->str);
            e = -1;
        }
    }

    freeReplyObject(r);
    return e;
}


static size_t
put_write(char *data, size_t size, size_t nmemb, void *ctx)
{
    put_t   *p = ctx;
    size_t   n = size * nmemb, room = PUT_ANSWER_MAX - p->answer_len;

    /* a longer answer is cut, not an error: it is only shown */
    memcpy(p->answer + p->answer_len, data, n < room ? n : room);
    p->answer_len += n < room ? n : room;
    p->answer[p->answer_len] = '\0';
    return n;
}


/* The "error" string of a JSON answer, into buf (empty if none). */
static void
put_answer_error(const put_t *p, char *buf, size_t cap)
{
    size_t       i;
    const char  *s;

    buf[0] = '\0';
    s = strstr(p->answer, "\"error\":\"");
    if (s == NULL) {
        return;
    }

    s += 9;
    for (i = 0; s[i] && s[i] != '"' && i + 1 < cap; i++) {
        if (s[i] == '\\' && s[i + 1]) {
            s++;
        }
        buf[i] = s[i];
    }
    buf[i] = '\0';
}


static int
put_send(put_t *p, FILE *body, const char *query)
{
    int                 rc;
    char               *url, err[256];
    long                status;
    CURL               *curl;
    CURLcode            cc;
    size_t              len;
    char                errbuf[CURL_ERROR_SIZE];

    len = strlen(p->url) + sizeof("/_fsdfs/put?") + strlen(query);
    url = malloc(len);
    curl = curl_easy_init();
    p->unreachable = 0;
    p->answer_len = 0;
    p->answer[0] = '\0';

    if (fseeko(body, 0, SEEK_SET) != 0) {
        fprintf(stderr, "fsdfs put: cannot rewind \"%s\": %s\n", p->file,
                strerror(errno));
        free(url);
        curl_easy_cleanup(curl);
        return CLI_ERROR;
    }

    if (url == NULL || curl == NULL) {
        fprintf(stderr, "fsdfs put: out of memory\n");
        free(url);
        curl_easy_cleanup(curl);
        return CLI_ERROR;
    }

    /* the base URL has no trailing slash (fsdfs_node checks it) */
    snprintf(url, len, "%s/_fsdfs/put?%s", p->url, query);

    errbuf[0] = '\0';
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_READDATA, body);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t) p->size);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, put_write);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, p);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    /* no overall limit (files may be large), but a stalled upload ends */
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, 30L);

    cc = curl_easy_perform(curl);
    status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);

    if (cc != CURLE_OK) {
        fprintf(stderr, "fsdfs put: node %s (%s): %s\n", p->name, p->url,
                errbuf[0] ? errbuf : curl_easy_strerror(cc));
        /* refused or unroutable: the node never saw the request */
        p->unreachable = (cc == CURLE_COULDNT_CONNECT);
        rc = CLI_ERROR;

    } else if (status >= 200 && status < 300) {
        printf("fsdfs: stored %s on node %s (id %d, %s): %" PRIu64 " bytes, "
               "sum %016" PRIx64 "\n%s%s", p->path, p->name, p->id, p->url,
               p->size, p->sum, p->answer,
               (p->answer_len && p->answer[p->answer_len - 1] == '\n')
               ? "" : "\n");
        rc = CLI_OK;

    } else if (p->answer[0] != '{') {
        /* nginx itself refused, before the command handler ran */
        fprintf(stderr, "fsdfs put: refused: node %s answered %ld%s\n",
                p->name, status,
                status == 413 ? " (raise client_max_body_size in its "
                                "command location)" : "");
        rc = CLI_ERROR;

    } else {
        put_answer_error(p, err, sizeof(err));
        fprintf(stderr, "fsdfs put: refused: node %s answered %ld%s%s\n%s%s",
                p->name, status, err[0] ? ": " : "", err, p->answer,
                (p->answer_len == 0 || p->answer[p->answer_len - 1] == '\n')
                ? "" : "\n");
        rc = CLI_ERROR;
    }

    curl_easy_cleanup(curl);
    free(url);
    return rc;
}


/* Signs the put for the chosen node and sends it. */
static int
put_signed(put_t *p, FILE *body, long long epoch)
{
    int                 nparams;
    char                size[24], sum[17], n[4];
    char                query[PUT_QUERY_MAX];
    fsdfs_sign_param_t  params[4];

    snprintf(size, sizeof(size), "%" PRIu64, p->size);
    snprintf(sum, sizeof(sum), "%016" PRIx64, p->sum);
    snprintf(n, sizeof(n), "%u", p->n);

    params[0] = (fsdfs_sign_param_t) { "path", 4, p->path, strlen(p->path) };
    params[1] = (fsdfs_sign_param_t) { "size", 4, size, strlen(size) };
    params[2] = (fsdfs_sign_param_t) { "sum", 3, sum, strlen(sum) };
    params[3] = (fsdfs_sign_param_t) { "n", 1, n, strlen(n) };
    nparams = p->n ? 4 : 3;

    if (fsdfs_sign_query(query, sizeof(query), p->key, p->keylen, "PUT",
                         "/_fsdfs/put", params, (unsigned) nparams,
                         (int64_t) time(NULL), (uint64_t) epoch) < 0)
    {
        fprintf(stderr, "fsdfs put: cannot sign the command\n");
        return CLI_ERROR;
    }

    return put_send(p, body, query);
}


static int
put_run(cli_t *cli, put_t *p)
{
    int         rc, prc;
    FILE       *body;
    long long   epoch;

    rc = put_prepare(cli, p);
    if (rc == CLI_OK) {
        rc = cli_connect(cli);
    }
    if (rc == CLI_OK) {
        rc = put_check_absent(cli, p);
    }
    if (rc == CLI_OK) {
        rc = put_pick(cli, p);
    }
    if (rc != CLI_OK) {
        return rc;
    }

    epoch = put_epoch(cli);
    if (epoch < 0) {
        return cli_fail(cli);
    }

    body = fdopen(p->fd, "rb");
    if (body == NULL) {
        fprintf(stderr, "fsdfs put: out of memory\n");
        return CLI_ERROR;
    }
    p->fd = -1;   /* body owns it now */

    for ( ;; ) {
        rc = put_signed(p, body, epoch);
        if (rc == CLI_OK || !p->unreachable || p->node
            || p->ntried + 1 >= PUT_TRIES)
        {
            break;
        }

        p->tried[p->ntried++] = p->id;
        prc = put_pick(cli, p);
        if (prc != CLI_OK) {
            rc = prc == CLI_NOREDIS ? prc : rc;     /* exit 3, not 4 */
            break;
        }
        fprintf(stderr, "fsdfs put: trying node %s instead\n", p->name);
    }

    fclose(body);
    return rc;
}


int
cli_put(cli_t *cli, int argc, char **argv)
{
    int     rc;
    put_t  *p;

    /* the answer buffer makes put_t too big for a comfortable stack */
    p = calloc(1, sizeof(put_t));
    if (p == NULL) {
        return CLI_ERROR;
    }

    p->fd = -1;

    if (put_args(p, argc, argv) != 0) {
        free(p);
        return CLI_USAGE;
    }

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        free(p);
        fprintf(stderr, "fsdfs put: libcurl failed to start\n");
        return CLI_ERROR;
    }

    rc = put_run(cli, p);

    if (p->fd != -1) {
        close(p->fd);
    }

    OPENSSL_cleanse(p->key, sizeof(p->key));
    free(p);
    curl_global_cleanup();
    return rc;
}
