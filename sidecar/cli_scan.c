/*
 * fsdfs scan NODE ROOT: tell the index what a node's disk holds.
 *
 * The tree is walked from directory descriptors (openat, no symlink
 * followed, no path looked up twice) and every regular file checksummed.
 * Files go to Redis in batches of a thousand, as RESP built here and
 * written at once. Most files are new to the index: HSETNX creates their
 * record atomically and never overwrites. The others already have a
 * record that may need this node added as a holder: they go through
 * optimistic transactions (WATCH their buckets, read the records,
 * MULTI/HSET/EXEC) of a few hundred files, as WATCH's cost grows with the
 * square of its keys and a round trip's does not; a transaction that lost
 * a race is simply done again. Replies nobody waits for (events) are read
 * with the next batch.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "fsdfs_keys.h"
#include "fsdfs_path.h"
#include "fsdfs_record.h"
#include "fsdfs_sum.h"


#define SCAN_BATCH    1000
#define SCAN_WATCH    256           /* files per optimistic transaction */
#define SCAN_RETRIES  20
#define SCAN_ARGS     (SCAN_WATCH + 1)

enum { SCAN_HELD, SCAN_NEW, SCAN_ADDED, SCAN_CONFLICT, SCAN_CORRUPT };


typedef struct {
    char         path[FSDFS_PATH_MAX + 1];
    size_t       plen;
    uint64_t     size;
    uint64_t     sum;
    char         key[FSDFS_KEY_MAX];
    size_t       klen;
    char         value[FSDFS_RECORD_MAX];
    size_t       vlen;
    int          change;            /* a SCAN_* outcome */
    int          merge;             /* record existed: needs the merge */
} scan_file_t;


typedef struct {
    cli_t         *cli;
    redisContext  *rc;
    unsigned       id;
    char           idstr[16];
    char           events[FSDFS_KEY_MAX];
    uint32_t       buckets;
    time_t         now;
    const char    *root;
    char          *out;             /* RESP not yet handed to hiredis */
    size_t         olen, ocap;
    size_t         pending;         /* replies nobody waits for */
    char           path[FSDFS_PATH_MAX + 2 + 256];
    scan_file_t    batch[SCAN_BATCH];
    size_t         n;
    unsigned long long  created, added, held, conflicts, corrupt,
                        skipped, bytes;
} scan_t;


static int scan_drain(scan_t *s);


/* RESP ------------------------------------------------------------------ */

static int
scan_put(scan_t *s, const char *p, size_t len)
{
    char    *o;
    size_t   cap;

    if (s->olen + len > s->ocap) {
        cap = (s->ocap ? s->ocap * 2 : 65536) + len;
        o = realloc(s->out, cap);
        if (o == NULL) {
            return -1;
        }
        s->out = o;
        s->ocap = cap;
    }

    memcpy(s->out + s->olen, p, len);
    s->olen += len;
    return 0;
}


static int
scan_num(scan_t *s, char type, size_t v)
{
    char   buf[32], *p = buf + sizeof(buf);

    *--p = '\n';
    *--p = '\r';
    do {
        *--p = (char) ('0' + v % 10);
        v /= 10;
    } while (v);
    *--p = type;

    return scan_put(s, p, buf + sizeof(buf) - p);
}


/* One command, arguments given with their lengths (0: use strlen). */
static int
scan_cmd(scan_t *s, int argc, const char **argv, const size_t *lens)
{
    int     i, rc;
    size_t  len;

    rc = scan_num(s, '*', (size_t) argc);

    for (i = 0; i < argc; i++) {
        len = (lens && lens[i]) ? lens[i] : strlen(argv[i]);
        rc |= scan_num(s, '$', len);
        rc |= scan_put(s, argv[i], len);
        rc |= scan_put(s, "\r\n", 2);
    }

    return rc;
}


static int
scan_send(scan_t *s)
{
    int  rc = REDIS_OK;

    if (s->olen) {
        rc = redisAppendFormattedCommand(s->rc, s->out, s->olen);
        s->olen = 0;
    }

    return rc == REDIS_OK ? 0 : -1;
}


/* The next reply anyone waits for, after the pending ones; NULL on error. */
static redisReply *
scan_reply(scan_t *s)
{
    redisReply  *r;

    if (scan_drain(s) != 0 || redisGetReply(s->rc, (void **) &r) != REDIS_OK) {
        return NULL;
    }

    return r;
}


