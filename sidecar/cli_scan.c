/*
 * fsdfs scan NODE ROOT: tell the index what a node's disk holds.
 *
 * Files are checksummed as the tree is walked and sent in batches. A
 * batch is one optimistic transaction: WATCH its buckets, read the
 * records (pipelined), compute the new ones (create, or add this node as
 * a holder), then MULTI/HSET.../EXEC; if another writer touched a bucket
 * meanwhile, EXEC fails and the batch is simply done again. Three round
 * trips per thousand files, and never a lost update.
 */

#define _XOPEN_SOURCE 700

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "fsdfs_keys.h"
#include "fsdfs_path.h"
#include "fsdfs_record.h"
#include "fsdfs_sum.h"


#define SCAN_BATCH    1000
#define SCAN_RETRIES  20

enum { SCAN_HELD, SCAN_NEW, SCAN_ADDED, SCAN_CONFLICT, SCAN_CORRUPT };


typedef struct {
    char        *path;
    uint64_t     size;
    uint64_t     sum;
    char         key[FSDFS_KEY_MAX];
    char         value[FSDFS_RECORD_MAX];
    int          change;            /* a SCAN_* outcome */
} scan_file_t;


typedef struct {
    cli_t       *cli;
    int          id;
    uint32_t     buckets;
    size_t       rootlen;
    time_t       now;
    scan_file_t  batch[SCAN_BATCH];
    size_t       n;
    unsigned long long  created, added, held, conflicts, corrupt,
                        skipped, bytes;
    int          failed;
} scan_t;


static scan_t  *scan;       /* nftw() passes no user data */


/* Decide what this node's copy changes in the record read back. */
static void
scan_merge(scan_file_t *f, redisReply *r)
{
    fsdfs_record_t  rec;

    if (r->type == REDIS_REPLY_NIL) {
        memset(&rec, 0, sizeof(rec));
        rec.size = f->size;
        rec.sum = f->sum;
        rec.ctime = scan->now;
        fsdfs_record_add_holder(&rec, scan->id);
        f->change = SCAN_NEW;

    } else if (r->type != REDIS_REPLY_STRING
               || fsdfs_record_decode(&rec, r->str, r->len) != 0)
    {
        fprintf(stderr, "fsdfs scan: corrupt record for \"%s\" left alone\n",
                f->path);
        f->change = SCAN_CORRUPT;
        return;

    } else if (rec.size != f->size || rec.sum != f->sum) {
        fprintf(stderr, "fsdfs scan: \"%s\" differs from the index "
                "(size %llu vs %llu), not registered\n", f->path,
                (unsigned long long) f->size, (unsigned long long) rec.size);
        f->change = SCAN_CONFLICT;
        return;

    } else if (fsdfs_record_has_holder(&rec, scan->id)) {
        f->change = SCAN_HELD;
        return;

    } else if (fsdfs_record_add_holder(&rec, scan->id) != 0) {
        fprintf(stderr, "fsdfs scan: \"%s\" has too many holders\n", f->path);
        f->change = SCAN_CONFLICT;
        return;

    } else {
        f->change = SCAN_ADDED;
    }

    if (fsdfs_record_encode(&rec, f->value, sizeof(f->value)) < 0) {
        f->change = SCAN_CORRUPT;
    }
}


static int
scan_read(scan_t *s)
{
    size_t        i;
    redisReply   *r;
    const char  **argv;
    size_t       *argvlen;
    redisContext *rc = s->cli->rc;

    argv = malloc((s->n + 1) * sizeof(char *));
    argvlen = malloc((s->n + 1) * sizeof(size_t));
    if (argv == NULL || argvlen == NULL) {
        free(argv);
        free(argvlen);
        return -1;
    }

    argv[0] = "WATCH";
    argvlen[0] = 5;
    for (i = 0; i < s->n; i++) {
        argv[i + 1] = s->batch[i].key;
        argvlen[i + 1] = strlen(s->batch[i].key);
    }

    redisAppendCommandArgv(rc, (int) s->n + 1, argv, argvlen);
    free(argv);
    free(argvlen);

    for (i = 0; i < s->n; i++) {
        redisAppendCommand(rc, "HGET %s %s", s->batch[i].key,
                           s->batch[i].path);
    }

    for (i = 0; i <= s->n; i++) {
        if (redisGetReply(rc, (void **) &r) != REDIS_OK
            || !cli_reply_ok(r, 0))
        {
            freeReplyObject(r);
            return -1;
        }
        if (i > 0) {
            scan_merge(&s->batch[i - 1], r);
        }
        freeReplyObject(r);
    }

    return 0;
}


/* MULTI, the changes, EXEC: 1 done, 0 lost a race, -1 error. */
static int
scan_write(scan_t *s)
{
    int            ok;
    size_t         i, queued;
    redisReply    *r;
    redisContext  *rc = s->cli->rc;

    redisAppendCommand(rc, "MULTI");
    queued = 0;

    for (i = 0; i < s->n; i++) {
        if (s->batch[i].change != SCAN_NEW
            && s->batch[i].change != SCAN_ADDED)
        {
            continue;
        }
        redisAppendCommand(rc, "HSET %s %s %s", s->batch[i].key,
                           s->batch[i].path, s->batch[i].value);
        redisAppendCommand(rc, "XADD %sevents MAXLEN ~ 100000 * type have "
                           "node %d path %s", s->cli->prefix, s->id,
                           s->batch[i].path);
        queued += 2;
    }

    redisAppendCommand(rc, "EXEC");
    ok = 1;

    for (i = 0; i < queued + 2; i++) {
        if (redisGetReply(rc, (void **) &r) != REDIS_OK) {
            return -1;
        }
        if (i == queued + 1) {
            ok = (r->type == REDIS_REPLY_ARRAY) ? 1
                 : (r->type == REDIS_REPLY_NIL) ? 0 : -1;
        } else if (r->type == REDIS_REPLY_ERROR) {
            fprintf(stderr, "fsdfs scan: redis error: %s\n", r->str);
            ok = -1;
        }
        freeReplyObject(r);
    }

    return ok;
}


