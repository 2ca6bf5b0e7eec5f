/*
 * The executor of executor.h. Each command is a POST with an empty body
 * and a signed query string (fsdfs_sign_query), one easy handle on the
 * shared multi handle, so libcurl keeps the connections to every node
 * open and reuses them. A request owns one allocation holding its URL
 * and the copies of what the callback reports; finished requests go to a
 * small free list with their easy handle, so a steady stream of commands
 * neither mallocs nor re-creates handles.
 *
 * Outcomes come from the status code first; the body breaks two ties the
 * status cannot: a 403 is a fence only if it says "old epoch" (a bad
 * signature must not make a master step down), and a 404 to a pull is the
 * source's only if the node answered in its JSON (a node without
 * fsdfs_commands answers 404 too, and the source is then not to blame).
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "fsdfs_sign.h"
#include "executor.h"


#define EXECUTOR_KEY_MAX     1024
#define EXECUTOR_FREE_MAX    256      /* idle requests kept for reuse */
#define EXECUTOR_MAXCONNECTS 1024     /* kept-alive connections, all nodes */
#define EXECUTOR_QUERY_MAX   (FSDFS_SIGN_CANON_MAX + 256)
#define EXECUTOR_URL_MAX     (EXECUTOR_QUERY_MAX + 1024)

typedef struct executor_req_s  executor_req_t;

struct executor_req_s {
    executor_req_t  *prev;           /* in flight, or next on the free list */
    executor_req_t  *next;
    CURL            *easy;
    void            *token;
    int              op;
    int64_t          start_ms;
    char            *strings;        /* url, node_url, path; one malloc */
    char            *node_url;
    char            *path;
    size_t           body_len;
    int              body_cut;
    char             body[EXECUTOR_BODY_MAX + 1];
    char             errbuf[CURL_ERROR_SIZE];
};

struct executor_s {
    CURLM               *multi;
    struct curl_slist   *headers;
    executor_req_t      *inflight;     /* doubly linked */
    executor_req_t      *free;         /* singly linked through next */
    unsigned             ninflight;
    unsigned             nfree;
    long                 pull_ms;
    long                 drop_ms;
    long                 connect_ms;
    size_t               keylen;
    unsigned char        key[EXECUTOR_KEY_MAX];
};


static int64_t
executor_now_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


executor_t *
executor_new(const unsigned char *key, size_t keylen, long pull_timeout_ms)
{
    executor_t  *ex;

    if (keylen == 0 || keylen > EXECUTOR_KEY_MAX || pull_timeout_ms <= 0) {
        return NULL;
    }

    ex = calloc(1, sizeof(executor_t));
    if (ex == NULL) {
        return NULL;
    }

    memcpy(ex->key, key, keylen);
    ex->keylen = keylen;
    ex->pull_ms = pull_timeout_ms + EXECUTOR_MARGIN_MS;
    ex->drop_ms = EXECUTOR_DROP_TIMEOUT_MS < ex->pull_ms
                  ? EXECUTOR_DROP_TIMEOUT_MS : ex->pull_ms;
    ex->connect_ms = EXECUTOR_CONNECT_MS;

    ex->multi = curl_multi_init();
    if (ex->multi == NULL) {
        executor_free(ex);
        return NULL;
    }

    curl_multi_setopt(ex->multi, CURLMOPT_MAXCONNECTS,
                      (long) EXECUTOR_MAXCONNECTS);

    /* An empty POST: no Expect round trip, no form content type. */

    ex->headers = curl_slist_append(NULL, "Expect:");
    if (ex->headers != NULL) {
        ex->headers = curl_slist_append(ex->headers, "Content-Type:");
    }
    if (ex->headers == NULL) {
        executor_free(ex);
        return NULL;
    }

    return ex;
}


void
executor_set_timeouts(executor_t *ex, long pull_ms, long drop_ms,
    long connect_ms)
{
    if (pull_ms > 0) {
        ex->pull_ms = pull_ms + EXECUTOR_MARGIN_MS;
    }

    if (drop_ms > 0) {
        ex->drop_ms = drop_ms;
    }

    if (connect_ms > 0) {
        ex->connect_ms = connect_ms;
    }
}


static size_t
executor_body(char *data, size_t size, size_t nmemb, void *arg)
{
    size_t           n, room;
    executor_req_t  *req;

    req = arg;
    n = size * nmemb;
    room = EXECUTOR_BODY_MAX - req->body_len;

    /* The rest is swallowed: refusing it would turn an answer into a
     * transport error. */

    if (n > room) {
        req->body_cut = 1;
    }

    if (room) {
        memcpy(req->body + req->body_len, data, n < room ? n : room);
        req->body_len += n < room ? n : room;
    }

    return n;
}


