/*
 * fill_index: write COUNT synthetic location records (about 45-byte paths,
 * three holders each) into a Redis index, pipelined, exactly as the real
 * codec and bucket hash lay them out. For bench/index_mem.sh only.
 *
 *   fill_index HOST PORT COUNT BUCKETS
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "fsdfs_keys.h"
#include "fsdfs_record.h"


int
main(int argc, char **argv)
{
    int             len;
    char            path[64], key[FSDFS_KEY_MAX], val[FSDFS_RECORD_MAX];
    long            i, j, count, buckets, pending;
    redisReply     *r;
    redisContext   *rc;
    fsdfs_record_t  rec;

    if (argc != 5) {
        fprintf(stderr, "usage: fill_index HOST PORT COUNT BUCKETS\n");
        return 2;
    }

    count = atol(argv[3]);
    buckets = atol(argv[4]);
    rc = redisConnect(argv[1], atoi(argv[2]));
    if (rc == NULL || rc->err || count <= 0 || buckets <= 0) {
        fprintf(stderr, "fill_index: cannot connect or bad arguments\n");
        return 1;
    }

    pending = 0;

    for (i = 0; i < count; i++) {
        len = snprintf(path, sizeof(path), "/music/%02lx/%02lx/%016lx%06ld.mp3",
                       i & 0xff, (i >> 8) & 0xff, i * 0x9e3779b97f4a7c15UL, i);

        memset(&rec, 0, sizeof(rec));
        rec.size = 3000000 + i % 5000000;
        rec.sum = (uint64_t) i * 0xbf58476d1ce4e5b9ULL;
        rec.ctime = 1764000000 + i;
        for (j = 0; j < 3; j++) {
            fsdfs_record_add_holder(&rec, 1 + (i + j * 37) % 100);
        }
        fsdfs_record_encode(&rec, val, sizeof(val));
        fsdfs_key_loc(key, sizeof(key), FSDFS_DEFAULT_PREFIX,
                      fsdfs_bucket(path, len, (uint32_t) buckets));

        redisAppendCommand(rc, "HSET %s %b %s", key, path, (size_t) len, val);

        if (++pending == 10000 || i == count - 1) {
            while (pending--) {
                if (redisGetReply(rc, (void **) &r) != REDIS_OK) {
                    fprintf(stderr, "fill_index: %s\n", rc->errstr);
                    return 1;
                }
                freeReplyObject(r);
            }
            pending = 0;
        }
    }

    redisFree(rc);
    return 0;
}
