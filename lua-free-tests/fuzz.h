/*
 * What every fuzz target shares: the libFuzzer entry point and a check
 * that aborts with a message, so both libFuzzer and the plain corpus
 * driver (fuzz_main.c) report a broken invariant as a crash with its
 * reason on stderr.
 */

#ifndef FSDFS_FUZZ_H
#define FSDFS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                      \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__,       \
                    __LINE__, #cond);                                         \
            abort();                                                          \
        }                                                                     \
    } while (0)

#endif
