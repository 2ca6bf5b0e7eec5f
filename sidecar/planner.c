/*
 * The replication planner (API and semantics in planner.h).
 *
 * Layout, chosen for the 128-bytes-per-file budget at 10M files: a file is
 * one fixed 104-byte slot (size, sum, path reference, queue and hash links,
 * up to 32 holder ids inline, counters), slots live in 64k-slot chunks so
 * growing never copies a gigabyte, paths live in one arena of bytes, and
 * the path table is an array of 32-bit chain heads. Nodes are a flat array
 * indexed by id (ids are small); the planner walks the list of known ids
 * when it looks for a target, which is the "nodes" factor of a decision.
 *
 * The bucket queue holds only files that may be planned: a file with a
 * pull in flight leaves it and comes back when the move ends. A separate
 * histogram counts every file by K-N for the statistics. Buckets are
 * doubly linked lists; a file examined and not moved goes to the back of
 * its bucket, so successive calls look at different files and a stuck
 * head cannot starve the rest.
 *
 * Per-node file lists are not kept: the rare whole-node events (DEAD and
 * back, forget, default N) scan the slots instead, which costs tens of
 * milliseconds at 10M files and saves 4+ bytes per copy.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "planner.h"


#define CHUNK_SHIFT    16
#define CHUNK_SLOTS    (1u << CHUNK_SHIFT)
#define NBUCKETS       (PLANNER_KN_MAX - PLANNER_KN_MIN + 1)
#define BUCKET(kn)     ((kn) - PLANNER_KN_MIN)
#define NIL            0xffffffffu
#define NNODES         (PLANNER_MAX_NODE_ID + 1)

#define F_USED         0x01    /* slot holds a file (maybe deleted) */
#define F_DELETED      0x02    /* gone from the index, a move still refers */
#define F_PULL         0x04    /* a pull of it is in flight */
#define F_INQ          0x08    /* in the bucket queue */
#define F_FAILED       0x10    /* may have failed (file, node) pairs */
#define F_PARKED       0x20    /* on the parked list, see park() */

#define PATH_OFF(r)    ((r) >> 16)
#define PATH_LEN(r)    ((size_t) ((r) & 0xffff))


/* 104 bytes: size shares its word with N and the flags (sizes stop at
 * 2^48, 256 TB), which is what brings the slot under 112. */
typedef struct {
    uint64_t  size:48;
    uint64_t  n:8;                     /* explicit N, 0: default */
    uint64_t  flags:8;
    uint64_t  sum;
    uint64_t  path;                    /* arena offset << 16 | length */
    uint32_t  qprev, qnext;            /* bucket queue, or free list */
    uint32_t  hnext;                   /* path table chain */
    uint8_t   k;
    uint8_t   nh;
    uint8_t   refs;                    /* moves naming it */
    uint16_t  holders[PLANNER_MAX_HOLDERS];    /* ascending */
} pfile_t;

_Static_assert(sizeof(pfile_t) == 104, "a file slot is 104 bytes");

typedef struct {
    uint64_t  quota, disk_free;
    uint64_t  res;                     /* reserve for this quota */
    uint64_t  copies, reserved, dropping;
    uint32_t  files;
    uint32_t  load;
    uint32_t  mark;                    /* == planner stamp: holds the file
                                          being examined */
    int32_t   lim_in, lim_out;
    uint16_t  in, out;
    uint8_t   known, state, draining;
    uint32_t  dfiles;                  /* drain drops handed out, pending */
    uint64_t  dbytes;
} pnode_t;

typedef struct {
    uint64_t  key;                     /* (file << 16 | node) + 1; 0 empty */
    int64_t   until;
} pfail_t;

struct planner_s {
    pfile_t   **chunks;
    uint32_t    nchunks;
    uint32_t    nslots;                /* slots handed out so far */
    uint32_t    free;                  /* free slot list */
    uint64_t    nfiles;                /* live (not deleted) files */

    char       *arena;
    uint64_t    arena_len, arena_cap, arena_dead;

    uint32_t   *htab;
    uint64_t    hmask;

    uint32_t    qhead[NBUCKETS], qtail[NBUCKETS], qcount[NBUCKETS];
    uint32_t    parked;                /* head of the parked list */
    uint64_t    nparked;
    unsigned    qmin;                  /* no queued file below this */
    uint64_t    hist[NBUCKETS];
    uint64_t    lost, bytes, inflight;

    pnode_t    *nodes;
    uint16_t   *ids;                   /* known node ids */
    unsigned    nids;
    unsigned    ntargets;              /* LIVE and active */
    unsigned    ndraining;
    uint32_t    dcur;                  /* planner_next_drain()'s cursor */
    uint32_t    stamp;

    pfail_t    *fails;
    uint64_t    fmask, nfails;
    int64_t     now;

    unsigned    default_n;
    unsigned    cap;                   /* no file's N above it (nodes) */
    uint64_t    res_bytes;
    unsigned    res_bp;
    unsigned    def_in, def_out;
    unsigned    scan, scan_victims;
};


static pfile_t *
F(const planner_t *p, uint32_t i)
{
    return &p->chunks[i >> CHUNK_SHIFT][i & (CHUNK_SLOTS - 1)];
}


static uint64_t
hash_path(const char *s, size_t len)
{
    uint64_t  h, w;

    /* 8 bytes a step, multiply-xorshift mixing: plenty for a table whose
     * keys are not chosen by an attacker (paths come from our own index) */
    h = 0x9e3779b97f4a7c15ull ^ len;
    while (len >= 8) {
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
        s += 8;
        len -= 8;
    }
    w = 0;
    memcpy(&w, s, len);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 29;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 32;
    return h;
}


static unsigned
eff_n(const planner_t *p, const pfile_t *f)
{
    unsigned  n = f->n ? f->n : p->default_n;

    return n > p->cap ? p->cap : n;
}


static int
kn_of(const planner_t *p, const pfile_t *f)
{
    return (int) f->k - (int) eff_n(p, f);
}


/* Whether a node's copies count in K: known, not DEAD, not draining. */
static int
counts(const planner_t *p, unsigned id)
{
    return p->nodes[id].known && p->nodes[id].state != PLANNER_DEAD
           && !p->nodes[id].draining;
}


/* Bucket queue. */

