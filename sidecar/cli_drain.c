/*
 * fsdfs drain: take a node out of service without losing a copy (HDFS's
 * decommission). The CLI only writes the request, node id -> unix time,
 * into <prefix>drain; the master reads it every second, stops counting
 * the node's copies (so its files get their N elsewhere, copied from it
 * when it is their only holder), drops each of its copies once the file
 * has N elsewhere, and publishes what is left in <prefix>drain:<id>.
 * This command shows that progress, once or (--wait) every second until
 * the node holds nothing; --cancel takes the request back.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"


#define DRAIN_BAR  30


typedef struct {
    long long  since;           /* from <prefix>drain, 0: not draining */
    int        published;       /* the master wrote drain:<id> for it */
    long long  files, bytes, copies, drops, ts;
    int        live;
} drain_state_t;


static void
drain_bytes(char *buf, size_t cap, long long b)
{
    const char  *u = "kMGTP";
    double       v = (double) b;
    int          i = -1;

    if (b < 1024) {
        snprintf(buf, cap, "%lld B", b);
        return;
    }
    while (v >= 1024 && i < 4) {
        v /= 1024;
        i++;
    }
    snprintf(buf, cap, "%.1f %cB", v, u[i]);
}


/* The request and the master's figures for it; CLI_OK or a failure. */
static int
drain_read(cli_t *cli, int id, drain_state_t *ds)
{
    size_t       i;
    const char  *f, *v;
    redisReply  *r;

    memset(ds, 0, sizeof(*ds));

    r = cli_cmd(cli, "HGET %sdrain %d", cli->prefix, id);
    if (!cli_reply_ok(r, 0)) {
        freeReplyObject(r);
        return cli_fail(cli);
    }
    ds->since = (r->type == REDIS_REPLY_STRING) ? atoll(r->str) : 0;
    freeReplyObject(r);

    r = cli_cmd(cli, "HGETALL %sdrain:%d", cli->prefix, id);
    if (!cli_reply_ok(r, REDIS_REPLY_ARRAY)) {
        freeReplyObject(r);
        return cli_fail(cli);
    }

    for (i = 0; i + 1 < r->elements; i += 2) {
        f = r->element[i]->str;
        v = r->element[i + 1]->str;
        if (f == NULL || v == NULL) {
            continue;
        }
        if (strcmp(f, "since") == 0) {
            /* figures of an earlier drain are not this one's */
            ds->published = (ds->since && atoll(v) == ds->since);
        } else if (strcmp(f, "files") == 0) {
            ds->files = atoll(v);
        } else if (strcmp(f, "bytes") == 0) {
            ds->bytes = atoll(v);
        } else if (strcmp(f, "copies") == 0) {
            ds->copies = atoll(v);
        } else if (strcmp(f, "drops") == 0) {
            ds->drops = atoll(v);
        } else if (strcmp(f, "live") == 0) {
            ds->live = atoi(v);
        } else if (strcmp(f, "ts") == 0) {
            ds->ts = atoll(v);
        }
    }

    freeReplyObject(r);
    return CLI_OK;
}


static void
drain_json(const char *name, int id, const drain_state_t *ds)
{
    printf("{\"node\":");
    cli_json_str(name, strlen(name));
    printf(",\"id\":%d,\"draining\":%s,\"since\":%lld", id,
           ds->since ? "true" : "false", ds->since);
    if (ds->published) {
        printf(",\"files\":%lld,\"bytes\":%lld,\"copies\":%lld,"
               "\"drops\":%lld,\"empty\":%s", ds->files, ds->bytes,
               ds->copies, ds->drops, ds->files == 0 ? "true" : "false");
    } else {
        printf(",\"files\":null,\"bytes\":null,\"copies\":null,"
               "\"drops\":null,\"empty\":false");
    }
    printf("}\n");
    fflush(stdout);
}


