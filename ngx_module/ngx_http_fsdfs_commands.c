/*
 * fsdfs nginx module: the signed command endpoint (/_fsdfs/pull, drop,
 * put) and drop itself.
 *
 * (inventory and quarantine, for fsck, are in _inventory.c.)
 *
 * A command is believed only after its signature: the query string is
 * split and percent-decoded, the canonical string is rebuilt from what
 * was parsed (fsdfs_sign_canon: method, URI path, every parameter but
 * sig), the HMAC is checked in constant time, then the timestamp window
 * and the epoch: a command from an epoch lower than the highest this node
 * has seen (in the state zone, raised by every accepted command and by
 * worker 0 reading <prefix>epoch each second) is a deposed master's. Only
 * then are the parameters themselves checked. Whatever touches the disk
 * runs as an nginx thread-pool task; the request waits for it without
 * blocking the worker. Every answer is a small JSON object and one log
 * line.
 */

#include "ngx_http_fsdfs_module.h"

#include "fsdfs_path.h"

#include <sys/statvfs.h>


typedef struct {
    ngx_http_fsdfs_command_t    *cmd;
    ngx_uint_t                   status;
    const char                  *error;
    uint64_t                     freed;
    unsigned                     dropped:1;
    char                         errbuf[128];
} ngx_http_fsdfs_drop_t;


static ngx_int_t ngx_http_fsdfs_commands_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_fsdfs_drop(ngx_http_fsdfs_command_t *cmd);


/* Raises the highest epoch seen, never lowers it (any worker, any time). */
void
ngx_http_fsdfs_epoch_raise(uint64_t epoch)
{
    ngx_atomic_uint_t        old;
    ngx_http_fsdfs_state_t  *st = ngx_http_fsdfs_state();

    if (st == NULL) {
        return;
    }

    for ( ;; ) {
        old = st->epoch;

        if ((ngx_atomic_uint_t) epoch <= old) {
            return;
        }

        if (ngx_atomic_cmp_set(&st->epoch, old, (ngx_atomic_uint_t) epoch)) {
            return;
        }
    }
}


/* Adds (or with neg, takes away) a file of size bytes to the disk figures
 * the heartbeat reports, until the next walk of the data root. */
void
ngx_http_fsdfs_disk_adjust(uint64_t size, ngx_uint_t neg)
{
    ngx_atomic_uint_t        v;
    ngx_http_fsdfs_state_t  *st = ngx_http_fsdfs_state();

    if (neg) {
        v = st->disk_used;
        st->disk_used = (v > size) ? v - size : 0;
        v = st->disk_files;
        st->disk_files = v ? v - 1 : 0;
        st->disk_free += size;
        return;
    }

    (void) ngx_atomic_fetch_add(&st->disk_used, size);
    (void) ngx_atomic_fetch_add(&st->disk_files, 1);
    v = st->disk_free;
    st->disk_free = (v > size) ? v - size : 0;
}


/*
 * Room for size more bytes: under the quota (the used figure of the state
 * zone) and on the disk (statvfs). Blocking: thread-pool tasks only.
 * NGX_OK, or NGX_DECLINED with *error set.
 */