static void
q_unlink(planner_t *p, uint32_t i, unsigned b)
{
    pfile_t  *f = F(p, i);

    if (f->qprev != NIL) {
        F(p, f->qprev)->qnext = f->qnext;
    } else {
        p->qhead[b] = f->qnext;
    }
    if (f->qnext != NIL) {
        F(p, f->qnext)->qprev = f->qprev;
    } else {
        p->qtail[b] = f->qprev;
    }
    p->qcount[b]--;
    f->flags &= ~F_INQ;
}


static void
q_append(planner_t *p, uint32_t i, unsigned b)
{
    pfile_t  *f = F(p, i);

    f->qnext = NIL;
    f->qprev = p->qtail[b];
    if (p->qtail[b] != NIL) {
        F(p, p->qtail[b])->qnext = i;
    } else {
        p->qhead[b] = i;
    }
    p->qtail[b] = i;
    p->qcount[b]++;
    f->flags |= F_INQ;
    if (b < p->qmin) {
        p->qmin = b;
    }
}


/* Every change of K or N goes through here, with the K-N it had before,
 * so the histogram, the lost count and the queue stay in step. */
static void
rekey(planner_t *p, uint32_t i, int old_kn, unsigned old_k)
{
    pfile_t  *f = F(p, i);
    int       kn = kn_of(p, f);

    if (old_k == 0 && f->k != 0) {
        p->lost--;
    } else if (old_k != 0 && f->k == 0) {
        p->lost++;
    }
    if (kn == old_kn) {
        return;
    }
    p->hist[BUCKET(old_kn)]--;
    p->hist[BUCKET(kn)]++;
    if (f->flags & F_INQ) {
        q_unlink(p, i, BUCKET(old_kn));
        q_append(p, i, BUCKET(kn));
    }
}


/* Parking: a file without a LIVE holder to copy from cannot move whatever
 * the capacity; it leaves the queue, or a bucket full of lost files would
 * eat every call's scan and starve the files behind it. It comes back when
 * its holders change, or when a node becomes LIVE (all parked files at
 * once: that event is rare). Such a file is never a victim either (a
 * victim's copy sits on a LIVE node), so parking hides nothing from the
 * eviction search. Files that every possible target holds stay queued:
 * they are the best victims. */
static void
park(planner_t *p, uint32_t i, unsigned b)
{
    pfile_t  *f = F(p, i);

    q_unlink(p, i, b);
    f->qprev = NIL;
    f->qnext = p->parked;
    if (p->parked != NIL) {
        F(p, p->parked)->qprev = i;
    }
    p->parked = i;
    p->nparked++;
    f->flags |= F_PARKED;
}


static void
park_unlink(planner_t *p, uint32_t i)
{
    pfile_t  *f = F(p, i);

    if (f->qprev != NIL) {
        F(p, f->qprev)->qnext = f->qnext;
    } else {
        p->parked = f->qnext;
    }
    if (f->qnext != NIL) {
        F(p, f->qnext)->qprev = f->qprev;
    }
    p->nparked--;
    f->flags &= ~F_PARKED;
}


static void
unpark(planner_t *p, uint32_t i)
{
    park_unlink(p, i);
    q_append(p, i, BUCKET(kn_of(p, F(p, i))));
}


static void
unpark_all(planner_t *p)
{
    while (p->parked != NIL) {
        unpark(p, p->parked);
    }
}


/* Nodes. */

static unsigned
lim_in(const planner_t *p, const pnode_t *n)
{
    return n->lim_in >= 0 ? (unsigned) n->lim_in : p->def_in;
}


static unsigned
lim_out(const planner_t *p, const pnode_t *n)
{
    return n->lim_out >= 0 ? (unsigned) n->lim_out : p->def_out;
}


static void
node_reserve(const planner_t *p, pnode_t *n)
{
    n->res = p->res_bytes + n->quota / 10000 * p->res_bp
             + n->quota % 10000 * p->res_bp / 10000;
}


/* What a new copy may take on this node now: under quota minus reserve,
 * counting copies, reservations and copies being dropped; and on the disk
 * minus reservations and the same reserve. */
static uint64_t
room(const pnode_t *n)
{
    uint64_t  r, used, d;

    if (n->quota == 0 && n->disk_free == PLANNER_DISK_UNKNOWN) {
        return 0;
    }
    r = UINT64_MAX;
    if (n->quota) {
        used = n->copies + n->reserved + n->dropping + n->res;
        r = used < n->quota ? n->quota - used : 0;
    }
    if (n->disk_free != PLANNER_DISK_UNKNOWN) {
        d = n->reserved + n->res;
        d = n->disk_free > d ? n->disk_free - d : 0;
        r = d < r ? d : r;
    }
    return r;
}


static void
count_targets(planner_t *p)
{
    unsigned  i;
    pnode_t  *n;

    p->ntargets = 0;
    p->ndraining = 0;
    for (i = 0; i < p->nids; i++) {
        n = &p->nodes[p->ids[i]];
        p->ntargets += (n->state == PLANNER_LIVE && !n->draining);
        p->ndraining += n->draining;
    }
}


static pnode_t *
node_get(planner_t *p, unsigned id)
{
    pnode_t  *n;

    if (id > PLANNER_MAX_NODE_ID) {
        return NULL;
    }
    n = &p->nodes[id];
    if (!n->known) {
        /* born DEAD, like any id the planner was never told about, so
         * creating it changes no K */
        n->known = 1;
        n->state = PLANNER_DEAD;
        n->disk_free = PLANNER_DISK_UNKNOWN;
        n->lim_in = PLANNER_LIMIT_DEFAULT;
        n->lim_out = PLANNER_LIMIT_DEFAULT;
        node_reserve(p, n);
        p->ids[p->nids++] = (uint16_t) id;
    }
    return n;
}


/* Failed (file, node) pairs: a small open-addressing table, linear probing,
 * deletion by shifting back, so no tombstones pile up. */

static uint64_t
fail_key(uint32_t f, unsigned node)
{
    return ((uint64_t) f << 16 | node) + 1;
}


static uint64_t
fail_slot(uint64_t key, uint64_t mask)
{
    return (key * 0x9e3779b97f4a7c15ull >> 20) & mask;
}


static pfail_t *
fail_find(const planner_t *p, uint64_t key)
{
    uint64_t  s;

    if (p->fails == NULL) {
        return NULL;
    }
    for (s = fail_slot(key, p->fmask); p->fails[s].key; s = (s + 1) & p->fmask) {
        if (p->fails[s].key == key) {
            return &p->fails[s];
        }
    }
    return NULL;
}