/* Read the replies nobody waits for. */
static int
scan_drain(scan_t *s)
{
    redisReply  *r;

    if (scan_send(s) != 0) {
        return -1;
    }

    for ( ; s->pending; s->pending--) {
        if (redisGetReply(s->rc, (void **) &r) != REDIS_OK) {
            return -1;
        }
        if (!cli_reply_ok(r, 0)) {
            freeReplyObject(r);
            return -1;
        }
        freeReplyObject(r);
    }

    return 0;
}


static int
scan_event(scan_t *s, const scan_file_t *f)
{
    const char  *argv[] = { "XADD", s->events, "MAXLEN", "~", "100000", "*",
                            "type", "have", "node", s->idstr, "path", f->path };
    size_t       lens[12] = { 0 };

    lens[11] = f->plen;
    return scan_cmd(s, 12, argv, lens);
}


/* The index ------------------------------------------------------------- */

static void
scan_encode(scan_file_t *f, const fsdfs_record_t *rec)
{
    int  len = fsdfs_record_encode(rec, f->value, sizeof(f->value));

    f->vlen = (len < 0) ? 0 : (size_t) len;
    if (len < 0) {
        f->change = SCAN_CORRUPT;
    }
}


/* Decide what this node's copy changes in the record read back. */
static void
scan_decide(scan_t *s, scan_file_t *f, redisReply *r)
{
    fsdfs_record_t  rec;

    memset(&rec, 0, sizeof(rec));

    if (r->type == REDIS_REPLY_NIL) {           /* deleted meanwhile */
        rec.size = f->size;
        rec.sum = f->sum;
        rec.ctime = s->now;
        f->change = SCAN_NEW;

    } else if (r->type != REDIS_REPLY_STRING
               || fsdfs_record_decode(&rec, r->str, r->len) != 0)
    {
        fprintf(stderr, "fsdfs scan: corrupt record for \"%s\" left alone\n",
                f->path);
        f->change = SCAN_CORRUPT;
        return;

    } else if (rec.size != f->size || rec.sum != f->sum) {
        fprintf(stderr, "fsdfs scan: \"%s\" differs from the index (size "
                "%llu sum %016llx, indexed %llu %016llx), not registered\n",
                f->path, (unsigned long long) f->size,
                (unsigned long long) f->sum, (unsigned long long) rec.size,
                (unsigned long long) rec.sum);
        f->change = SCAN_CONFLICT;
        return;

    } else if (fsdfs_record_has_holder(&rec, s->id)) {
        f->change = SCAN_HELD;
        return;

    } else {
        f->change = SCAN_ADDED;
    }

    if (fsdfs_record_add_holder(&rec, s->id) != 0) {
        fprintf(stderr, "fsdfs scan: \"%s\" has too many holders\n", f->path);
        f->change = SCAN_CONFLICT;
        return;
    }

    scan_encode(f, &rec);
}


/* WATCH the buckets of fs[], read their records, decide each. */
static int
scan_watch(scan_t *s, scan_file_t **fs, size_t m)
{
    size_t        i, lens[SCAN_ARGS];
    const char   *argv[SCAN_ARGS];
    redisReply   *r;

    argv[0] = "WATCH";
    for (i = 0; i < m; i++) {
        argv[i + 1] = fs[i]->key;
        lens[i + 1] = fs[i]->klen;
    }
    lens[0] = 5;
    scan_cmd(s, (int) m + 1, argv, lens);

    argv[0] = "HGET";
    lens[0] = 4;
    for (i = 0; i < m; i++) {
        argv[1] = fs[i]->key;
        lens[1] = fs[i]->klen;
        argv[2] = fs[i]->path;
        lens[2] = fs[i]->plen;
        scan_cmd(s, 3, argv, lens);
    }

    for (i = 0; i <= m; i++) {
        r = scan_reply(s);
        if (!cli_reply_ok(r, 0)) {
            freeReplyObject(r);
            return -1;
        }
        if (i > 0) {
            scan_decide(s, fs[i - 1], r);
        }
        freeReplyObject(r);
    }

    return 0;
}


