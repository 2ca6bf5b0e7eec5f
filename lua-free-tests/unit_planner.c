/*
 * The replication planner, driven as the daemon drives it but without
 * Redis or HTTP: nodes and files in, moves out, outcomes back. Each block
 * is one rule of DESIGN §6 and issue 3, set up so that breaking the rule
 * changes the move (or its absence) the test sees.
 */

#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "planner.h"


#define MB  (1024ull * 1024)


static planner_t *
cluster(unsigned nodes, uint64_t quota)
{
    planner_t  *p = planner_new(3);
    unsigned    id;

    planner_set_limits(p, 100, 100);
    for (id = 1; id <= nodes; id++) {
        planner_node_state(p, id, PLANNER_LIVE);
        planner_node_space(p, id, quota, PLANNER_DISK_UNKNOWN);
    }
    return p;
}


static planner_file_t
add(planner_t *p, const char *path, uint64_t size, unsigned n,
    const uint16_t *h, unsigned nh)
{
    return planner_file_add(p, path, strlen(path), size, 0x1234, n, h, nh);
}


static uint64_t
used(planner_t *p, unsigned id)
{
    planner_node_info_t  in;

    planner_node_info(p, id, &in);
    return in.copy_bytes + in.reserved + in.dropping;
}


static int
holds(planner_t *p, planner_file_t f, unsigned id)
{
    uint16_t  h[PLANNER_MAX_HOLDERS];
    unsigned  i, n;

    n = planner_file_holders(p, f, h, PLANNER_MAX_HOLDERS);
    for (i = 0; i < n; i++) {
        if (h[i] == id) {
            return 1;
        }
    }
    return 0;
}


/* Runs moves to completion until none is left; returns how many. */
static int
settle(planner_t *p, int max)
{
    planner_move_t  m;
    int             n = 0;

    while (n < max && planner_next(p, 0, &m)) {
        planner_dropped(p, &m, 1);
        planner_done(p, &m, 1);
        n++;
    }
    return n;
}


static void
test_order(void)
{
    planner_t       *p = cluster(5, 100 * MB);
    uint16_t         h1[] = { 1 }, h2[] = { 1, 2 }, h3[] = { 1, 2, 3 };
    planner_file_t   a, b, c;
    planner_move_t   m;
    planner_stats_t  st;
    int              it = 0, kn;
    uint64_t         cnt;

    c = add(p, "/c.mp3", MB, 0, h3, 3);
    b = add(p, "/b.mp3", MB, 0, h2, 2);
    a = add(p, "/a.mp3", MB, 0, h1, 1);
    is_int(planner_file_kn(p, a), -2, "one holder of 3: K-N -2");
    is_int(planner_file_kn(p, c), 0, "three of 3: K-N 0");
    is_int(planner_file_find(p, "/b.mp3", 6), b, "lookup by path");
    is_int(planner_file_find(p, "/zz.mp3", 7), PLANNER_NOFILE,
           "unknown path: none");
    ok(add(p, "/b.mp3", MB, 0, h1, 1) == PLANNER_NOFILE,
       "adding a known path fails");

    planner_stats(p, &st);
    is_int(st.min_kn, -2, "stats: min K-N");
    is_int(st.under, 2, "stats: two files under N");
    is_int(st.files, 3, "stats: three files");
    is_int(st.bytes, 3 * MB, "stats: bytes");
    ok(planner_kn_next(p, &it, &kn, &cnt) && kn == -2 && cnt == 1,
       "histogram starts at -2 with one file");
    ok(planner_kn_next(p, &it, &kn, &cnt) && kn == -1 && cnt == 1
       && planner_kn_next(p, &it, &kn, &cnt) && kn == 0 && cnt == 1
       && !planner_kn_next(p, &it, &kn, &cnt), "then -1, 0, end");

    ok(planner_next(p, 0, &m) && m.file == a, "neediest file first (K-N -2)");
    is_int(m.src, 1, "source: its only holder");
    ok(m.dst != 1 && m.evict == PLANNER_NOFILE, "target lacks it, no eviction");
    ok(planner_file_inflight(p, a), "file marked in flight");
    ok(planner_next(p, 0, &m) && m.file == b,
       "file with a pull in flight skipped: next is K-N -1");
    planner_done(p, &m, 1);
    is_int(planner_file_kn(p, b), 0, "done ok: holder added, K-N 0");
    ok(planner_next(p, 0, &m) && m.file != a,
       "a still in flight is never handed out twice");
    planner_done(p, &m, 0);
    planner_free(p);
}


