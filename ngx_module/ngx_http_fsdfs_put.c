/*
 * fsdfs nginx module: put, a new file stored here and indexed.
 *
 * Files are written once, so a put must never replace anything: the body
 * is read by nginx into its temp file; one HEXISTS on the record's bucket
 * refuses a path the index knows; a thread-pool task copies the body to a
 * temp file beside the final name, checking size and sum as it goes,
 * fsyncs it and link()s it to the final name, which fails if a file is
 * there (create-only-if-absent, atomic); then HSETNX creates the record
 * with this node as the only holder. If another put won that race the
 * file just created is unlinked again and the answer is 409. A new
 * record clears the path's tombstone and is announced on the event
 * stream for fsdfsd.
 */

#include "ngx_http_fsdfs_module.h"

#include "fsdfs_sum.h"


typedef struct {
    ngx_http_fsdfs_command_t    *cmd;
    ngx_http_fsdfs_main_conf_t  *fmcf;
    ngx_http_fsdfs_redis_cmd_t  *rcmd;
    ngx_thread_task_t           *task;
    ngx_event_t                  guard;
    ngx_uint_t                   outstanding;
    ngx_uint_t                   failed;
    char                         key[FSDFS_KEY_MAX];
    int                          key_len;

    /* for the thread */
    int                          body_fd;       /* -1: body in mem */
    u_char                      *mem;
    size_t                       mem_len;
    char                        *root;
    char                        *tmp;
    size_t                       tmp_cap;

    /* the outcome */
    ngx_uint_t                   status;
    const char                  *error;
    unsigned                     created:1;
    unsigned                     unlinking:1;
    char                         errbuf[160];
} ngx_http_fsdfs_put_t;


static void ngx_http_fsdfs_put_body(ngx_http_request_t *r);


#if (NGX_THREADS)

static void
ngx_http_fsdfs_put_fail(ngx_http_fsdfs_put_t *p, ngx_uint_t status,
    const char *what, const char *arg)
{
    (void) ngx_snprintf((u_char *) p->errbuf, sizeof(p->errbuf) - 1,
                        "%s%s%s%Z", what, arg ? ": " : "", arg ? arg : "");
    p->status = status;
    p->error = p->errbuf;
}


