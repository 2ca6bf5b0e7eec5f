/*
 * File checksums with libcrypto's SHA-256, truncated to 64 bits for the
 * index record. Reads in large blocks; blocking by design (see the
 * header for where it may run).
 */

#include <errno.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "fsdfs_sum.h"


int
fsdfs_sum_fd(int fd, uint64_t *sum, uint64_t *size)
{
    int             i, rc;
    ssize_t         n;
    uint64_t        total, s;
    EVP_MD_CTX     *md;
    unsigned char   buf[65536], digest[EVP_MAX_MD_SIZE];

    md = EVP_MD_CTX_new();
    if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(md);
        errno = ENOMEM;
        return -1;
    }

    total = 0;
    rc = -1;

    for ( ;; ) {
        n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        EVP_DigestUpdate(md, buf, (size_t) n);
        total += (uint64_t) n;
    }

    if (n == 0 && EVP_DigestFinal_ex(md, digest, NULL) == 1) {
        for (s = 0, i = 0; i < 8; i++) {
            s = (s << 8) | digest[i];
        }
        *sum = s;
        *size = total;
        rc = 0;
    }

    EVP_MD_CTX_free(md);
    return rc;
}
