/*
 * The replication planner (see planner.h). This first version is a stub
 * with the final API so fsdfsd can be built against it; the bucket queue
 * and the decisions come next.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "planner.h"

struct planner_s {
    unsigned  default_n;
};

planner_t *planner_new(unsigned default_n)
{
    planner_t  *p;

    if (default_n < 1 || default_n > PLANNER_MAX_N) {
        return NULL;
    }
    p = calloc(1, sizeof(*p));
    if (p != NULL) {
        p->default_n = default_n;
    }
    return p;
}

void planner_free(planner_t *p) { free(p); }
int planner_set_default_n(planner_t *p, unsigned n)
{
    if (n < 1 || n > PLANNER_MAX_N) {
        return -1;
    }
    p->default_n = n;
    return 0;
}
unsigned planner_default_n(const planner_t *p) { return p->default_n; }
void planner_set_reserve(planner_t *p, uint64_t b, unsigned bp)
{ (void) p; (void) b; (void) bp; }
void planner_set_limits(planner_t *p, unsigned i, unsigned o)
{ (void) p; (void) i; (void) o; }
void planner_set_scan(planner_t *p, unsigned n) { (void) p; (void) n; }
int planner_node_state(planner_t *p, unsigned id, int s)
{ (void) p; (void) id; (void) s; return 0; }
int planner_node_draining(planner_t *p, unsigned id, int d)
{ (void) p; (void) id; (void) d; return 0; }
int planner_node_space(planner_t *p, unsigned id, uint64_t q, uint64_t f)
{ (void) p; (void) id; (void) q; (void) f; return 0; }
int planner_node_load(planner_t *p, unsigned id, unsigned l)
{ (void) p; (void) id; (void) l; return 0; }
int planner_node_limits(planner_t *p, unsigned id, int i, int o)
{ (void) p; (void) id; (void) i; (void) o; return 0; }
int planner_node_forget(planner_t *p, unsigned id)
{ (void) p; (void) id; return 0; }
int planner_node_info(const planner_t *p, unsigned id, planner_node_info_t *i)
{ (void) p; (void) id; memset(i, 0, sizeof(*i)); return 0; }
planner_file_t planner_file_add(planner_t *p, const char *path, size_t len,
    uint64_t size, uint64_t sum, unsigned n, const uint16_t *h, unsigned nh)
{
    (void) p; (void) path; (void) len; (void) size; (void) sum; (void) n;
    (void) h; (void) nh;
    errno = ENOMEM;
    return PLANNER_NOFILE;
}
planner_file_t planner_file_find(const planner_t *p, const char *path,
    size_t len)
{ (void) p; (void) path; (void) len; return PLANNER_NOFILE; }
int planner_file_holder_add(planner_t *p, planner_file_t f, unsigned node)
{ (void) p; (void) f; (void) node; return -1; }
int planner_file_holder_del(planner_t *p, planner_file_t f, unsigned node)
{ (void) p; (void) f; (void) node; return -1; }
int planner_file_set_n(planner_t *p, planner_file_t f, unsigned n)
{ (void) p; (void) f; (void) n; return -1; }
int planner_file_del(planner_t *p, planner_file_t f)
{ (void) p; (void) f; return -1; }
const char *planner_file_path(const planner_t *p, planner_file_t f,
    size_t *len)
{ (void) p; (void) f; *len = 0; return ""; }
uint64_t planner_file_size(const planner_t *p, planner_file_t f)
{ (void) p; (void) f; return 0; }
uint64_t planner_file_sum(const planner_t *p, planner_file_t f)
{ (void) p; (void) f; return 0; }
unsigned planner_file_n(const planner_t *p, planner_file_t f)
{ (void) f; return p->default_n; }
unsigned planner_file_n_explicit(const planner_t *p, planner_file_t f)
{ (void) p; (void) f; return 0; }
unsigned planner_file_k(const planner_t *p, planner_file_t f)
{ (void) p; (void) f; return 0; }
int planner_file_kn(const planner_t *p, planner_file_t f)
{ (void) p; (void) f; return 0; }
unsigned planner_file_holders(const planner_t *p, planner_file_t f,
    uint16_t *out, unsigned cap)
{ (void) p; (void) f; (void) out; (void) cap; return 0; }
int planner_file_inflight(const planner_t *p, planner_file_t f)
{ (void) p; (void) f; return 0; }
int planner_next(planner_t *p, int64_t now, planner_move_t *m)
{ (void) p; (void) now; (void) m; return 0; }
void planner_dropped(planner_t *p, planner_move_t *m, int ok)
{ (void) p; (void) m; (void) ok; }
void planner_done(planner_t *p, planner_move_t *m, int ok)
{ (void) p; (void) m; (void) ok; }
void planner_fail(planner_t *p, planner_file_t f, unsigned node, int64_t u)
{ (void) p; (void) f; (void) node; (void) u; }
void planner_stats(const planner_t *p, planner_stats_t *st)
{ (void) p; memset(st, 0, sizeof(*st)); }
int planner_kn_next(const planner_t *p, int *it, int *kn, uint64_t *count)
{ (void) p; (void) it; (void) kn; (void) count; return 0; }
void planner_mem(const planner_t *p, uint64_t *total, uint64_t *paths)
{ *total = sizeof(*p); *paths = 0; }
