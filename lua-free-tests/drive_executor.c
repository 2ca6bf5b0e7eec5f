/*
 * A driver for executor.t: feeds the executor commands read from stdin
 * and prints one line per completion, so a Perl test can point it at real
 * HTTP servers (nginx, a silent socket, a closed port) and check what
 * came back. The executor is driven exactly as fsdfsd drives it: one
 * executor_run() loop, completions by callback.
 *
 *   drive_executor -k SECRET_FILE [-t PULL_MS] [-d DROP_MS] [-c CONNECT_MS]
 *                  [-e EPOCH] [-s] < commands
 *
 * Commands, one per line, fields separated by tabs:
 *
 *   pull URL PATH FROM SIZE SUM_HEX
 *   drop URL PATH
 *
 * Output, tab-separated: for each completion
 *
 *   done ID OP OUTCOME STATUS CURL_ERR MS BODY_LEN CUT BODY
 *
 * (ID is the command's line number from 0, BODY with tabs and newlines
 * made spaces), "refused ID" for a command the executor would not send,
 * and last "end COMPLETED MAX_INFLIGHT". -s sends one command at a time,
 * waiting for each (connection reuse shows in the server's log). -x
 * drives the loop the other way, executor_wait() on a pipe of its own
 * plus executor_complete(), and first checks that executor_wakeup() and
 * a ready extra descriptor cut a long wait short ("wakeup MS",
 * "extra READY REVENTS MS").
 */

#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsdfs_sign.h"
#include "executor.h"
#include "log.h"


#define DRIVE_MAX_CMDS  10000

typedef struct {
    unsigned  completed;
} drive_t;


static void
drive_done(const executor_result_t *r, void *ctx)
{
    char      *p, body[EXECUTOR_BODY_MAX + 1];
    drive_t   *d;

    d = ctx;
    d->completed++;

    memcpy(body, r->body, r->body_len + 1);
    for (p = body; *p; p++) {
        if (*p == '\t' || *p == '\n' || *p == '\r') {
            *p = ' ';
        }
    }

    printf("done\t%lu\t%s\t%s\t%ld\t%d\t%ld\t%zu\t%d\t%s\n",
           (unsigned long) (uintptr_t) r->token, executor_op_name(r->op),
           executor_outcome_name(r->outcome), r->status, r->curl_err, r->ms,
           r->body_len, r->body_cut, body);
    fflush(stdout);
}


/* Splits line on tabs in place; returns the number of fields. */
static int
drive_fields(char *line, char **f, int max)
{
    int    n;
    char  *p;

    line[strcspn(line, "\r\n")] = '\0';

    for (n = 0, p = line; n < max; n++) {
        f[n] = p;
        p = strchr(p, '\t');
        if (p == NULL) {
            return n + 1;
        }
        *p++ = '\0';
    }

    return n;
}


static int
drive_send(executor_t *ex, char *line, unsigned long id, uint64_t epoch)
{
    int    n;
    char  *f[8];
    void  *token;

    n = drive_fields(line, f, 8);
    token = (void *) (uintptr_t) id;

    if (n == 6 && strcmp(f[0], "pull") == 0) {
        return executor_pull(ex, f[1], f[2],
                             (unsigned) strtoul(f[3], NULL, 10),
                             strtoull(f[4], NULL, 10),
                             strtoull(f[5], NULL, 16), epoch, token);
    }

    if (n == 3 && strcmp(f[0], "drop") == 0) {
        return executor_drop(ex, f[1], f[2], epoch, token);
    }

    fsd_log(FSD_LOG_ERROR, "line %lu: cannot parse", id);
    return -1;
}


static long
drive_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


static int  drive_pipe[2] = { -1, -1 };


static int
drive_drain(executor_t *ex, drive_t *d, unsigned limit, unsigned *max)
{
    struct curl_waitfd  wfd;

    while (executor_inflight(ex) > limit) {
        if (executor_inflight(ex) > *max) {
            *max = executor_inflight(ex);
        }

        if (drive_pipe[0] == -1) {
            if (executor_run(ex, 1000, drive_done, d) < 0) {
                fsd_log(FSD_LOG_ERROR, "executor_run failed");
                return -1;
            }
            continue;
        }

        wfd = (struct curl_waitfd) { drive_pipe[0], CURL_WAIT_POLLIN, 0 };

        if (executor_wait(ex, &wfd, 1, 1000) < 0
            || executor_complete(ex, drive_done, d) < 0)
        {
            fsd_log(FSD_LOG_ERROR, "executor_wait/complete failed");
            return -1;
        }
    }

    return 0;
}


