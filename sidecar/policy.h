/*
 * The replication policy: how many copies (N) one file should have. A pure
 * function of what the master already holds for the file (path, size, the
 * record's explicit n= and user variables, its popularity) and of the
 * config, so a unit test drives every rule without Redis.
 *
 * Order of precedence:
 *
 *   1. explicit n= in the record wins over everything below; only the
 *      hard limits (255, live nodes) apply to it;
 *   2. else the base N is the first `rule REGEX N` whose PCRE2 pattern
 *      matches the path (in config order), else the default `replicas`;
 *   3. plus every `boost` on a user variable (numeric steps, or an exact
 *      value) and the `pop_boost` on the decayed play count;
 *   4. clamped to [1, max_replicas] (and 255);
 *   5. the plug-in, when one is loaded, sees that N and returns its own,
 *      clamped the same way (nonsense is logged, rate-limited);
 *   6. clamped to the live node count.
 *
 * The master keeps `want` (step 5) in the planner and the planner caps it
 * by the live node count, so a node coming back restores the wanted N
 * without re-reading any record.
 */

#ifndef FSD_POLICY_H
#define FSD_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "fsdfs_record.h"

#define POLICY_MAX_N       255
#define POLICY_ERR_MAX     512

typedef struct policy_s  policy_t;

typedef struct {
    const char         *path;        /* NUL-terminated */
    size_t              len;
    uint64_t            size;
    unsigned            explicit_n;  /* record's n=, 0: by policy */
    const fsdfs_var_t  *vars;
    unsigned            nvars;
    double              popularity;  /* decayed plays now */
    unsigned            live;        /* nodes whose copies count; 0: unknown */
    unsigned            default_n;   /* `replicas` */
} policy_in_t;

typedef struct {
    unsigned  want;          /* N to keep, before the live-node clamp */
    unsigned  n;             /* want clamped to the live nodes */
    int       by_default;    /* only the default decided: no explicit n,
                                no rule, no boost, plug-in agreed */
    int       rule;          /* index of the matching rule, -1 if none */
    unsigned  boost;         /* copies added by variables and popularity */
    int       clamped;       /* the plug-in answered nonsense */
} policy_out_t;

policy_t *policy_new(void);
void policy_free(policy_t *pl);

/* Config lines (the value after the key). 0, or -1 with why set. */
/*   rule REGEX N                      e.g. rule ^/music/hits/ 3 */
int policy_add_rule(policy_t *pl, const char *value, char *why, size_t cap);
/*   boost VAR per=X add=A [max=M]     each X of the numeric VAR adds A
 *   boost VAR=VALUE add=A             VAR equal to VALUE adds A */
int policy_add_boost(policy_t *pl, const char *value, char *why, size_t cap);
/*   pop_boost per=X add=A [max=M]     each X decayed plays add A */
int policy_set_pop_boost(policy_t *pl, const char *value, char *why,
    size_t cap);
/* max_replicas (1..255) */
void policy_set_max(policy_t *pl, unsigned max_n);

/* dlopen()s path and finds FSDFS_POLICY_SYMBOL; 0, or -1 with a message
 * naming the file and what is wrong. */
int policy_load_plugin(policy_t *pl, const char *path, char *err,
    size_t cap);

/* N for one file; now_ms only rate-limits the plug-in's clamp messages. */
void policy_eval(policy_t *pl, const policy_in_t *in, int64_t now_ms,
    policy_out_t *out);

/* Copies pop_boost adds for this popularity (0 without pop_boost). */
unsigned policy_pop_boost(const policy_t *pl, double popularity);
/* The least popularity that boosts anything; 0 without pop_boost. */
double policy_pop_min(const policy_t *pl);

int policy_has_plugin(const policy_t *pl);
unsigned policy_rules(const policy_t *pl);
/* Plug-in answers clamped since the start. */
uint64_t policy_clamped(const policy_t *pl);

#endif