static void
test_quota_and_fill(void)
{
    planner_t          *p = cluster(4, 10 * MB);
    planner_move_t      mv[64];
    planner_stats_t     st;
    planner_node_info_t in, in3, in4;
    uint16_t            h[] = { 1 };
    char                path[32];
    int                 i, n, total, over = 0;
    unsigned            id;

    planner_set_reserve(p, MB, 0);
    for (i = 0; i < 6; i++) {
        snprintf(path, sizeof(path), "/f%d.mp3", i);
        add(p, path, MB, 1, h, 1);
    }
    /* node 1 holds 6 MB of 9 usable; others may take 9 files of 1 MB
     * each but there are only 6 files: each file can reach K=4 */
    /* one pull per file at a time: rounds of six */
    n = 0;
    total = 0;
    do {
        n = 0;
        while (n < 64 && planner_next(p, 0, &mv[n])) {
            for (id = 1; id <= 4; id++) {
                over |= used(p, id) > 9 * MB;
            }
            n++;
        }
        if (total == 0) {
            is_int(n, 6, "one pull per file in flight");
            planner_node_info(p, 2, &in);
            planner_node_info(p, 3, &in3);
            planner_node_info(p, 4, &in4);
            is_int(in.reserved + in3.reserved + in4.reserved, 6 * MB,
                   "in-flight bytes reserved on the targets");
            ok(in.reserved == 2 * MB && in4.reserved == 2 * MB,
               "spread by most room");
        }
        for (i = 0; i < n; i++) {
            planner_done(p, &mv[i], 1);
        }
        total += n;
    } while (n);
    ok(!over, "reservations in flight never pass quota minus reserve");
    is_int(total, 18, "every file copied to every other node (6 x 3)");
    planner_stats(p, &st);
    is_int(st.min_kn, 3, "filled past N=1: min K-N rose to 3");
    planner_node_info(p, 2, &in);
    ok(in.reserved == 0 && in.copy_bytes == 6 * MB, "reservations released");
    planner_free(p);

    /* a quota too small: 2 files of 4 MB on 10 MB minus 1 MB reserve */
    p = cluster(2, 10 * MB);
    planner_set_reserve(p, MB, 0);
    for (i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "/g%d.mp3", i);
        add(p, path, 4 * MB, 2, h, 1);
    }
    is_int(settle(p, 10), 2, "only 2 of 3 fit the target's quota");
    ok(used(p, 2) <= 9 * MB, "node 2 within quota minus reserve");
    planner_free(p);

    /* the boundary, to the byte: room 4 MB takes 4 MB, not 4 MB + 1 */
    p = cluster(2, 10 * MB);
    add(p, "/six", 6 * MB, 1, (const uint16_t[]) { 2 }, 1);
    add(p, "/over", 4 * MB + 1, 2, h, 1);
    is_int(settle(p, 10), 0, "one byte over the room: no move");
    add(p, "/exact", 4 * MB, 2, h, 1);
    is_int(settle(p, 10), 1, "exactly the room: moves");
    is_int(used(p, 2), 10 * MB, "node 2 exactly full");
    planner_free(p);

    /* percent reserve and the disk figure */
    p = cluster(2, 100 * MB);
    planner_set_reserve(p, 0, 1000);                 /* 10% */
    planner_node_space(p, 2, 100 * MB, 5 * MB);      /* the disk is tighter */
    add(p, "/d1.mp3", 4 * MB, 2, h, 1);
    add(p, "/d2.mp3", 4 * MB, 2, h, 1);
    is_int(settle(p, 10), 0, "disk free minus reserve (5-10 MB) takes none");
    planner_node_space(p, 2, 100 * MB, 20 * MB);
    is_int(settle(p, 10), 2, "room on disk: both go");
    planner_node_info(p, 2, &in);
    is_int(in.disk_free, 12 * MB, "completed pulls lower disk free at once");
    planner_free(p);
}