ngx_int_t
ngx_http_fsdfs_space(ngx_http_fsdfs_main_conf_t *fmcf, const char *root,
    uint64_t size, const char **error)
{
    uint64_t                 used;
    struct statvfs           vfs;
    ngx_http_fsdfs_state_t  *st = ngx_http_fsdfs_state();

    used = st->disk_used;

    if (fmcf->quota > 0 && used + size > (uint64_t) fmcf->quota) {
        *error = "over quota";
        return NGX_DECLINED;
    }

    if (statvfs(root, &vfs) == 0
        && (uint64_t) vfs.f_bavail * vfs.f_frsize < size)
    {
        *error = "disk full";
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* mkdir -p of the directories of file past its first from bytes (the data
 * root, which exists). Blocking: thread-pool tasks only. */
ngx_int_t
ngx_http_fsdfs_mkdirs(char *file, size_t from, ngx_log_t *log)
{
    char  *p;

    for (p = file + from + 1; *p; p++) {
        if (*p != '/') {
            continue;
        }

        *p = '\0';

        if (mkdir(file, 0755) != 0 && ngx_errno != NGX_EEXIST) {
            ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                          "fsdfs: mkdir \"%s\" failed", file);
            *p = '/';
            return NGX_ERROR;
        }

        *p = '/';
    }

    return NGX_OK;
}


/* Arguments ---------------------------------------------------------------*/

static ngx_str_t *
ngx_http_fsdfs_param(ngx_http_fsdfs_command_t *cmd, const char *name)
{
    size_t      len;
    ngx_uint_t  i;

    len = ngx_strlen(name);

    for (i = 0; i < cmd->nparams; i++) {
        if (cmd->names[i].len == len
            && ngx_strncmp(cmd->names[i].data, name, len) == 0)
        {
            return &cmd->values[i];
        }
    }

    return NULL;
}


/* Plain decimal, no sign, no leading zero but "0", fits in max. */
static ngx_int_t
ngx_http_fsdfs_decimal(ngx_str_t *s, uint64_t max, uint64_t *out)
{
    size_t    i;
    uint64_t  v;

    if (s == NULL || s->len == 0 || s->len > 20
        || (s->len > 1 && s->data[0] == '0'))
    {
        return NGX_ERROR;
    }

    v = 0;

    for (i = 0; i < s->len; i++) {
        if (s->data[i] < '0' || s->data[i] > '9') {
            return NGX_ERROR;
        }

        if (v > (max - (s->data[i] - '0')) / 10) {
            return NGX_ERROR;
        }

        v = v * 10 + (s->data[i] - '0');
    }

    *out = v;

    return NGX_OK;
}


/* 16 lowercase hex digits, as in the record. */
static ngx_int_t
ngx_http_fsdfs_hex64(ngx_str_t *s, uint64_t *out)
{
    size_t    i;
    u_char    c;
    uint64_t  v;

    if (s == NULL || s->len != 16) {
        return NGX_ERROR;
    }

    v = 0;

    for (i = 0; i < 16; i++) {
        c = s->data[i];

        if (c >= '0' && c <= '9') {
            v = (v << 4) | (c - '0');

        } else if (c >= 'a' && c <= 'f') {
            v = (v << 4) | (c - 'a' + 10);

        } else {
            return NGX_ERROR;
        }
    }

    *out = v;

    return NGX_OK;
}


/*
 * Splits r->args into the command's parameters, values percent-decoded
 * ('+' is a plus), and takes ts, epoch and sig aside. NGX_OK, or an HTTP
 * status with *error set.
 */
static ngx_int_t
ngx_http_fsdfs_parse_args(ngx_http_request_t *r, ngx_http_fsdfs_command_t *cmd,
    ngx_str_t *ts, ngx_str_t *epoch, ngx_str_t *sig, const char **error)
{
    u_char     *p, *end, *amp, *eq, *dst, *src;
    ngx_str_t   name, value, *slot;

    p = r->args.data;
    end = p + r->args.len;

    while (p < end) {
        amp = ngx_strlchr(p, end, '&');
        if (amp == NULL) {
            amp = end;
        }

        if (amp == p) {
            p++;
            continue;
        }

        eq = ngx_strlchr(p, amp, '=');
        if (eq == NULL) {
            eq = amp;
        }

        name.data = p;
        name.len = eq - p;

        value.data = ngx_pnalloc(r->pool, amp - eq + 1);
        if (value.data == NULL) {
            *error = "out of memory";
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        src = (eq < amp) ? eq + 1 : amp;
        dst = value.data;
        ngx_unescape_uri(&dst, &src, amp - src, 0);
        value.len = dst - value.data;

        p = amp + 1;

        slot = NULL;

        if (name.len == 2 && ngx_strncmp(name.data, "ts", 2) == 0) {
            slot = ts;

        } else if (name.len == 5 && ngx_strncmp(name.data, "epoch", 5) == 0) {
            slot = epoch;

        } else if (name.len == 3 && ngx_strncmp(name.data, "sig", 3) == 0) {
            slot = sig;
        }

        if (slot) {
            if (slot->data) {
                *error = "duplicate parameter";
                return NGX_HTTP_BAD_REQUEST;
            }

            *slot = value;
            continue;
        }

        if (cmd->nparams == FSDFS_SIGN_MAX_PARAMS) {
            *error = "too many parameters";
            return NGX_HTTP_BAD_REQUEST;
        }

        cmd->names[cmd->nparams] = name;
        cmd->values[cmd->nparams] = value;
        cmd->nparams++;
    }

    return NGX_OK;
}


/* Signature, time window and epoch: NGX_OK, or a status with *error. */
static ngx_int_t
ngx_http_fsdfs_verify(ngx_http_request_t *r, ngx_http_fsdfs_command_t *cmd,
    const char **error)
{
    int                          len;
    char                        *canon;
    uint64_t                     ts, epoch;
    ngx_int_t                    rc;
    ngx_str_t                    ts_s, epoch_s, sig;
    ngx_uint_t                   i;
    const char                  *why;
    fsdfs_sign_param_t           params[FSDFS_SIGN_MAX_PARAMS];
    ngx_http_fsdfs_state_t      *st = ngx_http_fsdfs_state();
    ngx_http_fsdfs_main_conf_t  *fmcf;

    fmcf = ngx_http_get_module_main_conf(r, ngx_http_fsdfs_module);

    ngx_str_null(&ts_s);
    ngx_str_null(&epoch_s);
    ngx_str_null(&sig);

    rc = ngx_http_fsdfs_parse_args(r, cmd, &ts_s, &epoch_s, &sig, error);
    if (rc != NGX_OK) {
        return rc;
    }

    if (sig.data == NULL) {
        *error = "unsigned";
        return NGX_HTTP_FORBIDDEN;
    }

    if (ngx_http_fsdfs_decimal(&ts_s, (uint64_t) INT64_MAX, &ts) != NGX_OK) {
        *error = ts_s.data ? "bad ts" : "missing ts";
        return NGX_HTTP_BAD_REQUEST;
    }

    if (ngx_http_fsdfs_decimal(&epoch_s, (uint64_t) -1, &epoch) != NGX_OK) {
        *error = epoch_s.data ? "bad epoch" : "missing epoch";
        return NGX_HTTP_BAD_REQUEST;
    }

    for (i = 0; i < cmd->nparams; i++) {
        params[i].name = (char *) cmd->names[i].data;
        params[i].name_len = cmd->names[i].len;
        params[i].value = (char *) cmd->values[i].data;
        params[i].value_len = cmd->values[i].len;
    }

    canon = ngx_pnalloc(r->pool, FSDFS_SIGN_CANON_MAX);
    if (canon == NULL) {
        *error = "out of memory";
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    len = fsdfs_sign_canon(canon, FSDFS_SIGN_CANON_MAX,
                           (char *) r->method_name.data, r->method_name.len,
                           (char *) r->uri.data, r->uri.len, params,
                           cmd->nparams, (int64_t) ts, epoch);
    if (len < 0) {
        *error = "malformed parameters";
        return NGX_HTTP_BAD_REQUEST;
    }

    if (fsdfs_sign_verify(fmcf->secret.data, fmcf->secret.len, canon, len,
                          (char *) sig.data, sig.len)
        != 0)
    {
        *error = "bad signature";
        return NGX_HTTP_FORBIDDEN;
    }

    why = fsdfs_sign_check_time((int64_t) ts, (int64_t) ngx_time(),
                                NGX_HTTP_FSDFS_TIME_WINDOW);
    if (why) {
        *error = why;
        return NGX_HTTP_FORBIDDEN;
    }

    why = fsdfs_sign_check_epoch(epoch, st->epoch);
    if (why) {
        *error = why;
        return NGX_HTTP_FORBIDDEN;
    }

    ngx_http_fsdfs_epoch_raise(epoch);

    return NGX_OK;
}


/* The command's own parameters: NGX_OK, or a status with *error. */
static ngx_int_t
ngx_http_fsdfs_command_params(ngx_http_request_t *r,
    ngx_http_fsdfs_command_t *cmd, const char **error)
{
    u_char                      *p;
    uint64_t                     v;
    ngx_str_t                   *s;
    ngx_uint_t                   i, nnodes, self;
    const char                  *bad;
    ngx_http_fsdfs_node_t       *nodes;
    ngx_http_fsdfs_main_conf_t  *fmcf;

    fmcf = ngx_http_get_module_main_conf(r, ngx_http_fsdfs_module);

    s = ngx_http_fsdfs_param(cmd, "path");
    if (s == NULL) {
        *error = "missing path";
        return NGX_HTTP_BAD_REQUEST;
    }

    bad = fsdfs_path_check((char *) s->data, s->len);
    if (bad) {
        *error = bad;
        return NGX_HTTP_BAD_REQUEST;
    }

    cmd->path = *s;
    cmd->path_ok = 1;

    /* <root><path>, NUL-terminated, for the thread tasks */
    cmd->root_len = fmcf->root.len;
    while (cmd->root_len > 1 && fmcf->root.data[cmd->root_len - 1] == '/') {
        cmd->root_len--;
    }

    cmd->file.len = cmd->root_len + cmd->path.len;
    cmd->file.data = ngx_pnalloc(r->pool, cmd->file.len + 1);
    if (cmd->file.data == NULL) {
        *error = "out of memory";
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(cmd->file.data, fmcf->root.data, cmd->root_len);
    p = ngx_cpymem(p, cmd->path.data, cmd->path.len);
    *p = '\0';

    if (cmd->op.len == 4 && ngx_strncmp(cmd->op.data, "drop", 4) == 0) {
        return NGX_OK;
    }

    if (cmd->op.len == 10) {                                /* quarantine */
        s = ngx_http_fsdfs_param(cmd, "sum");
        if (s == NULL) {
            return NGX_OK;
        }

        if (ngx_http_fsdfs_hex64(s, &cmd->sum) != NGX_OK) {
            *error = "bad sum";
            return NGX_HTTP_BAD_REQUEST;
        }

        cmd->has_sum = 1;
        return NGX_OK;
    }

    if (ngx_http_fsdfs_decimal(ngx_http_fsdfs_param(cmd, "size"),
                               NGX_MAX_OFF_T_VALUE, &cmd->size)
        != NGX_OK)
    {
        *error = "missing or bad size";
        return NGX_HTTP_BAD_REQUEST;
    }

    if (ngx_http_fsdfs_hex64(ngx_http_fsdfs_param(cmd, "sum"), &cmd->sum)
        != NGX_OK)
    {
        *error = "missing or bad sum";
        return NGX_HTTP_BAD_REQUEST;
    }

    if (cmd->op.len == 3) {                                     /* put */
        s = ngx_http_fsdfs_param(cmd, "n");
        if (s) {
            if (ngx_http_fsdfs_decimal(s, 255, &v) != NGX_OK || v == 0) {
                *error = "bad n";
                return NGX_HTTP_BAD_REQUEST;
            }
            cmd->n = v;
        }

        return NGX_OK;
    }

    /* pull: the source is a node id of the node table, never an address */
    if (ngx_http_fsdfs_decimal(ngx_http_fsdfs_param(cmd, "from"),
                               FSDFS_MAX_NODE_ID, &v)
        != NGX_OK || v == 0)
    {
        *error = "missing or bad from (a node id)";
        return NGX_HTTP_BAD_REQUEST;
    }

    nodes = ngx_http_fsdfs_nodes_snapshot(&nnodes);
    self = ngx_http_fsdfs_state()->self_id;

    if (v == self) {
        *error = "from is this node";
        return NGX_HTTP_BAD_REQUEST;
    }

    for (i = 0; i < nnodes; i++) {
        if (nodes[i].id == v) {
            break;
        }
    }

    if (i == nnodes || nodes[i].url_len == 0) {
        *error = "unknown node id";
        return NGX_HTTP_BAD_REQUEST;
    }

    /* refused in the thread, after the check for a copy already here: a
     * master settling a pull the last one sent must hear that it is done */
    cmd->source_down = !nodes[i].alive;
    cmd->source = nodes[i];

    return NGX_OK;
}


/* Answers ---------------------------------------------------------------- */

/*
 * Sends the JSON answer and logs the one line for it; returns what
 * ngx_http_finalize_request() wants.
 */
ngx_int_t
ngx_http_fsdfs_command_answer(ngx_http_fsdfs_command_t *cmd,
    ngx_uint_t status, const char *error)
{
    u_char              *p, *path;
    size_t               len, plen;
    ngx_int_t            rc;
    ngx_buf_t           *b;
    ngx_uint_t           level;
    ngx_table_elt_t     *h;
    ngx_msec_t           ms;
    ngx_chain_t          out;
    ngx_http_request_t  *r = cmd->request;

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cmd->answered = 1;
    ms = ngx_current_msec - cmd->start;

    plen = 0;
    path = NULL;

    if (cmd->path_ok) {
        plen = cmd->path.len + ngx_escape_json(NULL, cmd->path.data,
                                               cmd->path.len);
        path = ngx_pnalloc(r->pool, plen);
        if (path == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        (void) ngx_escape_json(path, cmd->path.data, cmd->path.len);
    }

    len = sizeof("{\"ok\":false,\"op\":\"\",\"path\":\"\",\"error\":\"\"}\n")
          + cmd->op.len + plen + (error ? ngx_strlen(error) : 0)
          + sizeof(",\"size\":,\"ms\":,\"dropped\":false") + 2 * NGX_INT64_LEN;

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(b->last, "{\"ok\":%s,\"op\":\"%V\",\"path\":\"%*s\"",
                    status < NGX_HTTP_BAD_REQUEST ? "true" : "false",
                    &cmd->op, plen, path ? path : (u_char *) "");

    if (status >= NGX_HTTP_BAD_REQUEST) {
        p = ngx_sprintf(p, ",\"error\":\"%s\"}\n", error ? error : "failed");

    } else if (cmd->op.len == 4 && cmd->op.data[0] == 'd') {
        p = ngx_sprintf(p, ",\"dropped\":%s,\"ms\":%M}\n",
                        cmd->dropped ? "true" : "false", ms);

    } else {
        p = ngx_sprintf(p, ",\"size\":%uL,\"ms\":%M}\n", cmd->size, ms);
    }

    b->last = p;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    /* refusals and failures worth a look at warn, the rest at info */
    level = (status == NGX_HTTP_FORBIDDEN
             || status >= NGX_HTTP_INTERNAL_SERVER_ERROR)
            ? NGX_LOG_WARN : NGX_LOG_INFO;

    if (status >= NGX_HTTP_BAD_REQUEST) {
        ngx_log_error(level, r->connection->log, 0,
                      "fsdfs: %V \"%V\" refused: %ui %s", &cmd->op,
                      cmd->path_ok ? &cmd->path : &r->uri, status,
                      error ? error : "failed");

    } else {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "fsdfs: %V \"%V\": %ui in %M ms", &cmd->op, &cmd->path,
                      status, ms);
    }

    r->headers_out.status = status;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    if (status == NGX_HTTP_TOO_MANY_REQUESTS
        || status == NGX_HTTP_SERVICE_UNAVAILABLE)
    {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        h->hash = 1;
        ngx_str_set(&h->key, "Retry-After");
        ngx_str_set(&h->value, "1");
    }

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* The end of a command that waited (thread task, Redis): answer, let the
 * request go, run what the answer posted. */
void
ngx_http_fsdfs_command_finish(ngx_http_fsdfs_command_t *cmd,
    ngx_uint_t status, const char *error)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r = cmd->request;

    c = r->connection;

    ngx_http_finalize_request(r, ngx_http_fsdfs_command_answer(cmd, status,
                                                               error));
    ngx_http_run_posted_requests(c);
}


/* The endpoint -------------------------------------------------------------*/

static ngx_int_t
ngx_http_fsdfs_commands_handler(ngx_http_request_t *r)
{
    u_char                    *p;
    ngx_int_t                  rc;
    ngx_uint_t                 method;
    const char                *error;
    ngx_table_elt_t           *h;
    ngx_http_fsdfs_state_t    *st = ngx_http_fsdfs_state();
    ngx_http_fsdfs_command_t  *cmd;

    cmd = ngx_pcalloc(r->pool, sizeof(ngx_http_fsdfs_command_t));
    if (cmd == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cmd->request = r;
    cmd->start = ngx_current_msec;
    error = NULL;

    /* the command is the last segment of the URI path */
    p = r->uri.data + r->uri.len;
    while (p > r->uri.data && p[-1] != '/') {
        p--;
    }

    cmd->op.data = p;
    cmd->op.len = r->uri.data + r->uri.len - p;

    if (cmd->op.len == 4 && ngx_strncmp(p, "pull", 4) == 0) {
        method = NGX_HTTP_POST;

    } else if (cmd->op.len == 4 && ngx_strncmp(p, "drop", 4) == 0) {
        method = NGX_HTTP_POST;

    } else if (cmd->op.len == 3 && ngx_strncmp(p, "put", 3) == 0) {
        method = NGX_HTTP_PUT;

    } else if (cmd->op.len == 9 && ngx_strncmp(p, "inventory", 9) == 0) {
        method = NGX_HTTP_GET;

    } else if (cmd->op.len == 10 && ngx_strncmp(p, "quarantine", 10) == 0) {
        method = NGX_HTTP_POST;

    } else {
        ngx_str_set(&cmd->op, "unknown");
        return ngx_http_fsdfs_command_answer(cmd, NGX_HTTP_NOT_FOUND,
                                             "unknown command");
    }

    if (r->method != method) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        h->hash = 1;
        ngx_str_set(&h->key, "Allow");
        if (method == NGX_HTTP_PUT) {
            ngx_str_set(&h->value, "PUT");
        } else if (method == NGX_HTTP_GET) {
            ngx_str_set(&h->value, "GET");
        } else {
            ngx_str_set(&h->value, "POST");
        }
        return ngx_http_fsdfs_command_answer(cmd, NGX_HTTP_NOT_ALLOWED,
                                             "wrong method");
    }

    rc = ngx_http_fsdfs_verify(r, cmd, &error);

    if (rc != NGX_OK) {
        if (rc == NGX_HTTP_FORBIDDEN) {
            ngx_http_fsdfs_count(commands_refused);
        }
        return ngx_http_fsdfs_command_answer(cmd, rc, error);
    }

    ngx_http_fsdfs_count(commands);

    if (st->self_id == 0 || st->generation == 0) {
        (void) ngx_http_fsdfs_command_params(r, cmd, &error);
        return ngx_http_fsdfs_command_answer(cmd,
                                             NGX_HTTP_SERVICE_UNAVAILABLE,
                                             "node not ready");
    }

    if (method == NGX_HTTP_GET) {                               /* inventory */
        return ngx_http_fsdfs_inventory(cmd);
    }

    rc = ngx_http_fsdfs_command_params(r, cmd, &error);
    if (rc != NGX_OK) {
        return ngx_http_fsdfs_command_answer(cmd, rc, error);
    }

    switch (method) {

    case NGX_HTTP_PUT:
        return ngx_http_fsdfs_put(cmd);

    default:
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        if (cmd->op.data[0] == 'd') {
            return ngx_http_fsdfs_drop(cmd);
        }

        if (cmd->op.data[0] == 'q') {
            return ngx_http_fsdfs_quarantine(cmd);
        }

        return ngx_http_fsdfs_pull(cmd);
    }
}


char *
ngx_http_fsdfs_commands_set(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_fsdfs_loc_conf_t *flcf = conf;

    ngx_http_core_loc_conf_t    *clcf;
    ngx_http_fsdfs_main_conf_t  *fmcf;

    if (flcf->commands != NGX_CONF_UNSET) {
        return "is duplicate";
    }

#if !(NGX_THREADS)
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"%V\" needs nginx built --with-threads", &cmd->name);
    return NGX_CONF_ERROR;
#endif

    flcf->commands = 1;

    fmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_fsdfs_module);
    fmcf->commands = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_fsdfs_commands_handler;

    return NGX_CONF_OK;
}


/* Drop: unlink the local copy in the thread pool; absent is fine. -------- */

#if (NGX_THREADS)

static void
ngx_http_fsdfs_drop_thread(void *data, ngx_log_t *log)
{
    ngx_http_fsdfs_drop_t     *d = data;
    ngx_http_fsdfs_command_t  *cmd = d->cmd;
    struct stat                sb;

    d->status = NGX_HTTP_OK;

    if (lstat((char *) cmd->file.data, &sb) != 0) {
        if (ngx_errno == NGX_ENOENT || ngx_errno == NGX_ENOTDIR) {
            return;
        }
        goto failed;
    }

    if (!S_ISREG(sb.st_mode)) {
        d->status = NGX_HTTP_CONFLICT;
        d->error = "not a regular file";
        return;
    }

    if (unlink((char *) cmd->file.data) != 0) {
        if (ngx_errno == NGX_ENOENT) {
            return;
        }
        goto failed;
    }

    d->dropped = 1;
    d->freed = sb.st_size;

    return;

failed:

    (void) ngx_snprintf((u_char *) d->errbuf, sizeof(d->errbuf) - 1,
                        "unlink failed: %s%Z", strerror(ngx_errno));
    d->status = NGX_HTTP_INTERNAL_SERVER_ERROR;
    d->error = d->errbuf;
}


static void
ngx_http_fsdfs_drop_done(ngx_event_t *ev)
{
    ngx_thread_task_t         *task = ev->data;
    ngx_http_fsdfs_drop_t     *d = task->ctx;
    ngx_http_fsdfs_command_t  *cmd = d->cmd;

    cmd->request->main->blocked--;

    if (d->dropped) {
        cmd->dropped = 1;
        ngx_http_fsdfs_disk_adjust(d->freed, 1);
        ngx_http_fsdfs_count(drops);
    }

    ngx_http_fsdfs_command_finish(cmd, d->status, d->error);
}


static ngx_int_t
ngx_http_fsdfs_drop(ngx_http_fsdfs_command_t *cmd)
{
    ngx_thread_task_t      *task;
    ngx_http_fsdfs_drop_t  *d;

    task = ngx_thread_task_alloc(cmd->request->pool,
                                 sizeof(ngx_http_fsdfs_drop_t));
    if (task == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    d = task->ctx;
    d->cmd = cmd;

    return ngx_http_fsdfs_command_post(cmd, task, ngx_http_fsdfs_drop_thread,
                                       ngx_http_fsdfs_drop_done);
}


/* The handler of a guard timer, there only to keep a gracefully exiting
 * worker alive while a thread task runs and until its request is over: a
 * worker waits for its timers, not for thread tasks, and one that exits
 * first leaves the request unanswered. A task may outlast any bound (a
 * slow disk), so the guard waits on until it is deleted. */
void
ngx_http_fsdfs_guard(ngx_event_t *ev)
{
    ngx_add_timer(ev, 60000);
}


static void
ngx_http_fsdfs_command_unguard(void *data)
{
    ngx_event_t  *guard = data;

    if (guard->timer_set) {
        ngx_del_timer(guard);
    }
}


/*
 * Hands a command's blocking part to the thread pool; done runs in the
 * worker when it is over and answers. NGX_DONE, or the 503 answer.
 */
ngx_int_t
ngx_http_fsdfs_command_post(ngx_http_fsdfs_command_t *cmd,
    ngx_thread_task_t *task, void (*handler)(void *data, ngx_log_t *log),
    ngx_event_handler_pt done)
{
    ngx_event_t                 *guard;
    ngx_pool_cleanup_t          *cln;
    ngx_http_request_t          *r = cmd->request;
    ngx_http_fsdfs_main_conf_t  *fmcf;

    fmcf = ngx_http_get_module_main_conf(r, ngx_http_fsdfs_module);

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_event_t));
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    guard = cln->data;
    ngx_memzero(guard, sizeof(ngx_event_t));
    cln->handler = ngx_http_fsdfs_command_unguard;

    task->handler = handler;
    task->event.handler = done;
    task->event.data = task;
    task->event.log = r->connection->log;

    if (ngx_thread_task_post(fmcf->thread_pool, task) != NGX_OK) {
        return ngx_http_fsdfs_command_answer(cmd,
                                             NGX_HTTP_SERVICE_UNAVAILABLE,
                                             "thread pool queue full");
    }

    /* the request lives until the task is done, even if the client goes */
    r->main->blocked++;
    r->main->count++;

    guard->handler = ngx_http_fsdfs_guard;
    guard->data = cmd;
    guard->log = r->connection->log;
    ngx_add_timer(guard, 60000);

    return NGX_DONE;
}

#else

static ngx_int_t
ngx_http_fsdfs_drop(ngx_http_fsdfs_command_t *cmd)
{
    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}

#endif
