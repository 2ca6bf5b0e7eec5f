/*
 * fsdfs nginx module: one hiredis async connection per worker, driven by
 * nginx's event loop.
 *
 * hiredis knows nothing of time, so every timeout here is an nginx timer:
 * a connect that takes too long, or a connection whose oldest command has
 * waited past the timeout, is torn down and every pending callback gets a
 * NULL reply. Reconnects run from a timer with exponential backoff, never
 * from inside a hiredis callback. An outage is logged once when it starts
 * and once when it ends, however many requests it fails.
 *
 * Callers get a command handle they may cancel (the request went away);
 * the handle stays owned by this file until hiredis answers, so a late
 * reply never touches a freed request.
 */

#include "ngx_http_fsdfs_module.h"

#include <hiredis/async.h>


#define NGX_HTTP_FSDFS_BACKOFF_MIN  100
#define NGX_HTTP_FSDFS_BACKOFF_MAX  2000


struct ngx_http_fsdfs_redis_cmd_s {
    ngx_http_fsdfs_redis_handler_pt   handler;
    void                             *data;
    ngx_msec_t                        start;
    ngx_http_fsdfs_redis_cmd_t       *next;
};


typedef struct {
    redisAsyncContext                *ac;
    ngx_connection_t                 *conn;
    ngx_http_fsdfs_main_conf_t       *fmcf;
    ngx_log_t                        *log;
    ngx_event_t                       reconnect;
    ngx_event_t                       watchdog;
    ngx_msec_t                        backoff;
    ngx_msec_t                        last_reply;
    ngx_uint_t                        pending;
    ngx_http_fsdfs_redis_cmd_t       *free;
    unsigned                          connected:1;
    unsigned                          down_logged:1;
    unsigned                          exiting:1;
} ngx_http_fsdfs_redis_t;


static void ngx_http_fsdfs_redis_connect(ngx_event_t *ev);
static void ngx_http_fsdfs_redis_lost(const char *why);


static ngx_http_fsdfs_redis_t  ngx_http_fsdfs_redis;


/* The five hooks hiredis calls to ask for I/O readiness. */

static void
ngx_http_fsdfs_redis_add(void *privdata, ngx_int_t event)
{
    ngx_event_t       *ev;
    ngx_connection_t  *c = privdata;

    ev = (event == NGX_READ_EVENT) ? c->read : c->write;

    /* level-triggered: hiredis reads at most 16k per call */
    if (!ev->active && ngx_add_event(ev, event, NGX_LEVEL_EVENT) != NGX_OK) {
        ngx_log_error(NGX_LOG_ALERT, c->log, 0,
                      "fsdfs: redis event registration failed");
    }
}


static void
ngx_http_fsdfs_redis_del(void *privdata, ngx_int_t event)
{
    ngx_event_t       *ev;
    ngx_connection_t  *c = privdata;

    ev = (event == NGX_READ_EVENT) ? c->read : c->write;

    if (ev->active) {
        (void) ngx_del_event(ev, event, 0);
    }
}


static void
ngx_http_fsdfs_redis_add_read(void *privdata)
{
    ngx_http_fsdfs_redis_add(privdata, NGX_READ_EVENT);
}


static void
ngx_http_fsdfs_redis_del_read(void *privdata)
{
    ngx_http_fsdfs_redis_del(privdata, NGX_READ_EVENT);
}


static void
ngx_http_fsdfs_redis_add_write(void *privdata)
{
    ngx_http_fsdfs_redis_add(privdata, NGX_WRITE_EVENT);
}


static void
ngx_http_fsdfs_redis_del_write(void *privdata)
{
    ngx_http_fsdfs_redis_del(privdata, NGX_WRITE_EVENT);
}


static void
ngx_http_fsdfs_redis_cleanup(void *privdata)
{
    ngx_connection_t  *c = privdata;

    ngx_http_fsdfs_redis_del(c, NGX_READ_EVENT);
    ngx_http_fsdfs_redis_del(c, NGX_WRITE_EVENT);

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    /* hiredis closes the socket itself */
    c->fd = (ngx_socket_t) -1;
    ngx_free_connection(c);

    ngx_http_fsdfs_redis.conn = NULL;
    ngx_http_fsdfs_redis.connected = 0;
    ngx_http_fsdfs_redis.ac = NULL;
}