static executor_req_t *
executor_req_get(executor_t *ex)
{
    executor_req_t  *req;

    req = ex->free;

    if (req != NULL) {
        ex->free = req->next;
        ex->nfree--;
        curl_easy_reset(req->easy);

    } else {
        req = malloc(sizeof(executor_req_t));
        if (req == NULL) {
            return NULL;
        }

        req->easy = curl_easy_init();
        if (req->easy == NULL) {
            free(req);
            return NULL;
        }
    }

    req->prev = NULL;
    req->next = NULL;
    req->token = NULL;
    req->op = 0;
    req->strings = NULL;
    req->body_len = 0;
    req->body_cut = 0;
    req->body[0] = '\0';
    req->errbuf[0] = '\0';

    return req;
}


static void
executor_req_put(executor_t *ex, executor_req_t *req)
{
    free(req->strings);
    req->strings = NULL;

    if (ex->nfree < EXECUTOR_FREE_MAX) {
        req->next = ex->free;
        ex->free = req;
        ex->nfree++;
        return;
    }

    curl_easy_cleanup(req->easy);
    free(req);
}


static void
executor_unlink(executor_t *ex, executor_req_t *req)
{
    if (req->prev) {
        req->prev->next = req->next;
    } else {
        ex->inflight = req->next;
    }

    if (req->next) {
        req->next->prev = req->prev;
    }

    ex->ninflight--;
}


/* The signed URI path is what nginx will see: the path part of the base
 * URL (if any), then /_fsdfs/<cmd>. */
static int
executor_uri(char *buf, size_t cap, const char *base, size_t base_len,
    const char *cmd)
{
    int          n;
    const char  *p, *end, *slash;

    end = base + base_len;
    p = strstr(base, "://");
    p = (p != NULL && p < end) ? p + 3 : base;
    slash = memchr(p, '/', (size_t) (end - p));

    if (slash == NULL) {
        slash = end;
    }

    n = snprintf(buf, cap, "%.*s/_fsdfs/%s", (int) (end - slash), slash, cmd);

    return (n < 0 || (size_t) n >= cap) ? -1 : n;
}


