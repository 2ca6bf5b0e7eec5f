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
 *
 * With `fsdfs_redis sentinel://...` a (re)connect is a small state
 * machine, every step asynchronous and bounded by its own timer: ask the
 * sentinels in turn for the master's address (ASK), connect there and
 * check with ROLE that it really is a master (ROLE), then serve commands
 * (READY). A lost connection goes through the normal reconnect path,
 * which asks again, so a failover is followed without a restart; a
 * READONLY error (a demoted master) drops the connection the same way.
 */

#include "ngx_http_fsdfs_module.h"

#include <hiredis/async.h>


#define NGX_HTTP_FSDFS_BACKOFF_MIN  100
#define NGX_HTTP_FSDFS_BACKOFF_MAX  2000


typedef enum {
    NGX_HTTP_FSDFS_REDIS_IDLE = 0,
    NGX_HTTP_FSDFS_REDIS_ASK,           /* asking sentinel number sidx */
    NGX_HTTP_FSDFS_REDIS_ROLE,          /* at the named master: ROLE? */
    NGX_HTTP_FSDFS_REDIS_READY          /* commands go through */
} ngx_http_fsdfs_redis_phase_e;


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
    ngx_event_t                       step;       /* sentinel steps */
    ngx_http_fsdfs_redis_phase_e      phase;
    ngx_uint_t                        sidx;       /* sentinel asked */
    fsdfs_hostport_t                  cand;       /* the answer */
    fsdfs_hostport_t                  master;     /* last one used */
    u_char                            why[160];   /* last sentinel error */
    ngx_msec_t                        backoff;
    ngx_msec_t                        last_reply;
    ngx_uint_t                        pending;
    ngx_http_fsdfs_redis_cmd_t       *free;
    unsigned                          connected:1;
    unsigned                          got_master:1;
    unsigned                          down_logged:1;
    unsigned                          exiting:1;
} ngx_http_fsdfs_redis_t;


static void ngx_http_fsdfs_redis_connect(ngx_event_t *ev);
static void ngx_http_fsdfs_redis_lost(const char *why);
static void ngx_http_fsdfs_redis_gone(const char *why);
static void ngx_http_fsdfs_redis_open(fsdfs_hostport_t *hp,
    ngx_http_fsdfs_redis_phase_e phase);


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
        ngx_http_fsdfs_redis_gone(ac->errstr);
        return;
    }

    if (rd->phase != NGX_HTTP_FSDFS_REDIS_READY) {
        return;                 /* a sentinel step: its reply moves on */
    }

    rd->connected = 1;
    rd->last_reply = ngx_current_msec;

    /* "back" waits for the first reply: a hung Redis still accepts TCP */
    ngx_http_fsdfs_nodes_redis_up();
}


static void
ngx_http_fsdfs_redis_on_disconnect(const redisAsyncContext *ac, int status)
{
    ngx_http_fsdfs_redis_gone(status == REDIS_OK ? "closed" : ac->errstr);
}


/* Called when the connection is gone or never came up. */
static void
ngx_http_fsdfs_redis_lost(const char *why)
{
    ngx_http_fsdfs_redis_t  *rd = &ngx_http_fsdfs_redis;

    rd->connected = 0;
    rd->ac = NULL;
    rd->phase = NGX_HTTP_FSDFS_REDIS_IDLE;
    rd->sidx = 0;
    rd->got_master = 0;

    if (rd->step.timer_set) {
        ngx_del_timer(&rd->step);
    }

    if (!rd->down_logged && !rd->exiting) {
        rd->down_logged = 1;
        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "fsdfs: redis \"%V\" unreachable: %s; "
                      "serving local files and cached locations",
                      &rd->fmcf->redis_addr, why ? why : "unknown");
    }

    ngx_http_fsdfs_redis_schedule();
}


/* The next sentinel step, soon but never from inside a hiredis callback. */
static void
ngx_http_fsdfs_redis_next_step(void)
{
    ngx_http_fsdfs_redis_t  *rd = &ngx_http_fsdfs_redis;

    if (!rd->exiting && !rd->reconnect.timer_set) {
        ngx_add_timer(&rd->reconnect, 1);
    }
}


/*
 * The connection of the current phase ended (closed, failed, timed out,
 * or dropped on purpose). Once per connection: a second report for the
 * same one (a timeout frees it, then hiredis says it closed) is ignored.
 */