/* Copies the body to fd while summing it; NGX_OK if size and sum match. */
static ngx_int_t
ngx_http_fsdfs_put_copy(ngx_http_fsdfs_put_t *p, int fd)
{
    ssize_t         n, w;
    size_t          done;
    off_t           off;
    u_char         *data;
    uint64_t        sum, total;
    fsdfs_sum_t    *s;
    unsigned char   buf[65536];

    s = fsdfs_sum_new();
    if (s == NULL) {
        ngx_http_fsdfs_put_fail(p, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                "out of memory", NULL);
        return NGX_ERROR;
    }

    total = 0;
    off = 0;

    for ( ;; ) {
        if (p->body_fd == -1) {
            data = p->mem + off;
            n = ngx_min(p->mem_len - (size_t) off, sizeof(buf));

        } else {
            data = buf;
            n = pread(p->body_fd, buf, sizeof(buf), off);
        }

        if (n < 0 && ngx_errno == NGX_EINTR) {
            continue;
        }

        if (n <= 0) {
            break;
        }

        off += n;
        total += n;

        if (total > p->cmd->size) {
            break;
        }

        for (done = 0; done < (size_t) n; done += w) {
            w = write(fd, data + done, n - done);
            if (w < 0) {
                if (ngx_errno == NGX_EINTR) {
                    w = 0;
                    continue;
                }
                ngx_http_fsdfs_put_fail(p, ngx_errno == NGX_ENOSPC
                                           ? NGX_HTTP_INSUFFICIENT_STORAGE
                                           : NGX_HTTP_INTERNAL_SERVER_ERROR,
                                        "write failed", strerror(ngx_errno));
                fsdfs_sum_free(s);
                return NGX_ERROR;
            }
        }

        fsdfs_sum_add(s, data, n);
    }

    sum = fsdfs_sum_value(s);
    fsdfs_sum_free(s);

    if (n < 0) {
        ngx_http_fsdfs_put_fail(p, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                "reading the body failed", strerror(ngx_errno));
        return NGX_ERROR;
    }

    if (total != p->cmd->size) {
        ngx_http_fsdfs_put_fail(p, NGX_HTTP_CONFLICT, "size mismatch", NULL);
        return NGX_ERROR;
    }

    if (sum != p->cmd->sum) {
        ngx_http_fsdfs_put_fail(p, NGX_HTTP_CONFLICT, "checksum mismatch",
                                NULL);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_fsdfs_put_thread(void *data, ngx_log_t *log)
{
    int                        fd, c;
    char                      *slash;
    struct stat                sb;
    const char                *why;
    ngx_http_fsdfs_put_t      *p = data;
    ngx_http_fsdfs_command_t  *cmd = p->cmd;
    char                      *file = (char *) cmd->file.data;

    p->status = NGX_HTTP_CREATED;
    fd = -1;

    if (lstat(file, &sb) == 0) {
        ngx_http_fsdfs_put_fail(p, NGX_HTTP_CONFLICT, "exists on disk", NULL);
        return;
    }

    if (ngx_http_fsdfs_space(p->fmcf, p->root, cmd->size, &why) != NGX_OK) {
        ngx_http_fsdfs_put_fail(p, NGX_HTTP_INSUFFICIENT_STORAGE, "no space",
                                why);
        return;
    }

    if (ngx_http_fsdfs_mkdirs(file, cmd->root_len, log) != NGX_OK
        || ngx_http_fsdfs_tmp_name(p->tmp, p->tmp_cap, file) != NGX_OK)
    {
        ngx_http_fsdfs_put_fail(p, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                "cannot make the directory", NULL);
        return;
    }

    fd = open(p->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd == -1) {
        ngx_http_fsdfs_put_fail(p, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                "cannot create the temp file",
                                strerror(ngx_errno));
        p->tmp[0] = '\0';
        return;
    }

    if (ngx_http_fsdfs_put_copy(p, fd) != NGX_OK) {
        goto done;
    }

    if (fsync(fd) != 0) {
        ngx_http_fsdfs_put_fail(p, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                "fsync failed", strerror(ngx_errno));
        goto done;
    }

    /* create only if absent: link() fails if the name exists */
    if (link(p->tmp, file) != 0) {
        if (ngx_errno == NGX_EEXIST) {
            ngx_http_fsdfs_put_fail(p, NGX_HTTP_CONFLICT, "exists on disk",
                                    NULL);
        } else {
            ngx_http_fsdfs_put_fail(p, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                    "link failed", strerror(ngx_errno));
        }
        goto done;
    }

    p->created = 1;

    slash = strrchr(file, '/');
    c = slash[1];
    slash[1] = '\0';

    if (unlink(p->tmp) == 0) {
        p->tmp[0] = '\0';
    }

    (void) close(fd);
    fd = open(file, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd == -1 || fsync(fd) != 0) {
        ngx_log_error(NGX_LOG_WARN, log, ngx_errno,
                      "fsdfs: fsync of directory \"%s\" failed", file);
    }
    slash[1] = c;

done:

    if (fd != -1) {
        (void) close(fd);
    }

    if (p->tmp[0] && unlink(p->tmp) != 0 && ngx_errno != NGX_ENOENT) {
        ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                      "fsdfs: unlink of temp file \"%s\" failed", p->tmp);
    }
}


/* Undo: the record went to another put (or its fate is unknown). */
static void
ngx_http_fsdfs_put_unlink_thread(void *data, ngx_log_t *log)
{
    ngx_http_fsdfs_put_t  *p = data;

    if (unlink((char *) p->cmd->file.data) != 0 && ngx_errno != NGX_ENOENT) {
        ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                      "fsdfs: put: unlink of \"%s\" failed",
                      p->cmd->file.data);
    }
}


static void ngx_http_fsdfs_put_stored(ngx_event_t *ev);


/* A thread task of this put is under way: the guard timer keeps a
 * gracefully exiting worker alive until it is done (see
 * ngx_http_fsdfs_guard). */
static void
ngx_http_fsdfs_put_posted(ngx_http_fsdfs_put_t *p)
{
    p->cmd->request->main->blocked++;

    p->guard.handler = ngx_http_fsdfs_guard;
    p->guard.data = p;
    p->guard.log = p->cmd->request->connection->log;
    ngx_add_timer(&p->guard, 60000);
}


