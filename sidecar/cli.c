/*
 * fsdfs: the operator's command line. Global options select the Redis
 * server and key prefix; the command does one thing and says so. Exit
 * codes: 0 ok, 1 not found, 2 usage, 3 Redis unreachable, 4 other error.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fsdfs_keys.h"


typedef struct {
    const char  *name;
    int        (*run)(cli_t *cli, int argc, char **argv);
    const char  *usage;
} cli_command_t;


static const cli_command_t  cli_commands[] = {
    { "init", cli_init,
      "init [--buckets N] [--replicas N]\n"
      "    write the cluster config once (buckets of the location index,\n"
      "    default replica count); buckets cannot change later" },
    { "scan", cli_scan,
      "scan NODE ROOT\n"
      "    register every file under ROOT as held by node NODE (name),\n"
      "    with size and checksum; a file whose size or checksum differs\n"
      "    from its record is left out and makes the exit code 4" },
    { "where", cli_where,
      "where PATH [--json]\n"
      "    show PATH's record, its holders and the redis-cli command\n"
      "    that shows the raw record" },
    { "nodes", cli_nodes,
      "nodes [--json]\n"
      "    show the node table: id, name, url, state, liveness, disk" },
    { "status", cli_status,
      "status [--json]\n"
      "    nodes with fill bars, cluster figures, the K-N histogram,\n"
      "    missing copies, the master lease and the epoch" },
    { "watch", cli_watch,
      "watch [--interval S] [--count N] [--json]\n"
      "    refresh min(K-N), under N, lost, pulls and the K-N histogram\n"
      "    every S seconds (default 1) and show progress toward\n"
      "    min(K-N) >= 0: missing copies, repair rate, ETA; N frames,\n"
      "    else until Ctrl-C (exit 0); --json: one object per line" },
    { "put", cli_put,
      "put FILE PATH [--node NAME] [--replicas N]\n"
      "    store FILE as PATH on a node (NAME, else the live active node\n"
      "    with the most free space) by a signed PUT; refused if PATH is\n"
      "    indexed; needs the command secret (-s)" },
    { "rm", cli_rm,
      "rm PATH\n"
      "    delete PATH cluster-wide: its record goes, a tombstone and an\n"
      "    rm event stay; the master drops the copies" },
    { "set", cli_set,
      "set PATH replicas=N|replicas=default VAR=VALUE... VAR=...\n"
      "    change PATH's replica count (1..255, default: by policy) and\n"
      "    user variables (VAR= removes one)" },
    { "drain", cli_drain,
      "drain NODE [--wait] [--cancel] [--json]\n"
      "    take NODE out of service: its copies stop counting, its files\n"
      "    are copied to the others (from it if need be), then its copies\n"
      "    go; shows the files and bytes still on it and the copies made;\n"
      "    --wait refreshes every second until it is empty (exit 0);\n"
      "    --cancel takes the request back; exit 1 if there is no NODE" },
    { "fsck", cli_fsck,
      "fsck [--repair [--adopt]] [--sums] [--node NAME] [--json]\n"
      "    compare the index with each live node's disk (or NAME's) by a\n"
      "    signed inventory: missing, extra, size and (--sums, slow) sum\n"
      "    mismatches, per node and in total; --repair drops missing\n"
      "    holders, quarantines bad copies on the node and registers good\n"
      "    extra ones (unknown paths only reported, or with --adopt and\n"
      "    --sums registered as new records); exit 0 clean,\n"
      "    1 problems found (also when repaired), 4 a node failed; needs\n"
      "    the command secret (-s)" },
    { NULL, NULL, NULL }
};


static void
cli_usage(FILE *f)
{
    const cli_command_t  *c;

    fprintf(f, "usage: fsdfs [-r ADDR] [-a PASSWORD] [-n DB] [-P PREFIX] "
            "[-s SECRET] COMMAND [ARGS]\n\n"
            "  -r ADDR      redis host:port or unix:/path "
            "(default $FSDFS_REDIS or 127.0.0.1:6379)\n"
            "  -a PASSWORD  redis password (default $FSDFS_REDIS_PASSWORD)\n"
            "  -n DB        redis database number\n"
            "  -P PREFIX    key prefix (default $FSDFS_PREFIX or fsdfs:)\n"
            "  -s SECRET    command secret file (default $FSDFS_SECRET or\n"
            "               " FSDFS_CLI_SECRET ")\n\n"
            "commands:\n");

    for (c = cli_commands; c->name; c++) {
        fprintf(f, "  %s\n", c->usage);
    }

    fprintf(f, "\nexit codes: 0 ok, 1 not found (or none), 2 usage error, "
            "3 redis unreachable,\n4 any other error (nothing was changed "
            "by a usage error)\n");
}


int
cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            return 1;
        }
    }

    return 0;
}


static const char *
cli_env(const char *name, const char *def)
{
    const char  *v = getenv(name);

    return (v && *v) ? v : def;
}


int
main(int argc, char **argv)
{
    int                   i, rc;
    char                 *end;
    cli_t                 cli;
    const cli_command_t  *c;

    memset(&cli, 0, sizeof(cli));
    cli.addr = cli_env("FSDFS_REDIS", "127.0.0.1:6379");
    cli.password = getenv("FSDFS_REDIS_PASSWORD");
    cli.prefix = cli_env("FSDFS_PREFIX", FSDFS_DEFAULT_PREFIX);
    cli.secret = cli_env("FSDFS_SECRET", FSDFS_CLI_SECRET);

    for (i = 1; i < argc && argv[i][0] == '-'; i += 2) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            cli_usage(stdout);
            return CLI_OK;
        }

        if (i + 1 >= argc || strlen(argv[i]) != 2
            || strchr("ranPs", argv[i][1]) == NULL)
        {
            fprintf(stderr, "fsdfs: unknown option \"%s\"\n", argv[i]);
            cli_usage(stderr);
            return CLI_USAGE;
        }

        switch (argv[i][1]) {
        case 'r': cli.addr = argv[i + 1]; break;
        case 'a': cli.password = argv[i + 1]; break;
        case 'P': cli.prefix = argv[i + 1]; break;
        case 's': cli.secret = argv[i + 1]; break;
        case 'n':
            cli.db = (int) strtol(argv[i + 1], &end, 10);
            if (*end || cli.db < 0) {
                fprintf(stderr, "fsdfs: invalid db \"%s\"\n", argv[i + 1]);
                return CLI_USAGE;
            }
            break;
        }
    }

    if (i >= argc) {
        cli_usage(stderr);
        return CLI_USAGE;
    }

    if (strlen(cli.prefix) > 64) {
        fprintf(stderr, "fsdfs: key prefix longer than 64 bytes\n");
        return CLI_USAGE;
    }

    for (c = cli_commands; c->name; c++) {
        if (strcmp(argv[i], c->name) != 0) {
            continue;
        }

        if (cli_wants_help(argc - i, argv + i)) {
            printf("usage: fsdfs %s\n", c->usage);
            return CLI_OK;
        }

        /* commands check their arguments, then connect */
        rc = c->run(&cli, argc - i, argv + i);

        if (cli.rc) {
            redisFree(cli.rc);
        }

        if (rc == CLI_USAGE) {
            fprintf(stderr, "usage: fsdfs %s\n", c->usage);
        }

        return rc;
    }

    fprintf(stderr, "fsdfs: unknown command \"%s\"\n", argv[i]);
    cli_usage(stderr);
    return CLI_USAGE;
}
