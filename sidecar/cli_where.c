/*
 * fsdfs where PATH: everything the index knows about one path, and the
 * redis-cli command that shows the same record raw, so an operator can
 * check the tool against the data at 3 a.m.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "fsdfs_keys.h"
#include "fsdfs_path.h"
#include "fsdfs_record.h"


typedef struct {
    char  name[64];
    char  url[256];
    int   alive;
} where_node_t;


static void
where_node_name(cli_t *cli, unsigned id, where_node_t *n)
{
    size_t       i;
    redisReply  *r;

    r = cli_cmd(cli, "HGETALL %snodes", cli->prefix);
    if (r && r->type == REDIS_REPLY_ARRAY) {
        for (i = 0; i + 1 < r->elements; i += 2) {
            if ((unsigned) atoi(r->element[i + 1]->str) == id) {
                snprintf(n->name, sizeof(n->name), "%s", r->element[i]->str);
                break;
            }
        }
    }
    freeReplyObject(r);
}


static void
where_node(cli_t *cli, unsigned id, where_node_t *n)
{
    redisReply  *r;

    snprintf(n->name, sizeof(n->name), "?");
    n->url[0] = '\0';

    r = cli_cmd(cli, "HMGET %snode:%u name url", cli->prefix, id);
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
        if (r->element[0]->type == REDIS_REPLY_STRING) {
            snprintf(n->name, sizeof(n->name), "%s", r->element[0]->str);
        }
        if (r->element[1]->type == REDIS_REPLY_STRING) {
            snprintf(n->url, sizeof(n->url), "%s", r->element[1]->str);
        }
    }
    freeReplyObject(r);

    /* a node that never sent a heartbeat has only its registration */
    if (strcmp(n->name, "?") == 0) {
        where_node_name(cli, id, n);
    }

    r = cli_cmd(cli, "EXISTS %salive:%u", cli->prefix, id);
    n->alive = (r && r->type == REDIS_REPLY_INTEGER && r->integer == 1);
    freeReplyObject(r);
}


static void
where_text(cli_t *cli, const char *path, const char *key,
    const fsdfs_record_t *rec)
{
    char          when[32];
    time_t        t = (time_t) rec->ctime;
    unsigned      i;
    where_node_t  n;

    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));

    printf("path     %s\nsize     %llu\nsum      %016llx\ncreated  %s\n",
           path, (unsigned long long) rec->size,
           (unsigned long long) rec->sum, when);

    if (rec->n) {
        printf("replicas %u (explicit)\n", rec->n);
    } else {
        printf("replicas by policy\n");
    }

    for (i = 0; i < rec->nvars; i++) {
        printf("var      %.*s=%.*s\n", (int) rec->vars[i].name_len,
               rec->vars[i].name, (int) rec->vars[i].value_len,
               rec->vars[i].value);
    }

    printf("holders  %u\n", rec->nholders);

    for (i = 0; i < rec->nholders; i++) {
        where_node(cli, rec->holders[i], &n);
        printf("  %-5u %-16s %-32s %s\n", rec->holders[i], n.name, n.url,
               n.alive ? "alive" : "DEAD");
    }

    printf("raw      ");
    cli_addr_print(cli);
    printf(" HGET %s %s\n", key, path);
}


static void
where_json(cli_t *cli, const char *path, const char *key,
    const fsdfs_record_t *rec)
{
    unsigned      i;
    where_node_t  n;

    printf("{\"path\":");
    cli_json_str(path, strlen(path));
    printf(",\"key\":");
    cli_json_str(key, strlen(key));
    printf(",\"size\":%llu,\"sum\":\"%016llx\",\"ctime\":%lld,\"n\":%u,"
           "\"vars\":{", (unsigned long long) rec->size,
           (unsigned long long) rec->sum, (long long) rec->ctime, rec->n);

    for (i = 0; i < rec->nvars; i++) {
        printf("%s", i ? "," : "");
        cli_json_str(rec->vars[i].name, rec->vars[i].name_len);
        putchar(':');
        cli_json_str(rec->vars[i].value, rec->vars[i].value_len);
    }

    printf("},\"holders\":[");

    for (i = 0; i < rec->nholders; i++) {
        where_node(cli, rec->holders[i], &n);
        printf("%s{\"id\":%u,\"name\":", i ? "," : "", rec->holders[i]);
        cli_json_str(n.name, strlen(n.name));
        printf(",\"url\":");
        cli_json_str(n.url, strlen(n.url));
        printf(",\"alive\":%s}", n.alive ? "true" : "false");
    }

    printf("]}\n");
}


int
cli_where(cli_t *cli, int argc, char **argv)
{
    int             rc;
    char            key[FSDFS_KEY_MAX];
    const char     *path, *bad;
    long long       buckets;
    redisReply     *r;
    fsdfs_record_t  rec;

    cli->json = (argc == 3 && strcmp(argv[2], "--json") == 0);

    if (argc != 2 && !cli->json) {
        return CLI_USAGE;
    }

    path = argv[1];
    bad = fsdfs_path_check(path, strlen(path));
    if (bad) {
        fprintf(stderr, "fsdfs where: invalid path \"%s\": %s\n", path, bad);
        return CLI_USAGE;
    }

    rc = cli_connect(cli);
    if (rc != CLI_OK) {
        return rc;
    }

    buckets = cli_config_int(cli, "buckets");
    if (buckets <= 0) {
        fprintf(stderr, "fsdfs where: no %sconfig buckets: run fsdfs init "
                "first\n", cli->prefix);
        return CLI_ERROR;
    }

    fsdfs_key_loc(key, sizeof(key), cli->prefix,
                  fsdfs_bucket(path, strlen(path), (uint32_t) buckets));

    r = cli_cmd(cli, "HGET %s %s", key, path);
    if (!cli_reply_ok(r, 0)) {
        freeReplyObject(r);
        return CLI_ERROR;
    }

    if (r->type != REDIS_REPLY_STRING) {
        fprintf(stderr, "fsdfs where: \"%s\" is not indexed (its bucket "
                "is %s)\n", path, key);
        freeReplyObject(r);
        return CLI_NOTFOUND;
    }

    if (fsdfs_record_decode(&rec, r->str, r->len) != 0) {
        fprintf(stderr, "fsdfs where: corrupt record in %s for \"%s\": "
                "\"%.*s\"\n", key, path, (int) r->len, r->str);
        freeReplyObject(r);
        return CLI_ERROR;
    }

    if (cli->json) {
        where_json(cli, path, key, &rec);
    } else {
        where_text(cli, path, key, &rec);
    }

    freeReplyObject(r);
    return CLI_OK;
}
