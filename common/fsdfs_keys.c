/*
 * The Redis key schema: key names and the path -> bucket hash. FNV-1a is
 * tiny, stable across processes and languages, and spreads paths well
 * enough for sharding; nothing here is security-relevant.
 */

#include <stdio.h>

#include "fsdfs_keys.h"


uint64_t
fsdfs_fnv1a64(const void *data, size_t len)
{
    const unsigned char  *p = data;
    uint64_t              h = 0xcbf29ce484222325ULL;

    while (len--) {
        h ^= *p++;
        h *= 0x100000001b3ULL;
    }

    return h;
}


uint32_t
fsdfs_bucket(const char *path, size_t len, uint32_t buckets)
{
    return buckets ? (uint32_t) (fsdfs_fnv1a64(path, len) % buckets) : 0;
}


static int
fsdfs_key_fit(int n, size_t cap)
{
    return (n < 0 || (size_t) n >= cap) ? -1 : n;
}


int
fsdfs_key_loc(char *buf, size_t cap, const char *prefix, uint32_t bucket)
{
    return fsdfs_key_fit(snprintf(buf, cap, "%sloc:%u", prefix,
                                  (unsigned) bucket), cap);
}


int
fsdfs_key_node(char *buf, size_t cap, const char *prefix, unsigned id)
{
    return fsdfs_key_fit(snprintf(buf, cap, "%snode:%u", prefix, id), cap);
}


int
fsdfs_key_alive(char *buf, size_t cap, const char *prefix, unsigned id)
{
    return fsdfs_key_fit(snprintf(buf, cap, "%salive:%u", prefix, id), cap);
}


int
fsdfs_key(char *buf, size_t cap, const char *prefix, const char *name)
{
    return fsdfs_key_fit(snprintf(buf, cap, "%s%s", prefix, name), cap);
}