static void
ngx_http_fsdfs_redis_read_handler(ngx_event_t *ev)
{
    if (ngx_http_fsdfs_redis.ac) {
        redisAsyncHandleRead(ngx_http_fsdfs_redis.ac);
    }
}


static void
ngx_http_fsdfs_redis_write_handler(ngx_event_t *ev)
{
    if (ngx_http_fsdfs_redis.ac) {
        redisAsyncHandleWrite(ngx_http_fsdfs_redis.ac);
    }
}


static ngx_int_t
ngx_http_fsdfs_redis_attach(redisAsyncContext *ac)
{
    ngx_connection_t  *c;

    c = ngx_get_connection(ac->c.fd, ngx_http_fsdfs_redis.log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    c->data = ac;
    c->read->handler = ngx_http_fsdfs_redis_read_handler;
    c->write->handler = ngx_http_fsdfs_redis_write_handler;
    c->read->log = c->log;
    c->write->log = c->log;

    ac->ev.data = c;
    ac->ev.addRead = ngx_http_fsdfs_redis_add_read;
    ac->ev.delRead = ngx_http_fsdfs_redis_del_read;
    ac->ev.addWrite = ngx_http_fsdfs_redis_add_write;
    ac->ev.delWrite = ngx_http_fsdfs_redis_del_write;
    ac->ev.cleanup = ngx_http_fsdfs_redis_cleanup;

    ngx_http_fsdfs_redis.conn = c;

    return NGX_OK;
}


static void
ngx_http_fsdfs_redis_schedule(void)
{
    ngx_http_fsdfs_redis_t  *rd = &ngx_http_fsdfs_redis;

    if (rd->exiting || rd->reconnect.timer_set) {
        return;
    }

    ngx_add_timer(&rd->reconnect, rd->backoff);

    rd->backoff = ngx_min(rd->backoff * 2, NGX_HTTP_FSDFS_BACKOFF_MAX);
}


static void
ngx_http_fsdfs_redis_on_connect(const redisAsyncContext *ac, int status)
{
    ngx_http_fsdfs_redis_t  *rd = &ngx_http_fsdfs_redis;

    if (status != REDIS_OK) {
        /* hiredis frees the context after this callback returns */
        ngx_http_fsdfs_redis_lost(ac->errstr);
        return;
    }

    rd->connected = 1;
    rd->last_reply = ngx_current_msec;

    /* "back" waits for the first reply: a hung Redis still accepts TCP */
    ngx_http_fsdfs_nodes_redis_up();
}


static void
ngx_http_fsdfs_redis_on_disconnect(const redisAsyncContext *ac, int status)
{
    ngx_http_fsdfs_redis_lost(status == REDIS_OK ? "closed"
                                                 : ac->errstr);
}


/* Called when the connection is gone or never came up. */
static void
ngx_http_fsdfs_redis_lost(const char *why)
{
    ngx_http_fsdfs_redis_t  *rd = &ngx_http_fsdfs_redis;

    rd->connected = 0;
    rd->ac = NULL;

    if (!rd->down_logged && !rd->exiting) {
        rd->down_logged = 1;
        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "fsdfs: redis \"%V\" unreachable: %s; "
                      "serving local files and cached locations",
                      &rd->fmcf->redis_addr, why ? why : "unknown");
    }

    ngx_http_fsdfs_redis_schedule();
}


static void
ngx_http_fsdfs_redis_auth_handler(redisReply *reply, void *data)
{
    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, ngx_http_fsdfs_redis.log, 0,
                      "fsdfs: redis \"%V\" refused %s: %s",
                      &ngx_http_fsdfs_redis.fmcf->redis_addr, (char *) data,
                      reply ? reply->str : "no reply");
    }
}


