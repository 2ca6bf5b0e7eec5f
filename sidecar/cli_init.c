/*
 * fsdfs init: the cluster-wide settings fixed for the cluster's life.
 * The bucket count decides where every path lives in the index, so it is
 * written once (HSETNX) and a different value later is refused.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "fsdfs_keys.h"


static int
cli_init_arg(const char *s, long min, long max, long *v)
{
    char  *end;

    *v = strtol(s, &end, 10);

    return (*s && !*end && *v >= min && *v <= max) ? 0 : -1;
}


int
cli_init(cli_t *cli, int argc, char **argv)
{
    int          i, rc;
    long         buckets, replicas, have;
    redisReply  *r;

    buckets = FSDFS_DEFAULT_BUCKETS;
    replicas = 3;

    for (i = 1; i < argc; i += 2) {
        if (i + 1 < argc && strcmp(argv[i], "--buckets") == 0
            && cli_init_arg(argv[i + 1], 1, FSDFS_MAX_BUCKETS, &buckets) == 0)
        {
            continue;
        }

        if (i + 1 < argc && strcmp(argv[i], "--replicas") == 0
            && cli_init_arg(argv[i + 1], 1, 255, &replicas) == 0)
        {
            continue;
        }

        fprintf(stderr, "fsdfs init: invalid argument \"%s\"\n", argv[i]);
        return CLI_USAGE;
    }

    rc = cli_connect(cli);
    if (rc != CLI_OK) {
        return rc;
    }

    have = (long) cli_config_int(cli, "buckets");

    if (have > 0 && have != buckets) {
        fprintf(stderr, "fsdfs init: index already has %ld buckets, "
                "refusing to change it to %ld\n", have, buckets);
        return CLI_ERROR;
    }

    r = cli_cmd(cli, "HSETNX %sconfig buckets %ld", cli->prefix, buckets);
    if (!cli_reply_ok(r, REDIS_REPLY_INTEGER)) {
        freeReplyObject(r);
        return cli_fail(cli);
    }
    freeReplyObject(r);

    /* the rest only fills what is missing */
    r = cli_cmd(cli, "HSETNX %sconfig replicas %ld", cli->prefix, replicas);
    freeReplyObject(r);
    r = cli_cmd(cli, "HSETNX %sconfig version 1", cli->prefix);
    freeReplyObject(r);
    r = cli_cmd(cli, "HSETNX %sconfig created %lld", cli->prefix,
                (long long) time(NULL));
    freeReplyObject(r);

    printf("fsdfs: %sconfig buckets=%lld replicas=%lld\n", cli->prefix,
           cli_config_int(cli, "buckets"), cli_config_int(cli, "replicas"));

    return CLI_OK;
}