/* EXEC's answer: 1 all done, 0 a watched key changed, -1 an error. */
static int
scan_exec_ok(redisReply *r)
{
    size_t  i;

    if (r->type != REDIS_REPLY_ARRAY) {
        return 0;
    }

    for (i = 0; i < r->elements; i++) {
        if (!cli_reply_ok(r->element[i], 0)) {
            return -1;
        }
    }

    return 1;
}


/* MULTI, the changes, EXEC: 1 done, 0 lost a race, -1 error. */
static int
scan_commit(scan_t *s, scan_file_t **fs, size_t m)
{
    int          ok;
    size_t       i, q;
    redisReply  *r;
    const char  *argv[4] = { "HSET" };

    for (i = 0, q = 0; i < m; i++) {
        q += (fs[i]->change == SCAN_NEW || fs[i]->change == SCAN_ADDED);
    }

    if (q == 0) {
        scan_cmd(s, 1, (const char *[]) { "UNWATCH" }, NULL);
        s->pending++;
        return 1;
    }

    scan_cmd(s, 1, (const char *[]) { "MULTI" }, NULL);

    for (i = 0; i < m; i++) {
        if (fs[i]->change == SCAN_NEW || fs[i]->change == SCAN_ADDED) {
            argv[1] = fs[i]->key;
            argv[2] = fs[i]->path;
            argv[3] = fs[i]->value;
            scan_cmd(s, 4, argv, NULL);
            scan_event(s, fs[i]);
        }
    }

    scan_cmd(s, 1, (const char *[]) { "EXEC" }, NULL);
    ok = 1;

    for (i = 0; i < 2 * q + 2 && ok >= 0; i++) {
        r = scan_reply(s);
        if (!cli_reply_ok(r, 0)) {
            ok = -1;
        } else if (i == 2 * q + 1) {
            ok = scan_exec_ok(r);
        }
        freeReplyObject(r);
    }

    return ok;
}


static int
scan_merge(scan_t *s, scan_file_t **fs, size_t m)
{
    int  attempt, rc;

    for (attempt = 0; attempt < SCAN_RETRIES; attempt++) {
        if (scan_watch(s, fs, m) != 0) {
            return -1;
        }

        rc = scan_commit(s, fs, m);
        if (rc != 0) {
            return rc < 0 ? -1 : 0;
        }
    }

    fprintf(stderr, "fsdfs scan: index too busy, gave up on a batch\n");
    return -1;
}


/* HSETNX every record: a new file is done, an indexed one needs a merge. */
static int
scan_create(scan_t *s)
{
    size_t        i;
    redisReply   *r;
    scan_file_t  *f;
    const char   *argv[4] = { "HSETNX" };
    size_t        lens[4] = { 6 };

    for (i = 0; i < s->n; i++) {
        f = &s->batch[i];
        argv[1] = f->key;
        argv[2] = f->path;
        argv[3] = f->value;
        lens[1] = f->klen;
        lens[2] = f->plen;
        lens[3] = f->vlen;
        if (scan_cmd(s, 4, argv, lens) != 0) {
            return -1;
        }
    }

    for (i = 0; i < s->n; i++) {
        f = &s->batch[i];
        r = scan_reply(s);
        if (!cli_reply_ok(r, REDIS_REPLY_INTEGER)) {
            freeReplyObject(r);
            return -1;
        }
        f->merge = (r->integer == 0);
        f->change = SCAN_NEW;
        freeReplyObject(r);
    }

    /* events of the new files: their replies are read later */
    for (i = 0; i < s->n; i++) {
        if (!s->batch[i].merge) {
            scan_event(s, &s->batch[i]);
            s->pending++;
        }
    }

    return scan_send(s);
}


static void
scan_count(scan_t *s, const scan_file_t *f)
{
    switch (f->change) {
    case SCAN_NEW: s->created++; break;
    case SCAN_ADDED: s->added++; break;
    case SCAN_HELD: s->held++; break;
    case SCAN_CONFLICT: s->conflicts++; break;
    default: s->corrupt++; break;
    }

    s->bytes += f->size;
}


static int
scan_flush(scan_t *s)
{
    size_t        i, m;
    scan_file_t  *fs[SCAN_WATCH];

    if (scan_create(s) != 0) {
        return -1;
    }

    for (i = 0, m = 0; i <= s->n; i++) {
        if (m == SCAN_WATCH || (i == s->n && m)) {
            if (scan_merge(s, fs, m) != 0) {
                return -1;
            }
            m = 0;
        }
        if (i < s->n && s->batch[i].merge) {
            fs[m++] = &s->batch[i];
        }
    }

    for (i = 0; i < s->n; i++) {
        scan_count(s, &s->batch[i]);
    }

    s->n = 0;
    return 0;
}


