/*
 * fsdfs nginx module: the inventory and quarantine commands, for fsck and
 * for fsdfsd (a copy a pull found wrong).
 *
 * GET /_fsdfs/inventory[?sums=1] walks the data root in the thread pool
 * (symlinks never followed, ".fsdfs-*" entries skipped: pull temp files
 * and the quarantine) and answers text, one line per regular file,
 * "path\tsize[\tsum]\n", then "# end <count>\n" so a cut answer shows.
 * The listing goes to an unlinked temp file in the data root, written by
 * the thread, and is sent from there as a file buffer: memory stays small
 * whatever the number of files. With sums=1 the thread reads every file
 * (fsdfs_sum_fd): slow, and it holds one pool thread meanwhile.
 *
 * POST /_fsdfs/quarantine?path=P renames <root>P to
 * <root>/.fsdfs-quarantine/P (directories made as needed, an older
 * quarantined copy replaced): 200, or 404 if there is no such file. With
 * &sum=S (16 hex) the copy is hashed first and kept if it matches: 409.
 */

#include "ngx_http_fsdfs_module.h"

#include "fsdfs_path.h"
#include "fsdfs_sum.h"

#include <dirent.h>


#define NGX_HTTP_FSDFS_SKIP_PREFIX   ".fsdfs-"
#define NGX_HTTP_FSDFS_QUARANTINE    "/.fsdfs-quarantine"
#define NGX_HTTP_FSDFS_INV_BUF       65536


typedef struct {
    ngx_http_fsdfs_command_t    *cmd;
    char                        *root;          /* NUL-ended, no '/' end */
    ngx_fd_t                     fd;
    off_t                        len;           /* bytes of listing */
    uint64_t                     count;
    uint64_t                     skipped;       /* names not valid paths */
    ngx_uint_t                   sums;
    ngx_uint_t                   status;
    const char                  *error;
    /* thread-only state */
    u_char                      *buf;
    size_t                       used;
    int                          werr;
    char                         path[FSDFS_PATH_MAX + 2];
    char                         errbuf[128];
} ngx_http_fsdfs_inventory_t;


typedef struct {
    ngx_http_fsdfs_command_t    *cmd;
    uint64_t                     size;
    ngx_uint_t                   status;
    const char                  *error;
    char                        *target;
    char                         errbuf[128];
} ngx_http_fsdfs_quarantine_t;


#if (NGX_THREADS)

/* Inventory: the thread side ---------------------------------------------*/

static void
ngx_http_fsdfs_inv_flush(ngx_http_fsdfs_inventory_t *inv)
{
    ssize_t  n;
    size_t   off;

    for (off = 0; off < inv->used && !inv->werr; ) {
        n = write(inv->fd, inv->buf + off, inv->used - off);
        if (n < 0) {
            if (ngx_errno == NGX_EINTR) {
                continue;
            }
            inv->werr = ngx_errno;
            break;
        }
        off += n;
    }

    inv->len += inv->used;
    inv->used = 0;
}


static void
ngx_http_fsdfs_inv_put(ngx_http_fsdfs_inventory_t *inv, const u_char *p,
    size_t len)
{
    if (inv->used + len > NGX_HTTP_FSDFS_INV_BUF) {
        ngx_http_fsdfs_inv_flush(inv);
    }

    ngx_memcpy(inv->buf + inv->used, p, len);
    inv->used += len;
}


static void
ngx_http_fsdfs_inv_file(ngx_http_fsdfs_inventory_t *inv, int dfd,
    const char *name, size_t plen, struct stat *sb)
{
    int       fd;
    u_char    line[NGX_INT64_LEN + 24], *p;
    uint64_t  sum, size;

    if (fsdfs_path_check(inv->path, plen) != NULL) {
        inv->skipped++;
        return;
    }

    size = sb->st_size;
    p = ngx_sprintf(line, "\t%uL", size);

    if (inv->sums) {
        fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd == -1) {
            return;                                 /* gone meanwhile */
        }

        if (fsdfs_sum_fd(fd, &sum, &size) != 0) {
            p = ngx_sprintf(p, "\t-");             /* unreadable: no sum */

        } else {
            p = ngx_sprintf(line, "\t%uL\t%016xL", size, sum);
        }

        close(fd);
    }

    *p++ = '\n';

    ngx_http_fsdfs_inv_put(inv, (u_char *) inv->path, plen);
    ngx_http_fsdfs_inv_put(inv, line, p - line);
    inv->count++;
}


/* Lists the directory open as dfd, whose path (from the root) is
 * inv->path[0..plen); closes dfd. */
