/*
 * The Redis key schema, in one place for the module, the CLI and fsdfsd.
 * Every key starts with a prefix ("fsdfs:" unless configured). The
 * location index is sharded into a fixed number of hashes, chosen at
 * `fsdfs init` and kept in fsdfs:config; a path lives in bucket
 * fnv1a64(path) % buckets, so every process finds it in one HGET.
 */

#ifndef FSDFS_KEYS_H
#define FSDFS_KEYS_H

#include <stddef.h>
#include <stdint.h>

#define FSDFS_DEFAULT_PREFIX   "fsdfs:"
#define FSDFS_DEFAULT_BUCKETS  65536
#define FSDFS_MAX_BUCKETS      (1u << 24)
#define FSDFS_KEY_MAX          128      /* longest key we build */
#define FSDFS_ALIVE_TTL_MS     3000     /* three missed heartbeats */

uint64_t fsdfs_fnv1a64(const void *data, size_t len);
uint32_t fsdfs_bucket(const char *path, size_t len, uint32_t buckets);

/* Each writes a NUL-terminated key into buf and returns its length, or -1
 * if it does not fit. */
int fsdfs_key_loc(char *buf, size_t cap, const char *prefix, uint32_t bucket);
int fsdfs_key_node(char *buf, size_t cap, const char *prefix, unsigned id);
int fsdfs_key_alive(char *buf, size_t cap, const char *prefix, unsigned id);
int fsdfs_key(char *buf, size_t cap, const char *prefix, const char *name);

#endif
