/*
 * fsdfs nginx module: pull, a copy of a file fetched from a peer node.
 *
 * The whole transfer is one nginx thread-pool task using libcurl's easy
 * interface, which may block there as it likes: the worker only posts the
 * task and finishes the request when it is done. The source is a node of
 * the node table (its URL from Redis, never from the command), asked with
 * X-Fsdfs-Local: 1 so it serves its own copy or says 404, never a
 * redirect. The bytes go to a temp file beside the final name
 * (.fsdfs-tmp-<master pid>-<random>, same directory so rename is atomic),
 * hashed while written; only a file of the right size and sum is fsynced
 * and renamed into place, and its directory fsynced. Whatever fails, the
 * temp file is unlinked; those a crash leaves behind are swept at start,
 * except the fresh ones of this master's other workers (a reload). A
 * worker killed mid-pull (SIGKILL, OOM) leaves one named after the master
 * that is still running, so worker 0 also sweeps periodically, removing
 * any temp file older than a live pull's can be (see
 * ngx_http_fsdfs_sweep_age()).
 *
 * Pulls running at once are counted in the state zone across workers;
 * one over fsdfs_pull_concurrency is answered 429 at once.
 *
 * Speed (bench/cluster.sh): each pool thread keeps one curl handle, so a
 * pull reuses the connection to its source the last one left open, and
 * one write buffer: small pieces from curl are gathered and written
 * NGX_HTTP_FSDFS_PULL_BUF at a time, large ones written as they come,
 * and each write is handed to writeback at once
 * (sync_file_range), so the fsync at the end waits for the last piece and
 * the journal only, not for the whole file. That is only an early start:
 * the fsync before the rename is still what makes the copy durable.
 */

#include "ngx_http_fsdfs_module.h"

#include <ftw.h>
#include <sys/random.h>

#include <curl/curl.h>

#include "fsdfs_sum.h"


#define NGX_HTTP_FSDFS_CONNECT_TIMEOUT  2000    /* ms */
#define NGX_HTTP_FSDFS_LOW_SPEED        1024    /* bytes/s ... */
#define NGX_HTTP_FSDFS_LOW_SPEED_TIME   10      /* ... for this many s */
#define NGX_HTTP_FSDFS_PULL_BUF         (256 * 1024)    /* write size */
#define NGX_HTTP_FSDFS_PULL_DIRECT      (64 * 1024)     /* written unbuffered */
#define NGX_HTTP_FSDFS_SWEEP_MARGIN     60000   /* ms, see sweep_age() */
#define NGX_HTTP_FSDFS_SWEEP_MIN        30000   /* ms between sweeps ... */
#define NGX_HTTP_FSDFS_SWEEP_MAX        3600000 /* ... and at most */


typedef struct {
    ngx_http_fsdfs_command_t    *cmd;
    ngx_http_fsdfs_main_conf_t  *fmcf;
    char                        *url;
    char                        *root;
    char                        *tmp;
    size_t                       tmp_cap;
    ngx_event_t                  guard;

    /* the transfer, inside the thread */
    CURL                        *curl;
    fsdfs_sum_t                 *sum;
    int                          fd;
    u_char                      *buf;       /* the thread's write buffer */
    size_t                       buffered;
    off_t                        written;
    uint64_t                     got;
    long                         code;
    ngx_err_t                    werr;
    unsigned                     checked:1;
    unsigned                     too_big:1;

    /* the outcome */
    ngx_uint_t                   status;
    const char                  *error;
    unsigned                     created:1;
    char                         errbuf[160];
    char                         curl_err[CURL_ERROR_SIZE];
} ngx_http_fsdfs_pull_t;


typedef struct {
    char                        *root;
    ngx_uint_t                   removed;
} ngx_http_fsdfs_sweep_t;


static pid_t                     ngx_http_fsdfs_master_pid;

/* set by the worker before it posts a sweep (one at a time), read by its
 * thread */
static pid_t                     ngx_http_fsdfs_sweep_pid;
static time_t                    ngx_http_fsdfs_sweep_before;
static ngx_uint_t                ngx_http_fsdfs_sweep_periodic;
static ngx_uint_t                ngx_http_fsdfs_sweep_removed;


/*
 * The temp name beside file: <dir>/.fsdfs-tmp-<master pid>-<16 hex>.
 * Safe in a thread. NGX_OK, or NGX_ERROR if it does not fit in cap.
 */
