/*
 * fsdfs rm PATH: a cluster-wide delete. The CLI never talks to the nodes
 * here: it removes the record, leaves a tombstone (so a node that was
 * down and comes back with a copy drops it instead of offering it) and
 * appends an rm event naming the holders, from which the master drops
 * every copy. The three writes are one transaction on a WATCHed bucket,
 * so a holder added by the master in between is never missed.
 */

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "fsdfs_keys.h"
#include "fsdfs_path.h"
#include "fsdfs_record.h"


#define RM_TRIES  16


/*
 * The holder ids of a raw record as "1,2,5" (empty for none); 0 if the
 * record is valid, -1 if corrupt. A corrupt record still names its
 * holders when its fifth field is a plain list, and the master needs them
 * more than ever then.
 */
static int
rm_holders(const char *raw, size_t len, char *buf, size_t cap)
{
    size_t          i, pos, start, end;
    unsigned        field;
    fsdfs_record_t  rec;

    buf[0] = '\0';

    if (fsdfs_record_decode(&rec, raw, len) == 0) {
        for (i = 0, pos = 0; i < rec.nholders && pos < cap; i++) {
            pos += snprintf(buf + pos, cap - pos, "%s%u", i ? "," : "",
                            rec.holders[i]);
        }
        return 0;
    }

    for (i = 0, field = 0; i < len && field < 4; i++) {
        field += (raw[i] == ' ');
    }

    start = i;
    for (end = start; end < len && raw[end] != ' '; end++) {
        if ((raw[end] < '0' || raw[end] > '9') && raw[end] != ',') {
            return -1;
        }
    }

    if (field == 4 && end > start && end - start < cap) {
        memcpy(buf, raw + start, end - start);
        buf[end - start] = '\0';
    }

    return -1;
}


/* One attempt: 1 done, 0 the bucket changed under us, else -exit code. */
static int
rm_try(cli_t *cli, const char *key, const char *path, char *holders,
    size_t cap)
{
    int          rc;
    redisReply  *r;

    if (cli_cmd_ok(cli, "WATCH %s", key) != 0) {
        return -cli_fail(cli);
    }

    r = cli_cmd(cli, "HGET %s %s", key, path);
    if (!cli_reply_ok(r, 0)) {
        freeReplyObject(r);
        return -cli_fail(cli);
    }

    if (r->type != REDIS_REPLY_STRING) {
        freeReplyObject(r);
        (void) cli_cmd_ok(cli, "UNWATCH");
        fprintf(stderr, "fsdfs rm: \"%s\" is not indexed (its bucket is "
                "%s)\n", path, key);
        return -CLI_NOTFOUND;
    }

    if (rm_holders(r->str, r->len, holders, cap) != 0) {
        fprintf(stderr, "fsdfs rm: warning: corrupt record for \"%s\": "
                "\"%.*s\"; removing it anyway\n", path, (int) r->len,
                r->str);
    }

    freeReplyObject(r);

    if (cli_cmd_ok(cli, "MULTI") != 0
        || cli_cmd_ok(cli, "HDEL %s %s", key, path) != 0
        || cli_cmd_ok(cli, "ZADD %stomb %lld %s", cli->prefix,
                      (long long) time(NULL), path) != 0
        || cli_cmd_ok(cli, "XADD %sevents MAXLEN ~ 100000 * type rm path %s "
                      "holders %s", cli->prefix, path, holders) != 0)
    {
        (void) cli_cmd_ok(cli, "DISCARD");
        return -cli_fail(cli);
    }

    rc = cli_exec(cli);

    return rc < 0 ? -cli_fail(cli) : rc;
}


int
cli_rm(cli_t *cli, int argc, char **argv)
{
    int          rc, tries;
    const char  *bad;
    char         key[FSDFS_KEY_MAX], holders[FSDFS_MAX_HOLDERS * 6 + 1];

    if (argc != 2) {
        return CLI_USAGE;
    }

    bad = fsdfs_path_check(argv[1], strlen(argv[1]));
    if (bad) {
        fprintf(stderr, "fsdfs rm: invalid path \"%s\": %s\n", argv[1], bad);
        return CLI_USAGE;
    }

    rc = cli_connect(cli);
    if (rc == CLI_OK) {
        rc = cli_loc_key(cli, "rm", argv[1], key, sizeof(key));
    }
    if (rc != CLI_OK) {
        return rc;
    }

    for (tries = 0; tries < RM_TRIES; tries++) {
        rc = rm_try(cli, key, argv[1], holders, sizeof(holders));

        if (rc < 0) {
            return -rc;
        }

        if (rc == 1) {
            printf("fsdfs: removed %s (holders: %s); the master drops the "
                   "copies\n", argv[1], holders[0] ? holders : "none");
            return CLI_OK;
        }
    }

    fprintf(stderr, "fsdfs rm: %s kept changing, %d tries; nothing "
            "removed\n", key, RM_TRIES);
    return CLI_ERROR;
}
