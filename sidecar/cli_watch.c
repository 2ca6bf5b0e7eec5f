/*
 * fsdfs watch: the replication figures refreshed in place, with progress
 * toward min(K-N) >= 0. Progress is counted in missing copies, the sum of
 * |K-N| x files over the negative buckets of fsdfs:kn: one pull repairs
 * one copy, so the figure falls steadily while the master works and its
 * rate over the last seconds gives an honest ETA. A file with K-N = -2
 * needs two pulls; counting files would hide that.
 *
 * Watch outlives Redis: once connected, a lost connection becomes a frame
 * saying "redis unreachable" and the next frame reconnects. Only a Redis
 * that never answered makes it fail (exit 3), like every other command.
 */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"


/* the rate is measured over this much history, at least two frames */
#define WATCH_WINDOW_MS  10000
#define WATCH_BAR        20


typedef struct {
    long long  ms;
    long long  missing;
} watch_sample_t;


typedef struct {
    double           interval;   /* seconds */
    long long        count;      /* frames, 0: until interrupted */
    int              tty;

    watch_sample_t  *ring;       /* last samples, oldest at head */
    size_t           cap;
    size_t           head;
    size_t           n;
    long long        worst;      /* most missing copies seen: the 0% mark */
} watch_t;


typedef struct {
    long long  kn;
    long long  files;
} watch_kn_t;


/* One frame's reading of Redis. */
typedef struct {
    redisReply  *stats;          /* HGETALL stats */
    redisReply  *kn;             /* HGETALL kn */
    redisReply  *master;         /* GET master */
    watch_kn_t  *hist;           /* the valid kn fields, by K-N */
    size_t       nkn;
    long long    missing;        /* -1: no histogram */
} watch_frame_t;


static volatile sig_atomic_t  watch_stop;


static void
watch_signal(int sig)
{
    (void) sig;
    watch_stop = 1;
}


/* A decimal integer, possibly negative, and nothing else. */
static int
watch_is_int(const char *s)
{
    if (s == NULL) {
        return 0;
    }

    if (*s == '-') {
        s++;
    }

    return *s && strspn(s, "0123456789") == strlen(s) && strlen(s) < 19;
}


static const char *
watch_stat(const watch_frame_t *f, const char *name)
{
    size_t  i;

    for (i = 0; f->stats && i + 1 < f->stats->elements; i += 2) {
        if (strcmp(f->stats->element[i]->str, name) == 0) {
            return f->stats->element[i + 1]->str;
        }
    }

    return NULL;
}


static int
watch_kn_cmp(const void *a, const void *b)
{
    long long  x = ((const watch_kn_t *) a)->kn;
    long long  y = ((const watch_kn_t *) b)->kn;

    return (x > y) - (x < y);
}


static void
watch_frame_free(watch_frame_t *f)
{
    freeReplyObject(f->stats);
    freeReplyObject(f->kn);
    freeReplyObject(f->master);
    free(f->hist);
    memset(f, 0, sizeof(*f));
}


/* Reads one frame; 0, or -1 when Redis did not answer. */
static int
watch_load(cli_t *cli, watch_frame_t *f)
{
    size_t     i;
    long long  kn, files;

    memset(f, 0, sizeof(*f));
    f->missing = -1;

    f->stats = cli_cmd(cli, "HGETALL %sstats", cli->prefix);
    f->kn = cli_cmd(cli, "HGETALL %skn", cli->prefix);
    f->master = cli_cmd(cli, "GET %smaster", cli->prefix);

    if (!cli_reply_ok(f->stats, REDIS_REPLY_ARRAY)
        || !cli_reply_ok(f->kn, REDIS_REPLY_ARRAY)
        || !cli_reply_ok(f->master, 0))
    {
        watch_frame_free(f);
        return -1;
    }

    f->hist = calloc(f->kn->elements / 2 + 1, sizeof(watch_kn_t));
    if (f->hist == NULL) {
        watch_frame_free(f);
        return -1;
    }

    /* an empty histogram is "no figures", not "nothing missing" */
    for (i = 0; i + 1 < f->kn->elements; i += 2) {
        if (!watch_is_int(f->kn->element[i]->str)
            || !watch_is_int(f->kn->element[i + 1]->str))
        {
            continue;
        }

        kn = atoll(f->kn->element[i]->str);
        files = atoll(f->kn->element[i + 1]->str);
        f->hist[f->nkn++] = (watch_kn_t) { kn, files };
        if (f->missing < 0) {
            f->missing = 0;
        }
        if (kn < 0 && files > 0) {
            f->missing += -kn * files;
        }
    }

    qsort(f->hist, f->nkn, sizeof(watch_kn_t), watch_kn_cmp);
    return 0;
}


