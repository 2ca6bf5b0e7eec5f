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


/* What both output formats show besides the record. */
typedef struct {
    const char  *path;
    char         key[FSDFS_KEY_MAX];
    char         when[64];
    char         raw[FSDFS_PATH_MAX + 512];
} where_t;


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


/* The redis-cli command that prints the raw record. */
static void
where_raw(cli_t *cli, const char *path, const char *key, char *buf,
    size_t cap)
{
    size_t  len;

    cli_addr_cmd(cli, buf, cap);
    len = strlen(buf);
    len += snprintf(buf + len, cap - len, " HGET %s ", key);
    if (len < cap) {
        cli_shell_word(buf + len, cap - len, path);
    }
}


static void
where_time(const fsdfs_record_t *rec, char *buf, size_t cap)
{
    struct tm  tm;
    time_t     t = (time_t) rec->ctime;

    if (gmtime_r(&t, &tm) == NULL
        || strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    {
        snprintf(buf, cap, "%lld", (long long) rec->ctime);
    }
}


static void
where_text(cli_t *cli, const where_t *w, const fsdfs_record_t *rec)
{
    unsigned      i;
    where_node_t  n;

    printf("path     %s\nsize     %llu\nsum      %016llx\ncreated  %s\n",
           w->path, (unsigned long long) rec->size,
           (unsigned long long) rec->sum, w->when);

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

    printf("raw      %s\n", w->raw);
}


static void
where_json(cli_t *cli, const where_t *w, const fsdfs_record_t *rec)
{
    unsigned      i;
    where_node_t  n;

    printf("{\"path\":");
    cli_json_str(w->path, strlen(w->path));
    printf(",\"key\":");
    cli_json_str(w->key, strlen(w->key));
    printf(",\"raw\":");
    cli_json_str(w->raw, strlen(w->raw));
    printf(",\"size\":%llu,\"sum\":\"%016llx\",\"ctime\":%lld,"
           "\"created\":\"%s\",\"n\":%u,\"vars\":{",
           (unsigned long long) rec->size, (unsigned long long) rec->sum,
           (long long) rec->ctime, w->when, rec->n);

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


/* The raw record of w->path into *r, its bucket into w->key; exit code. */
static int
where_fetch(cli_t *cli, where_t *w, redisReply **r)
{
    long long  buckets;

    buckets = cli_config_int(cli, "buckets");
    if (buckets <= 0 || buckets > FSDFS_MAX_BUCKETS) {
        fprintf(stderr, "fsdfs where: no %sconfig buckets: run fsdfs init "
                "first\n", cli->prefix);
        return cli->rc->err ? CLI_NOREDIS : CLI_ERROR;
    }

    fsdfs_key_loc(w->key, sizeof(w->key), cli->prefix,
                  fsdfs_bucket(w->path, strlen(w->path), (uint32_t) buckets));

    *r = cli_cmd(cli, "HGET %s %s", w->key, w->path);
    if (!cli_reply_ok(*r, 0)) {
        return cli->rc->err ? CLI_NOREDIS : CLI_ERROR;
    }

    if ((*r)->type != REDIS_REPLY_STRING) {
        fprintf(stderr, "fsdfs where: \"%s\" is not indexed (its bucket "
                "is %s)\n", w->path, w->key);
        return CLI_NOTFOUND;
    }

    return CLI_OK;
}


int
cli_where(cli_t *cli, int argc, char **argv)
{
    int             rc;
    where_t         w;
    const char     *bad;
    redisReply     *r = NULL;
    fsdfs_record_t  rec;

    /* --json before or after PATH, as an operator types it */
    cli->json = (argc == 3 && (strcmp(argv[1], "--json") == 0
                               || strcmp(argv[2], "--json") == 0));

    if (argc != 2 && !cli->json) {
        return CLI_USAGE;
    }

    w.path = (argc == 3 && strcmp(argv[1], "--json") == 0) ? argv[2]
                                                           : argv[1];
    bad = fsdfs_path_check(w.path, strlen(w.path));
    if (bad) {
        fprintf(stderr, "fsdfs where: invalid path \"%s\": %s\n", w.path,
                bad);
        return CLI_USAGE;
    }

    rc = cli_connect(cli);
    if (rc == CLI_OK) {
        rc = where_fetch(cli, &w, &r);
    }

    if (rc == CLI_OK && fsdfs_record_decode(&rec, r->str, r->len) != 0) {
        fprintf(stderr, "fsdfs where: corrupt record in %s for \"%s\": "
                "\"%.*s\"\n", w.key, w.path, (int) r->len, r->str);
        rc = CLI_ERROR;
    }

    if (rc == CLI_OK) {
        where_time(&rec, w.when, sizeof(w.when));
        where_raw(cli, w.path, w.key, w.raw, sizeof(w.raw));
        if (cli->json) {
            where_json(cli, &w, &rec);
        } else {
            where_text(cli, &w, &rec);
        }
    }

    freeReplyObject(r);
    return rc;
}
