/*
 * The CLI's Redis side: one synchronous hiredis connection, the options
 * every command shares, and small helpers for replies.
 */

#ifndef FSDFS_CLI_REDIS_H
#define FSDFS_CLI_REDIS_H

#include <hiredis/hiredis.h>

#include "fsdfs_addr.h"

#define CLI_OK         0
#define CLI_NOTFOUND   1
#define CLI_USAGE      2
#define CLI_NOREDIS    3
#define CLI_ERROR      4

typedef struct {
    const char    *addr;        /* host:port, unix:/path, sentinel:// */
    const char    *password;
    int            db;
    const char    *prefix;
    const char    *secret;      /* command secret file (put) */
    int            json;
    int            quiet;       /* no message when Redis is gone (watch) */
    redisContext  *rc;
    fsdfs_hostport_t  master;   /* where rc went (tcp and sentinel) */
} cli_t;

int cli_connect(cli_t *cli);
redisReply *cli_cmd(cli_t *cli, const char *fmt, ...);
int cli_reply_ok(redisReply *r, int type);
void cli_addr_cmd(const cli_t *cli, char *buf, size_t cap);
void cli_shell_word(char *buf, size_t cap, const char *s);
long long cli_config_int(cli_t *cli, const char *field);
int cli_node_id(cli_t *cli, const char *name, int create);
void cli_json_str(const char *s, size_t len);
int cli_loc_key(cli_t *cli, const char *cmd, const char *path, char *key,
    size_t cap);
int cli_fail(cli_t *cli);
long long cli_now_ms(void);
int cli_exec(cli_t *cli);
int cli_cmd_ok(cli_t *cli, const char *fmt, ...);

#endif