static int
scan_flush(scan_t *s)
{
    int     rc, attempt;
    size_t  i;

    for (attempt = 0; attempt < SCAN_RETRIES; attempt++) {
        if (scan_read(s) != 0) {
            return -1;
        }

        rc = scan_write(s);
        if (rc < 0) {
            return -1;
        }
        if (rc == 1) {
            break;
        }
    }

    if (attempt == SCAN_RETRIES) {
        fprintf(stderr, "fsdfs scan: index too busy, gave up on a batch\n");
        return -1;
    }

    for (i = 0; i < s->n; i++) {
        switch (s->batch[i].change) {
        case SCAN_NEW: s->created++; break;
        case SCAN_ADDED: s->added++; break;
        case SCAN_HELD: s->held++; break;
        case SCAN_CONFLICT: s->conflicts++; break;
        default: s->corrupt++; break;
        }
        s->bytes += s->batch[i].size;
        free(s->batch[i].path);
    }

    s->n = 0;
    return 0;
}


static int
scan_visit(const char *fpath, const struct stat *sb, int flag, struct FTW *ftw)
{
    int           fd;
    const char   *path, *base, *bad;
    scan_file_t  *f;

    if (flag != FTW_F || !S_ISREG(sb->st_mode)) {
        return 0;
    }

    base = fpath + ftw->base;
    if (strncmp(base, ".fsdfs", 6) == 0) {
        return 0;                       /* temp files of pulls and puts */
    }

    path = fpath + scan->rootlen;
    bad = fsdfs_path_check(path, strlen(path));
    if (bad) {
        fprintf(stderr, "fsdfs scan: skipping \"%s\": %s\n", fpath, bad);
        scan->skipped++;
        return 0;
    }

    f = &scan->batch[scan->n];
    fd = open(fpath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || fsdfs_sum_fd(fd, &f->sum, &f->size) != 0) {
        perror(fpath);
        scan->skipped++;
        if (fd >= 0) {
            close(fd);
        }
        return 0;
    }
    close(fd);

    f->path = strdup(path);
    if (f->path == NULL) {
        return 1;
    }

    fsdfs_key_loc(f->key, sizeof(f->key), scan->cli->prefix,
                  fsdfs_bucket(path, strlen(path), scan->buckets));

    if (++scan->n == SCAN_BATCH && scan_flush(scan) != 0) {
        return 1;
    }

    return 0;
}


static int
scan_args(int argc, char **argv, char *root, size_t cap)
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

    if (realpath(argv[2], root) == NULL || strlen(root) + 2 > cap) {
        perror(argv[2]);
        return -1;
    }

    return 0;
}


int
cli_scan(cli_t *cli, int argc, char **argv)
{
    int              rc;
    char             root[4096];
    double           secs;
    long long        buckets;
    struct timespec  t0, t1;

    if (scan_args(argc, argv, root, sizeof(root)) != 0) {
        return CLI_USAGE;
    }

    rc = cli_connect(cli);
    if (rc != CLI_OK) {
        return rc;
    }

    buckets = cli_config_int(cli, "buckets");
    if (buckets <= 0) {
        fprintf(stderr, "fsdfs scan: no %sconfig buckets: run fsdfs init "
                "first\n", cli->prefix);
        return CLI_ERROR;
    }

    scan = calloc(1, sizeof(scan_t));
    if (scan == NULL) {
        return CLI_ERROR;
    }

    scan->cli = cli;
    scan->buckets = (uint32_t) buckets;
    scan->rootlen = strcmp(root, "/") ? strlen(root) : 0;
    scan->now = time(NULL);
    scan->id = cli_node_id(cli, argv[1], 1);

    if (scan->id <= 0) {
        fprintf(stderr, "fsdfs scan: cannot register node \"%s\"\n", argv[1]);
        free(scan);
        return CLI_ERROR;
    }

    clock_gettime(CLOCK_MONOTONIC, &t0);

    rc = nftw(root, scan_visit, 64, FTW_PHYS);
    if (rc == 0 && scan->n) {
        rc = scan_flush(scan);
    }

    clock_gettime(CLOCK_MONOTONIC, &t1);
    secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;

    printf("fsdfs scan: node %s (id %d): %llu new, %llu added as holder, "
           "%llu already held, %llu conflicts, %llu corrupt, %llu skipped, "
           "%llu bytes in %.2f s (%.0f files/s)\n", argv[1], scan->id,
           scan->created, scan->added, scan->held, scan->conflicts,
           scan->corrupt, scan->skipped, scan->bytes, secs,
           (scan->created + scan->added + scan->held) / (secs > 0 ? secs : 1));

    /* a file left out of the index is an error; a badly named one is not */
    rc = (rc != 0 || scan->conflicts || scan->corrupt) ? CLI_ERROR : CLI_OK;
    free(scan);
    return rc;
}
