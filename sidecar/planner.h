/*
 * The replication planner: fsdfsd's picture of every file and node, and the
 * decision "which copy to make next". A pure data structure: no Redis, no
 * HTTP, no clock, no I/O, so a unit test drives it exactly like the daemon.
 *
 * Every file sits in a bucket queue keyed by its surplus K-N (K = holders on
 * nodes neither DEAD nor draining, N = explicit or the planner-wide
 * default), so the neediest file is found in O(1) and a holder change
 * re-files it in O(1).
 * planner_next() takes the neediest file that can make progress and names a
 * target node (live, active, lacks the file, below its pulls-in limit, with
 * room under quota minus reserve) and a source (live holder, least loaded,
 * below its pulls-out limit). When no node has room, a target may make room
 * by dropping its copy of a file whose K-N is at least 2 above this one's,
 * never below that file's N and never its last copy. When every file has
 * its N the same rule keeps filling quotas: min(K-N) keeps rising.
 *
 * The planner never talks to nodes. The executor owns the moves it hands
 * out and reports back; until then the move holds a reservation (pull
 * counts on both nodes, bytes on the target, the file marked in flight).
 *
 * Life of a move (executor side):
 *
 *   planner_next(p, now, &m)            reservation taken
 *   if (m.evict != PLANNER_NOFILE)      the target drops a copy first:
 *       remove m.dst from m.evict's     (the planner already did: K of the
 *         holders in the index           evicted file dropped at once)
 *       wait the nodes' cache ttl
 *       POST /_fsdfs/drop to m.dst
 *       planner_dropped(p, &m, ok)      frees the dropped bytes; on failure
 *                                       the holder is put back (the executor
 *                                       puts it back in the index too) and
 *                                       the move must end: planner_done(,0)
 *   POST /_fsdfs/pull to m.dst
 *   planner_done(p, &m, ok)             releases it; ok adds m.dst as holder
 *   on failure, planner_fail(p, m.file, m.dst, now + backoff)
 *
 * Space accounting per node: used = copies (sizes of the files it holds)
 * + reserved (pulls in flight toward it) + dropping (evicted copies still
 * on its disk). A move never lets used exceed quota - reserve; for an
 * eviction only the part of the new file that the dropped copy does not
 * cover is reserved before the drop, the rest after it, so the disk never
 * holds both while the accounting says it holds one.
 *
 * Handles: a file is a small integer (planner_file_t), stable for its life.
 * A deleted file that a move still refers to keeps its handle and path
 * until that move ends, so the executor can always read m.file's path.
 *
 * Costs: planner_next() examines at most a bounded number of files per call
 * (planner_set_scan) and each of them against the node list, so a call
 * costs O(nodes * scan), never O(files). Files that every possible target
 * already holds are charged 1/16 each. A file with no LIVE holder is
 * parked out of the queue when first met (free of charge, once per file)
 * and comes back when its holders change or a node becomes LIVE, so lost
 * files never eat the scan. Changing a node between DEAD and
 * not DEAD, forgetting a node, and changing the default N scan every file
 * (no per-node file lists: they would cost 4+ bytes per copy, and those
 * events are rare); everything else is O(1) or O(holders).
 *
 * Memory: 104 bytes per file plus the hash table (4-8) plus the path
 * bytes, kept in one arena (compacted when half of it is dead).
 *
 * Not thread-safe: one planner, one thread (fsdfsd's event loop).
 */

#ifndef FSD_PLANNER_H
#define FSD_PLANNER_H

#include <stddef.h>
#include <stdint.h>

typedef struct planner_s  planner_t;
typedef uint32_t          planner_file_t;

#define PLANNER_NOFILE         ((planner_file_t) 0xffffffffu)
#define PLANNER_MAX_HOLDERS    32       /* = FSDFS_MAX_HOLDERS of the record */
#define PLANNER_MAX_N          255
#define PLANNER_MAX_SIZE       ((1ull << 48) - 1)   /* bytes of one file */
#define PLANNER_MAX_NODE_ID    65535
#define PLANNER_DISK_UNKNOWN   UINT64_MAX
#define PLANNER_LIMIT_DEFAULT  (-1)     /* node limit follows the default */
#define PLANNER_KN_MIN         (-PLANNER_MAX_N)
#define PLANNER_KN_MAX         PLANNER_MAX_HOLDERS