static void
test_eviction(void)
{
    planner_t       *p;
    planner_move_t   m;
    planner_file_t   big, small, x;
    uint16_t         all3[] = { 1, 2, 3 }, h1[] = { 1 }, h12[] = { 1, 2 };

    /* nodes 1..3 hold "big" (N=1, K=3, K-N +2); node 3 has no room left */
    p = cluster(3, 10 * MB);
    big = add(p, "/big.mp3", 8 * MB, 1, all3, 3);
    x = add(p, "/x.mp3", 3 * MB, 3, h12, 2);     /* K-N -1: needs node 3 */
    ok(planner_next(p, 0, &m) && m.file == x && m.dst == 3
       && m.evict == big, "no room: drops a copy with K-N >= this + 2");
    is_int(planner_file_k(p, big), 2, "evicted holder leaves K at once");
    ok(!holds(p, big, 3), "and the holder list");
    is_int(used(p, 3), 8 * MB, "dropped bytes stay booked until the drop");
    planner_dropped(p, &m, 1);
    is_int(used(p, 3), 3 * MB, "drop done: only the new copy is booked");
    planner_done(p, &m, 1);
    is_int(planner_file_kn(p, x), 0, "the needy file reached N");
    planner_free(p);

    /* +1 surplus is not enough */
    p = cluster(3, 10 * MB);
    big = add(p, "/big.mp3", 8 * MB, 2, all3, 3);   /* K-N +1 */
    x = add(p, "/x.mp3", 3 * MB, 2, h12, 2);        /* K-N 0, filling */
    ok(!planner_next(p, 0, &m), "K-N +1 over 0: no eviction...");
    planner_file_set_n(p, big, 1);                   /* now +2 */
    ok(planner_next(p, 0, &m) && m.evict == big, "...at +2 it may go");
    planner_done(p, &m, 0);                          /* drop never done */
    ok(holds(p, big, 3) && planner_file_k(p, big) == 3,
       "undone eviction puts the holder back");
    planner_free(p);

    /* never below N: K=3, N=2 over a file at -3 qualifies by +2 but would
     * be fine; N=3 victim at K-N 0 over -2 must stay */
    p = cluster(3, 10 * MB);
    big = add(p, "/big.mp3", 8 * MB, 3, all3, 3);   /* K-N 0 */
    x = add(p, "/x.mp3", 3 * MB, 5, h12, 2);        /* K-N -3 */
    ok(!planner_next(p, 0, &m), "never below N even when +3 above");
    planner_free(p);

    /* never the last copy: node 2 is full of a lone copy (K-N 0, N=1),
     * the file at -2 gets nothing */
    p = cluster(2, 10 * MB);
    small = add(p, "/one.mp3", 8 * MB, 1, h1, 1);
    x = add(p, "/x.mp3", 2 * MB, 3, h1, 1);
    add(p, "/fill.mp3", 9 * MB, 1, (const uint16_t[]) { 2 }, 1);
    ok(!planner_next(p, 0, &m), "the last copy of a file is never dropped");
    ok(holds(p, small, 1) && planner_file_k(p, small) == 1, "it stays");
    planner_free(p);

    /* failed drop: holder restored, move must end */
    p = cluster(3, 10 * MB);
    big = add(p, "/big.mp3", 8 * MB, 1, all3, 3);
    x = add(p, "/x.mp3", 3 * MB, 3, h12, 2);
    ok(planner_next(p, 0, &m) && m.evict == big, "evicting again");
    planner_dropped(p, &m, 0);
    ok(holds(p, big, 3) && used(p, 3) == 8 * MB,
       "failed drop: holder and bytes back");
    planner_done(p, &m, 0);
    ok(used(p, 3) == 8 * MB && !planner_file_inflight(p, x),
       "then the move ends clean");
    planner_free(p);
}


/* A file whose copy is being evicted is not planned back to the node that
 * drops it until the drop is settled: that node still has the bytes, the
 * pull would answer "already here" and make it a holder again, and the
 * drop that follows would delete the copy the index names. */
