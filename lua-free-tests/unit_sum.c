/*
 * The file checksum: XXH3-64 exactly (a known vector pins the algorithm,
 * since every node, fsdfsd and the CLI must agree on it), the same value
 * however the bytes arrive, and read errors reported.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "tap.h"
#include "fsdfs_sum.h"


#define LEN  (1024 * 1024 + 17)


/* The sum of data fed in pieces of at most step bytes. */
static uint64_t
pieces(const unsigned char *data, size_t len, size_t step)
{
    size_t        off, n;
    uint64_t      v;
    fsdfs_sum_t  *s;

    s = fsdfs_sum_new();
    if (s == NULL) {
        return 0;
    }

    for (off = 0; off < len; off += n) {
        n = len - off < step ? len - off : step;
        fsdfs_sum_add(s, data + off, n);
    }

    v = fsdfs_sum_value(s);
    fsdfs_sum_free(s);
    return v;
}


static void
from_file(const unsigned char *data, uint64_t want)
{
    int       fd;
    char      name[] = "/tmp/unit_sum.XXXXXX";
    uint64_t  sum = 0, size = 0;

    fd = mkstemp(name);
    ok(fd >= 0 && write(fd, data, LEN) == LEN
       && lseek(fd, 0, SEEK_SET) == 0, "a temp file written");
    ok(fsdfs_sum_fd(fd, &sum, &size) == 0 && sum == want && size == LEN,
       "fsdfs_sum_fd: the same sum, and the size");
    close(fd);
    unlink(name);

    fd = open("/tmp", O_RDONLY | O_DIRECTORY);
    errno = 0;
    ok(fsdfs_sum_fd(fd, &sum, &size) == -1 && errno == EISDIR,
       "a read error: -1 with errno");
    close(fd);
}


int
main(void)
{
    size_t          i;
    uint64_t        whole;
    unsigned char  *data;

    plan(9);

    ok(fsdfs_sum_buf("", 0) == 0x2d06800538d394c2ULL,
       "no bytes: XXH3-64's own test vector");

    data = malloc(LEN);
    if (data == NULL) {
        return 1;
    }
    for (i = 0; i < LEN; i++) {
        data[i] = (unsigned char) (i * 2654435761u >> 13);
    }

    whole = fsdfs_sum_buf(data, LEN);
    ok(pieces(data, LEN, 1) == whole, "fed a byte at a time: the same");
    ok(pieces(data, LEN, 4093) == whole, "in odd pieces: the same");
    ok(pieces(data, LEN, 256 * 1024) == whole, "in pull-sized pieces: the same");
    ok(pieces(data, 0, 1) == fsdfs_sum_buf("", 0), "streamed nothing: the empty sum");

    data[LEN / 2] ^= 1;
    ok(fsdfs_sum_buf(data, LEN) != whole, "one bit flipped: another sum");
    data[LEN / 2] ^= 1;

    from_file(data, whole);

    free(data);
    return tap_failed != 0;
}