static void
ngx_http_fsdfs_inv_dir(ngx_http_fsdfs_inventory_t *inv, int dfd, size_t plen)
{
    int             fd;
    DIR            *dir;
    size_t          nlen;
    struct stat     sb;
    struct dirent  *e;

    dir = fdopendir(dfd);
    if (dir == NULL) {
        close(dfd);
        return;
    }

    while ((e = readdir(dir)) != NULL) {
        if (e->d_name[0] == '.'
            && (e->d_name[1] == '\0'
                || (e->d_name[1] == '.' && e->d_name[2] == '\0')))
        {
            continue;
        }

        if (ngx_strncmp(e->d_name, NGX_HTTP_FSDFS_SKIP_PREFIX,
                        sizeof(NGX_HTTP_FSDFS_SKIP_PREFIX) - 1)
            == 0)
        {
            continue;
        }

        nlen = ngx_strlen(e->d_name);
        if (plen + 1 + nlen > FSDFS_PATH_MAX) {
            inv->skipped++;
            continue;
        }

        if (fstatat(dirfd(dir), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
            continue;
        }

        inv->path[plen] = '/';
        ngx_memcpy(inv->path + plen + 1, e->d_name, nlen + 1);

        if (S_ISREG(sb.st_mode)) {
            ngx_http_fsdfs_inv_file(inv, dirfd(dir), e->d_name,
                                    plen + 1 + nlen, &sb);

        } else if (S_ISDIR(sb.st_mode)) {
            fd = openat(dirfd(dir), e->d_name,
                        O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (fd != -1) {
                ngx_http_fsdfs_inv_dir(inv, fd, plen + 1 + nlen);
            }
        }

        inv->path[plen] = '\0';
    }

    closedir(dir);
}


static void
ngx_http_fsdfs_inventory_thread(void *data, ngx_log_t *log)
{
    int                          dfd;
    u_char                       tail[64], *p;
    char                         tmp[NGX_MAX_PATH];
    char                         anchor[NGX_MAX_PATH];
    ngx_http_fsdfs_inventory_t  *inv = data;

    inv->status = NGX_HTTP_INTERNAL_SERVER_ERROR;

    /* the temp name of a pull beside <root>/x: the sweep knows it */
    if (ngx_snprintf((u_char *) anchor, sizeof(anchor) - 1, "%s/x%Z",
                     inv->root) == (u_char *) anchor + sizeof(anchor) - 1
        || ngx_http_fsdfs_tmp_name(tmp, sizeof(tmp), anchor) != NGX_OK)
    {
        inv->error = "data root name too long";
        return;
    }

    inv->fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (inv->fd == -1) {
        (void) ngx_snprintf((u_char *) inv->errbuf, sizeof(inv->errbuf) - 1,
                            "cannot create temp file: %s%Z",
                            strerror(ngx_errno));
        inv->error = inv->errbuf;
        return;
    }

    (void) unlink(tmp);

    inv->buf = malloc(NGX_HTTP_FSDFS_INV_BUF);
    if (inv->buf == NULL) {
        inv->error = "out of memory";
        goto failed;
    }

    dfd = open(inv->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd == -1) {
        (void) ngx_snprintf((u_char *) inv->errbuf, sizeof(inv->errbuf) - 1,
                            "cannot open data root: %s%Z",
                            strerror(ngx_errno));
        inv->error = inv->errbuf;
        goto failed;
    }

    inv->path[0] = '\0';
    ngx_http_fsdfs_inv_dir(inv, dfd, 0);

    p = tail;
    if (inv->skipped) {
        p = ngx_sprintf(p, "# skipped %uL\n", inv->skipped);
    }
    p = ngx_sprintf(p, "# end %uL\n", inv->count);
    ngx_http_fsdfs_inv_put(inv, tail, p - tail);
    ngx_http_fsdfs_inv_flush(inv);

    free(inv->buf);
    inv->buf = NULL;

    if (inv->werr) {
        (void) ngx_snprintf((u_char *) inv->errbuf, sizeof(inv->errbuf) - 1,
                            "writing temp file: %s%Z", strerror(inv->werr));
        inv->error = inv->errbuf;
        goto failed;
    }

    inv->status = NGX_HTTP_OK;
    return;

failed:

    free(inv->buf);
    inv->buf = NULL;
    close(inv->fd);
    inv->fd = NGX_INVALID_FILE;
}


/* Inventory: the event side ----------------------------------------------*/

static void
ngx_http_fsdfs_inventory_done(ngx_event_t *ev)
{
    ngx_int_t                    rc;
    ngx_buf_t                   *b;
    ngx_chain_t                  out;
    ngx_connection_t            *c;
    ngx_thread_task_t           *task = ev->data;
    ngx_http_request_t          *r;
    ngx_pool_cleanup_t          *cln;
    ngx_pool_cleanup_file_t     *clnf;
    ngx_http_fsdfs_command_t    *cmd;
    ngx_http_fsdfs_inventory_t  *inv = task->ctx;

    cmd = inv->cmd;
    r = cmd->request;
    c = r->connection;

    r->main->blocked--;

    if (inv->status != NGX_HTTP_OK) {
        ngx_http_fsdfs_command_finish(cmd, inv->status, inv->error);
        return;
    }

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_pool_cleanup_file_t));
    if (cln == NULL) {
        close(inv->fd);
        ngx_http_fsdfs_command_finish(cmd, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                      "out of memory");
        return;
    }

    cln->handler = ngx_pool_cleanup_file;
    clnf = cln->data;
    clnf->fd = inv->fd;
    clnf->name = (u_char *) "fsdfs inventory";
    clnf->log = c->log;

    cmd->answered = 1;

    ngx_log_error(NGX_LOG_INFO, c->log, 0,
                  "fsdfs: inventory%s: %uL files, %O bytes in %M ms",
                  inv->sums ? " with sums" : "", inv->count, inv->len,
                  ngx_current_msec - cmd->start);

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = inv->len;
    ngx_str_set(&r->headers_out.content_type, "text/plain");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        ngx_http_finalize_request(r, rc);
        ngx_http_run_posted_requests(c);
        return;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        goto failed;
    }

    b->file = ngx_pcalloc(r->pool, sizeof(ngx_file_t));
    if (b->file == NULL) {
        goto failed;
    }

    b->file->fd = inv->fd;
    ngx_str_set(&b->file->name, "fsdfs inventory");
    b->file->log = c->log;
    b->file->directio = 0;

    b->in_file = inv->len ? 1 : 0;
    b->file_pos = 0;
    b->file_last = inv->len;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    ngx_http_finalize_request(r, ngx_http_output_filter(r, &out));
    ngx_http_run_posted_requests(c);
    return;