static void
test_evict_not_replanned(void)
{
    planner_t       *p;
    planner_move_t   m, m2;
    planner_file_t   big, x;
    uint16_t         all3[] = { 1, 2, 3 }, h12[] = { 1, 2 };

    p = cluster(3, 10 * MB);
    big = add(p, "/big.mp3", 8 * MB, 1, all3, 3);  /* K-N +2 */
    x = add(p, "/x.mp3", 3 * MB, 3, h12, 2);       /* K-N -1: needs node 3 */
    ok(planner_next(p, 0, &m) && m.file == x && m.dst == 3 && m.evict == big,
       "evict-replan: node 3 drops big for x");
    ok(!holds(p, big, 3) && planner_file_kn(p, big) == 1,
       "evict-replan: big at K-N +1, node 3 lacks it on paper");

    /* room for big on node 3 even with its dropping bytes booked (a
     * heartbeat with a larger quota): only the eviction keeps it out */
    planner_node_space(p, 3, 100 * MB, PLANNER_DISK_UNKNOWN);
    ok(!(planner_next(p, 0, &m2) && m2.file == big && m2.dst == 3),
       "evict-replan: no pull of big to node 3 before the drop settles");
    ok(!planner_next(p, 0, &m2), "evict-replan: nothing else to do");

    planner_dropped(p, &m, 1);
    ok(planner_next(p, 0, &m2) && m2.file == big && m2.dst == 3,
       "evict-replan: after the drop, big may go back to node 3");
    planner_done(p, &m2, 1);
    planner_done(p, &m, 1);
    ok(holds(p, big, 3) && holds(p, x, 3), "evict-replan: both on node 3");
    planner_free(p);
}


static void
test_liveness(void)
{
    planner_t       *p = cluster(4, 100 * MB);
    planner_move_t   m;
    planner_file_t   f;
    planner_stats_t  st;
    uint16_t         h[] = { 1, 2, 3 };
    int              i, seen4 = 0, src3 = 0;

    f = add(p, "/a.mp3", MB, 3, h, 3);
    planner_node_state(p, 4, PLANNER_STALE);
    ok(!planner_next(p, 0, &m), "stale node 4: not a target");
    planner_node_state(p, 3, PLANNER_STALE);
    is_int(planner_file_k(p, f), 3, "stale node's copy still counts");
    planner_node_state(p, 3, PLANNER_DEAD);
    is_int(planner_file_k(p, f), 2, "dead node's copy stops counting");
    ok(holds(p, f, 3), "but stays listed");
    planner_stats(p, &st);
    is_int(st.under, 1, "dead node: the file is under N");
    ok(!planner_next(p, 0, &m), "no live node lacks it (4 stale): nothing");
    planner_node_state(p, 4, PLANNER_LIVE);
    ok(planner_next(p, 0, &m) && m.dst == 4, "node 4 back: file re-planned");
    planner_done(p, &m, 1);
    is_int(planner_file_kn(p, f), 0, "back to N");
    planner_node_state(p, 3, PLANNER_LIVE);
    is_int(planner_file_kn(p, f), 1, "dead node returns: counts again");

    /* stale holder is never a source */
    planner_free(p);
    p = cluster(6, 100 * MB);
    for (i = 0; i < 20; i++) {
        char  path[16];

        snprintf(path, sizeof(path), "/s%d", i);
        add(p, path, MB, 3, (const uint16_t[]) { 1, 3 }, 2);
    }
    planner_node_state(p, 3, PLANNER_STALE);
    planner_node_draining(p, 4, 1);
    while (planner_next(p, 0, &m)) {
        seen4 |= m.dst == 4 || m.dst == 3;
        planner_done(p, &m, 1);
    }
    ok(!seen4, "neither stale nor draining nodes are targets");
    ok(!src3, "a stale holder is not a source");
    planner_stats(p, &st);
    ok(st.min_kn == 2, "draining node out, the rest filled: K-N 2 (got %d)",
       st.min_kn);

    planner_node_forget(p, 3);
    ok(!holds(p, planner_file_find(p, "/s0", 3), 3), "forget: holder gone");
    planner_free(p);
}