static void
fail_remove_at(planner_t *p, uint64_t s)
{
    uint64_t  j, home;

    p->fails[s].key = 0;
    p->nfails--;
    j = s;
    for ( ;; ) {
        j = (j + 1) & p->fmask;
        if (p->fails[j].key == 0) {
            return;
        }
        home = fail_slot(p->fails[j].key, p->fmask);
        /* move j back into the hole unless its home lies in (s, j] */
        if (((j - home) & p->fmask) >= ((j - s) & p->fmask)) {
            p->fails[s] = p->fails[j];
            p->fails[j].key = 0;
            s = j;
        }
    }
}


static int
fail_insert(planner_t *p, uint64_t key, int64_t until)
{
    uint64_t  s, i, cap;
    pfail_t  *old, *nt, *e;

    e = fail_find(p, key);
    if (e != NULL) {
        e->until = until;
        return 0;
    }
    if (p->fails == NULL || (p->nfails + 1) * 2 > p->fmask + 1) {
        /* expired pairs go before the table grows */
        if (p->fails != NULL) {
            for (i = 0; i <= p->fmask; i++) {
                while (p->fails[i].key && p->fails[i].until <= p->now) {
                    fail_remove_at(p, i);
                }
            }
        }
        if (p->fails == NULL || (p->nfails + 1) * 2 > p->fmask + 1) {
            cap = p->fails ? (p->fmask + 1) * 2 : 64;
            nt = calloc(cap, sizeof(pfail_t));
            if (nt == NULL) {
                return -1;
            }
            old = p->fails;
            for (i = 0; old != NULL && i <= p->fmask; i++) {
                if (old[i].key) {
                    for (s = fail_slot(old[i].key, cap - 1); nt[s].key;
                         s = (s + 1) & (cap - 1))
                    {
                        /* probe */
                    }
                    nt[s] = old[i];
                }
            }
            free(old);
            p->fails = nt;
            p->fmask = cap - 1;
        }
    }
    for (s = fail_slot(key, p->fmask); p->fails[s].key; s = (s + 1) & p->fmask) {
        /* probe */
    }
    p->fails[s].key = key;
    p->fails[s].until = until;
    p->nfails++;
    return 0;
}


static int
failed(const planner_t *p, uint32_t f, unsigned node)
{
    pfail_t  *e = fail_find(p, fail_key(f, node));

    return e != NULL && e->until > p->now;
}


/* Handles are reused, so a deleted file's pairs must all go; a shift back
 * across the table's end can move one behind the sweep, hence the repeat. */
static void
fail_forget_file(planner_t *p, uint32_t f)
{
    uint64_t  i;
    int       again = 1;

    while (again && p->fails != NULL) {
        again = 0;
        for (i = 0; i <= p->fmask; i++) {
            while (p->fails[i].key && (p->fails[i].key - 1) >> 16 == f) {
                fail_remove_at(p, i);
                again = 1;
            }
        }
    }
}


/* Path arena and table. */

static const char *
path_of(const planner_t *p, const pfile_t *f, size_t *len)
{
    *len = PATH_LEN(f->path);
    return p->arena + PATH_OFF(f->path);
}


static int
arena_put(planner_t *p, const char *s, size_t len, uint64_t *off)
{
    uint64_t  cap;
    char     *a;

    if (p->arena_len + len > p->arena_cap) {
        cap = p->arena_cap ? p->arena_cap : 1 << 16;
        while (cap < p->arena_len + len) {
            cap += cap / 2;
        }
        a = realloc(p->arena, cap);
        if (a == NULL) {
            return -1;
        }
        p->arena = a;
        p->arena_cap = cap;
    }
    memcpy(p->arena + p->arena_len, s, len);
    *off = p->arena_len;
    p->arena_len += len;
    return 0;
}


/* Copies every slot's path into a fresh arena once half of it is paths of
 * deleted files; a long-running master with churn keeps a bounded arena. */
static void
arena_compact(planner_t *p)
{
    uint32_t  i;
    uint64_t  off, cap;
    size_t    len;
    char     *a;
    pfile_t  *f;

    cap = p->arena_len - p->arena_dead + 1;
    a = malloc(cap);
    if (a == NULL) {
        return;
    }
    off = 0;
    for (i = 0; i < p->nslots; i++) {
        f = F(p, i);
        if (!(f->flags & F_USED)) {
            continue;
        }
        len = PATH_LEN(f->path);
        memcpy(a + off, p->arena + PATH_OFF(f->path), len);
        f->path = off << 16 | len;
        off += len;
    }
    free(p->arena);
    p->arena = a;
    p->arena_len = off;
    p->arena_cap = cap;
    p->arena_dead = 0;
}


static int
htab_grow(planner_t *p)
{
    uint64_t   cap, i, b;
    uint32_t  *t, j, next;
    pfile_t   *f;
    size_t     len;
    const char *s;

    cap = p->htab ? (p->hmask + 1) * 2 : 1024;
    t = malloc(cap * sizeof(uint32_t));
    if (t == NULL) {
        return -1;
    }
    memset(t, 0xff, cap * sizeof(uint32_t));
    for (i = 0; p->htab != NULL && i <= p->hmask; i++) {
        for (j = p->htab[i]; j != NIL; j = next) {
            f = F(p, j);
            next = f->hnext;
            s = path_of(p, f, &len);
            b = hash_path(s, len) & (cap - 1);
            f->hnext = t[b];
            t[b] = j;
        }
    }
    free(p->htab);
    p->htab = t;
    p->hmask = cap - 1;
    return 0;
}


static uint32_t
htab_find(const planner_t *p, const char *s, size_t len, uint64_t h)
{
    uint32_t    j;
    pfile_t    *f;

    for (j = p->htab[h & p->hmask]; j != NIL; j = f->hnext) {
        f = F(p, j);
        if (PATH_LEN(f->path) == len
            && memcmp(p->arena + PATH_OFF(f->path), s, len) == 0)
        {
            return j;
        }
    }
    return NIL;
}


static void
htab_remove(planner_t *p, uint32_t i)
{
    uint32_t   *pp;
    pfile_t    *f = F(p, i);
    size_t      len;
    const char *s = path_of(p, f, &len);

    for (pp = &p->htab[hash_path(s, len) & p->hmask]; *pp != NIL;
         pp = &F(p, *pp)->hnext)
    {
        if (*pp == i) {
            *pp = f->hnext;
            return;
        }
    }
}