/* The event-loop hooks, timed against a 5 s wait that must not last. */
static int
drive_hooks(executor_t *ex)
{
    int                 n;
    long                t0;
    struct curl_waitfd  wfd;

    if (pipe(drive_pipe) != 0) {
        return -1;
    }

    executor_wakeup(ex);
    t0 = drive_ms();
    n = executor_wait(ex, NULL, 0, 5000);
    printf("wakeup\t%ld\n", drive_ms() - t0);

    if (n < 0 || write(drive_pipe[1], "x", 1) != 1) {
        return -1;
    }

    wfd = (struct curl_waitfd) { drive_pipe[0], CURL_WAIT_POLLIN, 0 };
    t0 = drive_ms();
    n = executor_wait(ex, &wfd, 1, 5000);
    printf("extra\t%d\t%d\t%ld\n", n, (int) wfd.revents, drive_ms() - t0);
    fflush(stdout);

    /* Left readable: the loop that follows must not spin on it forever,
     * only return early each time. */
    return n < 0 ? -1 : 0;
}


int
main(int argc, char **argv)
{
    int            c, seq, hooks;
    long           pull_ms, drop_ms, connect_ms;
    char           line[8192];
    size_t         keylen;
    drive_t        d;
    uint64_t       epoch;
    unsigned       max;
    const char    *secret, *err;
    executor_t    *ex;
    unsigned long  id;
    unsigned char  key[1024];

    secret = NULL;
    pull_ms = 5000;
    drop_ms = 0;
    connect_ms = 0;
    epoch = 1;
    seq = 0;

    hooks = 0;

    while ((c = getopt(argc, argv, "k:t:d:c:e:sx")) != -1) {
        switch (c) {
        case 'k': secret = optarg; break;
        case 't': pull_ms = strtol(optarg, NULL, 10); break;
        case 'd': drop_ms = strtol(optarg, NULL, 10); break;
        case 'c': connect_ms = strtol(optarg, NULL, 10); break;
        case 'e': epoch = strtoull(optarg, NULL, 10); break;
        case 's': seq = 1; break;
        case 'x': hooks = 1; break;
        default:
            return 2;
        }
    }

    if (secret == NULL) {
        fsd_log(FSD_LOG_ERROR, "usage: drive_executor -k SECRET_FILE ...");
        return 2;
    }

    if (fsdfs_secret_load(secret, key, sizeof(key), &keylen, &err) != 0) {
        fsd_log(FSD_LOG_ERROR, "%s: %s", secret, err);
        return 1;
    }

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fsd_log(FSD_LOG_ERROR, "curl_global_init failed");
        return 1;
    }

    ex = executor_new(key, keylen, pull_ms);
    if (ex == NULL) {
        fsd_log(FSD_LOG_ERROR, "executor_new failed");
        return 1;
    }

    executor_set_timeouts(ex, 0, drop_ms, connect_ms);

    d.completed = 0;
    max = 0;

    if (hooks && drive_hooks(ex) != 0) {
        fsd_log(FSD_LOG_ERROR, "event loop hooks failed");
        return 1;
    }

    for (id = 0; id < DRIVE_MAX_CMDS && fgets(line, sizeof(line), stdin);
         id++)
    {
        if (drive_send(ex, line, id, epoch) != 0) {
            printf("refused\t%lu\n", id);
            fflush(stdout);
            continue;
        }

        if (seq && drive_drain(ex, &d, 0, &max) != 0) {
            return 1;
        }
    }

    if (drive_drain(ex, &d, 0, &max) != 0) {
        return 1;
    }

    printf("end\t%u\t%u\n", d.completed, max);

    executor_free(ex);
    curl_global_cleanup();
    fsd_log(FSD_LOG_INFO, "driver: %u completed", d.completed);

    return 0;
}