ngx_int_t
ngx_http_fsdfs_tmp_name(char *buf, size_t cap, const char *file)
{
    size_t    dir;
    u_char   *p;
    uint64_t  rnd;

    dir = ngx_strlen(file);
    while (dir && file[dir - 1] != '/') {
        dir--;
    }

    if (dir + sizeof(NGX_HTTP_FSDFS_TMP_PREFIX) + NGX_INT64_LEN + 18 > cap) {
        return NGX_ERROR;
    }

    if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd)) {
        rnd = ((uint64_t) ngx_random() << 32) ^ (uint64_t) ngx_random()
              ^ (uint64_t) (uintptr_t) buf;
    }

    p = ngx_cpymem(buf, file, dir);
    p = ngx_sprintf(p, NGX_HTTP_FSDFS_TMP_PREFIX "%P-%016xL%Z",
                    (ngx_pid_t) ngx_http_fsdfs_master_pid, rnd);

    return NGX_OK;
}


#if (NGX_THREADS)

/* Per pool thread, made by its first pull and kept: the curl handle (its
 * connection cache is what lets the next pull reuse a connection) and the
 * write buffer. */
static __thread CURL    *ngx_http_fsdfs_pull_easy;
static __thread u_char  *ngx_http_fsdfs_pull_buf;


/* Writes bytes at the end of the temp file, and starts their writeback.
 * NGX_ERROR with p->werr set if the write fails. */
static ngx_int_t
ngx_http_fsdfs_pull_out(ngx_http_fsdfs_pull_t *p, u_char *data, size_t len)
{
    size_t   done;
    ssize_t  n;

    for (done = 0; done < len; done += n) {
        n = write(p->fd, data + done, len - done);
        if (n < 0) {
            if (ngx_errno == NGX_EINTR) {
                n = 0;
                continue;
            }
            p->werr = ngx_errno;
            return NGX_ERROR;
        }
    }

#ifdef SYNC_FILE_RANGE_WRITE
    /* a hint (its failure changes nothing): the fsync decides */
    if (len) {
        (void) sync_file_range(p->fd, p->written, (off_t) len,
                               SYNC_FILE_RANGE_WRITE);
    }
#endif

    p->written += len;

    return NGX_OK;
}


static ngx_int_t
ngx_http_fsdfs_pull_flush(ngx_http_fsdfs_pull_t *p)
{
    size_t  len = p->buffered;

    p->buffered = 0;

    return ngx_http_fsdfs_pull_out(p, p->buf, len);
}


static size_t
ngx_http_fsdfs_pull_write(char *ptr, size_t size, size_t nmemb, void *data)
{
    size_t                  len, done, n;
    ngx_http_fsdfs_pull_t  *p = data;

    len = size * nmemb;

    if (!p->checked) {
        p->checked = 1;
        (void) curl_easy_getinfo(p->curl, CURLINFO_RESPONSE_CODE, &p->code);
    }

    /* an error page is not the file: stop reading it */
    if (p->code != 200) {
        return 0;
    }

    if (p->got + len > p->cmd->size) {
        p->too_big = 1;
        return 0;
    }

    fsdfs_sum_add(p->sum, ptr, len);

    p->got += len;

    /* a large piece goes to the file from curl's buffer, sparing a copy
     * of most bytes; only small pieces are worth gathering */
    if (len >= NGX_HTTP_FSDFS_PULL_DIRECT) {
        if (ngx_http_fsdfs_pull_flush(p) != NGX_OK
            || ngx_http_fsdfs_pull_out(p, (u_char *) ptr, len) != NGX_OK)
        {
            return 0;
        }

        return len;
    }

    for (done = 0; done < len; done += n) {
        n = ngx_min(len - done, NGX_HTTP_FSDFS_PULL_BUF - p->buffered);
        ngx_memcpy(p->buf + p->buffered, ptr + done, n);
        p->buffered += n;

        if (p->buffered == NGX_HTTP_FSDFS_PULL_BUF
            && ngx_http_fsdfs_pull_flush(p) != NGX_OK)
        {
            return 0;
        }
    }

    return len;
}