/* Slots. */

static uint32_t
slot_alloc(planner_t *p)
{
    uint32_t   i;
    pfile_t  **c;

    if (p->free != NIL) {
        i = p->free;
        p->free = F(p, i)->qnext;
        return i;
    }
    if (p->nslots == NIL - 1) {
        return NIL;
    }
    if ((p->nslots >> CHUNK_SHIFT) >= p->nchunks) {
        c = realloc(p->chunks, (p->nchunks + 1) * sizeof(pfile_t *));
        if (c == NULL) {
            return NIL;
        }
        p->chunks = c;
        c[p->nchunks] = malloc(CHUNK_SLOTS * sizeof(pfile_t));
        if (c[p->nchunks] == NULL) {
            return NIL;
        }
        p->nchunks++;
    }
    return p->nslots++;
}


static void
slot_release(planner_t *p, uint32_t i)
{
    pfile_t  *f = F(p, i);

    p->arena_dead += PATH_LEN(f->path);
    f->flags = 0;
    f->qnext = p->free;
    p->free = i;
    if (p->arena_dead > (1 << 20) && p->arena_dead * 2 > p->arena_len) {
        arena_compact(p);
    }
}


static void
unref(planner_t *p, uint32_t i)
{
    pfile_t  *f = F(p, i);

    f->refs--;
    if (f->refs == 0 && (f->flags & F_DELETED)) {
        slot_release(p, i);
    }
}


static int
valid(const planner_t *p, planner_file_t i)
{
    return i < p->nslots
           && (F(p, i)->flags & (F_USED | F_DELETED)) == F_USED;
}


/* Holders. */

static int
holder_index(const pfile_t *f, unsigned node)
{
    unsigned  i;

    for (i = 0; i < f->nh; i++) {
        if (f->holders[i] == node) {
            return (int) i;
        }
    }
    return -1;
}


static int
holder_add(planner_t *p, uint32_t i, unsigned node)
{
    pfile_t  *f = F(p, i);
    unsigned  j, old_k = f->k;
    int       old_kn = kn_of(p, f);

    if (node > PLANNER_MAX_NODE_ID) {
        return -1;
    }
    if (holder_index(f, node) >= 0) {
        return 1;
    }
    if (f->nh == PLANNER_MAX_HOLDERS) {
        return -1;
    }
    for (j = f->nh; j > 0 && f->holders[j - 1] > node; j--) {
        f->holders[j] = f->holders[j - 1];
    }
    f->holders[j] = (uint16_t) node;
    f->nh++;
    if (f->flags & F_PARKED) {
        unpark(p, i);
    }
    p->nodes[node].files++;
    p->nodes[node].copies += f->size;
    if (counts(p, node)) {
        f->k++;
        rekey(p, i, old_kn, old_k);
    }
    return 0;
}


static int
holder_del(planner_t *p, uint32_t i, unsigned node)
{
    pfile_t  *f = F(p, i);
    unsigned  old_k = f->k;
    int       j, old_kn = kn_of(p, f);

    if (node > PLANNER_MAX_NODE_ID) {
        return -1;
    }
    j = holder_index(f, node);
    if (j < 0) {
        return 1;
    }
    memmove(&f->holders[j], &f->holders[j + 1],
            (f->nh - j - 1) * sizeof(uint16_t));
    f->nh--;
    if (f->flags & F_PARKED) {
        unpark(p, i);
    }
    p->nodes[node].files--;
    p->nodes[node].copies -= f->size;
    if (counts(p, node)) {
        f->k--;
        rekey(p, i, old_kn, old_k);
    }
    return 0;
}


/* API: planner. */

planner_t *
planner_new(unsigned default_n)
{
    planner_t  *p;
    unsigned    b;

    if (default_n < 1 || default_n > PLANNER_MAX_N) {
        return NULL;
    }
    p = calloc(1, sizeof(*p));
    if (p == NULL) {
        return NULL;
    }
    p->nodes = calloc(NNODES, sizeof(pnode_t));
    p->ids = malloc(NNODES * sizeof(uint16_t));
    if (p->nodes == NULL || p->ids == NULL || htab_grow(p) != 0) {
        planner_free(p);
        return NULL;
    }
    for (b = 0; b < NBUCKETS; b++) {
        p->qhead[b] = NIL;
        p->qtail[b] = NIL;
    }
    p->qmin = NBUCKETS;
    p->parked = NIL;
    p->free = NIL;
    p->default_n = default_n;
    p->cap = PLANNER_MAX_N;
    p->def_in = 2;
    p->def_out = 4;
    p->scan = 64;
    p->scan_victims = 16;
    return p;
}


void
planner_free(planner_t *p)
{
    uint32_t  c;

    if (p == NULL) {
        return;
    }
    for (c = 0; c < p->nchunks; c++) {
        free(p->chunks[c]);
    }
    free(p->chunks);
    free(p->arena);
    free(p->htab);
    free(p->nodes);
    free(p->ids);
    free(p->fails);
    free(p);
}


int
planner_set_default_n(planner_t *p, unsigned n)
{
    uint32_t  i;
    unsigned  old = p->default_n;
    pfile_t  *f;

    if (n < 1 || n > PLANNER_MAX_N) {
        return -1;
    }
    if (n == old) {
        return 0;
    }
    p->default_n = n;
    for (i = 0; i < p->nslots; i++) {
        f = F(p, i);
        if ((f->flags & (F_USED | F_DELETED)) == F_USED && f->n == 0) {
            rekey(p, i, (int) f->k - (int) old, f->k);
        }
    }
    return 0;
}


int
planner_set_cap(planner_t *p, unsigned cap)
{
    uint32_t  i;
    unsigned  old = p->cap, n;
    int       kn;
    pfile_t  *f;

    if (cap == 0 || cap > PLANNER_MAX_N) {
        cap = PLANNER_MAX_N;
    }
    if (cap == old) {
        return 0;
    }
    for (i = 0; i < p->nslots; i++) {
        f = F(p, i);
        if ((f->flags & (F_USED | F_DELETED)) != F_USED) {
            continue;
        }
        /* the effective N moves only for files wanting more than the
         * smaller of the two caps */
        n = f->n ? f->n : p->default_n;
        if (n <= old && n <= cap) {
            continue;
        }
        p->cap = old;
        kn = kn_of(p, f);
        p->cap = cap;
        rekey(p, i, kn, f->k);
    }
    p->cap = cap;
    return 0;
}


