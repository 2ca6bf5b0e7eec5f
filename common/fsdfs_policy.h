/*
 * The fsdfs replication-policy plug-in ABI: the one C function a policy
 * `.so` exports so an operator can decide, in a few lines of their own
 * code, how many copies a file gets. fsdfsd loads it once at start
 * (`policy_plugin /path/x.so` in fsdfsd.conf) and refuses to start if the
 * file cannot be loaded or lacks the symbol.
 *
 * fsdfsd calls the function in its single event-loop thread whenever it
 * recomputes a file's N: at index load, when the file's record changes
 * (put, have, `fsdfs set`) and when its popularity moves across a boost
 * step. It is never called for a file with an explicit `n=` (the operator's
 * word wins). The function must be fast (it runs for every file at index
 * load), must not block, and must not keep the pointers it is given: they
 * are valid only during the call.
 *
 * It returns the N it wants. fsdfsd clamps the answer: below 1 becomes 1,
 * above 255, max_replicas or the live node count becomes that limit, and a
 * clamped answer is logged (at most once a minute per path) and counted.
 * Returning `in->n` keeps the built-in decision.
 *
 * Build: cc -shared -fPIC -I/path/to/fsdfs/common -o x.so x.c
 */

#ifndef FSDFS_POLICY_H
#define FSDFS_POLICY_H

#include <stddef.h>
#include <stdint.h>

#define FSDFS_POLICY_ABI     1
#define FSDFS_POLICY_SYMBOL  "fsdfs_policy"

/* One user variable of the record, as `fsdfs set PATH name=value` wrote
 * it. Not NUL-terminated: use the lengths. */
typedef struct {
    const char  *name;
    size_t       name_len;
    const char  *value;
    size_t       value_len;
} fsdfs_policy_var_t;

typedef struct {
    int                        abi;         /* FSDFS_POLICY_ABI */
    const char                *path;        /* NUL-terminated, "/music/a.ogg" */
    size_t                     path_len;
    uint64_t                   size;        /* bytes */
    const fsdfs_policy_var_t  *vars;
    unsigned                   nvars;
    double                     popularity;  /* decayed plays now; 0 if below
                                               pop_boost's first step */
    unsigned                   live_nodes;  /* nodes whose copies count */
    unsigned                   n;           /* what the built-in policy
                                               computed (rules, boosts) */
} fsdfs_policy_input_t;

/* The function a plug-in exports, under the name FSDFS_POLICY_SYMBOL. */
typedef int (*fsdfs_policy_pt)(const fsdfs_policy_input_t *in);

int fsdfs_policy(const fsdfs_policy_input_t *in);

#endif
