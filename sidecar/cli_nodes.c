/*
 * fsdfs nodes: the node table as Redis has it, one line a node: what
 * each node last reported in its heartbeat and whether its alive key
 * still exists.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "cli.h"


#define NODE_FIELDS  10

static const char  *node_fields[NODE_FIELDS] = {
    "url", "state", "quota", "used", "free", "files", "load", "conns",
    "version", "ts"
};


typedef struct {
    int          id;
    const char  *name;
} node_ref_t;


static int
node_cmp(const void *a, const void *b)
{
    return ((const node_ref_t *) a)->id - ((const node_ref_t *) b)->id;
}


static const char *
node_field(redisReply *h, int i)
{
    redisReply  *e = h->element[i];

    return (e->type == REDIS_REPLY_STRING) ? e->str : "";
}


/* Seconds since the node's last heartbeat (ts, unix ms), -1 if none. */
static long long
node_age(redisReply *h)
{
    long long       ts;
    struct timeval  tv;

    ts = atoll(node_field(h, 9));
    if (ts <= 0) {
        return -1;
    }

    gettimeofday(&tv, NULL);
    return ((long long) tv.tv_sec * 1000 + tv.tv_usec / 1000 - ts) / 1000;
}


static void
node_json(const node_ref_t *n, redisReply *h, int alive, int drain, int first)
{
    int        i;
    long long  age = node_age(h);

    printf("%s{\"id\":%d,\"name\":", first ? "" : ",", n->id);
    cli_json_str(n->name, strlen(n->name));
    printf(",\"alive\":%s,\"draining\":%s,\"age\":", alive ? "true" : "false",
           drain ? "true" : "false");
    if (age < 0) {
        printf("null");
    } else {
        printf("%lld", age);
    }

    for (i = 0; i < NODE_FIELDS - 1; i++) {
        printf(",\"%s\":", node_fields[i]);
        if (i >= 2 && i <= 7) {
            printf("%lld", atoll(node_field(h, i)));
        } else {
            cli_json_str(node_field(h, i), strlen(node_field(h, i)));
        }
    }

    printf("}");
}


static void
node_text(const node_ref_t *n, redisReply *h, int alive, int drain)
{
    char       age[32];
    long long  secs = node_age(h);

    if (secs < 0) {
        snprintf(age, sizeof(age), "-");
    } else {
        snprintf(age, sizeof(age), "%llds", secs);
    }

    printf("%-4d %-12s %-28s %-8s %-5s %12s %12s %12s %8s %5s %5s %5s\n",
           n->id, n->name, node_field(h, 0),
           drain ? "draining" : node_field(h, 1),
           alive ? "yes" : "NO", node_field(h, 2), node_field(h, 3),
           node_field(h, 4), node_field(h, 5), node_field(h, 6),
           node_field(h, 7), age);
}


/* One node's line or object; 0 if Redis did not answer. */
static int
node_print(cli_t *cli, const node_ref_t *n, int first)
{
    int          alive, done;
    redisReply  *h, *a, *d;

    h = cli_cmd(cli, "HMGET %snode:%d url state quota used free files load "
                "conns version ts", cli->prefix, n->id);
    a = cli_cmd(cli, "EXISTS %salive:%d", cli->prefix, n->id);
    /* fsdfs drain asked: shown as the state */
    d = cli_cmd(cli, "HEXISTS %sdrain %d", cli->prefix, n->id);
    done = (h && h->type == REDIS_REPLY_ARRAY && h->elements == NODE_FIELDS
            && a && a->type == REDIS_REPLY_INTEGER
            && d && d->type == REDIS_REPLY_INTEGER);

    if (done) {
        alive = (a->integer == 1);
        if (cli->json) {
            node_json(n, h, alive, d->integer == 1, first);
        } else {
            node_text(n, h, alive, d->integer == 1);
        }
    }

    freeReplyObject(h);
    freeReplyObject(a);
    freeReplyObject(d);
    return done;
}


int
cli_nodes(cli_t *cli, int argc, char **argv)
{
    int          rc;
    size_t       i, n, shown;
    redisReply  *r;
    node_ref_t  *refs;

    cli->json = (argc == 2 && strcmp(argv[1], "--json") == 0);

    if (argc != 1 && !cli->json) {
        return CLI_USAGE;
    }

    rc = cli_connect(cli);
    if (rc != CLI_OK) {
        return rc;
    }

    r = cli_cmd(cli, "HGETALL %snodes", cli->prefix);
    if (!cli_reply_ok(r, REDIS_REPLY_ARRAY)) {
        freeReplyObject(r);
        return cli_fail(cli);
    }

    n = r->elements / 2;
    refs = calloc(n + 1, sizeof(node_ref_t));
    if (refs == NULL) {
        freeReplyObject(r);
        return CLI_ERROR;
    }

    for (i = 0; i < n; i++) {
        refs[i].name = r->element[2 * i]->str;
        refs[i].id = atoi(r->element[2 * i + 1]->str);
    }

    qsort(refs, n, sizeof(node_ref_t), node_cmp);

    if (cli->json) {
        printf("[");
    } else {
        printf("%-4s %-12s %-28s %-8s %-5s %12s %12s %12s %8s %5s %5s %5s\n",
               "id", "name", "url", "state", "alive", "quota", "used",
               "free", "files", "load", "conns", "age");
    }

    for (i = 0, shown = 0; i < n; i++) {
        shown += node_print(cli, &refs[i], shown == 0);
    }

    if (cli->json) {
        printf("]\n");
    }

    free(refs);
    freeReplyObject(r);

    /* a node that could not be read is Redis gone (3) or an error (4) */
    return (n && shown == n) ? CLI_OK : n ? cli_fail(cli) : CLI_NOTFOUND;
}
