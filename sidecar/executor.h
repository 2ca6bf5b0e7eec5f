/*
 * fsdfsd's executor: sends signed pull and drop commands to nodes over
 * HTTP and reports each answer once, as an outcome the planner can act
 * on. It is one libcurl multi handle: any number of requests in flight,
 * kept-alive connections shared between them, no threads. It does not
 * plan, limit per node or retry; the caller decides all of that from the
 * outcomes.
 *
 * Event loop: the daemon either calls executor_run() as its wait (it
 * returns on I/O, on executor_wakeup(), or after timeout_ms), or, to
 * wait on its own sockets too (Redis), calls executor_wait() with them as
 * extra descriptors and then executor_complete(). Completions are
 * delivered only from executor_run()/executor_complete(), never from
 * executor_pull()/executor_drop(), so a caller never re-enters itself.
 */

#ifndef FSD_EXECUTOR_H
#define FSD_EXECUTOR_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

typedef struct executor_s  executor_t;

enum {
    EXECUTOR_PULL = 1,
    EXECUTOR_DROP,
    EXECUTOR_QUARANTINE
};

/* What an answer means for the planner. */
typedef enum {
    EXECUTOR_OK = 0,          /* 2xx: pull: the copy is there (count it);
                                 drop: gone */
    EXECUTOR_SOURCE_LACKS,    /* 404 on a pull: the source's holder entry is
                                 wrong; pick another source, re-check it */
    EXECUTOR_CHECKSUM,        /* 409: size or sum mismatch; the source's
                                 copy or the record is bad */
    EXECUTOR_BUSY,            /* 429, 503: node busy or not ready; retry the
                                 same soon */
    EXECUTOR_SOURCE_FAILED,   /* 502, 504: the source failed or timed out;
                                 try another source */
    EXECUTOR_NO_SPACE,        /* 507: target full; its quota view is stale */
    EXECUTOR_FENCED,          /* 403 "old epoch": a newer master exists;
                                 this one must step down */
    EXECUTOR_DENIED,          /* another 403: bad signature or clock skew;
                                 the secret or the time is wrong on one
                                 side, not a reason to step down */
    EXECUTOR_REFUSED,         /* 400, 405, any other unexpected status:
                                 a bug or a missing fsdfs_commands; do not
                                 send the same again */
    EXECUTOR_NODE_ERROR,      /* any other 5xx: the target failed */
    EXECUTOR_TIMEOUT,         /* no answer in time: the target is slow or
                                 down; a pull may still finish there */
    EXECUTOR_UNREACHABLE      /* connect refused, DNS, reset, any other
                                 transport error: the target is down */
} executor_outcome_t;

#define EXECUTOR_BODY_MAX        4096    /* answer bytes kept; the rest is
                                            read and discarded */
#define EXECUTOR_MARGIN_MS       2000    /* over the pull timeout: the node's
                                            own timeout answers first */
#define EXECUTOR_DROP_TIMEOUT_MS 10000
#define EXECUTOR_CONNECT_MS      3000

/* One completion; valid only during the callback. */
typedef struct {
    void                *token;      /* as given to pull/drop */
    int                  op;         /* EXECUTOR_PULL, _DROP, _QUARANTINE */
    executor_outcome_t   outcome;
    long                 status;     /* HTTP status, 0 if none */
    int                  curl_err;   /* CURLcode, 0 if the node answered */
    const char          *error;      /* transport error text, "" if none */
    const char          *body;       /* the answer (JSON), NUL-terminated,
                                        at most EXECUTOR_BODY_MAX bytes */
    size_t               body_len;
    int                  body_cut;   /* the answer was longer */
    long                 ms;         /* from send to completion */
    const char          *node_url;   /* as given */
    const char          *path;       /* the file's path, as given */
} executor_result_t;

/* May call executor_pull()/executor_drop(), not executor_free(). */
typedef void (*executor_done_pt)(const executor_result_t *r, void *ctx);

/*
 * key: the command secret (copied, wiped on free). pull_timeout_ms: how
 * long a pull may take on the node (fsdfsd's pull_timeout); a pull
 * request is abandoned after it plus EXECUTOR_MARGIN_MS, a drop after
 * EXECUTOR_DROP_TIMEOUT_MS (or the pull's, if shorter). NULL on failure
 * (libcurl could not be set up, or a key over 1024 bytes).
 * curl_global_init() is the caller's: once, before anything else.
 */
executor_t *executor_new(const unsigned char *key, size_t keylen,
    long pull_timeout_ms);

/* Overrides the timeouts of requests sent from now on; 0 keeps one. */
void executor_set_timeouts(executor_t *ex, long pull_ms, long drop_ms,
    long connect_ms);

/*
 * Queues POST <node_url>/_fsdfs/pull?path=..&from=..&size=..&sum=..
 * (sum as 16 hex digits), signed with ts = time(NULL) and epoch; node_url
 * is the node's base URL ("http://10.0.0.5:8080", a path prefix allowed,
 * a trailing '/' ignored). The request goes out on the next
 * executor_run()/executor_complete(). Returns 0, or -1 if the path or URL
 * cannot be signed or sent (empty, a newline, too long) or libcurl
 * refuses; then no callback will come.
 */
int executor_pull(executor_t *ex, const char *node_url, const char *path,
    unsigned from_id, uint64_t size, uint64_t sum, uint64_t epoch,
    void *token);

/* POST <node_url>/_fsdfs/drop?path=..; as executor_pull(). */
int executor_drop(executor_t *ex, const char *node_url, const char *path,
    uint64_t epoch, void *token);

/*
 * POST <node_url>/_fsdfs/quarantine?path=..&sum=..; as executor_pull(),
 * with the pull's timeout (the node reads the whole copy). The node moves
 * its copy aside unless it matches sum: EXECUTOR_OK, status 409 if kept,
 * EXECUTOR_SOURCE_LACKS if it has none.
 */
int executor_quarantine(executor_t *ex, const char *node_url,
    const char *path, uint64_t sum, uint64_t epoch, void *token);

/*
 * Waits up to timeout_ms (0: do not wait) for I/O on the transfers, or
 * less if libcurl needs to act sooner (a timeout), then drives them and
 * calls done once per finished request. Returns the number finished, or
 * -1 if libcurl failed.
 */
int executor_run(executor_t *ex, int timeout_ms, executor_done_pt done,
    void *ctx);

/* The two halves of executor_run(), for a loop that also waits on its own
 * descriptors: extra (may be NULL) gets revents filled in. executor_wait()
 * returns the number of descriptors ready (extra and libcurl's), or -1. */
int executor_wait(executor_t *ex, struct curl_waitfd *extra,
    unsigned nextra, int timeout_ms);
int executor_complete(executor_t *ex, executor_done_pt done, void *ctx);

/* Makes a current or the next executor_wait()/executor_run() return at
 * once (curl_multi_wakeup): the one call safe from another thread. Not
 * async-signal-safe. */
void executor_wakeup(executor_t *ex);

/* Requests sent and not yet reported. */
unsigned executor_inflight(const executor_t *ex);

/* Aborts whatever is in flight, without callbacks, and frees. */
void executor_free(executor_t *ex);

const char *executor_outcome_name(executor_outcome_t outcome);
const char *executor_op_name(int op);

#endif
