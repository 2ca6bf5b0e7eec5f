/*
 * File checksums: the first 64 bits of SHA-256 (libcrypto), enough to
 * catch a corrupt or truncated copy and short enough to keep the index
 * record small. Blocking I/O: call it from the CLI, fsdfsd or an nginx
 * thread-pool task, never from an nginx event handler.
 */

#ifndef FSDFS_SUM_H
#define FSDFS_SUM_H

#include <stdint.h>

/* 0 on success with *sum and *size set; -1 with errno on a read error. */
int fsdfs_sum_fd(int fd, uint64_t *sum, uint64_t *size);

#endif