/* The tree -------------------------------------------------------------- */

/* One line on stderr naming the file, control bytes escaped. */
static void
scan_warn(scan_t *s, const char *why)
{
    const unsigned char  *p;

    fprintf(stderr, "fsdfs scan: skipping \"%s", s->root);
    for (p = (const unsigned char *) s->path; *p; p++) {
        if (*p < 0x20 || *p == 0x7f || *p == '"' || *p == '\\') {
            fprintf(stderr, "\\x%02x", *p);
        } else {
            fputc(*p, stderr);
        }
    }
    fprintf(stderr, "\": %s\n", why);
    s->skipped++;
}


/* Size and checksum of the file open as fd; NULL, or why not. */
static const char *
scan_read(int fd, scan_file_t *f)
{
    struct stat  st;

    if (fd < 0 || fstat(fd, &st) != 0) {
        return strerror(errno);
    }

    if (!S_ISREG(st.st_mode)) {
        return "not a regular file";
    }

    return fsdfs_sum_fd(fd, &f->sum, &f->size) ? strerror(errno) : NULL;
}


static int
scan_file(scan_t *s, int dfd, const char *name, size_t plen)
{
    int             fd;
    const char     *bad;
    scan_file_t    *f = &s->batch[s->n];
    fsdfs_record_t  rec;

    bad = fsdfs_path_check(s->path, plen);
    if (bad) {
        scan_warn(s, bad);
        return 0;
    }

    fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    bad = scan_read(fd, f);
    if (fd >= 0) {
        close(fd);
    }
    if (bad) {
        scan_warn(s, bad);
        return 0;
    }

    memcpy(f->path, s->path, plen + 1);
    f->plen = plen;
    f->klen = (size_t) fsdfs_key_loc(f->key, sizeof(f->key), s->cli->prefix,
                                     fsdfs_bucket(f->path, plen, s->buckets));

    memset(&rec, 0, sizeof(rec));
    rec.size = f->size;
    rec.sum = f->sum;
    rec.ctime = s->now;
    fsdfs_record_add_holder(&rec, s->id);
    scan_encode(f, &rec);

    return (++s->n == SCAN_BATCH) ? scan_flush(s) : 0;
}


static int scan_dir(scan_t *s, int dfd, size_t plen);


/* The type of a directory entry, without following a symlink. */
static int
scan_type(int dfd, const struct dirent *e)
{
    struct stat  st;

    if (e->d_type != DT_UNKNOWN) {
        return e->d_type;
    }

    if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        return DT_UNKNOWN;
    }

    return S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG
                                                              : DT_UNKNOWN;
}


static int
scan_entry(scan_t *s, int dfd, const struct dirent *e, size_t plen)
{
    int          fd, type;
    size_t       len, nlen = strlen(e->d_name);
    const char  *name = e->d_name;

    if ((name[0] == '.' && (name[1] == '\0'
                            || (name[1] == '.' && name[2] == '\0')))
        || strncmp(name, ".fsdfs", 6) == 0)
    {
        return 0;                       /* temp files of pulls and puts */
    }

    len = plen + 1 + nlen;
    if (len >= sizeof(s->path)) {
        scan_warn(s, "name too long under this directory");
        return 0;
    }

    s->path[plen] = '/';
    memcpy(s->path + plen + 1, name, nlen + 1);
    type = scan_type(dfd, e);

    if (type == DT_REG) {
        return scan_file(s, dfd, name, len);
    }

    if (type != DT_DIR) {
        return 0;                       /* symlinks, devices, sockets */
    }

    if (len > FSDFS_PATH_MAX) {
        scan_warn(s, "too long, not entered");
        return 0;
    }

    fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        scan_warn(s, strerror(errno));
        return 0;
    }

    return scan_dir(s, fd, len);
}


