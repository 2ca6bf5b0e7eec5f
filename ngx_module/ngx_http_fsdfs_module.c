/*
 * fsdfs nginx module: directives, configuration and process start.
 *
 * Every directive is checked here so that `nginx -t` names the directive
 * and the bad value; the behaviour lives in the files named for it.
 */

#include "ngx_http_fsdfs_module.h"


static ngx_int_t ngx_http_fsdfs_init_process(ngx_cycle_t *cycle);
static void ngx_http_fsdfs_exit_process(ngx_cycle_t *cycle);
static void *ngx_http_fsdfs_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_fsdfs_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_fsdfs_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_fsdfs_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_fsdfs_postconfiguration(ngx_conf_t *cf);
static char *ngx_http_fsdfs_node(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_fsdfs_redis(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_fsdfs_cache(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_fsdfs_quota(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_fsdfs_miss(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_fsdfs_match(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_fsdfs_secret(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_fsdfs_pull_concurrency(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_fsdfs_pull_timeout(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_fsdfs_thread_pool(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


static ngx_command_t  ngx_http_fsdfs_commands[] = {

    { ngx_string("fsdfs"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fsdfs_loc_conf_t, enable),
      NULL },

    { ngx_string("fsdfs_node"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_fsdfs_node,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fsdfs_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_fsdfs_redis,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fsdfs_cache"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_fsdfs_cache,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fsdfs_quota"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_fsdfs_quota,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fsdfs_miss"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_fsdfs_miss,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fsdfs_match"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_fsdfs_match,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fsdfs_secret"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_fsdfs_secret,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fsdfs_commands"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_fsdfs_commands_set,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fsdfs_pull_concurrency"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_fsdfs_pull_concurrency,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fsdfs_pull_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_fsdfs_pull_timeout,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fsdfs_thread_pool"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_fsdfs_thread_pool,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fsdfs_popularity"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_fsdfs_pop_set,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fsdfs_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_fsdfs_status,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_fsdfs_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_fsdfs_postconfiguration,      /* postconfiguration */

    ngx_http_fsdfs_create_main_conf,       /* create main configuration */
    ngx_http_fsdfs_init_main_conf,         /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_fsdfs_create_loc_conf,        /* create location configuration */
    ngx_http_fsdfs_merge_loc_conf          /* merge location configuration */
};


ngx_module_t  ngx_http_fsdfs_module = {
    NGX_MODULE_V1,
    &ngx_http_fsdfs_module_ctx,            /* module context */
    ngx_http_fsdfs_commands,               /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_fsdfs_init_process,           /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_fsdfs_exit_process,           /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_int_t
ngx_http_fsdfs_init_process(ngx_cycle_t *cycle)
{
    ngx_http_fsdfs_main_conf_t  *fmcf;

    /* cache manager and loader processes have no business with Redis */
    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    fmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_fsdfs_module);
    if (fmcf == NULL || fmcf->redis_addr.len == 0) {
        return NGX_OK;
    }

    if (ngx_http_fsdfs_redis_init_process(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_fsdfs_pull_init_process(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_fsdfs_pop_init_process(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_fsdfs_nodes_init_process(cycle);
}


static void
ngx_http_fsdfs_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_fsdfs_redis_exit_process();
}


static char *
ngx_http_fsdfs_node(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_fsdfs_main_conf_t *fmcf = conf;

    u_char     *p;
    ngx_str_t  *value;
    ngx_url_t   u;

    if (fmcf->name.len) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0 || value[1].len > NGX_HTTP_FSDFS_NAME_MAX) {
        goto bad_name;
    }

    for (p = value[1].data; p < value[1].data + value[1].len; p++) {
        if (!(isalnum(*p) || *p == '-' || *p == '_' || *p == '.')) {
            goto bad_name;
        }
    }

    /* strip one trailing slash: URIs are appended as they are */
    if (value[2].len > 1 && value[2].data[value[2].len - 1] == '/') {
        value[2].len--;
    }

    ngx_memzero(&u, sizeof(ngx_url_t));

    if (value[2].len > 7 && ngx_strncmp(value[2].data, "http://", 7) == 0) {
        u.url.data = value[2].data + 7;
        u.url.len = value[2].len - 7;

    } else if (value[2].len > 8
               && ngx_strncmp(value[2].data, "https://", 8) == 0)
    {
        u.url.data = value[2].data + 8;
        u.url.len = value[2].len - 8;

    } else {
        goto bad_url;
    }

    u.no_resolve = 1;

    if (value[2].len >= NGX_HTTP_FSDFS_URL_MAX
        || ngx_parse_url(cf->pool, &u) != NGX_OK
        || u.uri.len != 0 || u.host.len == 0)
    {
        goto bad_url;
    }

    fmcf->name = value[1];
    fmcf->url = value[2];

    return NGX_CONF_OK;

bad_name:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid node name \"%V\" in \"%V\" directive, "
                       "expected 1-32 of [A-Za-z0-9_.-]",
                       &value[1], &cmd->name);
    return NGX_CONF_ERROR;

bad_url:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid url \"%V\" in \"%V\" directive, "
                       "expected http://host[:port]", &value[2], &cmd->name);
    return NGX_CONF_ERROR;
}


static char *
ngx_http_fsdfs_redis_addr(ngx_conf_t *cf, ngx_http_fsdfs_main_conf_t *fmcf,
    ngx_str_t *addr)
{
    u_char      *p;
    ngx_url_t    u;
    const char  *err;

    fmcf->redis_addr = *addr;

    if (addr->len > 11 && ngx_strncmp(addr->data, "sentinel://", 11) == 0) {
        fmcf->redis_sentinel = ngx_pcalloc(cf->pool, sizeof(fsdfs_addr_t));
        if (fmcf->redis_sentinel == NULL) {
            return NGX_CONF_ERROR;
        }

        /* IP literals only: a worker never resolves a name */
        err = fsdfs_addr_parse(fmcf->redis_sentinel, (char *) addr->data,
                               addr->len, 1);
        if (err) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "fsdfs_redis: invalid address \"%V\": %s, "
                               "expected sentinel://ip:port[,ip:port...]/name",
                               addr, err);
            return NGX_CONF_ERROR;
        }

        return NGX_CONF_OK;
    }

    if (addr->len > 5 && ngx_strncmp(addr->data, "unix:", 5) == 0) {
        fmcf->redis_unix.len = addr->len - 5;
        fmcf->redis_unix.data = ngx_pnalloc(cf->pool, addr->len - 4);
        if (fmcf->redis_unix.data == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_cpystrn(fmcf->redis_unix.data, addr->data + 5, addr->len - 4);
        return NGX_CONF_OK;
    }

    /* hiredis resolves with blocking getaddrinfo(): resolve here, once */
    ngx_memzero(&u, sizeof(ngx_url_t));
    u.url = *addr;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK || u.no_port
        || u.naddrs == 0 || u.uri.len)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "fsdfs_redis: invalid address \"%V\"%s%s, "
                           "expected host:port, unix:/path or "
                           "sentinel://ip:port[,ip:port...]/name", addr,
                           u.err ? ": " : "", u.err ? u.err : "");
        return NGX_CONF_ERROR;
    }

    p = ngx_pnalloc(cf->pool, NGX_SOCKADDR_STRLEN + 1);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    fmcf->redis_host.len = ngx_sock_ntop(u.addrs[0].sockaddr,
                                         u.addrs[0].socklen, p,
                                         NGX_SOCKADDR_STRLEN, 0);
    p[fmcf->redis_host.len] = '\0';
    fmcf->redis_host.data = p;
    fmcf->redis_port = u.port;

    return NGX_CONF_OK;
}


static char *
ngx_http_fsdfs_redis(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_fsdfs_main_conf_t *fmcf = conf;

    u_char     *p;
    ngx_str_t  *value, s;
    ngx_uint_t  i, bit, seen;

    if (fmcf->redis_addr.len) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_http_fsdfs_redis_addr(cf, fmcf, &value[1]) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    seen = 0;

    for (i = 2; i < cf->args->nelts; i++) {

        /* each parameter once: a second one is a mistake, not an override */
        bit = (ngx_strncmp(value[i].data, "password=", 9) == 0) ? 1
              : (ngx_strncmp(value[i].data, "db=", 3) == 0) ? 2
              : (ngx_strncmp(value[i].data, "timeout=", 8) == 0) ? 4
              : (ngx_strncmp(value[i].data, "prefix=", 7) == 0) ? 8 : 0;
        if (seen & bit) {
            goto invalid;
        }
        seen |= bit;

        if (ngx_strncmp(value[i].data, "password=", 9) == 0) {
            fmcf->redis_password.data = value[i].data + 9;
            fmcf->redis_password.len = value[i].len - 9;
            if (fmcf->redis_password.len == 0) {
                goto invalid;
            }
            continue;
        }

        if (ngx_strncmp(value[i].data, "db=", 3) == 0) {
            fmcf->redis_db = ngx_atoi(value[i].data + 3, value[i].len - 3);
            if (fmcf->redis_db == NGX_ERROR || fmcf->redis_db > 65535) {
                goto invalid;
            }
            continue;
        }

        if (ngx_strncmp(value[i].data, "timeout=", 8) == 0) {
            s.data = value[i].data + 8;
            s.len = value[i].len - 8;
            fmcf->redis_timeout = ngx_parse_time(&s, 0);
            if (fmcf->redis_timeout == (ngx_msec_t) NGX_ERROR
                || fmcf->redis_timeout == 0)
            {
                goto invalid;
            }
            continue;
        }

        if (ngx_strncmp(value[i].data, "prefix=", 7) == 0) {
            s.len = value[i].len - 7;
            if (s.len == 0 || s.len > 32) {
                goto invalid;
            }
            for (p = value[i].data + 7; p < value[i].data + value[i].len; p++)
            {
                if (*p <= ' ' || *p >= 0x7f) {
                    goto invalid;
                }
            }
            fmcf->prefix.data = ngx_pnalloc(cf->pool, s.len + 1);
            if (fmcf->prefix.data == NULL) {
                return NGX_CONF_ERROR;
            }
            ngx_cpystrn(fmcf->prefix.data, value[i].data + 7, s.len + 1);
            fmcf->prefix.len = s.len;
            continue;
        }

        goto invalid;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" in \"%V\" directive",
                       &value[i], &cmd->name);
    return NGX_CONF_ERROR;
}


static char *
ngx_http_fsdfs_cache(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_fsdfs_main_conf_t *fmcf = conf;

    time_t      *t;
    u_char      *p;
    ssize_t      size;
    ngx_str_t   *value, name, s;
    ngx_uint_t   i;

    if (fmcf->cache_zone) {
        return "is duplicate";
    }

    value = cf->args->elts;
    size = 0;
    name.len = 0;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "zone=", 5) == 0) {
            name.data = value[i].data + 5;
            p = (u_char *) ngx_strchr(name.data, ':');
            if (p == NULL) {
                goto invalid;
            }
            name.len = p - name.data;
            s.data = p + 1;
            s.len = value[i].data + value[i].len - s.data;
            size = ngx_parse_size(&s);
            if (name.len == 0 || size == NGX_ERROR
                || size < (ssize_t) (8 * ngx_pagesize))
            {
                goto invalid;
            }
            continue;
        }

        if (ngx_strncmp(value[i].data, "ttl=", 4) == 0) {
            t = &fmcf->cache_ttl;
            s.data = value[i].data + 4;
            s.len = value[i].len - 4;

        } else if (ngx_strncmp(value[i].data, "neg_ttl=", 8) == 0) {
            t = &fmcf->cache_neg_ttl;
            s.data = value[i].data + 8;
            s.len = value[i].len - 8;

        } else if (ngx_strncmp(value[i].data, "stale=", 6) == 0) {
            t = &fmcf->cache_stale;
            s.data = value[i].data + 6;
            s.len = value[i].len - 6;

        } else {
            goto invalid;
        }

        *t = ngx_parse_time(&s, 1);
        if (*t == (time_t) NGX_ERROR) {
            goto invalid;
        }
    }

    if (name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must have \"zone=NAME:SIZE\" parameter",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    fmcf->cache_zone = ngx_shared_memory_add(cf, &name, size,
                                             &ngx_http_fsdfs_module);
    if (fmcf->cache_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    fmcf->cache_zone->init = ngx_http_fsdfs_cache_init_zone;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" in \"%V\" directive",
                       &value[i], &cmd->name);
    return NGX_CONF_ERROR;
}


static char *
ngx_http_fsdfs_quota(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_fsdfs_main_conf_t *fmcf = conf;

    ngx_str_t  *value;

    if (fmcf->quota != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;
    fmcf->quota = ngx_parse_offset(&value[1]);

    if (fmcf->quota == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid size \"%V\" in \"%V\" directive",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_fsdfs_miss(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_fsdfs_loc_conf_t *flcf = conf;

    ngx_str_t  *value;

    if (flcf->miss != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "redirect") == 0 && cf->args->nelts == 2) {
        flcf->miss = NGX_HTTP_FSDFS_MISS_REDIRECT;
        return NGX_CONF_OK;
    }

    if (ngx_strcmp(value[1].data, "proxy") != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"%V\" directive, "
                           "it must be \"redirect\" or \"proxy\"",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    flcf->miss = NGX_HTTP_FSDFS_MISS_PROXY;

    if (cf->args->nelts == 3) {
        if (value[2].len < 2 || value[2].data[0] != '@') {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid location \"%V\" in \"%V\" directive, "
                               "it must be a named location like "
                               "\"@fsdfs_proxy\"", &value[2], &cmd->name);
            return NGX_CONF_ERROR;
        }

        flcf->proxy_location = value[2];
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_fsdfs_match(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_fsdfs_loc_conf_t *flcf = conf;

    u_char               errstr[NGX_MAX_CONF_ERRSTR];
    ngx_str_t           *value;
    ngx_regex_compile_t  rc;

    if (flcf->match != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    ngx_memzero(&rc, sizeof(ngx_regex_compile_t));
    rc.pattern = value[1];
    rc.pool = cf->pool;
    rc.err.len = NGX_MAX_CONF_ERRSTR;
    rc.err.data = errstr;

    if (ngx_regex_compile(&rc) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid regex \"%V\" in \"%V\" directive: %V",
                           &value[1], &cmd->name, &rc.err);
        return NGX_CONF_ERROR;
    }

    flcf->match = rc.regex;
    flcf->match_src = value[1];

    return NGX_CONF_OK;
}


static char *
ngx_http_fsdfs_secret(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_fsdfs_main_conf_t *fmcf = conf;

    size_t       len;
    u_char      *key;
    ngx_str_t   *value, file;
    ngx_err_t    err;
    const char  *why;

    if (fmcf->secret.data) {
        return "is duplicate";
    }

    value = cf->args->elts;
    file = value[1];

    if (ngx_conf_full_name(cf->cycle, &file, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    key = ngx_pnalloc(cf->pool, NGX_HTTP_FSDFS_SECRET_MAX);
    if (key == NULL) {
        return NGX_CONF_ERROR;
    }

    /* configuration time: the one place a blocking read is fine */
    ngx_set_errno(0);

    if (fsdfs_secret_load((char *) file.data, key, NGX_HTTP_FSDFS_SECRET_MAX,
                          &len, &why)
        != 0)
    {
        err = ngx_errno;
        ngx_conf_log_error(NGX_LOG_EMERG, cf, err,
                           "invalid secret file \"%V\" in \"%V\" directive: "
                           "%s (a regular file of %d to %d bytes, mode 0600)",
                           &value[1], &cmd->name, why, FSDFS_SECRET_MIN,
                           NGX_HTTP_FSDFS_SECRET_MAX);
        return NGX_CONF_ERROR;
    }

    fmcf->secret.data = key;
    fmcf->secret.len = len;

    return NGX_CONF_OK;
}


static char *
ngx_http_fsdfs_pull_concurrency(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_fsdfs_main_conf_t *fmcf = conf;

    ngx_int_t   n;
    ngx_str_t  *value;

    if (fmcf->pull_concurrency != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;
    n = ngx_atoi(value[1].data, value[1].len);

    if (n < 1 || n > 1024) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"%V\" directive, "
                           "expected a number from 1 to 1024",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    fmcf->pull_concurrency = n;

    return NGX_CONF_OK;
}


static char *
ngx_http_fsdfs_pull_timeout(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_fsdfs_main_conf_t *fmcf = conf;

    ngx_str_t   *value;
    ngx_msec_t   t;

    if (fmcf->pull_timeout != NGX_CONF_UNSET_MSEC) {
        return "is duplicate";
    }

    value = cf->args->elts;
    t = ngx_parse_time(&value[1], 0);

    if (t == (ngx_msec_t) NGX_ERROR || t < 100 || t > 24 * 3600 * 1000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid time \"%V\" in \"%V\" directive, "
                           "expected 100ms to 24h", &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    fmcf->pull_timeout = t;

    return NGX_CONF_OK;
}


static char *
ngx_http_fsdfs_thread_pool(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_fsdfs_main_conf_t *fmcf = conf;

    ngx_str_t  *value;

    if (fmcf->thread_pool_name.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid thread pool name \"%V\" in \"%V\" "
                           "directive", &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

#if (NGX_THREADS)
    /* a pool not declared with "thread_pool" fails at the end of the
     * configuration, naming this line */
    fmcf->thread_pool = ngx_thread_pool_add(cf, &value[1]);
    if (fmcf->thread_pool == NULL) {
        return NGX_CONF_ERROR;
    }
#else
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"%V\" needs nginx built --with-threads", &cmd->name);
    return NGX_CONF_ERROR;
#endif

    fmcf->thread_pool_name = value[1];

    return NGX_CONF_OK;
}


static void *
ngx_http_fsdfs_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_fsdfs_main_conf_t  *fmcf;

    fmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_fsdfs_main_conf_t));
    if (fmcf == NULL) {
        return NULL;
    }

    fmcf->redis_db = 0;
    fmcf->redis_timeout = NGX_CONF_UNSET_MSEC;
    fmcf->cache_ttl = NGX_CONF_UNSET;
    fmcf->cache_neg_ttl = NGX_CONF_UNSET;
    fmcf->cache_stale = NGX_CONF_UNSET;
    fmcf->quota = NGX_CONF_UNSET;
    fmcf->pull_concurrency = NGX_CONF_UNSET_UINT;
    fmcf->pull_timeout = NGX_CONF_UNSET_MSEC;
    fmcf->pop_flush = NGX_CONF_UNSET_MSEC;
    fmcf->pop_min_hits = NGX_CONF_UNSET_UINT;

    return fmcf;
}


static char *
ngx_http_fsdfs_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_fsdfs_main_conf_t *fmcf = conf;

    ngx_str_t  name;

    ngx_conf_init_msec_value(fmcf->redis_timeout, 500);
    ngx_conf_init_value(fmcf->cache_ttl, 10);
    ngx_conf_init_value(fmcf->cache_neg_ttl, 1);
    ngx_conf_init_value(fmcf->cache_stale, 600);
    if (fmcf->quota == NGX_CONF_UNSET) {
        fmcf->quota = 0;
    }

    ngx_conf_init_uint_value(fmcf->pull_concurrency, 4);
    ngx_conf_init_msec_value(fmcf->pull_timeout, 60000);
    ngx_conf_init_msec_value(fmcf->pop_flush, 5000);
    ngx_conf_init_uint_value(fmcf->pop_min_hits, 1);

    if (fmcf->thread_pool_name.data == NULL) {
        ngx_str_set(&fmcf->thread_pool_name, "default");
#if (NGX_THREADS)
        fmcf->thread_pool = ngx_thread_pool_add(cf, NULL);
        if (fmcf->thread_pool == NULL) {
            return NGX_CONF_ERROR;
        }
#endif
    }

    if (fmcf->prefix.len == 0) {
        ngx_str_set(&fmcf->prefix, FSDFS_DEFAULT_PREFIX);
    }

    if (fmcf->cache_zone == NULL) {
        ngx_str_set(&name, "fsdfs_cache");
        fmcf->cache_zone = ngx_shared_memory_add(cf, &name, 4 * 1024 * 1024,
                                                 &ngx_http_fsdfs_module);
        if (fmcf->cache_zone == NULL) {
            return NGX_CONF_ERROR;
        }

        fmcf->cache_zone->init = ngx_http_fsdfs_cache_init_zone;
    }

    ngx_str_set(&name, "fsdfs_state");
    fmcf->state_zone = ngx_shared_memory_add(cf, &name,
                                    sizeof(ngx_http_fsdfs_state_t)
                                    + 16 * ngx_pagesize,
                                    &ngx_http_fsdfs_module);
    if (fmcf->state_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    fmcf->state_zone->init = ngx_http_fsdfs_state_init_zone;

    return NGX_CONF_OK;
}


static void *
ngx_http_fsdfs_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_fsdfs_loc_conf_t  *flcf;

    flcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_fsdfs_loc_conf_t));
    if (flcf == NULL) {
        return NULL;
    }

    flcf->enable = NGX_CONF_UNSET;
    flcf->miss = NGX_CONF_UNSET_UINT;
    flcf->match = NGX_CONF_UNSET_PTR;
    flcf->commands = NGX_CONF_UNSET;

    return flcf;
}


static char *
ngx_http_fsdfs_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_fsdfs_loc_conf_t *prev = parent;
    ngx_http_fsdfs_loc_conf_t *conf = child;

    ngx_http_core_loc_conf_t    *clcf;
    ngx_http_fsdfs_main_conf_t  *fmcf;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);
    ngx_conf_merge_uint_value(conf->miss, prev->miss,
                              NGX_HTTP_FSDFS_MISS_REDIRECT);
    ngx_conf_merge_ptr_value(conf->match, prev->match, NULL);
    ngx_conf_merge_str_value(conf->match_src, prev->match_src, "");
    ngx_conf_merge_str_value(conf->proxy_location, prev->proxy_location,
                             "@fsdfs_proxy");

    /* not inherited: only the location that says it takes commands */
    if (conf->commands == NGX_CONF_UNSET) {
        conf->commands = 0;
    }

    if (!conf->enable) {
        return NGX_CONF_OK;
    }

    fmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_fsdfs_module);

    if (fmcf->redis_addr.len == 0 || fmcf->name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"fsdfs on\" needs \"fsdfs_node\" and "
                           "\"fsdfs_redis\" in the http block");
        return NGX_CONF_ERROR;
    }

    /* the first static root under "fsdfs on" is the node's data root */
    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (fmcf->root.len == 0 && clcf->root_lengths == NULL && !clcf->alias) {
        fmcf->root = clcf->root;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_fsdfs_postconfiguration(ngx_conf_t *cf)
{
    ngx_http_fsdfs_main_conf_t  *fmcf;

    fmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_fsdfs_module);

    if (fmcf->commands) {
        if (fmcf->secret.data == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"fsdfs_commands\" needs \"fsdfs_secret\" "
                               "in the http block");
            return NGX_ERROR;
        }

        if (fmcf->redis_addr.len == 0 || fmcf->name.len == 0
            || fmcf->root.len == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"fsdfs_commands\" needs \"fsdfs_node\", "
                               "\"fsdfs_redis\" and a location with "
                               "\"fsdfs on\" and a static root (the data "
                               "root)");
            return NGX_ERROR;
        }
    }

    return ngx_http_fsdfs_read_init(cf);
}
