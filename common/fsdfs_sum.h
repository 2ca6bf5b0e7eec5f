/*
 * File checksums: XXH3-64 (libxxhash) of the contents, 16 hex digits in
 * the index record. It catches a corrupt or truncated copy, which is all
 * the sum is for: command signatures carry the trust (HMAC-SHA256), so
 * the sum need not be cryptographic, and at 64 bits no hash would be.
 * XXH3 runs at memory speed; SHA-256 cost a pulling node a quarter of
 * its CPU (bench/README.md, Cluster).
 *
 * fsdfs_sum_fd() reads: call it from the CLI, fsdfsd or an nginx
 * thread-pool task, never from an nginx event handler.
 */

#ifndef FSDFS_SUM_H
#define FSDFS_SUM_H

#include <stddef.h>
#include <stdint.h>

/* A running sum over bytes that arrive in pieces (a pull, a put). */
typedef struct fsdfs_sum_s  fsdfs_sum_t;

/* NULL when out of memory. */
fsdfs_sum_t *fsdfs_sum_new(void);
void fsdfs_sum_add(fsdfs_sum_t *s, const void *data, size_t len);
uint64_t fsdfs_sum_value(fsdfs_sum_t *s);
void fsdfs_sum_free(fsdfs_sum_t *s);

/* The sum of one buffer. */
uint64_t fsdfs_sum_buf(const void *data, size_t len);

/* 0 on success with *sum and *size set; -1 with errno on a read error. */
int fsdfs_sum_fd(int fd, uint64_t *sum, uint64_t *size);

#endif
