/*
 * Planner benchmark: a synthetic cluster of 100 nodes and 1M / 10M files
 * (45-byte paths, 1-10 MB, one to three holders, default N=3), loaded into
 * the planner and then planned against for about a second, with up to 128
 * moves in flight that complete oldest first, as the executor would. The
 * quotas leave room for about four copies of everything, so the run covers
 * repair (K<N), filling past N, and evictions once nodes are full.
 *
 *   bench/planner [files ...]       default: 1000000 10000000
 *
 * Prints load rate, memory per file besides the path bytes, decisions per
 * second, and each one's ratio to its goal (issue 3: >= 1M decisions/s,
 * <= 128 bytes/file; the index load at takeover >= 200k files/s, of which
 * this is the in-memory part).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "planner.h"


#define NODES     100
#define WINDOW    128
#define MB        (1024ull * 1024)


static double
now_s(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}


static long
rss_kb(void)
{
    FILE  *f = fopen("/proc/self/status", "r");
    char   line[256];
    long   kb = -1;

    while (f != NULL && fgets(line, sizeof(line), f)) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kb = atol(line + 6);
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    return kb;
}


static uint64_t
rnd(uint64_t *s)
{
    /* xorshift64*: enough for synthetic data, the same every run */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545f4914f6cdd1dull;
}


typedef struct {
    uint64_t  decisions, evictions, empty, calls;
    double    secs;
} phase_t;


/* Plans for about a second, or until nothing is left to plan, with a
 * window of moves in flight, completing the oldest when the window is full
 * or the planner has nothing more for now. */
static void
plan(planner_t *p, phase_t *ph)
{
    planner_move_t  win[WINDOW];
    unsigned        head = 0, used = 0, j;
    double          t0 = now_s();
    planner_move_t *m;

    memset(ph, 0, sizeof(*ph));
    do {
        for (j = 0; j < 4096; j++) {
            if (used < WINDOW) {
                m = &win[(head + used) % WINDOW];
                ph->calls++;
                if (planner_next(p, ph->calls, m)) {
                    ph->evictions += m->evict != PLANNER_NOFILE;
                    ph->decisions++;
                    used++;
                    continue;
                }
                ph->empty++;
                if (used == 0) {
                    ph->secs = now_s() - t0;
                    return;
                }
            }
            if (used) {
                planner_dropped(p, &win[head], 1);
                planner_done(p, &win[head], 1);
                head = (head + 1) % WINDOW;
                used--;
            }
        }
        ph->secs = now_s() - t0;
    } while (ph->secs < 1.0);
    while (used) {
        planner_dropped(p, &win[head], 1);
        planner_done(p, &win[head], 1);
        head = (head + 1) % WINDOW;
        used--;
    }
}


static void
report(const char *what, const phase_t *ph, const planner_stats_t *a,
    const planner_stats_t *b)
{
    printf("  %-9s %.0f decisions/s (goal 1000000: ratio %.2f): %llu in "
           "%.2f s%s, %llu evictions; %llu empty calls\n",
           what, ph->decisions / ph->secs, ph->decisions / ph->secs / 1e6,
           (unsigned long long) ph->decisions, ph->secs,
           ph->secs < 1.0 ? " (all done)" : "",
           (unsigned long long) ph->evictions,
           (unsigned long long) ph->empty);
    printf("  %-9s min K-N %d -> %d, under %llu -> %llu, lost %llu\n", "",
           a->min_kn, b->min_kn, (unsigned long long) a->under,
           (unsigned long long) b->under, (unsigned long long) b->lost);
}


static int
run(unsigned long files)
{
    planner_t            *p = planner_new(3);
    planner_stats_t       st0, st;
    planner_node_info_t   in;
    phase_t               ph;
    uint64_t              seed = 42, size, total = 0, mem, paths;
    uint16_t              h[3];
    unsigned              nh, id, j;
    unsigned long         i;
    char                  path[64];
    int                   len;
    double                t0, t_load, t_dead, t_n;
    long                  rss0;

    if (p == NULL) {
        return -1;
    }
    for (id = 1; id <= NODES; id++) {
        planner_node_state(p, id, PLANNER_LIVE);
        planner_node_load(p, id, id % 7);
    }
    rss0 = rss_kb();
    t0 = now_s();
    for (i = 0; i < files; i++) {
        size = MB + rnd(&seed) % (9 * MB);
        nh = 1 + rnd(&seed) % 3;
        h[0] = 1 + rnd(&seed) % NODES;
        for (j = 1; j < nh; j++) {
            h[j] = 1 + (h[j - 1] + rnd(&seed) % (NODES - 1)) % NODES;
        }
        len = snprintf(path, sizeof(path),
                       "/music/artist%05lu/album%03lu/%010lu.mp3",
                       i / 1000 % 100000, i % 1000 / 10, i);
        if (planner_file_add(p, path, len, size, i, 0, h, nh)
            == PLANNER_NOFILE)
        {
            fprintf(stderr, "add %s failed\n", path);
            return -1;
        }
        total += size;
    }
    t_load = now_s() - t0;
    planner_mem(p, &mem, &paths);

    printf("planner: %lu files x %d nodes\n", files, NODES);
    printf("  load      %.2f s, %.0f files/s (goal 200000: ratio %.2f)\n",
           t_load, files / t_load, files / t_load / 200000);
    printf("  memory    %.1f bytes/file besides paths (goal <= 128: "
           "ratio %.2f), paths %.1f MB, rss %.0f MB\n",
           (double) (mem - paths) / files,
           128.0 / ((double) (mem - paths) / files),
           paths / 1048576.0, (rss_kb() - rss0) / 1024.0);

    /* roomy: quotas for about four copies of everything */
    planner_set_reserve(p, 0, 100);
    for (id = 1; id <= NODES; id++) {
        planner_node_space(p, id, total * 4 / NODES, PLANNER_DISK_UNKNOWN);
    }
    planner_stats(p, &st0);
    plan(p, &ph);
    planner_stats(p, &st);
    report("roomy", &ph, &st0, &st);

    /* full: every quota at what the node holds plus the 1% reserve, then
     * ten nodes die; their files can only heal by evicting surplus copies
     * (a first call parks the files left without a live copy) */
    for (id = 1; id <= NODES; id++) {
        planner_node_info(p, id, &in);
        planner_node_space(p, id, in.copy_bytes / 99 * 100,
                           PLANNER_DISK_UNKNOWN);
    }
    /* N 2 instead of 3, so that the 10M run, which cannot reach N=3 in
     * its second of roomy planning, has surplus copies to evict too */
    t0 = now_s();
    planner_set_default_n(p, 2);
    t_n = now_s() - t0;
    t0 = now_s();
    for (id = 1; id <= 10; id++) {
        planner_node_state(p, id, PLANNER_DEAD);
    }
    t_dead = (now_s() - t0) / 10;
    planner_stats(p, &st0);
    plan(p, &ph);
    planner_stats(p, &st);
    report("full+dead", &ph, &st0, &st);
    printf("  re-counts (scan every file): node dead %.0f ms, default N "
           "%.0f ms\n", t_dead * 1000, t_n * 1000);
    fflush(stdout);
    planner_free(p);
    return 0;
}


int
main(int argc, char **argv)
{
    int  i;

    if (argc < 2) {
        return run(1000000) || run(10000000);
    }
    for (i = 1; i < argc; i++) {
        if (run(strtoul(argv[i], NULL, 10)) != 0) {
            return 1;
        }
    }
    return 0;
}