/* Node liveness. LIVE: source and target. STALE (alive key expired, not yet
 * dead): neither source nor target, its copies still count in K. DEAD: its
 * copies stop counting in K but stay listed as holders (so do a draining
 * node's, see planner_node_draining). A node the planner
 * has never been told about counts as DEAD. */
enum {
    PLANNER_LIVE = 0,
    PLANNER_STALE,
    PLANNER_DEAD
};

/* What planner_next() hands out. The executor keeps it unchanged and gives
 * it back to planner_dropped() / planner_done(). */
typedef struct {
    planner_file_t  file;        /* the file to copy */
    uint16_t        src;         /* node id pulled from */
    uint16_t        dst;         /* node id that pulls */
    planner_file_t  evict;       /* file whose copy dst drops first, or
                                    PLANNER_NOFILE */
    uint64_t        size;        /* file's size */
    uint64_t        evict_size;  /* evicted file's size (0 if none) */
    /* planner bookkeeping, read-only for the executor */
    uint64_t        reserved;    /* bytes reserved on dst right now */
    int             evict_pending; /* drop not yet reported */
} planner_move_t;

/* What planner_next_drain() hands out: a draining node's copy to drop. */
typedef struct {
    planner_file_t  file;
    uint16_t        node;        /* the draining node */
    uint64_t        size;
    int             pending;     /* planner bookkeeping: not yet reported */
} planner_drain_t;

typedef struct {
    uint64_t  files;             /* files known */
    uint64_t  bytes;             /* sum of their sizes (one copy each) */
    uint64_t  copy_bytes;        /* sum over copies on non-DEAD nodes */
    uint64_t  under;             /* files with K < N */
    uint64_t  lost;              /* files with K = 0 */
    uint64_t  inflight;          /* moves handed out and not done */
    int       min_kn;            /* min(K-N) over all files; 0 if none */
    int       max_kn;            /* max(K-N); 0 if none */
} planner_stats_t;

typedef struct {
    int       known;             /* 0: never set (counts as DEAD) */
    int       state;             /* PLANNER_LIVE / STALE / DEAD */
    int       draining;
    uint64_t  quota;             /* 0: none, the disk decides */
    uint64_t  disk_free;         /* PLANNER_DISK_UNKNOWN if not reported */
    uint64_t  copy_bytes;        /* sizes of the files it holds */
    uint64_t  reserved;          /* bytes of pulls in flight toward it */
    uint64_t  dropping;          /* evicted copies not yet dropped */
    uint64_t  room;              /* what a new copy may take now */
    uint32_t  files;             /* files listing it as holder */
    unsigned  load;
    unsigned  pulls_in, pulls_out;       /* in flight */
    unsigned  limit_in, limit_out;       /* effective limits */
} planner_node_info_t;


/* A planner with default N = default_n (1..255). NULL if out of memory. */
planner_t *planner_new(unsigned default_n);
void planner_free(planner_t *p);

/* Default N for files without an explicit one; re-files every such file
 * (scans all files). -1 if n is not 1..255. */
int planner_set_default_n(planner_t *p, unsigned n);
unsigned planner_default_n(const planner_t *p);

/* No file's effective N above cap (the nodes whose copies count: more
 * copies than nodes cannot exist); the explicit N stays stored, so a node
 * coming back restores it. 0 = no cap (255). Scans all files when it
 * changes. */
int planner_set_cap(planner_t *p, unsigned cap);

/* Quota kept free on every node: bytes + quota * basis_points / 10000
 * (README's `reserve`: "1%" is 100 basis points, "2g" is bytes). */
void planner_set_reserve(planner_t *p, uint64_t bytes, unsigned basis_points);

/* Default pulls at once per node, in and out (README: 2 and 4); nodes with
 * PLANNER_LIMIT_DEFAULT follow it. Takes effect at the next decision;
 * moves already out are not recalled. */