static void
ngx_http_fsdfs_put_undo(ngx_http_fsdfs_put_t *p, ngx_uint_t status,
    const char *error)
{
    p->status = status;
    p->error = error;
    p->unlinking = 1;

    p->task->handler = ngx_http_fsdfs_put_unlink_thread;

    if (ngx_thread_task_post(p->fmcf->thread_pool, p->task) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, p->cmd->request->connection->log, 0,
                      "fsdfs: put: could not remove \"%V\" after a lost "
                      "race", &p->cmd->path);
        ngx_http_fsdfs_command_finish(p->cmd, status, error);
        return;
    }

    ngx_http_fsdfs_put_posted(p);
}


static void
ngx_http_fsdfs_put_after(redisReply *reply, void *data)
{
    ngx_http_fsdfs_put_t  *p = data;

    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        p->failed++;
        ngx_log_error(NGX_LOG_WARN, p->cmd->request->connection->log, 0,
                      "fsdfs: put \"%V\": indexed, but clearing its "
                      "tombstone or announcing it failed: %s", &p->cmd->path,
                      reply ? reply->str : "no reply");
    }

    if (--p->outstanding) {
        return;
    }

    p->rcmd = NULL;

    ngx_http_fsdfs_count(puts);
    ngx_http_fsdfs_count_add(puts_bytes, p->cmd->size);
    ngx_http_fsdfs_command_finish(p->cmd, NGX_HTTP_CREATED, NULL);
}


static void
ngx_http_fsdfs_put_indexed(redisReply *reply, void *data)
{
    char                       tomb[FSDFS_KEY_MAX], events[FSDFS_KEY_MAX];
    u_char                     id[NGX_INT_T_LEN];
    ngx_uint_t                 i;
    size_t                     len[12];
    const char                *argv[12];
    ngx_http_fsdfs_put_t      *p = data;
    ngx_http_fsdfs_command_t  *cmd = p->cmd;
    u_char                    *prefix = p->fmcf->prefix.data;

    p->rcmd = NULL;

    if (reply == NULL || reply->type != REDIS_REPLY_INTEGER) {
        ngx_http_fsdfs_put_undo(p, NGX_HTTP_SERVICE_UNAVAILABLE,
                                "index unreachable");
        return;
    }

    if (reply->integer == 0) {
        ngx_http_fsdfs_put_undo(p, NGX_HTTP_CONFLICT,
                                "exists in the index (created meanwhile)");
        return;
    }

    (void) fsdfs_key(tomb, sizeof(tomb), (char *) prefix, "tomb");
    (void) fsdfs_key(events, sizeof(events), (char *) prefix, "events");

    argv[0] = "ZREM";
    argv[1] = tomb;
    argv[2] = (char *) cmd->path.data;
    len[0] = 4;
    len[1] = ngx_strlen(tomb);
    len[2] = cmd->path.len;

    if (ngx_http_fsdfs_redis_argv(ngx_http_fsdfs_put_after, p, 3, argv, len)
        != NULL)
    {
        p->outstanding++;
    }

    argv[0] = "XADD";
    argv[1] = events;
    argv[2] = "MAXLEN";
    argv[3] = "~";
    argv[4] = "100000";
    argv[5] = "*";
    argv[6] = "type";
    argv[7] = "put";
    argv[8] = "node";
    argv[9] = (char *) id;
    argv[10] = "path";
    argv[11] = (char *) cmd->path.data;

    len[9] = ngx_sprintf(id, "%uA", ngx_http_fsdfs_state()->self_id) - id;
    len[11] = cmd->path.len;

    for (i = 0; i < 12; i++) {
        if (i != 9 && i != 11) {
            len[i] = ngx_strlen(argv[i]);
        }
    }

    p->rcmd = ngx_http_fsdfs_redis_argv(ngx_http_fsdfs_put_after, p, 12, argv,
                                        len);
    if (p->rcmd != NULL) {
        p->outstanding++;
    }

    if (p->outstanding == 0) {
        ngx_http_fsdfs_count(puts);
        ngx_http_fsdfs_count_add(puts_bytes, cmd->size);
        ngx_http_fsdfs_command_finish(cmd, NGX_HTTP_CREATED, NULL);
    }
}