/* Progress bookkeeping ----------------------------------------------------- */

static void
watch_sample(watch_t *w, long long ms, long long missing)
{
    if (missing < 0) {
        return;
    }

    if (missing > w->worst) {
        w->worst = missing;
    }

    if (w->n == w->cap) {
        w->head = (w->head + 1) % w->cap;
        w->n--;
    }

    w->ring[(w->head + w->n) % w->cap] = (watch_sample_t) { ms, missing };
    w->n++;
}


/*
 * Copies repaired per second over the window, into *rate; 0 if there is
 * no rate yet (fewer than two samples, or no time between them).
 */
static int
watch_rate(const watch_t *w, double *rate)
{
    size_t                 i;
    const watch_sample_t  *last, *first;

    if (w->n < 2) {
        return 0;
    }

    last = &w->ring[(w->head + w->n - 1) % w->cap];

    /* the oldest sample still inside the window */
    for (i = 0; i < w->n - 1; i++) {
        first = &w->ring[(w->head + i) % w->cap];
        if (last->ms - first->ms <= WATCH_WINDOW_MS) {
            break;
        }
    }

    first = &w->ring[(w->head + i) % w->cap];
    if (last->ms <= first->ms) {
        return 0;
    }

    *rate = (double) (first->missing - last->missing) * 1000
            / (double) (last->ms - first->ms);
    return 1;
}


typedef struct {
    const char  *state;    /* converged, measuring, no progress, eta, ... */
    double       rate;
    int          has_rate;
    double       eta;      /* seconds, valid when state is "eta" */
} watch_progress_t;


static void
watch_progress(const watch_t *w, long long missing, watch_progress_t *p)
{
    memset(p, 0, sizeof(*p));
    p->has_rate = watch_rate(w, &p->rate);

    if (missing < 0) {
        p->state = "no figures";
    } else if (missing == 0) {
        p->state = "converged";
    } else if (!p->has_rate) {
        p->state = "measuring";
    } else if (p->rate <= 0) {
        p->state = "no progress";
    } else {
        p->state = "eta";
        p->eta = (double) missing / p->rate;
    }
}


/* Output ------------------------------------------------------------------- */

static void
watch_json_int(const char *s)
{
    if (watch_is_int(s)) {
        printf("%lld", atoll(s));
    } else {
        printf("null");
    }
}


static void
watch_json(const cli_t *cli, const watch_t *w, long long frame, long long ms,
    const watch_frame_t *f)
{
    size_t             i;
    const char        *m, *colon;
    watch_progress_t   p;
    static const char *fields[] = {
        "min_kn", "under", "lost", "files", "pulls_inflight", "pulls_done",
        "pulls_failed", "nodes_live", NULL
    };

    (void) cli;
    printf("{\"frame\":%lld,\"time\":%.3f", frame, (double) ms / 1000);

    if (f == NULL) {
        printf(",\"redis\":false,\"error\":\"redis unreachable\"}\n");
        return;
    }

    printf(",\"redis\":true");

    m = (f->master->type == REDIS_REPLY_STRING) ? f->master->str : NULL;
    if (m == NULL) {
        printf(",\"master\":null,\"epoch\":null");
    } else {
        colon = strrchr(m, ':');
        printf(",\"master\":");
        cli_json_str(m, colon ? (size_t) (colon - m) : strlen(m));
        printf(",\"epoch\":");
        watch_json_int(colon ? colon + 1 : NULL);
    }

    for (i = 0; fields[i]; i++) {
        printf(",\"%s\":", fields[i]);
        watch_json_int(watch_stat(f, fields[i]));
    }

    printf(",\"kn\":{");
    for (i = 0; i < f->nkn; i++) {
        printf("%s\"%lld\":%lld", i ? "," : "", f->hist[i].kn,
               f->hist[i].files);
    }
    printf("}");

    watch_progress(w, f->missing, &p);

    if (f->missing < 0) {
        printf(",\"missing\":null,\"worst\":null,\"progress\":null");
    } else {
        printf(",\"missing\":%lld,\"worst\":%lld,\"progress\":%.4f", f->missing,
               w->worst, w->worst ? 1 - (double) f->missing / w->worst : 1.0);
    }

    printf(",\"state\":\"%s\",\"rate\":", p.state);
    if (p.has_rate) {
        printf("%.3f", p.rate);
    } else {
        printf("null");
    }

    printf(",\"eta_s\":");
    if (strcmp(p.state, "eta") == 0) {
        printf("%.1f", p.eta);
    } else {
        printf("null");
    }

    printf("}\n");
}