void planner_set_limits(planner_t *p, unsigned pulls_in, unsigned pulls_out);

/* How many files planner_next() may examine per call before it gives up
 * (default 64): bounds a call's cost when the neediest files are stuck.
 * Files examined and not moved go to the back of their bucket, so the
 * next call looks at others: nothing starves. */
void planner_set_scan(planner_t *p, unsigned files_per_call);


/* Nodes, by id 0..65535. Any of these creates the node on first use:
 * DEAD, active, quota 0, disk unknown, load 0, default limits. All return
 * 0, or -1 on a bad argument. */

/* A change between DEAD and not DEAD re-counts K of every file the node
 * holds (scans all files when it holds any). */
int planner_node_state(planner_t *p, unsigned id, int state);
/* A draining node (fsdfs drain) is never a target and its copies stop
 * counting in K, so every file it holds is planned to its N on the other
 * nodes, at the priority that K gives; while LIVE it stays a source, so
 * files only it holds are copied off, not lost. planner_next_drain() then
 * hands out its copies to drop. A change re-counts K of every file the
 * node holds (scans all files when it holds any). */
int planner_node_draining(planner_t *p, unsigned id, int draining);
/* quota 0 = none (only the disk limits); disk_free PLANNER_DISK_UNKNOWN =
 * not reported (only the quota limits). Neither: the node takes nothing.
 * The planner lowers disk_free itself when a pull completes and raises it
 * when a drop completes, until the next heartbeat says better. */
int planner_node_space(planner_t *p, unsigned id, uint64_t quota,
    uint64_t disk_free);
/* Any figure where lower is better (the heartbeat's load). */
int planner_node_load(planner_t *p, unsigned id, unsigned load);
/* Per-node limits; PLANNER_LIMIT_DEFAULT follows planner_set_limits(). */
int planner_node_limits(planner_t *p, unsigned id, int pulls_in,
    int pulls_out);
/* Remove the node from every file's holders (forget_after): scans all
 * files. The node itself stays, with its settings. */
int planner_node_forget(planner_t *p, unsigned id);
/* -1 if the id is out of range; a never-set node reads known = 0. */
int planner_node_info(const planner_t *p, unsigned id,
    planner_node_info_t *info);


/* Files. */

/* Add a file: path (not NUL-terminated, 1..65535 bytes), size (at most
 * PLANNER_MAX_SIZE), sum,
 * explicit N (0 = the default), holders (duplicates ignored, at most
 * PLANNER_MAX_HOLDERS distinct). PLANNER_NOFILE with errno EEXIST (path
 * known), EINVAL or ENOMEM. */
planner_file_t planner_file_add(planner_t *p, const char *path, size_t len,
    uint64_t size, uint64_t sum, unsigned n, const uint16_t *holders,
    unsigned nholders);
/* PLANNER_NOFILE if unknown (or deleted). */
planner_file_t planner_file_find(const planner_t *p, const char *path,
    size_t len);
/* 0 done, 1 already so (holder present / absent), -1 bad file or full. */
int planner_file_holder_add(planner_t *p, planner_file_t f, unsigned node);
int planner_file_holder_del(planner_t *p, planner_file_t f, unsigned node);
/* Explicit N (0 = back to the default). -1 if bad. */
int planner_file_set_n(planner_t *p, planner_file_t f, unsigned n);
/* Forget the file: its copies leave the nodes' accounting at once. If a
 * move still refers to it, the handle and path stay readable until that
 * move ends, and planner_done() then adds no holder. */
int planner_file_del(planner_t *p, planner_file_t f);

/* Readers; undefined for a handle never returned or already freed. The
 * path pointer is valid until the next call that adds or deletes a file
 * or ends a move (the arena may be compacted then): copy it if kept. */
const char *planner_file_path(const planner_t *p, planner_file_t f,
    size_t *len);
uint64_t planner_file_size(const planner_t *p, planner_file_t f);
uint64_t planner_file_sum(const planner_t *p, planner_file_t f);
unsigned planner_file_n(const planner_t *p, planner_file_t f); /* effective */
unsigned planner_file_n_explicit(const planner_t *p, planner_file_t f);
unsigned planner_file_k(const planner_t *p, planner_file_t f);
int planner_file_kn(const planner_t *p, planner_file_t f);
/* Copies holder ids (ascending) into out (cap entries); returns how many
 * holders there are (may exceed cap). */