static int
executor_send(executor_t *ex, int op, const char *node_url, const char *path,
    const fsdfs_sign_param_t *params, unsigned nparams, uint64_t epoch,
    void *token)
{
    int              qlen, ulen;
    char             uri[1024], query[EXECUTOR_QUERY_MAX];
    size_t           base_len, path_len, total;
    const char      *cmd;
    executor_req_t  *req;

    if (node_url == NULL || path == NULL || path[0] == '\0') {
        return -1;
    }

    cmd = executor_op_name(op);

    base_len = strlen(node_url);
    while (base_len && node_url[base_len - 1] == '/') {
        base_len--;
    }

    if (base_len == 0 || base_len > 512
        || memchr(node_url, '\n', base_len) != NULL
        || executor_uri(uri, sizeof(uri), node_url, base_len, cmd) < 0)
    {
        return -1;
    }

    qlen = fsdfs_sign_query(query, sizeof(query), ex->key, ex->keylen,
                            "POST", uri, params, nparams,
                            (int64_t) time(NULL), epoch);
    if (qlen < 0) {
        return -1;
    }

    req = executor_req_get(ex);
    if (req == NULL) {
        return -1;
    }

    path_len = strlen(path);
    total = base_len + sizeof("/_fsdfs/?") + strlen(cmd) + (size_t) qlen
            + base_len + 1 + path_len + 1;

    req->strings = malloc(total);
    if (req->strings == NULL) {
        executor_req_put(ex, req);
        return -1;
    }

    ulen = snprintf(req->strings, total, "%.*s/_fsdfs/%s?%s",
                    (int) base_len, node_url, cmd, query);
    req->node_url = req->strings + ulen + 1;
    memcpy(req->node_url, node_url, base_len);
    req->node_url[base_len] = '\0';
    req->path = req->node_url + base_len + 1;
    memcpy(req->path, path, path_len + 1);

    req->op = op;
    req->token = token;

    curl_easy_setopt(req->easy, CURLOPT_URL, req->strings);
    curl_easy_setopt(req->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(req->easy, CURLOPT_PROXY, "");  /* never an env proxy */
    curl_easy_setopt(req->easy, CURLOPT_POST, 1L);
    curl_easy_setopt(req->easy, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(req->easy, CURLOPT_POSTFIELDSIZE, 0L);
    curl_easy_setopt(req->easy, CURLOPT_HTTPHEADER, ex->headers);
    curl_easy_setopt(req->easy, CURLOPT_USERAGENT, "fsdfsd");
    curl_easy_setopt(req->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(req->easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(req->easy, CURLOPT_TIMEOUT_MS,
                     op == EXECUTOR_DROP ? ex->drop_ms : ex->pull_ms);
    curl_easy_setopt(req->easy, CURLOPT_CONNECTTIMEOUT_MS, ex->connect_ms);
    curl_easy_setopt(req->easy, CURLOPT_WRITEFUNCTION, executor_body);
    curl_easy_setopt(req->easy, CURLOPT_WRITEDATA, req);
    curl_easy_setopt(req->easy, CURLOPT_ERRORBUFFER, req->errbuf);
    curl_easy_setopt(req->easy, CURLOPT_PRIVATE, (char *) req);

    if (curl_multi_add_handle(ex->multi, req->easy) != CURLM_OK) {
        executor_req_put(ex, req);
        return -1;
    }

    req->start_ms = executor_now_ms();
    req->next = ex->inflight;
    if (ex->inflight) {
        ex->inflight->prev = req;
    }
    ex->inflight = req;
    ex->ninflight++;

    return 0;
}


int
executor_pull(executor_t *ex, const char *node_url, const char *path,
    unsigned from_id, uint64_t size, uint64_t sum, uint64_t epoch,
    void *token)
{
    int                 n1, n2, n3;
    char                from[16], sz[24], hex[24];
    fsdfs_sign_param_t  ps[4];

    if (path == NULL) {
        return -1;
    }

    n1 = snprintf(from, sizeof(from), "%u", from_id);
    n2 = snprintf(sz, sizeof(sz), "%" PRIu64, size);
    n3 = snprintf(hex, sizeof(hex), "%016" PRIx64, sum);

    ps[0] = (fsdfs_sign_param_t) { "path", 4, path, strlen(path) };
    ps[1] = (fsdfs_sign_param_t) { "from", 4, from, (size_t) n1 };
    ps[2] = (fsdfs_sign_param_t) { "size", 4, sz, (size_t) n2 };
    ps[3] = (fsdfs_sign_param_t) { "sum", 3, hex, (size_t) n3 };

    return executor_send(ex, EXECUTOR_PULL, node_url, path, ps, 4, epoch,
                         token);
}


int
executor_drop(executor_t *ex, const char *node_url, const char *path,
    uint64_t epoch, void *token)
{
    fsdfs_sign_param_t  ps[1];

    if (path == NULL) {
        return -1;
    }

    ps[0] = (fsdfs_sign_param_t) { "path", 4, path, strlen(path) };

    return executor_send(ex, EXECUTOR_DROP, node_url, path, ps, 1, epoch,
                         token);
}


int
executor_quarantine(executor_t *ex, const char *node_url, const char *path,
    uint64_t sum, uint64_t epoch, void *token)
{
    char                hex[17];
    fsdfs_sign_param_t  ps[2];

    if (path == NULL) {
        return -1;
    }

    snprintf(hex, sizeof(hex), "%016" PRIx64, sum);
    ps[0] = (fsdfs_sign_param_t) { "path", 4, path, strlen(path) };
    ps[1] = (fsdfs_sign_param_t) { "sum", 3, hex, 16 };

    return executor_send(ex, EXECUTOR_QUARANTINE, node_url, path, ps, 2,
                         epoch, token);
}


/* Our nodes answer in JSON with an "ok" field; anything else that says 404
 * is not the fsdfs command endpoint. */
static int
executor_is_ours(const char *body)
{
    return strstr(body, "\"ok\"") != NULL;
}


static executor_outcome_t
executor_classify(int op, CURLcode rc, long status, const char *body)
{
    if (rc == CURLE_OPERATION_TIMEDOUT) {
        return EXECUTOR_TIMEOUT;
    }

    if (rc != CURLE_OK || status == 0) {
        return EXECUTOR_UNREACHABLE;
    }

    if (status >= 200 && status < 300) {
        return EXECUTOR_OK;
    }

    switch (status) {

    case 403:
        return strstr(body, "old epoch") ? EXECUTOR_FENCED : EXECUTOR_DENIED;

    case 404:
        return op != EXECUTOR_DROP && executor_is_ours(body)
               ? EXECUTOR_SOURCE_LACKS : EXECUTOR_REFUSED;

    case 409:
        return op == EXECUTOR_PULL ? EXECUTOR_CHECKSUM : EXECUTOR_REFUSED;

    case 429:
    case 503:
        return EXECUTOR_BUSY;

    case 502:
    case 504:
        return op == EXECUTOR_PULL ? EXECUTOR_SOURCE_FAILED
                                   : EXECUTOR_NODE_ERROR;

    case 507:
        return EXECUTOR_NO_SPACE;
    }

    return status >= 500 && status < 600 ? EXECUTOR_NODE_ERROR
                                         : EXECUTOR_REFUSED;
}


int
executor_wait(executor_t *ex, struct curl_waitfd *extra, unsigned nextra,
    int timeout_ms)
{
    int  numfds;

    numfds = 0;

    if (timeout_ms < 0) {
        timeout_ms = 0;
    }

    if (curl_multi_poll(ex->multi, extra, nextra, timeout_ms, &numfds)
        != CURLM_OK)
    {
        return -1;
    }

    return numfds;
}


static void
executor_finish(executor_t *ex, CURL *easy, CURLcode rc,
    executor_done_pt done, void *ctx)
{
    long               status;
    char              *priv;
    executor_req_t    *req;
    executor_result_t  r;

    priv = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
    curl_multi_remove_handle(ex->multi, easy);
    req = (executor_req_t *) priv;

    if (req == NULL) {
        return;
    }

    executor_unlink(ex, req);

    status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    req->body[req->body_len] = '\0';

    r.token = req->token;
    r.op = req->op;
    r.outcome = executor_classify(req->op, rc, status, req->body);
    r.status = status;
    r.curl_err = (int) rc;
    r.error = rc == CURLE_OK ? ""
              : req->errbuf[0] ? req->errbuf : curl_easy_strerror(rc);
    r.body = req->body;
    r.body_len = req->body_len;
    r.body_cut = req->body_cut;
    r.ms = (long) (executor_now_ms() - req->start_ms);
    r.node_url = req->node_url;
    r.path = req->path;

    if (done) {
        done(&r, ctx);
    }

    executor_req_put(ex, req);
}


int
executor_complete(executor_t *ex, executor_done_pt done, void *ctx)
{
    int       running, left, n;
    CURLMsg  *msg;

    if (curl_multi_perform(ex->multi, &running) != CURLM_OK) {
        return -1;
    }

    n = 0;

    while ((msg = curl_multi_info_read(ex->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE) {
            continue;
        }

        /* msg is invalid once the handle is removed: take what we need. */
        executor_finish(ex, msg->easy_handle, msg->data.result, done, ctx);
        n++;
    }

    return n;
}


int
executor_run(executor_t *ex, int timeout_ms, executor_done_pt done,
    void *ctx)
{
    if (executor_wait(ex, NULL, 0, timeout_ms) < 0) {
        return -1;
    }

    return executor_complete(ex, done, ctx);
}


void
executor_wakeup(executor_t *ex)
{
    curl_multi_wakeup(ex->multi);
}


unsigned
executor_inflight(const executor_t *ex)
{
    return ex->ninflight;
}


void
executor_free(executor_t *ex)
{
    executor_req_t  *req;

    if (ex == NULL) {
        return;
    }

    while ((req = ex->inflight) != NULL) {
        curl_multi_remove_handle(ex->multi, req->easy);
        executor_unlink(ex, req);
        free(req->strings);
        curl_easy_cleanup(req->easy);
        free(req);
    }

    while ((req = ex->free) != NULL) {
        ex->free = req->next;
        curl_easy_cleanup(req->easy);
        free(req);
    }

    if (ex->multi) {
        curl_multi_cleanup(ex->multi);
    }

    curl_slist_free_all(ex->headers);
    OPENSSL_cleanse(ex->key, sizeof(ex->key));
    free(ex);
}


const char *
executor_outcome_name(executor_outcome_t outcome)
{
    switch (outcome) {
    case EXECUTOR_OK:            return "ok";
    case EXECUTOR_SOURCE_LACKS:  return "source lacks the file";
    case EXECUTOR_CHECKSUM:      return "checksum mismatch";
    case EXECUTOR_BUSY:          return "node busy";
    case EXECUTOR_SOURCE_FAILED: return "source failed";
    case EXECUTOR_NO_SPACE:      return "no space";
    case EXECUTOR_FENCED:        return "fenced (old epoch)";
    case EXECUTOR_DENIED:        return "denied (signature or clock)";
    case EXECUTOR_REFUSED:       return "refused";
    case EXECUTOR_NODE_ERROR:    return "node error";
    case EXECUTOR_TIMEOUT:       return "timeout";
    case EXECUTOR_UNREACHABLE:   return "unreachable";
    }

    return "unknown";
}


const char *
executor_op_name(int op)
{
    switch (op) {
    case EXECUTOR_PULL:        return "pull";
    case EXECUTOR_DROP:        return "drop";
    case EXECUTOR_QUARANTINE:  return "quarantine";
    }

    return "?";
}
