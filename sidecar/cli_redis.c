/*
 * The CLI's Redis connection and helpers. Hostnames are fine here (the
 * CLI may block); errors are reported once, with the address. A
 * sentinel:// address is resolved on every connect (common/
 * fsdfs_sentinel.c), and a READONLY answer (the master was demoted under
 * us) drops the connection so the next connect asks again.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_redis.h"
#include "fsdfs_sentinel.h"
#include "fsdfs_keys.h"
#include "fsdfs_record.h"


int
cli_connect(cli_t *cli)
{
    char          err[1024];
    const char   *bad;
    fsdfs_addr_t  a;

    bad = fsdfs_addr_parse(&a, cli->addr, strlen(cli->addr), 0);
    if (bad) {
        fprintf(stderr, "fsdfs: invalid redis address \"%s\": %s; expected "
                "host:port, unix:/path or sentinel://ip:port[,ip:port]/name\n",
                cli->addr, bad);
        return CLI_USAGE;
    }

    if (cli->rc) {
        redisFree(cli->rc);
        cli->rc = NULL;
    }

    /* asks the sentinels each time: a reconnect (watch) follows a failover */
    cli->rc = fsdfs_redis_connect(&a, cli->password, cli->db, 2000,
                                  &cli->master, err, sizeof(err));
    if (cli->rc == NULL) {
        if (!cli->quiet) {
            fprintf(stderr, "fsdfs: redis \"%s\" unreachable: %s\n",
                    cli->addr, err);
        }
        return CLI_NOREDIS;
    }

    return CLI_OK;
}


redisReply *
cli_cmd(cli_t *cli, const char *fmt, ...)
{
    va_list      ap;
    redisReply  *r;

    va_start(ap, fmt);
    r = redisvCommand(cli->rc, fmt, ap);
    va_end(ap);

    if (r == NULL && !cli->quiet) {
        fprintf(stderr, "fsdfs: redis \"%s\": %s\n", cli->addr,
                cli->rc->errstr);
    }

    if (fsdfs_redis_readonly(r)) {
        /* the error stands; a later cli_connect() finds the new master */
        cli->rc->err = REDIS_ERR_OTHER;
        snprintf(cli->rc->errstr, sizeof(cli->rc->errstr), "%s", r->str);
    }

    return r;
}


/* 1 if r is a reply of that type (0: any non-error), else 0. */
int
cli_reply_ok(redisReply *r, int type)
{
    if (r == NULL) {
        return 0;
    }

    if (r->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "fsdfs: redis error: %s\n", r->str);
        return 0;
    }

    return type == 0 || r->type == type;
}


/* The redis-cli command line reaching the same server and database. */
void
cli_addr_cmd(const cli_t *cli, char *buf, size_t cap)
{
    const char  *colon;

    if (strncmp(cli->addr, "unix:", 5) == 0) {
        snprintf(buf, cap, "redis-cli -s %s", cli->addr + 5);

    } else if (cli->master.port) {
        /* sentinel://: the master this run talked to */
        snprintf(buf, cap, "redis-cli -h %s -p %d", cli->master.host,
                 cli->master.port);

    } else {
        colon = strrchr(cli->addr, ':');
        snprintf(buf, cap, "redis-cli -h %.*s -p %s", (int) (colon - cli->addr),
                 cli->addr, colon + 1);
    }

    if (cli->db) {
        snprintf(buf + strlen(buf), cap - strlen(buf), " -n %d", cli->db);
    }
}


/* s as one shell word: as is if plain, else in single quotes (valid paths
 * and keys never contain one). */
void
cli_shell_word(char *buf, size_t cap, const char *s)
{
    size_t  len = strlen(s);

    if (strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
               "0123456789/._-:") == len)
    {
        snprintf(buf, cap, "%s", s);
    } else {
        snprintf(buf, cap, "'%s'", s);
    }
}


/* An integer field of <prefix>config, or -1 if absent or not a number. */
long long
cli_config_int(cli_t *cli, const char *field)
{
    char        *end;
    long long    v;
    redisReply  *r;

    r = cli_cmd(cli, "HGET %sconfig %s", cli->prefix, field);
    if (r == NULL || r->type != REDIS_REPLY_STRING) {
        freeReplyObject(r);
        return -1;
    }

    v = strtoll(r->str, &end, 10);
    if (*end != '\0' || v < 0) {
        v = -1;
    }

    freeReplyObject(r);
    return v;
}


/*
 * A node's id by name; with create, register the name as nodes do: the
 * next id from INCR, HSETNX so a racing registrant wins cleanly, then
 * read back whichever id won. -1 on error, 0 if absent and !create.
 */