static void
ngx_http_fsdfs_pull_fail(ngx_http_fsdfs_pull_t *p, ngx_uint_t status,
    const char *fmt, const char *arg)
{
    (void) ngx_snprintf((u_char *) p->errbuf, sizeof(p->errbuf) - 1,
                        "%s%s%s%Z", fmt, arg ? ": " : "", arg ? arg : "");
    p->status = status;
    p->error = p->errbuf;
}


/* Classifies a transfer that did not give the whole file. */
static void
ngx_http_fsdfs_pull_curl_error(ngx_http_fsdfs_pull_t *p, CURLcode rc)
{
    char  code[NGX_INT_T_LEN + 1];

    if (p->werr) {
        ngx_http_fsdfs_pull_fail(p, p->werr == NGX_ENOSPC
                                    ? NGX_HTTP_INSUFFICIENT_STORAGE
                                    : NGX_HTTP_INTERNAL_SERVER_ERROR,
                                 "write failed", strerror(p->werr));
        return;
    }

    if (p->too_big) {
        ngx_http_fsdfs_pull_fail(p, NGX_HTTP_CONFLICT,
                                 "size mismatch: source has more bytes",
                                 NULL);
        return;
    }

    if (rc == CURLE_OPERATION_TIMEDOUT) {
        ngx_http_fsdfs_pull_fail(p, NGX_HTTP_GATEWAY_TIME_OUT,
                                 "source timed out", NULL);
        return;
    }

    if (rc == CURLE_OK || rc == CURLE_WRITE_ERROR) {
        if (p->code == 404) {
            ngx_http_fsdfs_pull_fail(p, NGX_HTTP_NOT_FOUND,
                                     "source does not have it", NULL);
            return;
        }

        (void) ngx_snprintf((u_char *) code, sizeof(code) - 1, "%l%Z",
                            p->code);
        ngx_http_fsdfs_pull_fail(p, NGX_HTTP_BAD_GATEWAY,
                                 "source answered", code);
        return;
    }

    ngx_http_fsdfs_pull_fail(p, NGX_HTTP_BAD_GATEWAY, "source failed",
                             p->curl_err[0] ? p->curl_err
                                            : curl_easy_strerror(rc));
}