/* Walk the directory open as dfd (closed here); s->path[0..plen) names it. */
static int
scan_dir(scan_t *s, int dfd, size_t plen)
{
    int             rc;
    DIR            *d;
    struct dirent  *e;

    d = fdopendir(dfd);
    if (d == NULL) {
        scan_warn(s, strerror(errno));
        close(dfd);
        return 0;
    }

    rc = 0;

    while (rc == 0 && (e = readdir(d)) != NULL) {
        rc = scan_entry(s, dirfd(d), e, plen);
    }

    s->path[plen] = '\0';
    closedir(d);
    return rc;
}


/* The command ----------------------------------------------------------- */

static int
scan_args(int argc, char **argv, int *root)
{
    size_t  len;

    if (argc != 3) {
        return -1;
    }

    len = strlen(argv[1]);
    if (len == 0 || len > 32 || strspn(argv[1], "abcdefghijklmnopqrstuvwxyz"
                "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != len)
    {
        fprintf(stderr, "fsdfs scan: invalid node name \"%s\"\n", argv[1]);
        return -1;
    }

    *root = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (*root < 0) {
        fprintf(stderr, "fsdfs scan: root \"%s\": %s\n", argv[2],
                strerror(errno));
        return -1;
    }

    return 0;
}


/* Buckets, node id, events key: everything a batch needs from Redis. */
static int
scan_setup(scan_t *s, cli_t *cli, const char *node)
{
    long long  buckets;
    int        id;

    buckets = cli_config_int(cli, "buckets");
    if (buckets <= 0 || buckets > FSDFS_MAX_BUCKETS) {
        if (cli->rc->err) {
            return CLI_NOREDIS;
        }
        fprintf(stderr, "fsdfs scan: no %sconfig buckets: run fsdfs init "
                "first\n", cli->prefix);
        return CLI_ERROR;
    }

    id = cli_node_id(cli, node, 1);
    if (id <= 0) {
        fprintf(stderr, "fsdfs scan: cannot register node \"%s\"\n", node);
        return cli_fail(cli);
    }

    s->cli = cli;
    s->rc = cli->rc;
    s->id = (unsigned) id;
    snprintf(s->idstr, sizeof(s->idstr), "%u", s->id);
    fsdfs_key(s->events, sizeof(s->events), cli->prefix, "events");
    s->buckets = (uint32_t) buckets;
    s->now = time(NULL);
    return CLI_OK;
}


static void
scan_summary(scan_t *s, const char *node, double secs)
{
    printf("fsdfs scan: node %s (id %u): %llu new, %llu added as holder, "
           "%llu already held, %llu conflicts, %llu corrupt, %llu skipped, "
           "%llu bytes in %.2f s (%.0f files/s)\n", node, s->id,
           s->created, s->added, s->held, s->conflicts, s->corrupt,
           s->skipped, s->bytes, secs,
           (s->created + s->added + s->held) / (secs > 0 ? secs : 1));
}


int
cli_scan(cli_t *cli, int argc, char **argv)
{
    int              rc, root;
    scan_t          *s;
    struct timespec  t0, t1;

    if (scan_args(argc, argv, &root) != 0) {
        return CLI_USAGE;
    }

    s = calloc(1, sizeof(scan_t));
    rc = (s == NULL) ? CLI_ERROR : cli_connect(cli);
    if (rc == CLI_OK) {
        rc = scan_setup(s, cli, argv[1]);
    }
    if (rc != CLI_OK) {
        close(root);
        free(s);
        return rc;
    }

    s->root = argv[2];
    clock_gettime(CLOCK_MONOTONIC, &t0);

    rc = scan_dir(s, root, 0);
    if (rc == 0 && s->n) {
        rc = scan_flush(s);
    }
    if (rc == 0) {
        rc = scan_drain(s);                 /* the last events */
    }

    clock_gettime(CLOCK_MONOTONIC, &t1);
    scan_summary(s, argv[1], (t1.tv_sec - t0.tv_sec)
                             + (t1.tv_nsec - t0.tv_nsec) / 1e9);

    if (rc != 0) {
        fprintf(stderr, "fsdfs scan: redis \"%s\" failed: %s\n", cli->addr,
                s->rc->err ? s->rc->errstr : "see above");
    }

    /* a file left out of the index is an error; a badly named one is not */
    rc = (rc != 0 && s->rc->err) ? CLI_NOREDIS
         : (rc != 0 || s->conflicts || s->corrupt) ? CLI_ERROR : CLI_OK;

    free(s->out);
    free(s);
    return rc;
}