int
cli_node_id(cli_t *cli, const char *name, int create)
{
    long long    id;
    redisReply  *r;

    for (int step = 0; step < 2; step++) {
        r = cli_cmd(cli, "HGET %snodes %s", cli->prefix, name);
        if (!cli_reply_ok(r, 0)) {
            freeReplyObject(r);
            return -1;
        }

        if (r->type == REDIS_REPLY_STRING) {
            id = atoll(r->str);
            freeReplyObject(r);
            return (id >= 1 && id <= FSDFS_MAX_NODE_ID) ? (int) id : -1;
        }

        freeReplyObject(r);

        if (!create || step) {
            return 0;
        }

        r = cli_cmd(cli, "INCR %snode_seq", cli->prefix);
        if (!cli_reply_ok(r, REDIS_REPLY_INTEGER)
            || r->integer > FSDFS_MAX_NODE_ID)
        {
            freeReplyObject(r);
            return -1;
        }
        id = r->integer;
        freeReplyObject(r);

        r = cli_cmd(cli, "HSETNX %snodes %s %lld", cli->prefix, name, id);
        freeReplyObject(r);
    }

    return -1;
}


/* Length of the valid UTF-8 sequence at s (at most len bytes), or 0. */
static size_t
cli_utf8_len(const unsigned char *s, size_t len)
{
    size_t    n, i;
    unsigned  cp;

    if (s[0] < 0xc2 || s[0] > 0xf4) {
        return 0;
    }

    n = (s[0] < 0xe0) ? 2 : (s[0] < 0xf0) ? 3 : 4;
    if (n > len) {
        return 0;
    }

    cp = s[0] & (0x7f >> n);
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (s[i] & 0x3f);
    }

    /* overlong, surrogate or past U+10FFFF */
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000)
        || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
    {
        return 0;
    }

    return n;
}


/* s as a JSON string: escaped, and invalid UTF-8 replaced by U+FFFD. */
void
cli_json_str(const char *s, size_t len)
{
    size_t               i, n;
    const unsigned char *p = (const unsigned char *) s;

    putchar('"');

    for (i = 0; i < len; i++) {
        if (p[i] == '"' || p[i] == '\\') {
            printf("\\%c", p[i]);
        } else if (p[i] < 0x20) {
            printf("\\u%04x", p[i]);
        } else if (p[i] < 0x80) {
            putchar(p[i]);
        } else if ((n = cli_utf8_len(p + i, len - i)) != 0) {
            fwrite(p + i, 1, n, stdout);
            i += n - 1;
        } else {
            printf("\\ufffd");
        }
    }

    putchar('"');
}


/*
 * The index hash holding path, into key; an exit code. cmd names the
 * command in the message when the cluster was never initialised.
 */
int
cli_loc_key(cli_t *cli, const char *cmd, const char *path, char *key,
    size_t cap)
{
    long long  buckets;

    buckets = cli_config_int(cli, "buckets");
    if (buckets <= 0 || buckets > FSDFS_MAX_BUCKETS) {
        if (cli->rc->err) {
            return CLI_NOREDIS;
        }
        fprintf(stderr, "fsdfs %s: no %sconfig buckets: run fsdfs init "
                "first\n", cmd, cli->prefix);
        return CLI_ERROR;
    }

    if (fsdfs_key_loc(key, cap, cli->prefix,
                      fsdfs_bucket(path, strlen(path), (uint32_t) buckets))
        < 0)
    {
        return CLI_ERROR;
    }

    return CLI_OK;
}


/* The exit code after a failed command: Redis gone, or anything else. */
int
cli_fail(cli_t *cli)
{
    return (cli->rc == NULL || cli->rc->err) ? CLI_NOREDIS : CLI_ERROR;
}


long long
cli_now_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


/*
 * EXEC of a WATCHed transaction: 1 if it ran (and every queued command
 * succeeded), 0 if a watched key changed and nothing ran, -1 on error.
 */
int
cli_exec(cli_t *cli)
{
    int          rc;
    size_t       i;
    redisReply  *r;

    r = cli_cmd(cli, "EXEC");
    if (r == NULL) {
        return -1;
    }

    if (r->type == REDIS_REPLY_NIL) {
        freeReplyObject(r);
        return 0;
    }

    rc = cli_reply_ok(r, REDIS_REPLY_ARRAY) ? 1 : -1;

    for (i = 0; rc == 1 && i < r->elements; i++) {
        if (r->element[i]->type == REDIS_REPLY_ERROR) {
            fprintf(stderr, "fsdfs: redis error: %s\n", r->element[i]->str);
            rc = -1;
        }
    }

    freeReplyObject(r);
    return rc;
}


/* Sends a command whose reply only has to be "not an error"; 0 or -1. */
int
cli_cmd_ok(cli_t *cli, const char *fmt, ...)
{
    va_list      ap;
    redisReply  *r;
    int          ok;

    va_start(ap, fmt);
    r = redisvCommand(cli->rc, fmt, ap);
    va_end(ap);

    if (r == NULL) {
        fprintf(stderr, "fsdfs: redis \"%s\": %s\n", cli->addr,
                cli->rc->errstr);
        return -1;
    }

    ok = cli_reply_ok(r, 0);
    freeReplyObject(r);
    return ok ? 0 : -1;
}