unsigned
planner_default_n(const planner_t *p)
{
    return p->default_n;
}


void
planner_set_reserve(planner_t *p, uint64_t bytes, unsigned basis_points)
{
    unsigned  i;

    p->res_bytes = bytes;
    p->res_bp = basis_points > 10000 ? 10000 : basis_points;
    for (i = 0; i < p->nids; i++) {
        node_reserve(p, &p->nodes[p->ids[i]]);
    }
}


void
planner_set_limits(planner_t *p, unsigned pulls_in, unsigned pulls_out)
{
    p->def_in = pulls_in > 65535 ? 65535 : pulls_in;
    p->def_out = pulls_out > 65535 ? 65535 : pulls_out;
}


void
planner_set_scan(planner_t *p, unsigned files_per_call)
{
    p->scan = files_per_call ? files_per_call : 1;
}


/* API: nodes. */

/* Re-counts K of every file the node holds after its copies started or
 * stopped counting (was/now: counts() before and after). */
static void
node_recount(planner_t *p, unsigned id, int was, int now)
{
    uint32_t  i;
    unsigned  k;
    int       kn;
    pfile_t  *f;

    if (was == now || p->nodes[id].files == 0) {
        return;
    }
    for (i = 0; i < p->nslots; i++) {
        f = F(p, i);
        if ((f->flags & (F_USED | F_DELETED)) != F_USED
            || holder_index(f, id) < 0)
        {
            continue;
        }
        k = f->k;
        kn = kn_of(p, f);
        f->k = now ? f->k + 1 : f->k - 1;
        rekey(p, i, kn, k);
    }
}


int
planner_node_state(planner_t *p, unsigned id, int state)
{
    pnode_t  *n = node_get(p, id);
    int       was;

    if (n == NULL || state < PLANNER_LIVE || state > PLANNER_DEAD) {
        return -1;
    }
    was = counts(p, id);
    if (state == PLANNER_LIVE && n->state != PLANNER_LIVE) {
        unpark_all(p);
    }
    n->state = (uint8_t) state;
    count_targets(p);
    node_recount(p, id, was, counts(p, id));
    return 0;
}


int
planner_node_draining(planner_t *p, unsigned id, int draining)
{
    pnode_t  *n = node_get(p, id);
    int       was;

    if (n == NULL) {
        return -1;
    }
    was = counts(p, id);
    n->draining = draining != 0;
    count_targets(p);
    node_recount(p, id, was, counts(p, id));
    return 0;
}


int
planner_node_space(planner_t *p, unsigned id, uint64_t quota,
    uint64_t disk_free)
{
    pnode_t  *n = node_get(p, id);

    if (n == NULL) {
        return -1;
    }
    n->quota = quota;
    n->disk_free = disk_free;
    node_reserve(p, n);
    return 0;
}


int
planner_node_load(planner_t *p, unsigned id, unsigned load)
{
    pnode_t  *n = node_get(p, id);

    if (n == NULL) {
        return -1;
    }
    n->load = load;
    return 0;
}


int
planner_node_limits(planner_t *p, unsigned id, int pulls_in, int pulls_out)
{
    pnode_t  *n = node_get(p, id);

    if (n == NULL || pulls_in < -1 || pulls_out < -1
        || pulls_in > 65535 || pulls_out > 65535)
    {
        return -1;
    }
    n->lim_in = pulls_in;
    n->lim_out = pulls_out;
    return 0;
}


int
planner_node_forget(planner_t *p, unsigned id)
{
    uint32_t  i;
    pfile_t  *f;

    if (node_get(p, id) == NULL) {
        return -1;
    }
    for (i = 0; i < p->nslots && p->nodes[id].files; i++) {
        f = F(p, i);
        if ((f->flags & (F_USED | F_DELETED)) == F_USED) {
            holder_del(p, i, id);
        }
    }
    return 0;
}


int
planner_node_info(const planner_t *p, unsigned id, planner_node_info_t *info)
{
    const pnode_t  *n;

    if (id > PLANNER_MAX_NODE_ID) {
        return -1;
    }
    n = &p->nodes[id];
    memset(info, 0, sizeof(*info));
    info->known = n->known;
    info->state = n->known ? n->state : PLANNER_DEAD;
    info->draining = n->draining;
    info->quota = n->quota;
    info->disk_free = n->known ? n->disk_free : PLANNER_DISK_UNKNOWN;
    info->copy_bytes = n->copies;
    info->reserved = n->reserved;
    info->dropping = n->dropping;
    info->room = n->known ? room(n) : 0;
    info->files = n->files;
    info->load = n->load;
    info->pulls_in = n->in;
    info->pulls_out = n->out;
    info->limit_in = n->known ? lim_in(p, n) : p->def_in;
    info->limit_out = n->known ? lim_out(p, n) : p->def_out;
    return 0;
}


/* API: files. */

planner_file_t
planner_file_add(planner_t *p, const char *path, size_t len, uint64_t size,
    uint64_t sum, unsigned n, const uint16_t *holders, unsigned nholders)
{
    uint64_t  h, off;
    uint32_t  i;
    unsigned  j;
    pfile_t  *f;

    if (len == 0 || len > 0xffff || n > PLANNER_MAX_N
        || size > PLANNER_MAX_SIZE || (nholders && holders == NULL))
    {
        errno = EINVAL;
        return PLANNER_NOFILE;
    }
    h = hash_path(path, len);
    if (htab_find(p, path, len, h) != NIL) {
        errno = EEXIST;
        return PLANNER_NOFILE;
    }
    if (p->nfiles + 1 > p->hmask + 1 && htab_grow(p) != 0) {
        errno = ENOMEM;
        return PLANNER_NOFILE;
    }
    if (arena_put(p, path, len, &off) != 0) {
        errno = ENOMEM;
        return PLANNER_NOFILE;
    }
    i = slot_alloc(p);
    if (i == NIL) {
        p->arena_len -= len;
        errno = ENOMEM;
        return PLANNER_NOFILE;
    }
    f = F(p, i);
    memset(f, 0, sizeof(*f));
    f->size = size;
    f->sum = sum;
    f->path = off << 16 | len;
    f->n = (uint8_t) n;
    f->flags = F_USED;
    f->hnext = p->htab[h & p->hmask];
    p->htab[h & p->hmask] = i;
    p->nfiles++;
    p->bytes += size;
    p->lost++;
    p->hist[BUCKET(kn_of(p, f))]++;
    q_append(p, i, BUCKET(kn_of(p, f)));
    for (j = 0; j < nholders; j++) {
        if (holder_add(p, i, holders[j]) < 0) {
            planner_file_del(p, i);
            errno = EINVAL;
            return PLANNER_NOFILE;
        }
    }
    return i;
}