/* Back from the thread: index the new file, or undo, or report. */
static void
ngx_http_fsdfs_put_stored(ngx_event_t *ev)
{
    int                        n;
    char                       rec[FSDFS_RECORD_MAX];
    size_t                     len[4];
    const char                *argv[4];
    fsdfs_record_t             record;
    ngx_thread_task_t         *task = ev->data;
    ngx_http_fsdfs_put_t      *p = task->ctx;
    ngx_http_fsdfs_command_t  *cmd = p->cmd;

    cmd->request->main->blocked--;

    if (p->guard.timer_set) {
        ngx_del_timer(&p->guard);
    }

    if (p->unlinking) {
        ngx_http_fsdfs_disk_adjust(cmd->size, 1);
        ngx_http_fsdfs_command_finish(cmd, p->status, p->error);
        return;
    }

    if (!p->created) {
        ngx_http_fsdfs_command_finish(cmd, p->status, p->error);
        return;
    }

    ngx_http_fsdfs_disk_adjust(cmd->size, 0);

    ngx_memzero(&record, sizeof(fsdfs_record_t));
    record.size = cmd->size;
    record.sum = cmd->sum;
    record.ctime = ngx_time();
    record.holders[0] = (uint16_t) ngx_http_fsdfs_state()->self_id;
    record.nholders = 1;
    record.n = cmd->n;

    n = fsdfs_record_encode(&record, rec, sizeof(rec));
    if (n < 0) {
        ngx_http_fsdfs_put_undo(p, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                "record encoding failed");
        return;
    }

    argv[0] = "HSETNX";
    argv[1] = p->key;
    argv[2] = (char *) cmd->path.data;
    argv[3] = rec;
    len[0] = 6;
    len[1] = p->key_len;
    len[2] = cmd->path.len;
    len[3] = n;

    p->rcmd = ngx_http_fsdfs_redis_argv(ngx_http_fsdfs_put_indexed, p, 4,
                                        argv, len);
    if (p->rcmd == NULL) {
        ngx_http_fsdfs_put_undo(p, NGX_HTTP_SERVICE_UNAVAILABLE,
                                "index unreachable");
    }
}


static void
ngx_http_fsdfs_put_exists(redisReply *reply, void *data)
{
    ngx_http_fsdfs_put_t      *p = data;
    ngx_http_fsdfs_command_t  *cmd = p->cmd;

    p->rcmd = NULL;

    if (reply == NULL || reply->type != REDIS_REPLY_INTEGER) {
        ngx_http_fsdfs_command_finish(cmd, NGX_HTTP_SERVICE_UNAVAILABLE,
                                      "index unreachable");
        return;
    }

    if (reply->integer != 0) {
        ngx_http_fsdfs_command_finish(cmd, NGX_HTTP_CONFLICT,
                                      "exists in the index");
        return;
    }

    if (ngx_thread_task_post(p->fmcf->thread_pool, p->task) != NGX_OK) {
        ngx_http_fsdfs_command_finish(cmd, NGX_HTTP_SERVICE_UNAVAILABLE,
                                      "thread pool queue full");
        return;
    }

    ngx_http_fsdfs_put_posted(p);
}


static void
ngx_http_fsdfs_put_cleanup(void *data)
{
    ngx_http_fsdfs_put_t  *p = data;

    if (p->rcmd) {
        ngx_http_fsdfs_redis_cancel(p->rcmd);
        p->rcmd = NULL;
    }

    if (p->guard.timer_set) {
        ngx_del_timer(&p->guard);
    }
}


