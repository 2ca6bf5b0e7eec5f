/*
 * The CLI's Redis connection and helpers. Hostnames are fine here (the
 * CLI may block); errors are reported once, with the address.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_redis.h"
#include "fsdfs_keys.h"
#include "fsdfs_record.h"


int
cli_connect(cli_t *cli)
{
    char            host[256];
    const char     *colon;
    redisReply     *r;
    struct timeval  tv = { 2, 0 };

    if (strncmp(cli->addr, "unix:", 5) == 0) {
        cli->rc = redisConnectUnixWithTimeout(cli->addr + 5, tv);

    } else {
        colon = strrchr(cli->addr, ':');
        if (colon == NULL || colon == cli->addr
            || (size_t) (colon - cli->addr) >= sizeof(host)
            || atoi(colon + 1) <= 0)
        {
            fprintf(stderr, "fsdfs: invalid redis address \"%s\", "
                    "expected host:port or unix:/path\n", cli->addr);
            return CLI_USAGE;
        }
        memcpy(host, cli->addr, colon - cli->addr);
        host[colon - cli->addr] = '\0';
        cli->rc = redisConnectWithTimeout(host, atoi(colon + 1), tv);
    }

    if (cli->rc == NULL || cli->rc->err) {
        fprintf(stderr, "fsdfs: redis \"%s\" unreachable: %s\n", cli->addr,
                cli->rc ? cli->rc->errstr : "out of memory");
        return CLI_NOREDIS;
    }

    if (cli->password) {
        r = cli_cmd(cli, "AUTH %s", cli->password);
        if (!cli_reply_ok(r, REDIS_REPLY_STATUS)) {
            fprintf(stderr, "fsdfs: redis \"%s\" refused AUTH\n", cli->addr);
            return CLI_NOREDIS;
        }
        freeReplyObject(r);
    }

    if (cli->db) {
        r = cli_cmd(cli, "SELECT %d", cli->db);
        if (!cli_reply_ok(r, REDIS_REPLY_STATUS)) {
            fprintf(stderr, "fsdfs: redis \"%s\" refused SELECT %d\n",
                    cli->addr, cli->db);
            return CLI_NOREDIS;
        }
        freeReplyObject(r);
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

    if (r == NULL) {
        fprintf(stderr, "fsdfs: redis \"%s\": %s\n", cli->addr,
                cli->rc->errstr);
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


void
cli_addr_print(const cli_t *cli)
{
    const char  *colon;

    if (strncmp(cli->addr, "unix:", 5) == 0) {
        printf("redis-cli -s %s", cli->addr + 5);

    } else {
        colon = strrchr(cli->addr, ':');
        printf("redis-cli -h %.*s -p %s", (int) (colon - cli->addr),
               cli->addr, colon + 1);
    }

    if (cli->db) {
        printf(" -n %d", cli->db);
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


void
cli_json_str(const char *s, size_t len)
{
    size_t  i;

    putchar('"');

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char) s[i];

        if (c == '"' || c == '\\') {
            printf("\\%c", c);
        } else if (c < 0x20) {
            printf("\\u%04x", c);
        } else {
            putchar(c);
        }
    }

    putchar('"');
}