static void
ngx_http_fsdfs_redis_connect(ngx_event_t *ev)
{
    redisAsyncContext           *ac;
    ngx_http_fsdfs_redis_t      *rd = &ngx_http_fsdfs_redis;
    ngx_http_fsdfs_main_conf_t  *fmcf = rd->fmcf;

    if (rd->ac || rd->exiting) {
        return;
    }

    if (fmcf->redis_unix.len) {
        ac = redisAsyncConnectUnix((char *) fmcf->redis_unix.data);

    } else {
        ac = redisAsyncConnect((char *) fmcf->redis_host.data,
                               (int) fmcf->redis_port);
    }

    if (ac == NULL || ac->err) {
        ngx_http_fsdfs_redis_lost(ac ? ac->errstr : "out of memory");
        if (ac) {
            redisAsyncFree(ac);
        }
        return;
    }

    /* hooks first: the callbacks below may want to add events */
    if (ngx_http_fsdfs_redis_attach(ac) != NGX_OK) {
        redisAsyncFree(ac);
        ngx_http_fsdfs_redis_lost("no free connection");
        return;
    }

    rd->ac = ac;
    rd->last_reply = ngx_current_msec;

    redisAsyncSetConnectCallback(ac, ngx_http_fsdfs_redis_on_connect);
    redisAsyncSetDisconnectCallback(ac, ngx_http_fsdfs_redis_on_disconnect);

    if (fmcf->redis_password.len) {
        (void) ngx_http_fsdfs_redis_command(ngx_http_fsdfs_redis_auth_handler,
                                            "AUTH", "AUTH %b",
                                            fmcf->redis_password.data,
                                            fmcf->redis_password.len);
    }

    if (fmcf->redis_db) {
        (void) ngx_http_fsdfs_redis_command(ngx_http_fsdfs_redis_auth_handler,
                                            "SELECT", "SELECT %d",
                                            (int) fmcf->redis_db);
    }
}


/*
 * Runs every timeout/2: a connect that is not done, or a command that has
 * waited a whole timeout with no reply at all, means Redis is stuck or
 * gone; drop the connection so callers fail fast and we reconnect.
 */
static void
ngx_http_fsdfs_redis_watchdog(ngx_event_t *ev)
{
    redisAsyncContext       *ac;
    ngx_http_fsdfs_redis_t  *rd = &ngx_http_fsdfs_redis;
    ngx_msec_t               timeout = rd->fmcf->redis_timeout;

    if (rd->exiting) {
        return;
    }

    ngx_add_timer(ev, ngx_max(timeout / 2, 10));

    if (rd->ac == NULL) {
        return;
    }

    if ((!rd->connected || rd->pending)
        && ngx_current_msec - rd->last_reply > timeout)
    {
        ac = rd->ac;
        ngx_http_fsdfs_redis_lost(rd->connected ? "timed out" :
                                                  "connect timed out");
        redisAsyncFree(ac);
    }
}


static void
ngx_http_fsdfs_redis_callback(redisAsyncContext *ac, void *r, void *privdata)
{
    ngx_http_fsdfs_redis_t      *rd = &ngx_http_fsdfs_redis;
    ngx_http_fsdfs_redis_cmd_t  *cmd = privdata;
    ngx_http_fsdfs_state_t      *st = ngx_http_fsdfs_state();

    rd->pending--;

    if (r) {
        rd->last_reply = ngx_current_msec;
        rd->backoff = NGX_HTTP_FSDFS_BACKOFF_MIN;

        if (rd->down_logged) {
            rd->down_logged = 0;
            ngx_log_error(NGX_LOG_NOTICE, rd->log, 0,
                          "fsdfs: redis \"%V\" is back",
                          &rd->fmcf->redis_addr);
        }

        (void) ngx_atomic_fetch_add(&st->counters.redis_usec,
                                (ngx_current_msec - cmd->start) * 1000);

    } else {
        (void) ngx_atomic_fetch_add(&st->counters.redis_errors, 1);
    }

    if (cmd->handler) {
        cmd->handler(r, cmd->data);
    }

    cmd->next = rd->free;
    rd->free = cmd;
}


static ngx_http_fsdfs_redis_cmd_t *
ngx_http_fsdfs_redis_cmd(ngx_http_fsdfs_redis_handler_pt h, void *data)
{
    ngx_http_fsdfs_redis_cmd_t  *cmd;
    ngx_http_fsdfs_redis_t      *rd = &ngx_http_fsdfs_redis;

    if (rd->ac == NULL || rd->exiting) {
        return NULL;
    }

    cmd = rd->free;

    if (cmd) {
        rd->free = cmd->next;

    } else {
        /* a worker-lifetime free list: bounded by peak concurrency */
        cmd = ngx_alloc(sizeof(ngx_http_fsdfs_redis_cmd_t), rd->log);
        if (cmd == NULL) {
            return NULL;
        }
    }

    cmd->handler = h;
    cmd->data = data;
    cmd->start = ngx_current_msec;

    if (rd->pending == 0) {
        rd->last_reply = ngx_current_msec;
    }

    (void) ngx_atomic_fetch_add(
                         &ngx_http_fsdfs_state()->counters.redis_requests, 1);

    return cmd;
}