static const char *
watch_or(const watch_frame_t *f, const char *name)
{
    const char  *v = watch_stat(f, name);

    return v ? v : "-";
}


static void
watch_text(const cli_t *cli, const watch_t *w, long long frame, long long ms,
    const watch_frame_t *f)
{
    int               fill;
    char              when[32], bar[WATCH_BAR + 1];
    size_t            i;
    time_t            t = (time_t) (ms / 1000);
    struct tm         tm;
    const char       *m, *colon;
    watch_progress_t  p;

    if (w->tty) {
        /* home and clear: the frame replaces the last one */
        printf("\033[H\033[2J");
    } else if (frame > 1) {
        printf("\n");
    }

    localtime_r(&t, &tm);
    strftime(when, sizeof(when), "%H:%M:%S", &tm);
    printf("fsdfs watch  %s  every %.1f s  %s\n", when, w->interval,
           cli->addr);

    if (f == NULL) {
        printf("redis unreachable, retrying\n");
        return;
    }

    m = (f->master->type == REDIS_REPLY_STRING) ? f->master->str : NULL;
    if (m == NULL) {
        printf("master   none (no lease: fsdfsd not running)\n");
    } else {
        colon = strrchr(m, ':');
        printf("master   %.*s, epoch %s\n",
               (int) (colon ? colon - m : (long) strlen(m)), m,
               colon ? colon + 1 : "?");
    }

    printf("min(K-N) %s, under N %s, lost %s, files %s\n",
           watch_or(f, "min_kn"), watch_or(f, "under"), watch_or(f, "lost"),
           watch_or(f, "files"));
    printf("pulls    %s in flight, %s done, %s failed\n",
           watch_or(f, "pulls_inflight"), watch_or(f, "pulls_done"),
           watch_or(f, "pulls_failed"));

    printf("K-N     ");
    for (i = 0; i < f->nkn; i++) {
        printf(" %+lld:%lld", f->hist[i].kn, f->hist[i].files);
    }
    printf("%s\n", f->nkn ? "" : " no histogram yet");

    watch_progress(w, f->missing, &p);

    if (f->missing < 0) {
        printf("missing  - (no figures: is fsdfsd running?)\n");
        return;
    }

    fill = w->worst ? (int) ((w->worst - f->missing) * WATCH_BAR / w->worst)
                    : WATCH_BAR;
    memset(bar, '#', (size_t) fill);
    memset(bar + fill, '.', (size_t) (WATCH_BAR - fill));
    bar[WATCH_BAR] = '\0';

    printf("missing  %lld copies [%s] %lld of %lld repaired, ", f->missing,
           bar, w->worst - f->missing, w->worst);

    if (strcmp(p.state, "eta") == 0) {
        printf("%.1f copies/s, ETA %lld s\n", p.rate,
               (long long) (p.eta + 0.999));
    } else {
        printf("%s\n", p.state);
    }
}


/* Arguments ---------------------------------------------------------------- */