unsigned planner_file_holders(const planner_t *p, planner_file_t f,
    uint16_t *out, unsigned cap);
int planner_file_inflight(const planner_t *p, planner_file_t f);


/* Planning. */

/* The next move, or 0 when nothing improves anything now (every file at
 * its best, no room, limits reached, or the bounded scan found nothing:
 * call again later, the scan resumes elsewhere). 1: *m filled, its
 * reservation taken. now_ms only compares with planner_fail() times. */
int planner_next(planner_t *p, int64_t now_ms, planner_move_t *m);

/* The target dropped (ok) or failed to drop the evicted copy. On failure
 * the evicted holder is restored in the planner, and the move must be
 * ended with planner_done(p, m, 0). No-op if the move evicts nothing. */
void planner_dropped(planner_t *p, planner_move_t *m, int ok);

/* The move ended: releases pull counts and bytes, the file can be planned
 * again; ok adds m->dst as holder. A pending eviction not reported by
 * planner_dropped() counts as a failed drop (the holder is restored). */
void planner_done(planner_t *p, planner_move_t *m, int ok);

/* Do not pick (file, node) as a pull target before until_ms. */
void planner_fail(planner_t *p, planner_file_t f, unsigned node,
    int64_t until_ms);


/* Draining. Life of a drain drop (executor side):
 *
 *   planner_next_drain(p, &d)        the planner removed d.node from
 *                                    d.file's holders (K unchanged: the
 *                                    copy did not count) and books its
 *                                    bytes as dropping until reported
 *   remove d.node from the index record, wait the nodes' cache ttl
 *   planner_drain_ok(p, &d)          still safe? (else report failure)
 *   POST /_fsdfs/drop to d.node
 *   planner_drain_done(p, &d, ok)    on failure the holder comes back
 *                                    (the executor puts it back in the
 *                                    index too)
 *
 * A copy is handed out only once its file has K >= N on the nodes that
 * count, or every node that could take a copy holds one, with at least
 * one LIVE holder that is not draining (never the last copy), and no
 * pull of the file in flight. The draining node must be LIVE. Each call
 * looks at most 16 * scan files (a cursor over all of them), so a whole
 * drain costs O(files) spread over calls; 0: nothing now. */
int planner_next_drain(planner_t *p, planner_drain_t *d);
/* 1 if dropping d's copy is still safe (or its file was deleted). */
int planner_drain_ok(const planner_t *p, const planner_drain_t *d);
void planner_drain_done(planner_t *p, planner_drain_t *d, int ok);
/* What a node still holds: files and bytes, drain drops not yet reported
 * included (the drain's progress; 0 files: the node is empty). -1 if the
 * id is out of range. */
int planner_drain_left(const planner_t *p, unsigned id, uint64_t *files,
    uint64_t *bytes);


/* Statistics. */

void planner_stats(const planner_t *p, planner_stats_t *st);
/* K-N histogram: start with *it = 0; returns 1 with *kn and *count for
 * each non-empty K-N in ascending order, then 0. */
int planner_kn_next(const planner_t *p, int *it, int *kn, uint64_t *count);
/* Per-node max(K-N): out[id] (PLANNER_MAX_NODE_ID + 1 entries) gets the
 * highest K-N among the files listing node id as holder (its copies on a
 * DEAD or draining node included: the node still holds them), i.e. the
 * surplus it carries, what could be evicted there; PLANNER_KN_NONE if it
 * holds nothing. One pass over every file: O(files + copies), so fsdfsd
 * runs it every few seconds (5), not at every step. */
#define PLANNER_KN_NONE        (PLANNER_KN_MIN - 1)
void planner_node_max_kn(const planner_t *p, int16_t *out);
/* Bytes the planner holds: total, and the path arena's share. */
void planner_mem(const planner_t *p, uint64_t *total, uint64_t *paths);

#endif