/* Fetches into p->fd; NGX_OK when the whole right file is there. */
static ngx_int_t
ngx_http_fsdfs_pull_fetch(ngx_http_fsdfs_pull_t *p)
{
    CURLcode             rc;
    struct curl_slist   *headers;
    ngx_msec_t           timeout = p->fmcf->pull_timeout;

    if (ngx_http_fsdfs_pull_easy == NULL) {
        ngx_http_fsdfs_pull_easy = curl_easy_init();
    }

    if (ngx_http_fsdfs_pull_buf == NULL) {
        ngx_http_fsdfs_pull_buf = malloc(NGX_HTTP_FSDFS_PULL_BUF);
    }

    p->sum = fsdfs_sum_new();
    p->curl = ngx_http_fsdfs_pull_easy;
    p->buf = ngx_http_fsdfs_pull_buf;
    headers = curl_slist_append(NULL, "X-Fsdfs-Local: 1");

    if (p->sum == NULL || p->curl == NULL || p->buf == NULL
        || headers == NULL)
    {
        curl_slist_free_all(headers);
        ngx_http_fsdfs_pull_fail(p, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                 "out of memory", NULL);
        return NGX_ERROR;
    }

    (void) curl_easy_setopt(p->curl, CURLOPT_URL, p->url);
    (void) curl_easy_setopt(p->curl, CURLOPT_NOSIGNAL, 1L);
#if (LIBCURL_VERSION_NUM >= 0x075500)
    (void) curl_easy_setopt(p->curl, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    (void) curl_easy_setopt(p->curl, CURLOPT_FOLLOWLOCATION, 0L);
    (void) curl_easy_setopt(p->curl, CURLOPT_HTTPHEADER, headers);
    (void) curl_easy_setopt(p->curl, CURLOPT_USERAGENT,
                            "fsdfs/" NGX_HTTP_FSDFS_VERSION);
    (void) curl_easy_setopt(p->curl, CURLOPT_CONNECTTIMEOUT_MS,
                            (long) ngx_min(timeout,
                                           NGX_HTTP_FSDFS_CONNECT_TIMEOUT));
    (void) curl_easy_setopt(p->curl, CURLOPT_TIMEOUT_MS, (long) timeout);

    if (timeout > NGX_HTTP_FSDFS_LOW_SPEED_TIME * 1000) {
        (void) curl_easy_setopt(p->curl, CURLOPT_LOW_SPEED_LIMIT,
                                (long) NGX_HTTP_FSDFS_LOW_SPEED);
        (void) curl_easy_setopt(p->curl, CURLOPT_LOW_SPEED_TIME,
                                (long) NGX_HTTP_FSDFS_LOW_SPEED_TIME);
    }

    (void) curl_easy_setopt(p->curl, CURLOPT_ERRORBUFFER, p->curl_err);
    (void) curl_easy_setopt(p->curl, CURLOPT_WRITEFUNCTION,
                            ngx_http_fsdfs_pull_write);
    (void) curl_easy_setopt(p->curl, CURLOPT_WRITEDATA, p);
    (void) curl_easy_setopt(p->curl, CURLOPT_BUFFERSIZE,
                            (long) NGX_HTTP_FSDFS_PULL_BUF);

    p->curl_err[0] = '\0';

    rc = curl_easy_perform(p->curl);

    curl_slist_free_all(headers);

    if (rc == CURLE_OK) {
        (void) curl_easy_getinfo(p->curl, CURLINFO_RESPONSE_CODE, &p->code);

        if (p->code == 200 && ngx_http_fsdfs_pull_flush(p) != NGX_OK) {
            rc = CURLE_WRITE_ERROR;
        }
    }

    if (rc != CURLE_OK || p->code != 200) {
        ngx_http_fsdfs_pull_curl_error(p, rc);
        return NGX_ERROR;
    }

    if (p->got != p->cmd->size) {
        ngx_http_fsdfs_pull_fail(p, NGX_HTTP_CONFLICT,
                                 "size mismatch: source has fewer bytes",
                                 NULL);
        return NGX_ERROR;
    }

    if (fsdfs_sum_value(p->sum) != p->cmd->sum) {
        ngx_http_fsdfs_pull_fail(p, NGX_HTTP_CONFLICT, "checksum mismatch",
                                 NULL);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* fsync of the directory holding file, so the rename is durable. */
static void
ngx_http_fsdfs_sync_dir(const char *file, ngx_log_t *log)
{
    int     fd;
    char   *slash, c;

    slash = strrchr(file, '/');
    if (slash == NULL) {
        return;
    }

    c = slash[1];
    slash[1] = '\0';
    fd = open(file, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    slash[1] = c;

    if (fd == -1 || fsync(fd) != 0) {
        ngx_log_error(NGX_LOG_WARN, log, ngx_errno,
                      "fsdfs: fsync of the directory of \"%s\" failed", file);
    }

    if (fd != -1) {
        (void) close(fd);
    }
}


static void
ngx_http_fsdfs_pull_thread(void *data, ngx_log_t *log)
{
    struct stat                sb;
    const char                *why;
    ngx_http_fsdfs_pull_t     *p = data;
    ngx_http_fsdfs_command_t  *cmd = p->cmd;
    char                      *file = (char *) cmd->file.data;

    p->fd = -1;
    p->status = NGX_HTTP_OK;

    /* idempotent: a copy of the right size is already here */
    if (stat(file, &sb) == 0) {
        if (S_ISREG(sb.st_mode) && (uint64_t) sb.st_size == cmd->size) {
            return;
        }

        ngx_http_fsdfs_pull_fail(p, NGX_HTTP_CONFLICT,
                                 "a different file is in the way", NULL);
        return;
    }

    if (cmd->source_down) {
        ngx_http_fsdfs_pull_fail(p, NGX_HTTP_BAD_GATEWAY, "source not alive",
                                 NULL);
        return;
    }

    if (ngx_http_fsdfs_space(p->fmcf, p->root, cmd->size, &why) != NGX_OK) {
        ngx_http_fsdfs_pull_fail(p, NGX_HTTP_INSUFFICIENT_STORAGE, "no space",
                                 why);
        return;
    }

    if (ngx_http_fsdfs_tmp_name(p->tmp, p->tmp_cap, file) != NGX_OK) {
        ngx_http_fsdfs_pull_fail(p, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                 "cannot make the directory", NULL);
        return;
    }

    /* the directory is there but for a path's first copy: its mkdirs
     * (each one locking a parent directory) only when the open says so */
    p->fd = open(p->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

    if (p->fd == -1 && ngx_errno == NGX_ENOENT) {
        if (ngx_http_fsdfs_mkdirs(file, cmd->root_len, log) != NGX_OK) {
            ngx_http_fsdfs_pull_fail(p, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                     "cannot make the directory", NULL);
            return;
        }

        p->fd = open(p->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    }

    if (p->fd == -1) {
        ngx_http_fsdfs_pull_fail(p, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                 "cannot create the temp file",
                                 strerror(ngx_errno));
        goto done;
    }

    if (ngx_http_fsdfs_pull_fetch(p) != NGX_OK) {
        goto done;
    }

    if (fsync(p->fd) != 0) {
        ngx_http_fsdfs_pull_fail(p, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                 "fsync failed", strerror(ngx_errno));
        goto done;
    }

    (void) close(p->fd);
    p->fd = -1;

    if (rename(p->tmp, file) != 0) {
        ngx_http_fsdfs_pull_fail(p, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                 "rename failed", strerror(ngx_errno));
        goto done;
    }

    p->created = 1;
    ngx_http_fsdfs_sync_dir(file, log);

done:

    if (p->fd != -1) {
        (void) close(p->fd);
        p->fd = -1;
    }

    if (!p->created && p->tmp[0] && unlink(p->tmp) != 0
        && ngx_errno != NGX_ENOENT)
    {
        ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                      "fsdfs: unlink of temp file \"%s\" failed", p->tmp);
    }

    /* the handle stays the thread's, with its connections; nothing of
     * this request (header list, buffers) stays set in it */
    if (p->curl) {
        curl_easy_reset(p->curl);
        p->curl = NULL;
    }

    fsdfs_sum_free(p->sum);
    p->sum = NULL;
}


/* The thread's whole work; the slot is given back here, so a worker that
 * exits before the completion event runs does not keep it forever. */
static void
ngx_http_fsdfs_pull_task(void *data, ngx_log_t *log)
{
    ngx_http_fsdfs_pull_thread(data, log);

    (void) ngx_atomic_fetch_add(&ngx_http_fsdfs_state()->pulls, -1);
}


static void
ngx_http_fsdfs_pull_done(ngx_event_t *ev)
{
    ngx_thread_task_t         *task = ev->data;
    ngx_http_fsdfs_pull_t     *p = task->ctx;
    ngx_http_fsdfs_command_t  *cmd = p->cmd;

    cmd->request->main->blocked--;

    if (p->guard.timer_set) {
        ngx_del_timer(&p->guard);
    }

    if (p->created) {
        ngx_http_fsdfs_disk_adjust(cmd->size, 0);
        ngx_http_fsdfs_count_add(pulls_bytes, cmd->size);
    }

    if (p->status < NGX_HTTP_BAD_REQUEST) {
        ngx_http_fsdfs_count(pulls_done);

    } else {
        ngx_http_fsdfs_count(pulls_failed);
    }

    ngx_http_fsdfs_command_finish(cmd, p->status, p->error);
}


ngx_int_t
ngx_http_fsdfs_pull(ngx_http_fsdfs_command_t *cmd)
{
    size_t                       len;
    ngx_thread_task_t           *task;
    ngx_http_request_t          *r = cmd->request;
    ngx_http_fsdfs_pull_t       *p;
    ngx_http_fsdfs_state_t      *st = ngx_http_fsdfs_state();
    ngx_http_fsdfs_main_conf_t  *fmcf;

    fmcf = ngx_http_get_module_main_conf(r, ngx_http_fsdfs_module);

    task = ngx_thread_task_alloc(r->pool, sizeof(ngx_http_fsdfs_pull_t));
    if (task == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = task->ctx;
    p->cmd = cmd;
    p->fmcf = fmcf;

    /* <source url><path, percent-encoded> */
    len = fsdfs_url_encode(NULL, 0, (char *) cmd->path.data, cmd->path.len);
    p->url = ngx_pnalloc(r->pool, cmd->source.url_len + len + 1);
    p->root = ngx_pnalloc(r->pool, cmd->root_len + 1);
    p->tmp_cap = cmd->file.len + sizeof(NGX_HTTP_FSDFS_TMP_PREFIX)
                 + NGX_INT64_LEN + 20;
    p->tmp = ngx_pcalloc(r->pool, p->tmp_cap);

    if (p->url == NULL || p->root == NULL || p->tmp == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(p->url, cmd->source.url, cmd->source.url_len);
    (void) fsdfs_url_encode(p->url + cmd->source.url_len, len + 1,
                            (char *) cmd->path.data, cmd->path.len);
    (void) ngx_cpystrn((u_char *) p->root, cmd->file.data, cmd->root_len + 1);

    task->handler = ngx_http_fsdfs_pull_task;
    task->event.handler = ngx_http_fsdfs_pull_done;
    task->event.data = task;
    task->event.log = r->connection->log;

    if (ngx_atomic_fetch_add(&st->pulls, 1) >= fmcf->pull_concurrency) {
        (void) ngx_atomic_fetch_add(&st->pulls, -1);
        ngx_http_fsdfs_count(pulls_failed);
        return ngx_http_fsdfs_command_answer(cmd, NGX_HTTP_TOO_MANY_REQUESTS,
                                             "too many pulls");
    }

    if (ngx_thread_task_post(fmcf->thread_pool, task) != NGX_OK) {
        (void) ngx_atomic_fetch_add(&st->pulls, -1);
        return ngx_http_fsdfs_command_answer(cmd,
                                             NGX_HTTP_SERVICE_UNAVAILABLE,
                                             "thread pool queue full");
    }

    /* the request lives until the task is done, even if the client goes */
    r->main->blocked++;
    r->main->count++;

    p->guard.handler = ngx_http_fsdfs_guard;
    p->guard.data = p;
    p->guard.log = r->connection->log;
    ngx_add_timer(&p->guard, fmcf->pull_timeout + 10000);

    return NGX_DONE;
}


/* Stale temp files: swept by worker 0 in the thread pool, once at start
 * and then every ngx_http_fsdfs_sweep_period(). */

static ngx_event_t               ngx_http_fsdfs_sweep_timer;


/*
 * The age (ms) past which a temp file cannot be a live pull's: the file is
 * made just before the transfer, which libcurl cuts at pull_timeout
 * (CURLOPT_TIMEOUT_MS), and every write moves its mtime; after that only
 * the fsync and rename remain, which the margin covers (at least a minute,
 * or pull_timeout again, as the start sweep always allowed).
 */
static ngx_msec_t
ngx_http_fsdfs_sweep_age(ngx_http_fsdfs_main_conf_t *fmcf)
{
    return fmcf->pull_timeout
           + ngx_max(fmcf->pull_timeout, NGX_HTTP_FSDFS_SWEEP_MARGIN);
}


/* Every pull_timeout, but a walk of the whole root is not free: not more
 * often than every 30 s, and at least hourly. */
static ngx_msec_t
ngx_http_fsdfs_sweep_period(ngx_http_fsdfs_main_conf_t *fmcf)
{
    return ngx_min(ngx_max(fmcf->pull_timeout, NGX_HTTP_FSDFS_SWEEP_MIN),
                   NGX_HTTP_FSDFS_SWEEP_MAX);
}


static int
ngx_http_fsdfs_sweep_one(const char *path, const struct stat *sb, int flag,
    struct FTW *ftw)
{
    char         *end;
    const char   *name;
    long long     pid;

    name = path + ftw->base;

    if (flag != FTW_F
        || ngx_strncmp(name, NGX_HTTP_FSDFS_TMP_PREFIX,
                       sizeof(NGX_HTTP_FSDFS_TMP_PREFIX) - 1) != 0)
    {
        return 0;
    }

    /* a fresh one of this master's workers may be a pull in flight; the
     * periodic sweep keeps every fresh one, so it never races a pull of a
     * master beside this one (a binary upgrade) */
    pid = strtoll(name + sizeof(NGX_HTTP_FSDFS_TMP_PREFIX) - 1, &end, 10);

    if (sb->st_mtime >= ngx_http_fsdfs_sweep_before
        && (ngx_http_fsdfs_sweep_periodic
            || (*end == '-' && pid == ngx_http_fsdfs_sweep_pid)))
    {
        return 0;
    }

    if (unlink(path) == 0) {
        ngx_http_fsdfs_sweep_removed++;
    }

    return 0;
}


static void
ngx_http_fsdfs_sweep_thread(void *data, ngx_log_t *log)
{
    ngx_http_fsdfs_sweep_t  *s = data;

    ngx_http_fsdfs_sweep_removed = 0;

    if (nftw(s->root, ngx_http_fsdfs_sweep_one, 32, FTW_PHYS) != 0) {
        ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                      "fsdfs: sweeping temp files under \"%s\" failed",
                      s->root);
    }

    s->removed = ngx_http_fsdfs_sweep_removed;
}


static void
ngx_http_fsdfs_sweep_done(ngx_event_t *ev)
{
    ngx_thread_task_t       *task = ev->data;
    ngx_http_fsdfs_sweep_t  *s = task->ctx;

    if (s->removed) {
        ngx_log_error(NGX_LOG_NOTICE, ev->log, 0,
                      "fsdfs: removed %ui stale temp file%s under \"%s\"",
                      s->removed, s->removed == 1 ? "" : "s", s->root);
    }
}


/* Set the thread's parameters and post the sweep; periodic: only files
 * older than sweep_age(), whoever's they are. */
static void
ngx_http_fsdfs_sweep_post(ngx_thread_task_t *task, ngx_uint_t periodic,
    ngx_log_t *log)
{
    ngx_http_fsdfs_main_conf_t  *fmcf;

    fmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_fsdfs_module);

    ngx_http_fsdfs_sweep_pid = ngx_http_fsdfs_master_pid;
    ngx_http_fsdfs_sweep_periodic = periodic;
    ngx_http_fsdfs_sweep_before = ngx_time()
                                  - (time_t) (ngx_http_fsdfs_sweep_age(fmcf)
                                              / 1000);

    if (ngx_thread_task_post(fmcf->thread_pool, task) != NGX_OK) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "fsdfs: could not post the temp file sweep");
    }
}


static void
ngx_http_fsdfs_sweep_tick(ngx_event_t *ev)
{
    ngx_thread_task_t           *task = ev->data;
    ngx_http_fsdfs_main_conf_t  *fmcf;

    /* also how a quitting worker's cancelable timer is run off */
    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    /* the last one still walking (a huge root): skip this turn */
    if (!task->event.active) {
        ngx_http_fsdfs_sweep_post(task, 1, ev->log);
    }

    fmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_fsdfs_module);
    ngx_add_timer(ev, ngx_http_fsdfs_sweep_period(fmcf));
}


ngx_int_t
ngx_http_fsdfs_pull_init_process(ngx_cycle_t *cycle)
{
    ngx_thread_task_t           *task;
    ngx_http_fsdfs_sweep_t      *s;
    ngx_http_fsdfs_main_conf_t  *fmcf;

    ngx_http_fsdfs_master_pid = (ngx_process == NGX_PROCESS_WORKER)
                                ? getppid() : ngx_pid;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "fsdfs: curl_global_init() failed");
        return NGX_ERROR;
    }

    fmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_fsdfs_module);

    if (ngx_worker != 0 || !fmcf->commands || fmcf->root.len == 0) {
        return NGX_OK;
    }

    task = ngx_thread_task_alloc(cycle->pool, sizeof(ngx_http_fsdfs_sweep_t));
    if (task == NULL) {
        return NGX_ERROR;
    }

    s = task->ctx;
    s->root = ngx_pnalloc(cycle->pool, fmcf->root.len + 1);
    if (s->root == NULL) {
        return NGX_ERROR;
    }

    (void) ngx_cpystrn((u_char *) s->root, fmcf->root.data,
                       fmcf->root.len + 1);

    task->handler = ngx_http_fsdfs_sweep_thread;
    task->event.handler = ngx_http_fsdfs_sweep_done;
    task->event.data = task;
    task->event.log = cycle->log;

    ngx_http_fsdfs_sweep_post(task, 0, cycle->log);

    /* cancelable: it never holds up a worker's graceful exit */
    ngx_http_fsdfs_sweep_timer.handler = ngx_http_fsdfs_sweep_tick;
    ngx_http_fsdfs_sweep_timer.data = task;
    ngx_http_fsdfs_sweep_timer.log = cycle->log;
    ngx_http_fsdfs_sweep_timer.cancelable = 1;
    ngx_add_timer(&ngx_http_fsdfs_sweep_timer,
                  ngx_http_fsdfs_sweep_period(fmcf));

    return NGX_OK;
}

#else

ngx_int_t
ngx_http_fsdfs_pull(ngx_http_fsdfs_command_t *cmd)
{
    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}


ngx_int_t
ngx_http_fsdfs_pull_init_process(ngx_cycle_t *cycle)
{
    return NGX_OK;
}

#endif