static void
ngx_http_fsdfs_redis_gone(const char *why)
{
    fsdfs_addr_t                  *sa = ngx_http_fsdfs_redis.fmcf->redis_sentinel;
    ngx_http_fsdfs_redis_t        *rd = &ngx_http_fsdfs_redis;
    ngx_http_fsdfs_redis_phase_e   phase = rd->phase;

    if (phase == NGX_HTTP_FSDFS_REDIS_IDLE) {
        return;
    }

    rd->phase = NGX_HTTP_FSDFS_REDIS_IDLE;
    rd->ac = NULL;
    rd->connected = 0;

    if (rd->step.timer_set) {
        ngx_del_timer(&rd->step);
    }

    if (phase == NGX_HTTP_FSDFS_REDIS_ASK) {
        if (rd->got_master) {
            ngx_http_fsdfs_redis_next_step();
            return;
        }

        if (rd->why[0] == '\0') {
            (void) ngx_snprintf(rd->why, sizeof(rd->why) - 1,
                                "sentinel %s:%d: %s%Z",
                                sa->sentinel[rd->sidx].host,
                                sa->sentinel[rd->sidx].port,
                                why ? why : "unknown");
        }

        if (++rd->sidx < (ngx_uint_t) sa->nsentinels) {
            ngx_http_fsdfs_redis_next_step();
            return;
        }

        why = (char *) rd->why;
    }

    ngx_http_fsdfs_redis_lost(why);
}


/* A step took longer than the timeout: drop it and go on. */
static void
ngx_http_fsdfs_redis_step_timeout(ngx_event_t *ev)
{
    redisAsyncContext       *ac;
    ngx_http_fsdfs_redis_t  *rd = &ngx_http_fsdfs_redis;

    ac = rd->ac;
    if (ac == NULL || rd->exiting) {
        return;
    }

    ngx_http_fsdfs_redis_gone("timed out");
    redisAsyncFree(ac);
}


static void
ngx_http_fsdfs_redis_ask_handler(redisAsyncContext *ac, void *r, void *data)
{
    redisReply              *rep = r;
    const char              *bad;
    ngx_http_fsdfs_redis_t  *rd = &ngx_http_fsdfs_redis;

    if (rep == NULL) {
        return;                 /* torn down: gone() has it */
    }

    if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2
        && rep->element[0]->type == REDIS_REPLY_STRING
        && rep->element[1]->type == REDIS_REPLY_STRING)
    {
        bad = fsdfs_addr_master(&rd->cand, rep->element[0]->str,
                                rep->element[0]->len, rep->element[1]->str,
                                rep->element[1]->len);
    } else {
        bad = (rep->type == REDIS_REPLY_ERROR) ? rep->str
                                               : "no such master name";
    }

    if (bad) {
        (void) ngx_snprintf(rd->why, sizeof(rd->why) - 1,
                            "sentinel %s:%d: %s%Z",
                            rd->fmcf->redis_sentinel->sentinel[rd->sidx].host,
                            rd->fmcf->redis_sentinel->sentinel[rd->sidx].port,
                            bad);
    } else {
        rd->got_master = 1;
    }

    /* the disconnect callback then runs gone(), which moves on */
    redisAsyncDisconnect(ac);
}


static void
ngx_http_fsdfs_redis_setup_handler(redisAsyncContext *ac, void *r,
    void *data)
{
    redisReply  *rep = r;

    if (rep && rep->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, ngx_http_fsdfs_redis.log, 0,
                      "fsdfs: redis \"%V\" refused %s: %s",
                      &ngx_http_fsdfs_redis.fmcf->redis_addr, (char *) data,
                      rep->str);
    }
}


static void
ngx_http_fsdfs_redis_role_handler(redisAsyncContext *ac, void *r, void *data)
{
    redisReply              *rep = r;
    ngx_http_fsdfs_redis_t  *rd = &ngx_http_fsdfs_redis;
    fsdfs_addr_t            *sa = rd->fmcf->redis_sentinel;

    if (rep == NULL) {
        return;
    }

    if (rep->type != REDIS_REPLY_ARRAY || rep->elements == 0
        || rep->element[0]->type != REDIS_REPLY_STRING
        || ngx_strcmp(rep->element[0]->str, "master") != 0)
    {
        ngx_log_error(NGX_LOG_WARN, rd->log, 0,
                      "fsdfs: redis %s:%d named master for \"%s\" is not "
                      "one (%s); asking the sentinels again",
                      rd->cand.host, rd->cand.port, sa->name,
                      rep->type == REDIS_REPLY_ARRAY && rep->elements
                      && rep->element[0]->type == REDIS_REPLY_STRING
                      ? rep->element[0]->str
                      : (rep->type == REDIS_REPLY_ERROR ? rep->str : "?"));
        redisAsyncDisconnect(ac);
        return;
    }

    rd->phase = NGX_HTTP_FSDFS_REDIS_READY;
    rd->connected = 1;
    rd->last_reply = ngx_current_msec;

    if (rd->step.timer_set) {
        ngx_del_timer(&rd->step);
    }

    if (ngx_strcmp(rd->cand.host, rd->master.host) != 0
        || rd->cand.port != rd->master.port)
    {
        rd->master = rd->cand;
        ngx_log_error(NGX_LOG_WARN, rd->log, 0,
                      "fsdfs: redis master for \"%s\" is now %s:%d",
                      sa->name, rd->master.host, rd->master.port);
    }

    ngx_http_fsdfs_nodes_redis_up();
}