planner_file_t
planner_file_find(const planner_t *p, const char *path, size_t len)
{
    uint32_t  i;

    if (len == 0 || len > 0xffff) {
        return PLANNER_NOFILE;
    }
    i = htab_find(p, path, len, hash_path(path, len));
    return i == NIL ? PLANNER_NOFILE : i;
}


int
planner_file_holder_add(planner_t *p, planner_file_t f, unsigned node)
{
    if (!valid(p, f) || node > PLANNER_MAX_NODE_ID) {
        return -1;
    }
    return holder_add(p, f, node);
}


int
planner_file_holder_del(planner_t *p, planner_file_t f, unsigned node)
{
    if (!valid(p, f) || node > PLANNER_MAX_NODE_ID) {
        return -1;
    }
    return holder_del(p, f, node);
}


int
planner_file_set_n(planner_t *p, planner_file_t i, unsigned n)
{
    pfile_t  *f;
    int       kn;

    if (!valid(p, i) || n > PLANNER_MAX_N) {
        return -1;
    }
    f = F(p, i);
    kn = kn_of(p, f);
    f->n = (uint8_t) n;
    rekey(p, i, kn, f->k);
    return 0;
}


int
planner_file_del(planner_t *p, planner_file_t i)
{
    pfile_t  *f;

    if (!valid(p, i)) {
        return -1;
    }
    f = F(p, i);
    while (f->nh) {
        holder_del(p, i, f->holders[f->nh - 1]);
    }
    if (f->flags & F_INQ) {
        q_unlink(p, i, BUCKET(kn_of(p, f)));
    }
    if (f->flags & F_PARKED) {
        park_unlink(p, i);
    }
    p->hist[BUCKET(kn_of(p, f))]--;
    p->lost--;                          /* no holders left: it was lost */
    p->nfiles--;
    p->bytes -= f->size;
    htab_remove(p, i);
    if (f->flags & F_FAILED) {
        fail_forget_file(p, i);
    }
    f->flags |= F_DELETED;
    if (f->refs == 0) {
        slot_release(p, i);
    }
    return 0;
}


const char *
planner_file_path(const planner_t *p, planner_file_t f, size_t *len)
{
    return path_of(p, F(p, f), len);
}


uint64_t
planner_file_size(const planner_t *p, planner_file_t f)
{
    return F(p, f)->size;
}


uint64_t
planner_file_sum(const planner_t *p, planner_file_t f)
{
    return F(p, f)->sum;
}


unsigned
planner_file_n(const planner_t *p, planner_file_t f)
{
    return eff_n(p, F(p, f));
}


unsigned
planner_file_n_explicit(const planner_t *p, planner_file_t f)
{
    return F(p, f)->n;
}


unsigned
planner_file_k(const planner_t *p, planner_file_t f)
{
    return F(p, f)->k;
}


int
planner_file_kn(const planner_t *p, planner_file_t f)
{
    return kn_of(p, F(p, f));
}


unsigned
planner_file_holders(const planner_t *p, planner_file_t i, uint16_t *out,
    unsigned cap)
{
    pfile_t  *f = F(p, i);

    memcpy(out, f->holders, (cap < f->nh ? cap : f->nh) * sizeof(uint16_t));
    return f->nh;
}


int
planner_file_inflight(const planner_t *p, planner_file_t f)
{
    return (F(p, f)->flags & F_PULL) != 0;
}


/* Planning. */

/* The holder of file i that serves best: LIVE (draining is fine), under
 * its pulls-out limit, one whose pull of i did not just fail (a source
 * that sent short or wrong bytes is tried last), least loaded, then fewest
 * pulls out. Marks every
 * holder with the current stamp on the way, so the target search knows
 * who lacks the file in O(1) a node; *live counts holders that are
 * possible targets themselves, *any says whether any holder is LIVE. */
static int
pick_source(planner_t *p, uint32_t i, unsigned *live, int *any)
{
    unsigned  j, id;
    int       best = -1, bad, bbad = 0;
    pnode_t  *n, *b = NULL;
    pfile_t  *f = F(p, i);

    *live = 0;
    *any = 0;
    for (j = 0; j < f->nh; j++) {
        id = f->holders[j];
        n = &p->nodes[id];
        n->mark = p->stamp;
        if (!n->known || n->state != PLANNER_LIVE) {
            continue;
        }
        *live += !n->draining;
        *any = 1;
        if (n->out >= lim_out(p, n)) {
            continue;
        }
        bad = (f->flags & F_FAILED) && failed(p, i, id);
        if (b == NULL || bad < bbad
            || (bad == bbad && (n->load < b->load
                                || (n->load == b->load && n->out < b->out))))
        {
            b = n;
            bbad = bad;
            best = (int) id;
        }
    }
    return best;
}


static int
target_ok(const planner_t *p, const pnode_t *n)
{
    return n->state == PLANNER_LIVE && !n->draining && n->mark != p->stamp
           && n->in < lim_in(p, n);
}


/* Most room, then least load, among nodes that take a plain copy. */
static int
pick_target(planner_t *p, uint32_t i, const pfile_t *f)
{
    unsigned  j, id;
    int       best = -1, check = (f->flags & F_FAILED) != 0;
    uint64_t  r, br = 0;
    pnode_t  *n, *b = NULL;

    for (j = 0; j < p->nids; j++) {
        id = p->ids[j];
        n = &p->nodes[id];
        if (!target_ok(p, n)) {
            continue;
        }
        r = room(n);
        if (r < f->size || (check && failed(p, i, id))) {
            continue;
        }
        if (b == NULL || r > br || (r == br && n->load < b->load)) {
            b = n;
            br = r;
            best = (int) id;
        }
    }
    return best;
}


/* A copy to drop to make room for file i (K-N = kn): the file v must have
 * K-N >= kn + 2 and >= 1 (so it keeps N copies, hence at least one), no
 * move of its own in flight (its copy may be a source), and a holder that
 * would take file i once v's bytes are gone. Looks at the fullest-surplus
 * buckets first, a bounded number of files; those that do not fit go to
 * the back of their bucket. */