static void
test_fail_limits(void)
{
    planner_t          *p = cluster(3, 100 * MB);
    planner_move_t      m, mv[8];
    planner_file_t      f;
    planner_node_info_t in;
    uint16_t            h[] = { 1 };
    char                path[16];
    int                 i, n;

    f = add(p, "/a.mp3", MB, 2, h, 1);
    planner_node_space(p, 2, 200 * MB, PLANNER_DISK_UNKNOWN);
    ok(planner_next(p, 0, &m) && m.dst == 2, "most room: node 2");
    planner_done(p, &m, 0);
    planner_fail(p, f, 2, 1000);
    ok(planner_next(p, 500, &m) && m.dst == 3, "failed pair avoided before");
    planner_done(p, &m, 0);
    planner_node_state(p, 3, PLANNER_STALE);
    ok(!planner_next(p, 999, &m), "only the failed pair left: nothing");
    ok(planner_next(p, 1000, &m) && m.dst == 2, "retried at its time");
    planner_done(p, &m, 0);
    planner_free(p);

    /* a source whose pull of the file failed is taken last */
    {
        uint16_t  h2[] = { 1, 2 };

        p = cluster(3, 100 * MB);
        f = add(p, "/b.mp3", MB, 3, h2, 2);
        planner_node_load(p, 2, 50);
        ok(planner_next(p, 0, &m) && m.src == 1, "least loaded source: 1");
        planner_done(p, &m, 0);
        planner_fail(p, f, 1, 1000);
        ok(planner_next(p, 10, &m) && m.src == 2 && m.dst == 3,
           "after its failure: the other holder, though busier");
        planner_done(p, &m, 0);
        planner_node_state(p, 2, PLANNER_STALE);
        ok(planner_next(p, 20, &m) && m.src == 1,
           "the failed source when no other is left");
        planner_done(p, &m, 0);
        planner_free(p);
    }

    /* per-node limits, changed at run time */
    p = cluster(3, 100 * MB);
    planner_set_limits(p, 1, 2);
    for (i = 0; i < 8; i++) {
        snprintf(path, sizeof(path), "/l%d", i);
        add(p, path, MB, 3, h, 1);
    }
    n = 0;
    while (n < 8 && planner_next(p, 0, &mv[n])) {
        n++;
    }
    is_int(n, 2, "one pull in per target, two out of the source");
    planner_node_info(p, 1, &in);
    ok(in.pulls_out == 2 && in.limit_out == 2, "source at its out limit");
    planner_node_limits(p, 1, PLANNER_LIMIT_DEFAULT, 3);
    planner_node_limits(p, 2, 2, PLANNER_LIMIT_DEFAULT);
    ok(planner_next(p, 0, &mv[n]) && mv[n].dst == 2, "raised limits used");
    n++;
    ok(!planner_next(p, 0, &m), "and then reached");
    for (i = 0; i < n; i++) {
        planner_done(p, &mv[i], 1);
    }
    planner_node_info(p, 1, &in);
    ok(in.pulls_out == 0, "done releases the counts");
    planner_free(p);
}


static void
test_edits(void)
{
    planner_t       *p = cluster(5, 100 * MB);
    planner_move_t   m;
    planner_file_t   a, b, c, r;
    planner_stats_t  st;
    uint16_t         h1[] = { 1 }, h2[] = { 1, 2 };
    size_t           len;

    a = add(p, "/a", MB, 3, h1, 1);     /* -2 */
    b = add(p, "/b", MB, 0, h2, 2);     /* -1 */
    c = add(p, "/c", MB, 0, h2, 2);     /* -1 */
    planner_file_set_n(p, b, 5);        /* -3 */
    ok(planner_next(p, 0, &m) && m.file == b, "raising N reorders");
    planner_done(p, &m, 0);
    planner_file_set_n(p, b, 0);
    planner_file_del(p, a);
    ok(planner_file_find(p, "/a", 2) == PLANNER_NOFILE, "deleted: not found");
    ok(planner_next(p, 0, &m) && m.file != a, "deleted file never planned");
    planner_file_del(p, m.file);
    ok(strncmp(planner_file_path(p, m.file, &len), m.file == b ? "/b" : "/c",
               2) == 0, "path readable while its move is out");
    planner_done(p, &m, 1);
    r = m.file == b ? c : b;
    planner_stats(p, &st);
    is_int(st.files, 1, "one file left");
    is_int(used(p, 1) + used(p, 2), 2 * MB, "deleted copies left the nodes");
    is_int(used(p, m.dst), holds(p, r, m.dst) ? MB : 0,
           "done on a deleted file adds no copy");

    planner_set_default_n(p, 1);
    planner_stats(p, &st);
    is_int(st.min_kn, 1, "default N 1: the N=0 file at +1");
    ok(planner_file_holder_add(p, r, 3) == 0
       && planner_file_holder_add(p, r, 3) == 1,
       "holder add, then already there");
    is_int(planner_file_holder_del(p, r, 4), 1, "del of an absent holder");
    planner_stats(p, &st);
    is_int(st.min_kn, 2, "K 3 of 1");
    planner_free(p);
}