/* One line: a bar of what has left (against the most seen), counts. */
static void
drain_text(const char *name, int id, const drain_state_t *ds,
    long long total, int tty)
{
    char       bar[DRAIN_BAR + 1], bytes[24];
    int        fill;

    if (!ds->published) {
        printf("%snode %s (%d): draining, waiting for the master's figures"
               " (is fsdfsd running?)%s", tty ? "\r" : "", name, id,
               tty ? "\033[K" : "\n");
        fflush(stdout);
        return;
    }

    fill = total > 0 ? (int) ((total - ds->files) * DRAIN_BAR / total)
                     : DRAIN_BAR;
    fill = fill < 0 ? 0 : fill > DRAIN_BAR ? DRAIN_BAR : fill;
    memset(bar, '#', (size_t) fill);
    memset(bar + fill, '.', (size_t) (DRAIN_BAR - fill));
    bar[DRAIN_BAR] = '\0';
    drain_bytes(bytes, sizeof(bytes), ds->bytes);

    printf("%snode %s (%d): [%s] %lld file(s), %s still on it, %lld copies"
           " made, %lld dropped%s%s", tty ? "\r" : "", name, id, bar,
           ds->files, bytes, ds->copies, ds->drops,
           ds->files == 0 ? ": empty, it can leave" : "",
           tty ? "\033[K" : "\n");
    fflush(stdout);
}


int
cli_drain(cli_t *cli, int argc, char **argv)
{
    int             i, id, rc, wait = 0, cancel = 0, tty;
    long long       total = 0;
    const char     *name = NULL;
    drain_state_t   ds;
    redisReply     *r;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--wait") == 0) {
            wait = 1;
        } else if (strcmp(argv[i], "--cancel") == 0) {
            cancel = 1;
        } else if (strcmp(argv[i], "--json") == 0) {
            cli->json = 1;
        } else if (argv[i][0] != '-' && name == NULL) {
            name = argv[i];
        } else {
            return CLI_USAGE;
        }
    }

    if (name == NULL || (cancel && wait)) {
        return CLI_USAGE;
    }

    rc = cli_connect(cli);
    if (rc != CLI_OK) {
        return rc;
    }

    id = cli_node_id(cli, name, 0);
    if (id < 0) {
        return cli_fail(cli);
    }
    if (id == 0) {
        fprintf(stderr, "fsdfs: no node named \"%s\"\n", name);
        return CLI_NOTFOUND;
    }

    if (cancel) {
        r = cli_cmd(cli, "HDEL %sdrain %d", cli->prefix, id);
        if (!cli_reply_ok(r, REDIS_REPLY_INTEGER)) {
            freeReplyObject(r);
            return cli_fail(cli);
        }
        rc = (int) r->integer;
        freeReplyObject(r);
        freeReplyObject(cli_cmd(cli, "DEL %sdrain:%d", cli->prefix, id));
        if (cli->json) {
            printf("{\"node\":");
            cli_json_str(name, strlen(name));
            printf(",\"id\":%d,\"cancelled\":%s}\n", id,
                   rc ? "true" : "false");
        } else {
            printf(rc ? "node %s (%d): drain cancelled, its copies count "
                   "again\n" : "node %s (%d) was not draining\n", name, id);
        }
        return CLI_OK;
    }

    /* the first request's time stays: asking again changes nothing */
    r = cli_cmd(cli, "HSETNX %sdrain %d %lld", cli->prefix, id,
                (long long) time(NULL));
    if (!cli_reply_ok(r, REDIS_REPLY_INTEGER)) {
        freeReplyObject(r);
        return cli_fail(cli);
    }
    freeReplyObject(r);

    tty = !cli->json && isatty(STDOUT_FILENO);

    for ( ;; ) {
        rc = drain_read(cli, id, &ds);
        if (rc != CLI_OK) {
            return rc;
        }
        if (ds.since == 0) {
            if (tty) {
                printf("\n");
            }
            fprintf(stderr, "fsdfs: the drain of %s was cancelled\n", name);
            return CLI_ERROR;
        }
        if (ds.published && ds.files > total) {
            total = ds.files;
        }

        if (cli->json) {
            drain_json(name, id, &ds);
        } else {
            drain_text(name, id, &ds, total, tty && wait);
        }

        if (!wait || (ds.published && ds.files == 0)) {
            break;
        }
        sleep(1);
    }

    if (tty && wait) {
        printf("\n");
    }
    return CLI_OK;
}
