/*
 * Publishing the master's figures. Both keys go out in one pipeline: the
 * stats hash as one HSET, the histogram as MULTI DEL HSET EXEC so the
 * replacement is atomic. The histogram is at most a few hundred fields
 * (K-N ranges over -255..32).
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsdfs_keys.h"
#include "stats.h"


#define STATS_FIELDS  18         /* the names below and master */
#define KN_FIELDS     (PLANNER_KN_MAX - PLANNER_KN_MIN + 1)


/* Queues the atomic replacement of hash key by the n field/value pairs in
 * argv[2..] (argv[0], argv[1] are set here): readers never see it half
 * written. Returns the number of replies it adds. */
static int
stats_append_replace(rds_t *r, const char *key, const char **argv,
    unsigned n)
{
    argv[0] = "HSET";
    argv[1] = key;
    rds_append(r, "MULTI");
    rds_append(r, "DEL %s", key);
    if (n == 0) {
        rds_append(r, "EXEC");
        return 3;
    }
    rds_append_argv(r, 2 + 2 * (int) n, argv, NULL);
    rds_append(r, "EXEC");
    return 4;
}


/* Reads n pipelined replies, the last an EXEC's: 0, or -1 if one failed. */
static int
stats_read(rds_t *r, int n)
{
    int          i, rc = 0;
    redisReply  *rep;

    for (i = 0; i < n; i++) {
        rep = rds_get(r);
        if (rep == NULL) {
            return -1;
        }
        if (rep->type == REDIS_REPLY_ERROR
            || (i == n - 1 && !rds_exec_ok(rep)))
        {
            rc = -1;
        }
        freeReplyObject(rep);
    }
    return rc;
}


int
stats_publish(rds_t *r, const char *prefix, const planner_t *p,
    const stats_counters_t *c, const char *master, uint64_t epoch)
{
    int              i, it, kn, nkn;
    char             key[FSDFS_KEY_MAX], kkey[FSDFS_KEY_MAX];
    char             vals[STATS_FIELDS][32], knv[KN_FIELDS][2][24];
    const char      *argv[2 + 2 * KN_FIELDS];
    uint64_t         count;
    planner_stats_t  ps;
    static const char  *names[] = {
        "files", "bytes", "min_kn", "under", "lost", "pulls_inflight",
        "pulls_done", "pulls_failed", "drops_done", "plan_usec", "epoch",
        "updated", "nodes_live", "copy_bytes", "drops_failed",
        "policy_clamped", "pop_boosted"
    };
    const char      *hargv[2 + 2 * STATS_FIELDS];

    planner_stats(p, &ps);
    fsdfs_key(key, sizeof(key), prefix, "stats");
    fsdfs_key(kkey, sizeof(kkey), prefix, "kn");

    snprintf(vals[0], 32, "%" PRIu64, ps.files);
    snprintf(vals[1], 32, "%" PRIu64, ps.bytes);
    snprintf(vals[2], 32, "%d", ps.min_kn);
    snprintf(vals[3], 32, "%" PRIu64, ps.under);
    snprintf(vals[4], 32, "%" PRIu64, ps.lost);
    snprintf(vals[5], 32, "%" PRIu64, ps.inflight);
    snprintf(vals[6], 32, "%" PRIu64, c->pulls_done);
    snprintf(vals[7], 32, "%" PRIu64, c->pulls_failed);
    snprintf(vals[8], 32, "%" PRIu64, c->drops_done);
    snprintf(vals[9], 32, "%" PRIu64, c->plan_usec);
    snprintf(vals[10], 32, "%" PRIu64, epoch);
    snprintf(vals[11], 32, "%lld", (long long) fsd_wall_ms());
    snprintf(vals[12], 32, "%u", c->nodes_live);
    snprintf(vals[13], 32, "%" PRIu64, ps.copy_bytes);
    snprintf(vals[14], 32, "%" PRIu64, c->drops_failed);
    snprintf(vals[15], 32, "%" PRIu64, c->policy_clamped);
    snprintf(vals[16], 32, "%" PRIu64, c->pop_boosted);

    hargv[0] = "HSET";
    hargv[1] = key;
    for (i = 0; i < STATS_FIELDS - 1; i++) {
        hargv[2 + 2 * i] = names[i];
        hargv[3 + 2 * i] = vals[i];
    }
    hargv[2 * STATS_FIELDS] = "master";
    hargv[2 * STATS_FIELDS + 1] = master;
    rds_append_argv(r, 2 + 2 * STATS_FIELDS, hargv, NULL);

    it = 0;
    nkn = 0;
    while (nkn < KN_FIELDS && planner_kn_next(p, &it, &kn, &count)) {
        snprintf(knv[nkn][0], 24, "%d", kn);
        snprintf(knv[nkn][1], 24, "%" PRIu64, count);
        argv[2 + 2 * nkn] = knv[nkn][0];
        argv[3 + 2 * nkn] = knv[nkn][1];
        nkn++;
    }

    /* the stats HSET's reply, then the replacement's */
    return stats_read(r, 1 + stats_append_replace(r, kkey, argv, nkn));
}


int
stats_publish_nodekn(rds_t *r, const char *prefix, const planner_t *p)
{
    int            rc;
    unsigned       id, n, i;
    char           key[FSDFS_KEY_MAX];
    char         (*vals)[2][8];
    int16_t       *kn;
    const char   **argv;

    kn = malloc((PLANNER_MAX_NODE_ID + 1) * sizeof(int16_t));
    if (kn == NULL) {
        return -1;
    }
    planner_node_max_kn(p, kn);

    for (n = 0, id = 0; id <= PLANNER_MAX_NODE_ID; id++) {
        n += kn[id] != PLANNER_KN_NONE;
    }

    vals = malloc((n + 1) * sizeof(*vals));
    argv = malloc((2 + 2 * n) * sizeof(char *));
    if (vals == NULL || argv == NULL) {
        free(kn);
        free(vals);
        free(argv);
        return -1;
    }

    fsdfs_key(key, sizeof(key), prefix, "nodekn");
    for (i = 0, id = 0; id <= PLANNER_MAX_NODE_ID; id++) {
        if (kn[id] == PLANNER_KN_NONE) {
            continue;
        }
        snprintf(vals[i][0], 8, "%u", id);
        snprintf(vals[i][1], 8, "%d", kn[id]);
        argv[2 + 2 * i] = vals[i][0];
        argv[3 + 2 * i] = vals[i][1];
        i++;
    }

    rc = stats_read(r, stats_append_replace(r, key, argv, n));

    free(kn);
    free(vals);
    free(argv);
    return rc;
}