/* A stuck neediest file must not stop others: the big one fits nowhere. */
static void
test_starvation(void)
{
    planner_t       *p = cluster(3, 10 * MB);
    planner_move_t   m;
    planner_file_t   big;
    uint16_t         h[] = { 1 };
    char             path[16];
    int              i, moved = 0;

    big = add(p, "/huge", 20 * MB, 5, h, 1);   /* fits no quota, K-N -4 */
    for (i = 0; i < 200; i++) {
        snprintf(path, sizeof(path), "/%d", i);
        add(p, path, 1, 3, h, 1);               /* K-N -2 */
    }
    planner_set_scan(p, 4);
    while (planner_next(p, 0, &m)) {
        moved += m.file != big;
        planner_done(p, &m, 1);
    }
    is_int(moved, 400, "all small files reach N past a stuck one");
    is_int(planner_file_kn(p, big), -4, "the stuck one waits");
    planner_free(p);

    /* more lost files (only copy on a dead node) than a call's scan, in
     * the lowest bucket: the files above them still move */
    p = cluster(4, 100 * MB);
    planner_set_scan(p, 4);
    planner_node_state(p, 4, PLANNER_DEAD);
    for (i = 0; i < 100; i++) {
        snprintf(path, sizeof(path), "/lost%d", i);
        add(p, path, 1, 3, (const uint16_t[]) { 4 }, 1);
    }
    add(p, "/ok", 1, 3, h, 1);
    ok(planner_next(p, 0, &m) && m.file == planner_file_find(p, "/ok", 3),
       "lost files do not starve the next bucket");
    planner_done(p, &m, 1);
    planner_node_state(p, 4, PLANNER_LIVE);
    moved = 0;
    while (planner_next(p, 0, &m)) {
        moved++;
        planner_done(p, &m, 1);
    }
    is_int(moved, 302, "their node back: all of them on every node");
    planner_free(p);
}


/* Everything at once, checked against the invariants after every step. */
static void
test_random(void)
{
    planner_t           *p = cluster(8, 50 * MB);
    planner_move_t       mv[256];
    planner_node_info_t  in;
    planner_stats_t      st;
    uint16_t             h[3];
    char                 path[16];
    unsigned             seed = 7, id, nmv = 0, i, steps, bad = 0, moves = 0;
    int                  dok;
    unsigned             evicts = 0;

    planner_set_reserve(p, MB, 100);
    planner_set_limits(p, 3, 3);
    for (i = 0; i < 300; i++) {
        seed = seed * 1103515245 + 12345;
        h[0] = 1 + (seed >> 16) % 8;
        h[1] = 1 + (h[0] % 8);
        snprintf(path, sizeof(path), "/r%u", i);
        add(p, path, 1 + (seed >> 8) % (MB), (seed >> 4) % 4,
            h, 1 + (seed >> 20) % 2);
    }
    for (steps = 0; steps < 20000; steps++) {
        seed = seed * 1103515245 + 12345;
        if (nmv < 256 && (seed >> 16) % 3 != 0
            && planner_next(p, steps, &mv[nmv]))
        {
            evicts += mv[nmv].evict != PLANNER_NOFILE;
            nmv++;
            moves++;
        } else if (nmv) {
            i = (seed >> 8) % nmv;
            dok = (seed >> 4) % 5 != 0;
            planner_dropped(p, &mv[i], dok);
            planner_done(p, &mv[i], (seed >> 2) % 7 != 0
                         && (dok || mv[i].evict == PLANNER_NOFILE));
            if ((seed >> 3) % 7 == 0) {
                planner_fail(p, mv[i].file, mv[i].dst, steps + 50);
            }
            mv[i] = mv[--nmv];
        }
        if (steps % 997 == 0) {
            id = 1 + (seed >> 12) % 8;
            planner_node_state(p, id, (seed >> 5) % 3);
        }
        for (id = 1; id <= 8; id++) {
            planner_node_info(p, id, &in);
            bad |= in.copy_bytes + in.reserved + in.dropping
                   > 50 * MB - MB - 50 * MB / 100;
            bad |= in.pulls_in > 3 || in.pulls_out > 3;
        }
    }
    while (nmv) {
        planner_done(p, &mv[--nmv], 1);
    }
    ok(!bad, "random run: quotas and limits held (%u moves)", moves);
    ok(evicts > 0, "random run: %u of them evicted a surplus copy", evicts);
    planner_stats(p, &st);
    is_int(st.inflight, 0, "random run: nothing left in flight");
    for (id = 1; id <= 8; id++) {
        planner_node_info(p, id, &in);
        bad |= in.reserved || in.dropping || in.pulls_in || in.pulls_out;
    }
    ok(!bad, "random run: every reservation released");
    planner_free(p);
}