/* The body is in (read by nginx): ask the index whether the path is new. */
static void
ngx_http_fsdfs_put_body(ngx_http_request_t *r)
{
    u_char                    *m;
    size_t                     len[3];
    const char                *argv[3];
    ngx_chain_t               *cl;
    ngx_pool_cleanup_t        *cln;
    ngx_http_fsdfs_put_t      *p;
    ngx_http_request_body_t   *rb = r->request_body;
    ngx_http_fsdfs_state_t    *st = ngx_http_fsdfs_state();
    ngx_http_fsdfs_command_t  *cmd;

    p = ngx_http_get_module_ctx(r, ngx_http_fsdfs_module);
    cmd = p->cmd;

    if (rb == NULL) {
        ngx_http_fsdfs_command_finish(cmd, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                      "no body");
        return;
    }

    p->body_fd = -1;

    if (rb->temp_file) {
        p->body_fd = rb->temp_file->file.fd;

    } else {
        for (cl = rb->bufs; cl; cl = cl->next) {
            p->mem_len += ngx_buf_size(cl->buf);
        }

        p->mem = ngx_pnalloc(r->pool, p->mem_len + 1);
        if (p->mem == NULL) {
            ngx_http_fsdfs_command_finish(cmd,
                                          NGX_HTTP_INTERNAL_SERVER_ERROR,
                                          "out of memory");
            return;
        }

        for (m = p->mem, cl = rb->bufs; cl; cl = cl->next) {
            if (!ngx_buf_in_memory(cl->buf)) {
                ngx_http_fsdfs_command_finish(cmd,
                                              NGX_HTTP_INTERNAL_SERVER_ERROR,
                                              "body neither in memory nor "
                                              "in a file");
                return;
            }
            m = ngx_cpymem(m, cl->buf->pos, cl->buf->last - cl->buf->pos);
        }
    }

    if (!ngx_http_fsdfs_redis_up() || st->buckets == 0) {
        ngx_http_fsdfs_command_finish(cmd, NGX_HTTP_SERVICE_UNAVAILABLE,
                                      "index unreachable");
        return;
    }

    p->key_len = fsdfs_key_loc(p->key, sizeof(p->key),
                               (char *) p->fmcf->prefix.data,
                               fsdfs_bucket((char *) cmd->path.data,
                                            cmd->path.len, st->buckets));

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL || p->key_len < 0) {
        ngx_http_fsdfs_command_finish(cmd, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                      "out of memory");
        return;
    }

    cln->handler = ngx_http_fsdfs_put_cleanup;
    cln->data = p;

    argv[0] = "HEXISTS";
    argv[1] = p->key;
    argv[2] = (char *) cmd->path.data;
    len[0] = 7;
    len[1] = p->key_len;
    len[2] = cmd->path.len;

    p->rcmd = ngx_http_fsdfs_redis_argv(ngx_http_fsdfs_put_exists, p, 3, argv,
                                        len);
    if (p->rcmd == NULL) {
        ngx_http_fsdfs_command_finish(cmd, NGX_HTTP_SERVICE_UNAVAILABLE,
                                      "index unreachable");
    }
}


ngx_int_t
ngx_http_fsdfs_put(ngx_http_fsdfs_command_t *cmd)
{
    ngx_int_t              rc;
    ngx_http_request_t    *r = cmd->request;
    ngx_http_fsdfs_put_t  *p;

    if (r->headers_in.content_length_n >= 0
        && (uint64_t) r->headers_in.content_length_n != cmd->size)
    {
        return ngx_http_fsdfs_command_answer(cmd, NGX_HTTP_CONFLICT,
                                             "size mismatch");
    }

    p = ngx_pcalloc(r->pool, sizeof(ngx_http_fsdfs_put_t));
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p->cmd = cmd;
    p->fmcf = ngx_http_get_module_main_conf(r, ngx_http_fsdfs_module);

    p->task = ngx_thread_task_alloc(r->pool, 0);
    p->root = ngx_pnalloc(r->pool, cmd->root_len + 1);
    p->tmp_cap = cmd->file.len + sizeof(NGX_HTTP_FSDFS_TMP_PREFIX)
                 + NGX_INT64_LEN + 20;
    p->tmp = ngx_pcalloc(r->pool, p->tmp_cap);

    if (p->task == NULL || p->root == NULL || p->tmp == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    (void) ngx_cpystrn((u_char *) p->root, cmd->file.data, cmd->root_len + 1);

    p->task->ctx = p;
    p->task->handler = ngx_http_fsdfs_put_thread;
    p->task->event.handler = ngx_http_fsdfs_put_stored;
    p->task->event.data = p->task;
    p->task->event.log = r->connection->log;

    ngx_http_set_ctx(r, p, ngx_http_fsdfs_module);

    r->request_body_in_file_only = 1;
    r->request_body_in_clean_file = 1;
    r->request_body_file_log_level = 0;

    rc = ngx_http_read_client_request_body(r, ngx_http_fsdfs_put_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}

#else

ngx_int_t
ngx_http_fsdfs_put(ngx_http_fsdfs_command_t *cmd)
{
    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}

#endif