static int
watch_args(watch_t *w, cli_t *cli, int argc, char **argv)
{
    int    i;
    char  *end;

    w->interval = 1.0;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            cli->json = 1;

        } else if (strcmp(argv[i], "--interval") == 0 && i + 1 < argc) {
            errno = 0;
            w->interval = strtod(argv[++i], &end);
            if (*end || errno || !(w->interval >= 0.05)
                || w->interval > 3600)
            {
                fprintf(stderr, "fsdfs watch: invalid interval \"%s\", "
                        "expected seconds from 0.05 to 3600\n", argv[i]);
                return CLI_USAGE;
            }

        } else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc) {
            errno = 0;
            w->count = strtoll(argv[++i], &end, 10);
            if (*end || errno || w->count < 1) {
                fprintf(stderr, "fsdfs watch: invalid count \"%s\", "
                        "expected a number of frames from 1\n", argv[i]);
                return CLI_USAGE;
            }

        } else {
            fprintf(stderr, "fsdfs watch: unknown argument \"%s\"\n",
                    argv[i]);
            return CLI_USAGE;
        }
    }

    return CLI_OK;
}


/* Sleeps until the next frame is due; returns early on a signal. */
static void
watch_sleep(long long due_ms)
{
    long long        left;
    struct timespec  ts;

    left = due_ms - cli_now_ms();
    if (left <= 0 || watch_stop) {
        return;
    }

    ts.tv_sec = left / 1000;
    ts.tv_nsec = (left % 1000) * 1000000;
    nanosleep(&ts, NULL);
}


static void
watch_disconnect(cli_t *cli)
{
    if (cli->rc) {
        redisFree(cli->rc);
        cli->rc = NULL;
    }
}


int
cli_watch(cli_t *cli, int argc, char **argv)
{
    int               rc;
    long long         frame, ms, due;
    watch_t           w;
    watch_frame_t     f;
    struct sigaction  sa;
    struct timeval    tv;

    memset(&w, 0, sizeof(w));
    rc = watch_args(&w, cli, argc, argv);
    if (rc != CLI_OK) {
        return rc;
    }

    rc = cli_connect(cli);
    if (rc != CLI_OK) {
        return rc;
    }

    w.tty = !cli->json && isatty(STDOUT_FILENO);
    w.cap = (size_t) (WATCH_WINDOW_MS / (w.interval * 1000)) + 2;
    w.ring = calloc(w.cap, sizeof(watch_sample_t));
    if (w.ring == NULL) {
        return CLI_ERROR;
    }

    /* no SA_RESTART: Ctrl-C cuts the sleep short and ends the loop */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = watch_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    /* a frozen Redis must not freeze the screen: each reply gets a
     * deadline, and a frame that misses it counts as Redis gone */
    tv.tv_sec = (long) w.interval + 1;
    tv.tv_usec = 0;
    cli->quiet = 1;

    due = cli_now_ms();

    for (frame = 1; !watch_stop && (w.count == 0 || frame <= w.count);
         frame++)
    {
        if (cli->rc == NULL && cli_connect(cli) != CLI_OK) {
            watch_disconnect(cli);
        }

        if (cli->rc) {
            redisSetTimeout(cli->rc, tv);
        }

        ms = cli_now_ms();

        if (cli->rc && watch_load(cli, &f) == 0) {
            watch_sample(&w, ms, f.missing);
            if (cli->json) {
                watch_json(cli, &w, frame, ms, &f);
            } else {
                watch_text(cli, &w, frame, ms, &f);
            }
            watch_frame_free(&f);

        } else {
            /* the next frame starts with a fresh connection */
            watch_disconnect(cli);
            if (cli->json) {
                watch_json(cli, &w, frame, ms, NULL);
            } else {
                watch_text(cli, &w, frame, ms, NULL);
            }
        }

        fflush(stdout);

        if (w.count && frame == w.count) {
            break;
        }

        due += (long long) (w.interval * 1000);
        if (due < cli_now_ms()) {
            /* a slow frame: keep the interval, skip the missed ticks */
            due = cli_now_ms() + (long long) (w.interval * 1000);
        }
        watch_sleep(due);
    }

    free(w.ring);
    return CLI_OK;
}