/* fsdfs drain: a draining node's copies stop counting, it stays a source,
 * it is never a target, and its copies go only once N is met elsewhere. */
static void
test_drain(void)
{
    planner_t        *p = cluster(4, 100 * MB);
    planner_move_t    m;
    planner_drain_t   d, d2;
    planner_file_t    a, b, c;
    uint64_t          files, bytes;
    int               n, dst3 = 0;

    planner_set_default_n(p, 2);
    a = add(p, "/only3", MB, 0, (const uint16_t[]) { 3 }, 1);
    b = add(p, "/on13", 2 * MB, 0, (const uint16_t[]) { 1, 3 }, 2);
    c = add(p, "/on12", MB, 0, (const uint16_t[]) { 1, 2 }, 2);
    ok(!planner_next_drain(p, &d), "no node draining: no drain drop");

    planner_drain_left(p, 3, &files, &bytes);
    ok(files == 2 && bytes == 3 * MB, "node 3 holds 2 files, 3 MB");
    planner_node_draining(p, 3, 1);
    is_int(planner_file_k(p, a), 0, "draining: its copy stops counting");
    is_int(planner_file_kn(p, b), -1, "a file on it and one other: K-N -1");
    is_int(planner_file_kn(p, c), 0, "files elsewhere unchanged");
    ok(holds(p, a, 3), "but it stays a holder");
    ok(!planner_next_drain(p, &d), "nothing has N elsewhere: no drop");

    /* the neediest first: /only3 (K-N -2), sourced from node 3 */
    ok(planner_next(p, 0, &m) && m.file == a && m.src == 3 && m.dst != 3,
       "the file only it holds is copied first, from it");
    ok(!planner_next_drain(p, &d), "in flight: its copy stays");
    planner_done(p, &m, 1);
    while (planner_next(p, 0, &m)) {
        dst3 |= m.dst == 3;
        planner_done(p, &m, 1);
    }
    ok(!dst3, "never a target");
    ok(planner_file_k(p, a) >= 2 && planner_file_k(p, b) >= 2,
       "both of its files have N on the others");

    n = 0;
    while (planner_next_drain(p, &d)) {
        ok(d.node == 3, "drain drop on node 3");
        if (n++ == 0) {
            d2 = d;
            continue;
        }
        ok(planner_drain_ok(p, &d), "still safe when sent");
        planner_drain_done(p, &d, 1);
    }
    is_int(n, 2, "two copies handed out, once each");
    planner_drain_left(p, 3, &files, &bytes);
    is_int((int) files, 1, "progress: one left while its drop is pending");
    planner_drain_done(p, &d2, 0);
    ok(holds(p, d2.file, 3), "a failed drop: the holder comes back");
    ok(planner_next_drain(p, &d), "and is handed out again");
    planner_drain_done(p, &d, 1);
    planner_drain_left(p, 3, &files, &bytes);
    ok(files == 0 && bytes == 0, "node 3 drained: empty");
    ok(!holds(p, a, 3) && !holds(p, b, 3), "no file lists it");
    planner_free(p);

    /* never the last copy: the only holder drains with no target left */
    p = cluster(1, 100 * MB);
    a = add(p, "/last", MB, 1, (const uint16_t[]) { 1 }, 1);
    planner_node_draining(p, 1, 1);
    ok(!planner_next(p, 0, &m), "no target: no move");
    ok(!planner_next_drain(p, &d), "the last copy is never dropped");
    planner_free(p);

    /* the copy elsewhere is on a stale node: counts, but is not LIVE */
    p = cluster(3, 100 * MB);
    planner_set_default_n(p, 1);
    a = add(p, "/s", MB, 0, (const uint16_t[]) { 1, 2 }, 2);
    planner_node_state(p, 2, PLANNER_STALE);
    planner_node_state(p, 3, PLANNER_STALE);
    planner_node_draining(p, 1, 1);
    ok(!planner_next_drain(p, &d), "no LIVE copy elsewhere: kept");
    planner_node_state(p, 2, PLANNER_LIVE);
    ok(planner_next_drain(p, &d) && d.node == 1, "a LIVE one: dropped");
    planner_drain_done(p, &d, 1);

    /* cancel: counts again */
    planner_free(p);
    p = cluster(3, 100 * MB);
    planner_set_default_n(p, 2);
    a = add(p, "/x", MB, 0, (const uint16_t[]) { 1, 2 }, 2);
    planner_node_draining(p, 2, 1);
    is_int(planner_file_kn(p, a), -1, "draining: K-N -1");
    planner_node_draining(p, 2, 0);
    is_int(planner_file_kn(p, a), 0, "cancelled: it counts again");
    ok(!planner_next_drain(p, &d), "and nothing is dropped");
    planner_node_draining(p, 2, 1);
    planner_node_state(p, 2, PLANNER_DEAD);
    is_int(planner_file_kn(p, a), -1, "draining then dead: K-N stays -1");
    planner_node_draining(p, 2, 0);
    is_int(planner_file_kn(p, a), -1, "dead, not draining: still -1");
    planner_node_state(p, 2, PLANNER_LIVE);
    is_int(planner_file_kn(p, a), 0, "live again: 0");
    planner_free(p);
}