static void
ngx_http_fsdfs_redis_open(fsdfs_hostport_t *hp,
    ngx_http_fsdfs_redis_phase_e phase)
{
    redisAsyncContext           *ac;
    ngx_http_fsdfs_redis_t      *rd = &ngx_http_fsdfs_redis;
    ngx_http_fsdfs_main_conf_t  *fmcf = rd->fmcf;

    rd->phase = phase;
    rd->why[0] = '\0';

    ac = redisAsyncConnect(hp->host, hp->port);

    if (ac == NULL || ac->err) {
        ngx_http_fsdfs_redis_gone(ac ? ac->errstr : "out of memory");
        if (ac) {
            redisAsyncFree(ac);
        }
        return;
    }

    if (ngx_http_fsdfs_redis_attach(ac) != NGX_OK) {
        redisAsyncFree(ac);
        ngx_http_fsdfs_redis_gone("no free connection");
        return;
    }

    rd->ac = ac;

    redisAsyncSetConnectCallback(ac, ngx_http_fsdfs_redis_on_connect);
    redisAsyncSetDisconnectCallback(ac, ngx_http_fsdfs_redis_on_disconnect);

    ngx_add_timer(&rd->step, fmcf->redis_timeout);

    if (phase == NGX_HTTP_FSDFS_REDIS_ASK) {
        (void) redisAsyncCommand(ac, ngx_http_fsdfs_redis_ask_handler, NULL,
                                 "SENTINEL get-master-addr-by-name %s",
                                 fmcf->redis_sentinel->name);
        return;
    }

    if (fmcf->redis_password.len) {
        (void) redisAsyncCommand(ac, ngx_http_fsdfs_redis_setup_handler,
                                 "AUTH", "AUTH %b", fmcf->redis_password.data,
                                 fmcf->redis_password.len);
    }

    if (fmcf->redis_db) {
        (void) redisAsyncCommand(ac, ngx_http_fsdfs_redis_setup_handler,
                                 "SELECT", "SELECT %d", (int) fmcf->redis_db);
    }

    (void) redisAsyncCommand(ac, ngx_http_fsdfs_redis_role_handler, NULL,
                             "ROLE");
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

    if (fmcf->redis_sentinel) {
        if (rd->got_master) {
            rd->got_master = 0;
            ngx_http_fsdfs_redis_open(&rd->cand, NGX_HTTP_FSDFS_REDIS_ROLE);

        } else {
            ngx_http_fsdfs_redis_open(&fmcf->redis_sentinel->sentinel[rd->sidx],
                                      NGX_HTTP_FSDFS_REDIS_ASK);
        }

        return;
    }

    rd->phase = NGX_HTTP_FSDFS_REDIS_READY;

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

    if (rd->ac == NULL || rd->phase != NGX_HTTP_FSDFS_REDIS_READY) {
        return;                 /* sentinel steps have their own timer */
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

    if (rd->pending == 0) {
        rd->watchdog.cancelable = 1;
    }

    if (r && rd->fmcf->redis_sentinel
        && ((redisReply *) r)->type == REDIS_REPLY_ERROR
        && ngx_strncmp(((redisReply *) r)->str, "READONLY", 8) == 0
        && !(ac->c.flags & REDIS_DISCONNECTING))
    {
        /* a demoted master: drop it; reconnecting asks the sentinels */
        ngx_log_error(NGX_LOG_WARN, rd->log, 0,
                      "fsdfs: redis %s:%d is read-only now, no longer the "
                      "master for \"%s\"; asking the sentinels again",
                      rd->master.host, rd->master.port,
                      rd->fmcf->redis_sentinel->name);
        redisAsyncDisconnect(ac);
    }

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

    if (rd->ac == NULL || rd->exiting
        || rd->phase != NGX_HTTP_FSDFS_REDIS_READY)
    {
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
    ngx_http_fsdfs_redis.watchdog.cancelable = 0;

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
    ngx_http_fsdfs_redis.watchdog.cancelable = 0;

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

    /*
     * Cancelable only while no command waits for a reply: a gracefully
     * quitting worker exits as soon as every timer left is cancelable,
     * and would drop a request waiting on Redis (a put creating its
     * record) unanswered, its socket left open. Pending commands end in
     * a reply or, at worst, at the timeout this watchdog enforces.
     */
    rd->watchdog.handler = ngx_http_fsdfs_redis_watchdog;
    rd->watchdog.log = cycle->log;
    rd->watchdog.data = rd;
    rd->watchdog.cancelable = 1;

    rd->step.handler = ngx_http_fsdfs_redis_step_timeout;
    rd->step.log = cycle->log;
    rd->step.data = rd;
    rd->step.cancelable = 1;

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