static void
ngx_http_fsdfs_redis_uncmd(ngx_http_fsdfs_redis_cmd_t *cmd)
{
    cmd->next = ngx_http_fsdfs_redis.free;
    ngx_http_fsdfs_redis.free = cmd;
}


ngx_http_fsdfs_redis_cmd_t *
ngx_http_fsdfs_redis_command(ngx_http_fsdfs_redis_handler_pt h, void *data,
    const char *fmt, ...)
{
    int                          rc;
    va_list                      ap;
    ngx_http_fsdfs_redis_cmd_t  *cmd;

    cmd = ngx_http_fsdfs_redis_cmd(h, data);
    if (cmd == NULL) {
        return NULL;
    }

    va_start(ap, fmt);
    rc = redisvAsyncCommand(ngx_http_fsdfs_redis.ac,
                            ngx_http_fsdfs_redis_callback, cmd, fmt, ap);
    va_end(ap);

    if (rc != REDIS_OK) {
        ngx_http_fsdfs_redis_uncmd(cmd);
        return NULL;
    }

    ngx_http_fsdfs_redis.pending++;

    return cmd;
}


ngx_http_fsdfs_redis_cmd_t *
ngx_http_fsdfs_redis_argv(ngx_http_fsdfs_redis_handler_pt h, void *data,
    int argc, const char **argv, const size_t *argvlen)
{
    ngx_http_fsdfs_redis_cmd_t  *cmd;

    cmd = ngx_http_fsdfs_redis_cmd(h, data);
    if (cmd == NULL) {
        return NULL;
    }

    if (redisAsyncCommandArgv(ngx_http_fsdfs_redis.ac,
                              ngx_http_fsdfs_redis_callback, cmd,
                              argc, argv, argvlen)
        != REDIS_OK)
    {
        ngx_http_fsdfs_redis_uncmd(cmd);
        return NULL;
    }

    ngx_http_fsdfs_redis.pending++;

    return cmd;
}


void
ngx_http_fsdfs_redis_cancel(ngx_http_fsdfs_redis_cmd_t *cmd)
{
    cmd->handler = NULL;
    cmd->data = NULL;
}


ngx_int_t
ngx_http_fsdfs_redis_up(void)
{
    return ngx_http_fsdfs_redis.connected;
}


ngx_int_t
ngx_http_fsdfs_redis_init_process(ngx_cycle_t *cycle)
{
    ngx_http_fsdfs_redis_t  *rd = &ngx_http_fsdfs_redis;

    ngx_memzero(rd, sizeof(ngx_http_fsdfs_redis_t));

    rd->fmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                                   ngx_http_fsdfs_module);
    rd->log = cycle->log;
    rd->backoff = NGX_HTTP_FSDFS_BACKOFF_MIN;

    rd->reconnect.handler = ngx_http_fsdfs_redis_connect;
    rd->reconnect.log = cycle->log;
    rd->reconnect.data = rd;
    rd->reconnect.cancelable = 1;

    rd->watchdog.handler = ngx_http_fsdfs_redis_watchdog;
    rd->watchdog.log = cycle->log;
    rd->watchdog.data = rd;
    rd->watchdog.cancelable = 1;

    ngx_add_timer(&rd->watchdog, ngx_max(rd->fmcf->redis_timeout / 2, 10));

    ngx_http_fsdfs_redis_connect(&rd->reconnect);

    return NGX_OK;
}


void
ngx_http_fsdfs_redis_exit_process(void)
{
    redisAsyncContext       *ac;
    ngx_http_fsdfs_redis_t  *rd = &ngx_http_fsdfs_redis;

    rd->exiting = 1;
    ac = rd->ac;

    if (ac) {
        redisAsyncFree(ac);
    }
}