/* Per-node max(K-N): the highest surplus among the files each node holds,
 * following K-N as holders, N and node states change. */
static int16_t  nkn[PLANNER_MAX_NODE_ID + 1];

static void
test_node_max_kn(void)
{
    planner_t       *p = cluster(4, 100 * MB);
    planner_file_t   a, b, c;

    planner_set_default_n(p, 2);
    planner_node_max_kn(p, nkn);
    ok(nkn[1] == PLANNER_KN_NONE && nkn[4] == PLANNER_KN_NONE
       && nkn[PLANNER_MAX_NODE_ID] == PLANNER_KN_NONE,
       "no files: every node PLANNER_KN_NONE");

    a = add(p, "/a", MB, 0, (const uint16_t[]) { 1, 2, 3 }, 3);   /* +1 */
    b = add(p, "/b", MB, 0, (const uint16_t[]) { 1 }, 1);         /* -1 */
    c = add(p, "/c", MB, 1, (const uint16_t[]) { 2, 4 }, 2);      /* +1 */
    planner_node_max_kn(p, nkn);
    is_int(nkn[1], 1, "node 1 (+1, -1): max 1");
    is_int(nkn[2], 1, "node 2 (+1, +1): max 1");
    is_int(nkn[3], 1, "node 3 (+1): 1");
    is_int(nkn[4], 1, "node 4 (+1): 1");
    is_int(nkn[5], PLANNER_KN_NONE, "node 5 holds nothing");

    planner_file_set_n(p, a, 3);        /* a: 0 */
    planner_file_set_n(p, c, 2);        /* c: 0 */
    planner_node_max_kn(p, nkn);
    is_int(nkn[1], 0, "N raised: node 1 max 0");
    is_int(nkn[3], 0, "node 3 max 0");
    is_int(nkn[4], 0, "node 4 max 0");

    planner_file_holder_del(p, a, 3);   /* a: -1 */
    planner_node_max_kn(p, nkn);
    is_int(nkn[3], PLANNER_KN_NONE, "holder removed: node 3 holds nothing");
    is_int(nkn[1], -1, "node 1 (-1, -1): -1");
    is_int(nkn[2], 0, "node 2 (-1, 0): 0");

    planner_node_state(p, 4, PLANNER_DEAD);   /* c: K 1, N 2: -1 */
    planner_node_max_kn(p, nkn);
    is_int(nkn[4], -1, "a DEAD holder still lists its files, K-N -1");
    is_int(nkn[2], -1, "and the other holder's max drops with it");

    planner_file_del(p, b);
    planner_file_holder_add(p, a, 3);   /* a: 0 */
    planner_node_max_kn(p, nkn);
    is_int(nkn[1], 0, "deleted file no longer counts: node 1 max 0");
    is_int(nkn[3], 0, "holder back: node 3 0");
    planner_free(p);
}


int
main(void)
{
    test_order();
    test_quota_and_fill();
    test_eviction();
    test_evict_not_replanned();
    test_liveness();
    test_fail_limits();
    test_edits();
    test_starvation();
    test_random();
    test_drain();
    test_node_max_kn();
    return done_testing();
}