static int
pick_eviction(planner_t *p, uint32_t i, const pfile_t *f, int kn,
    uint32_t *victim)
{
    int       b, lo, best;
    unsigned  budget = p->scan_victims, cnt, j, id, c;
    uint32_t  v, next;
    uint64_t  r, need, br;
    pfile_t  *vf;
    pnode_t  *n;

    lo = kn + 2 > 1 ? kn + 2 : 1;
    for (b = PLANNER_KN_MAX; b >= lo && budget; b--) {
        cnt = p->qcount[BUCKET(b)];
        v = p->qhead[BUCKET(b)];
        for (c = 0; c < cnt && budget; c++, v = next) {
            vf = F(p, v);
            next = vf->qnext;
            budget--;
            best = -1;
            br = 0;
            for (j = 0; j < vf->nh; j++) {
                id = vf->holders[j];
                n = &p->nodes[id];
                if (!n->known || !target_ok(p, n)) {
                    continue;
                }
                need = f->size > vf->size ? f->size - vf->size : 0;
                r = room(n);
                if (r < need
                    || ((f->flags & F_FAILED) && failed(p, i, id)))
                {
                    continue;
                }
                if (best < 0 || r > br) {
                    best = (int) id;
                    br = r;
                }
            }
            if (best >= 0) {
                *victim = v;
                return best;
            }
            q_unlink(p, v, BUCKET(b));
            q_append(p, v, BUCKET(b));
        }
    }
    return -1;
}


/* 1: move made; 0: not now (room, limits, failed pairs); -1: no LIVE
 * holder (park it); -2: every node that could take it has it. */
static int
try_file(planner_t *p, uint32_t i, planner_move_t *m)
{
    pfile_t  *f = F(p, i), *vf;
    int       src, dst, kn, any;
    unsigned  live;
    uint32_t  v = NIL;
    pnode_t  *d;

    p->stamp++;
    src = pick_source(p, i, &live, &any);
    if (!any) {
        return -1;
    }
    if (live >= p->ntargets || f->nh == PLANNER_MAX_HOLDERS) {
        return -2;
    }
    if (src < 0) {
        return 0;
    }
    dst = pick_target(p, i, f);
    kn = kn_of(p, f);
    if (dst < 0) {
        dst = pick_eviction(p, i, f, kn, &v);
        if (dst < 0) {
            return 0;
        }
    }

    d = &p->nodes[dst];
    memset(m, 0, sizeof(*m));
    m->file = i;
    m->src = (uint16_t) src;
    m->dst = (uint16_t) dst;
    m->size = f->size;
    m->evict = PLANNER_NOFILE;
    if (v != NIL) {
        vf = F(p, v);
        m->evict = v;
        m->evict_size = vf->size;
        m->evict_pending = 1;
        /* K drops now, so nobody counts on this copy; its bytes stay
         * booked as "dropping" until the node confirms */
        holder_del(p, v, (unsigned) dst);
        /* until the drop is settled the target still has the bytes: a
         * pull of v planned there now would answer "already here" and
         * make it a holder again just before the drop deletes the copy */
        if (vf->flags & F_INQ) {
            q_unlink(p, v, BUCKET(kn_of(p, vf)));
        }
        d->dropping += vf->size;
        vf->refs++;
        m->reserved = f->size > vf->size ? f->size - vf->size : 0;
    } else {
        m->reserved = f->size;
    }
    d->reserved += m->reserved;
    d->in++;
    p->nodes[src].out++;
    f->flags |= F_PULL;
    f->refs++;
    q_unlink(p, i, BUCKET(kn));
    p->inflight++;
    return 1;
}


int
planner_next(planner_t *p, int64_t now_ms, planner_move_t *m)
{
    unsigned  budget = p->scan, b, cnt, c, cheap = 0;
    uint32_t  i, next;
    int       r;

    p->now = now_ms;
    while (p->qmin < NBUCKETS && p->qcount[p->qmin] == 0) {
        p->qmin++;
    }
    for (b = p->qmin; b < NBUCKETS && budget; b++) {
        cnt = p->qcount[b];
        i = p->qhead[b];
        for (c = 0; c < cnt && budget; c++, i = next) {
            next = F(p, i)->qnext;
            r = try_file(p, i, m);
            if (r > 0) {
                return 1;
            }
            if (r == -1) {
                /* not charged to the budget: each park is paid for by
                 * the event that put the file back */
                park(p, i, b);
                continue;
            }
            /* a file every node holds costs a few holder reads, not a
             * node scan: charged lightly, within a hard cap */
            if (r == 0 || ++cheap % 16 == 0) {
                budget--;
            }
            /* rotation is what keeps a stuck head from starving the rest */
            q_unlink(p, i, b);
            q_append(p, i, b);
        }
    }
    return 0;
}


void
planner_dropped(planner_t *p, planner_move_t *m, int ok)
{
    pnode_t  *d = &p->nodes[m->dst];
    pfile_t  *vf;
    uint64_t  rest;

    if (m->evict == PLANNER_NOFILE || !m->evict_pending) {
        return;
    }
    m->evict_pending = 0;
    d->dropping -= m->evict_size;
    vf = F(p, m->evict);
    if (!(vf->flags & (F_DELETED | F_INQ | F_PARKED | F_PULL))) {
        q_append(p, m->evict, BUCKET(kn_of(p, vf)));
    }
    if (ok) {
        if (d->disk_free != PLANNER_DISK_UNKNOWN) {
            d->disk_free += m->evict_size;
        }
        rest = m->size - m->reserved;
        d->reserved += rest;
        m->reserved += rest;
        return;
    }
    if (!(F(p, m->evict)->flags & F_DELETED)) {
        holder_add(p, m->evict, m->dst);
    }
}


void
planner_done(planner_t *p, planner_move_t *m, int ok)
{
    pnode_t  *d = &p->nodes[m->dst];
    pfile_t  *f = F(p, m->file);

    if (m->evict_pending) {
        planner_dropped(p, m, 0);
    }
    d->reserved -= m->reserved;
    m->reserved = 0;
    d->in--;
    p->nodes[m->src].out--;
    p->inflight--;
    f->flags &= ~F_PULL;
    if (!(f->flags & F_DELETED)) {
        if (ok) {
            if (holder_add(p, m->file, m->dst) == 0
                && d->disk_free != PLANNER_DISK_UNKNOWN)
            {
                d->disk_free = d->disk_free > f->size
                               ? d->disk_free - f->size : 0;
            }
        }
        q_append(p, m->file, BUCKET(kn_of(p, f)));
    }
    if (m->evict != PLANNER_NOFILE) {
        unref(p, m->evict);
    }
    unref(p, m->file);
}


