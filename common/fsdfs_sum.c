/*
 * File checksums with libxxhash's XXH3-64; see the header for why.
 */

#include <errno.h>
#include <unistd.h>

#include <xxhash.h>

#include "fsdfs_sum.h"

/* fsdfs_sum_t is XXH3's own state: no wrapper, no second allocation. */

fsdfs_sum_t *
fsdfs_sum_new(void)
{
    XXH3_state_t  *st;

    st = XXH3_createState();
    if (st != NULL && XXH3_64bits_reset(st) != XXH_OK) {
        XXH3_freeState(st);
        st = NULL;
    }
    return (fsdfs_sum_t *) st;
}


void
fsdfs_sum_add(fsdfs_sum_t *s, const void *data, size_t len)
{
    /* fails only for a NULL state or data, which callers never pass */
    (void) XXH3_64bits_update((XXH3_state_t *) s, data, len);
}


uint64_t
fsdfs_sum_value(fsdfs_sum_t *s)
{
    return XXH3_64bits_digest((XXH3_state_t *) s);
}


void
fsdfs_sum_free(fsdfs_sum_t *s)
{
    XXH3_freeState((XXH3_state_t *) s);
}


uint64_t
fsdfs_sum_buf(const void *data, size_t len)
{
    return XXH3_64bits(data, len);
}


int
fsdfs_sum_fd(int fd, uint64_t *sum, uint64_t *size)
{
    int             rc;
    ssize_t         n;
    uint64_t        total;
    fsdfs_sum_t    *s;
    unsigned char   buf[65536];

    s = fsdfs_sum_new();
    if (s == NULL) {
        errno = ENOMEM;
        return -1;
    }

    total = 0;

    for ( ;; ) {
        n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        fsdfs_sum_add(s, buf, (size_t) n);
        total += (uint64_t) n;
    }

    rc = -1;
    if (n == 0) {
        *sum = fsdfs_sum_value(s);
        *size = total;
        rc = 0;
    }

    fsdfs_sum_free(s);
    return rc;
}
