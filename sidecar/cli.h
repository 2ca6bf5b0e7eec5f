/*
 * fsdfs CLI commands: each takes the shared options and its own argv
 * (argv[0] is the command name) and returns an exit code (cli_redis.h).
 */

#ifndef FSDFS_CLI_H
#define FSDFS_CLI_H

#include "cli_redis.h"

int cli_init(cli_t *cli, int argc, char **argv);
int cli_scan(cli_t *cli, int argc, char **argv);
int cli_where(cli_t *cli, int argc, char **argv);
int cli_nodes(cli_t *cli, int argc, char **argv);
int cli_status(cli_t *cli, int argc, char **argv);
int cli_put(cli_t *cli, int argc, char **argv);
int cli_rm(cli_t *cli, int argc, char **argv);
int cli_set(cli_t *cli, int argc, char **argv);
int cli_watch(cli_t *cli, int argc, char **argv);
int cli_drain(cli_t *cli, int argc, char **argv);
int cli_fsck(cli_t *cli, int argc, char **argv);

#define FSDFS_CLI_SECRET  "/etc/fsdfs/secret"

/* Did the user ask for help (-h/--help anywhere in argv)? */
int cli_wants_help(int argc, char **argv);

#endif