failed:

    ngx_http_finalize_request(r, NGX_ERROR);
    ngx_http_run_posted_requests(c);
}


ngx_int_t
ngx_http_fsdfs_inventory(ngx_http_fsdfs_command_t *cmd)
{
    size_t                       len;
    ngx_int_t                    rc;
    ngx_uint_t                   i;
    ngx_thread_task_t           *task;
    ngx_http_request_t          *r = cmd->request;
    ngx_http_fsdfs_inventory_t  *inv;
    ngx_http_fsdfs_main_conf_t  *fmcf;

    fmcf = ngx_http_get_module_main_conf(r, ngx_http_fsdfs_module);

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    task = ngx_thread_task_alloc(r->pool, sizeof(ngx_http_fsdfs_inventory_t));
    if (task == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    inv = task->ctx;
    inv->cmd = cmd;
    inv->fd = NGX_INVALID_FILE;

    for (i = 0; i < cmd->nparams; i++) {
        if (cmd->names[i].len == 4
            && ngx_strncmp(cmd->names[i].data, "sums", 4) == 0)
        {
            if (cmd->values[i].len == 1 && cmd->values[i].data[0] == '1') {
                inv->sums = 1;

            } else if (!(cmd->values[i].len == 1
                         && cmd->values[i].data[0] == '0'))
            {
                return ngx_http_fsdfs_command_answer(cmd,
                                                     NGX_HTTP_BAD_REQUEST,
                                                     "bad sums (0 or 1)");
            }

        } else {
            return ngx_http_fsdfs_command_answer(cmd, NGX_HTTP_BAD_REQUEST,
                                                 "unknown parameter");
        }
    }

    len = fmcf->root.len;
    while (len > 1 && fmcf->root.data[len - 1] == '/') {
        len--;
    }

    inv->root = ngx_pnalloc(r->pool, len + 1);
    if (inv->root == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(inv->root, fmcf->root.data, len);
    inv->root[len] = '\0';

    return ngx_http_fsdfs_command_post(cmd, task,
                                       ngx_http_fsdfs_inventory_thread,
                                       ngx_http_fsdfs_inventory_done);
}


/* Quarantine ---------------------------------------------------------------*/

/* With sum=: the copy is read and hashed first, and kept if it matches
 * (409): a pull that saw other bytes may have met a fault on the way, not
 * on this disk. NGX_OK if it differs or its bytes cannot be read (EIO):
 * quarantine it. Out of descriptors or memory says nothing of the copy:
 * 500, kept. */
static ngx_int_t
ngx_http_fsdfs_quarantine_sum(ngx_http_fsdfs_quarantine_t *q)
{
    int                        fd, rc, err;
    uint64_t                   sum, size;
    ngx_http_fsdfs_command_t  *cmd = q->cmd;

    fd = open((char *) cmd->file.data, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd == -1) {
        err = ngx_errno;
        if (err == NGX_ENOENT || err == ELOOP) {
            return NGX_OK;          /* the rename says 404 */
        }
        goto kept;
    }

    errno = 0;
    rc = fsdfs_sum_fd(fd, &sum, &size);
    err = errno;
    (void) close(fd);

    if (rc == 0 && sum == cmd->sum) {
        q->status = NGX_HTTP_CONFLICT;
        q->error = "the copy matches the sum: kept";
        return NGX_DECLINED;
    }

    if (rc == 0 || err == EIO) {
        return NGX_OK;
    }

kept:

    (void) ngx_snprintf((u_char *) q->errbuf, sizeof(q->errbuf) - 1,
                        "cannot check the copy: %s%Z", strerror(err));
    q->status = NGX_HTTP_INTERNAL_SERVER_ERROR;
    q->error = q->errbuf;
    return NGX_DECLINED;
}


static void
ngx_http_fsdfs_quarantine_thread(void *data, ngx_log_t *log)
{
    struct stat                   sb;
    ngx_http_fsdfs_command_t     *cmd;
    ngx_http_fsdfs_quarantine_t  *q = data;

    cmd = q->cmd;

    if (lstat((char *) cmd->file.data, &sb) != 0) {
        q->status = NGX_HTTP_NOT_FOUND;
        q->error = "no such file";
        return;
    }

    if (!S_ISREG(sb.st_mode)) {
        q->status = NGX_HTTP_NOT_FOUND;
        q->error = "not a regular file";
        return;
    }

    if (cmd->has_sum && ngx_http_fsdfs_quarantine_sum(q) != NGX_OK) {
        return;
    }

    if (ngx_http_fsdfs_mkdirs(q->target, cmd->root_len, log) != NGX_OK) {
        q->status = NGX_HTTP_INTERNAL_SERVER_ERROR;
        q->error = "cannot make the quarantine directory";
        return;
    }

    if (rename((char *) cmd->file.data, q->target) != 0) {
        if (ngx_errno == NGX_ENOENT) {
            q->status = NGX_HTTP_NOT_FOUND;
            q->error = "no such file";
            return;
        }

        (void) ngx_snprintf((u_char *) q->errbuf, sizeof(q->errbuf) - 1,
                            "rename failed: %s%Z", strerror(ngx_errno));
        q->status = NGX_HTTP_INTERNAL_SERVER_ERROR;
        q->error = q->errbuf;
        return;
    }

    q->size = sb.st_size;
    q->status = NGX_HTTP_OK;
}


static void
ngx_http_fsdfs_quarantine_done(ngx_event_t *ev)
{
    ngx_thread_task_t            *task = ev->data;
    ngx_http_fsdfs_command_t     *cmd;
    ngx_http_fsdfs_quarantine_t  *q = task->ctx;

    cmd = q->cmd;
    cmd->request->main->blocked--;

    if (q->status == NGX_HTTP_OK) {
        cmd->size = q->size;
        ngx_log_error(NGX_LOG_NOTICE, cmd->request->connection->log, 0,
                      "fsdfs: quarantined \"%V\" as \"%s\"", &cmd->path,
                      q->target);
    }

    ngx_http_fsdfs_command_finish(cmd, q->status, q->error);
}


ngx_int_t
ngx_http_fsdfs_quarantine(ngx_http_fsdfs_command_t *cmd)
{
    u_char                       *p;
    ngx_thread_task_t            *task;
    ngx_http_request_t           *r = cmd->request;
    ngx_http_fsdfs_quarantine_t  *q;

    task = ngx_thread_task_alloc(r->pool,
                                 sizeof(ngx_http_fsdfs_quarantine_t));
    if (task == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    q = task->ctx;
    q->cmd = cmd;

    /* <root>/.fsdfs-quarantine<path> */
    q->target = ngx_pnalloc(r->pool, cmd->root_len
                                     + sizeof(NGX_HTTP_FSDFS_QUARANTINE)
                                     + cmd->path.len);
    if (q->target == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(q->target, cmd->file.data, cmd->root_len);
    p = ngx_cpymem(p, NGX_HTTP_FSDFS_QUARANTINE,
                   sizeof(NGX_HTTP_FSDFS_QUARANTINE) - 1);
    p = ngx_cpymem(p, cmd->path.data, cmd->path.len);
    *p = '\0';

    return ngx_http_fsdfs_command_post(cmd, task,
                                       ngx_http_fsdfs_quarantine_thread,
                                       ngx_http_fsdfs_quarantine_done);
}

#else

ngx_int_t
ngx_http_fsdfs_inventory(ngx_http_fsdfs_command_t *cmd)
{
    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}


ngx_int_t
ngx_http_fsdfs_quarantine(ngx_http_fsdfs_command_t *cmd)
{
    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}

#endif