void
planner_fail(planner_t *p, planner_file_t f, unsigned node, int64_t until_ms)
{
    if (!valid(p, f) || node > PLANNER_MAX_NODE_ID) {
        return;
    }
    if (fail_insert(p, fail_key(f, node), until_ms) == 0) {
        F(p, f)->flags |= F_FAILED;
    }
}


/* Draining. */

/* May a draining node's copy of f go: K >= 1 on nodes that count, one of
 * them LIVE (a copy someone can read and copy from), and K >= N or every
 * node that could take a copy already has one. */
static int
drain_safe(const planner_t *p, const pfile_t *f)
{
    unsigned        j, live = 0;
    const pnode_t  *n;

    if (f->k == 0) {
        return 0;
    }
    for (j = 0; j < f->nh; j++) {
        n = &p->nodes[f->holders[j]];
        live += n->known && n->state == PLANNER_LIVE && !n->draining;
    }
    return live > 0 && (f->k >= eff_n(p, f) || live >= p->ntargets);
}


int
planner_next_drain(planner_t *p, planner_drain_t *d)
{
    unsigned  budget, j, id;
    uint32_t  i;
    pfile_t  *f;
    pnode_t  *n;

    if (p->ndraining == 0 || p->nslots == 0) {
        return 0;
    }
    budget = p->scan * 16 < p->nslots ? p->scan * 16 : p->nslots;
    while (budget--) {
        if (p->dcur >= p->nslots) {
            p->dcur = 0;
        }
        i = p->dcur;
        f = F(p, i);
        if ((f->flags & (F_USED | F_DELETED | F_PULL)) != F_USED) {
            p->dcur++;
            continue;
        }
        for (j = 0; j < f->nh; j++) {
            id = f->holders[j];
            n = &p->nodes[id];
            if (!n->known || !n->draining || n->state != PLANNER_LIVE) {
                continue;
            }
            if (!drain_safe(p, f)) {
                break;
            }
            /* stay on this file: another draining node may hold it too */
            memset(d, 0, sizeof(*d));
            d->file = i;
            d->node = (uint16_t) id;
            d->size = f->size;
            d->pending = 1;
            holder_del(p, i, id);           /* K unchanged: it did not count */
            n->dropping += f->size;
            n->dfiles++;
            n->dbytes += f->size;
            f->refs++;
            return 1;
        }
        p->dcur++;
    }
    return 0;
}


int
planner_drain_ok(const planner_t *p, const planner_drain_t *d)
{
    const pfile_t  *f = F(p, d->file);

    if (f->flags & F_DELETED) {
        return 1;                           /* deleted: the copy goes anyway */
    }
    return drain_safe(p, f);
}


void
planner_drain_done(planner_t *p, planner_drain_t *d, int ok)
{
    pnode_t  *n = &p->nodes[d->node];

    if (!d->pending) {
        return;
    }
    d->pending = 0;
    n->dropping -= d->size;
    n->dfiles--;
    n->dbytes -= d->size;
    if (ok) {
        if (n->disk_free != PLANNER_DISK_UNKNOWN) {
            n->disk_free += d->size;
        }
    } else if (!(F(p, d->file)->flags & F_DELETED)) {
        holder_add(p, d->file, d->node);
    }
    unref(p, d->file);
}


int
planner_drain_left(const planner_t *p, unsigned id, uint64_t *files,
    uint64_t *bytes)
{
    const pnode_t  *n;

    if (id > PLANNER_MAX_NODE_ID) {
        return -1;
    }
    n = &p->nodes[id];
    *files = (uint64_t) n->files + n->dfiles;
    *bytes = n->copies + n->dbytes;
    return 0;
}


/* Statistics. */

void
planner_stats(const planner_t *p, planner_stats_t *st)
{
    unsigned  b, i;
    int       seen = 0;

    memset(st, 0, sizeof(*st));
    st->files = p->nfiles;
    st->bytes = p->bytes;
    st->lost = p->lost;
    st->inflight = p->inflight;
    for (b = 0; b < NBUCKETS; b++) {
        if (p->hist[b] == 0) {
            continue;
        }
        if (!seen) {
            st->min_kn = (int) b + PLANNER_KN_MIN;
            seen = 1;
        }
        st->max_kn = (int) b + PLANNER_KN_MIN;
        if ((int) b + PLANNER_KN_MIN < 0) {
            st->under += p->hist[b];
        }
    }
    for (i = 0; i < p->nids; i++) {
        if (counts(p, p->ids[i])) {
            st->copy_bytes += p->nodes[p->ids[i]].copies;
        }
    }
}


int
planner_kn_next(const planner_t *p, int *it, int *kn, uint64_t *count)
{
    int  b;

    for (b = *it; b < NBUCKETS; b++) {
        if (p->hist[b]) {
            *kn = b + PLANNER_KN_MIN;
            *count = p->hist[b];
            *it = b + 1;
            return 1;
        }
    }
    *it = NBUCKETS;
    return 0;
}


void
planner_node_max_kn(const planner_t *p, int16_t *out)
{
    int       kn;
    unsigned  j;
    uint32_t  i;
    pfile_t  *f;

    for (i = 0; i < NNODES; i++) {
        out[i] = PLANNER_KN_NONE;
    }

    for (i = 0; i < p->nslots; i++) {
        f = F(p, i);
        if ((f->flags & (F_USED | F_DELETED)) != F_USED || f->nh == 0) {
            continue;
        }
        kn = kn_of(p, f);
        for (j = 0; j < f->nh; j++) {
            if (out[f->holders[j]] < kn) {
                out[f->holders[j]] = (int16_t) kn;
            }
        }
    }
}


void
planner_mem(const planner_t *p, uint64_t *total, uint64_t *paths)
{
    *paths = p->arena_cap;
    *total = sizeof(*p)
             + (uint64_t) p->nchunks * (CHUNK_SLOTS * sizeof(pfile_t)
                                        + sizeof(pfile_t *))
             + (p->hmask + 1) * sizeof(uint32_t)
             + NNODES * (sizeof(pnode_t) + sizeof(uint16_t))
             + (p->fails ? (p->fmask + 1) * sizeof(pfail_t) : 0)
             + p->arena_cap;
}
