/*
 * Command signatures; the format and the rules are in fsdfs_sign.h. The
 * canonical string is built in the caller's buffer from a sorted array
 * of pointers on the stack (at most FSDFS_SIGN_MAX_PARAMS + 2 entries,
 * so an insertion sort is plenty). Verification decodes the hex given
 * and compares raw MACs with CRYPTO_memcmp; key material and expected
 * MACs on the stack are wiped before returning.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "fsdfs_sign.h"


#define FSDFS_SIGN_MAC_LEN  32


static int
fsdfs_sign_name_cmp(const fsdfs_sign_param_t *a, const fsdfs_sign_param_t *b)
{
    int     rc;
    size_t  n;

    n = a->name_len < b->name_len ? a->name_len : b->name_len;
    rc = memcmp(a->name, b->name, n);

    if (rc != 0) {
        return rc;
    }

    return (a->name_len > b->name_len) - (a->name_len < b->name_len);
}


static int
fsdfs_sign_param_ok(const fsdfs_sign_param_t *p)
{
    return p->name_len > 0
           && memchr(p->name, '\n', p->name_len) == NULL
           && memchr(p->name, '=', p->name_len) == NULL
           && (p->value_len == 0
               || memchr(p->value, '\n', p->value_len) == NULL);
}


/* Appends len bytes of s to buf; -1 if that leaves no room for the NUL. */
static int
fsdfs_sign_put(char *buf, size_t cap, size_t *pos, const char *s, size_t len)
{
    if (len >= cap - *pos) {
        return -1;
    }

    if (len) {
        memcpy(buf + *pos, s, len);
    }
    *pos += len;

    return 0;
}


int
fsdfs_sign_canon(char *buf, size_t cap, const char *method,
    size_t method_len, const char *path, size_t path_len,
    const fsdfs_sign_param_t *params, unsigned nparams, int64_t ts,
    uint64_t epoch)
{
    int                 n;
    size_t              pos;
    unsigned            i, j, count;
    char                tsbuf[24], epbuf[24];
    fsdfs_sign_param_t  all[FSDFS_SIGN_MAX_PARAMS + 2], tmp, *p;

    if (cap == 0 || nparams > FSDFS_SIGN_MAX_PARAMS
        || method_len == 0 || memchr(method, '\n', method_len) != NULL
        || path_len == 0 || memchr(path, '\n', path_len) != NULL)
    {
        return -1;
    }

    n = snprintf(tsbuf, sizeof(tsbuf), "%" PRId64, ts);
    all[0] = (fsdfs_sign_param_t) { "ts", 2, tsbuf, (size_t) n };
    n = snprintf(epbuf, sizeof(epbuf), "%" PRIu64, epoch);
    all[1] = (fsdfs_sign_param_t) { "epoch", 5, epbuf, (size_t) n };
    count = 2;

    for (i = 0; i < nparams; i++) {
        if (!fsdfs_sign_param_ok(&params[i])) {
            return -1;
        }
        all[count++] = params[i];
    }

    for (i = 1; i < count; i++) {
        tmp = all[i];
        for (j = i; j > 0 && fsdfs_sign_name_cmp(&all[j - 1], &tmp) > 0; j--) {
            all[j] = all[j - 1];
        }
        all[j] = tmp;
    }

    pos = 0;

    if (fsdfs_sign_put(buf, cap, &pos, method, method_len) != 0
        || fsdfs_sign_put(buf, cap, &pos, "\n", 1) != 0
        || fsdfs_sign_put(buf, cap, &pos, path, path_len) != 0
        || fsdfs_sign_put(buf, cap, &pos, "\n", 1) != 0)
    {
        return -1;
    }

    for (i = 0; i < count; i++) {
        p = &all[i];

        if ((i && fsdfs_sign_name_cmp(&all[i - 1], p) == 0)   /* duplicate */
            || fsdfs_sign_put(buf, cap, &pos, p->name, p->name_len) != 0
            || fsdfs_sign_put(buf, cap, &pos, "=", 1) != 0
            || fsdfs_sign_put(buf, cap, &pos, p->value, p->value_len) != 0
            || fsdfs_sign_put(buf, cap, &pos, "\n", 1) != 0)
        {
            return -1;
        }
    }

    if (pos > INT_MAX) {
        return -1;
    }

    buf[pos] = '\0';
    return (int) pos;
}


static int
fsdfs_sign_mac(const unsigned char *key, size_t keylen, const char *canon,
    size_t len, unsigned char mac[FSDFS_SIGN_MAC_LEN])
{
    unsigned int  maclen;

    if (keylen > INT_MAX) {
        return -1;
    }

    maclen = 0;

    if (HMAC(EVP_sha256(), key, (int) keylen, (const unsigned char *) canon,
             len, mac, &maclen) == NULL
        || maclen != FSDFS_SIGN_MAC_LEN)
    {
        OPENSSL_cleanse(mac, FSDFS_SIGN_MAC_LEN);
        return -1;
    }

    return 0;
}


int
fsdfs_sign(const unsigned char *key, size_t keylen, const char *canon,
    size_t len, char out_hex[FSDFS_SIGN_HEX_LEN + 1])
{
    size_t         i;
    unsigned char  mac[FSDFS_SIGN_MAC_LEN];
    static const char  hex[] = "0123456789abcdef";

    if (fsdfs_sign_mac(key, keylen, canon, len, mac) != 0) {
        return -1;
    }

    for (i = 0; i < FSDFS_SIGN_MAC_LEN; i++) {
        out_hex[2 * i] = hex[mac[i] >> 4];
        out_hex[2 * i + 1] = hex[mac[i] & 0x0f];
    }
    out_hex[FSDFS_SIGN_HEX_LEN] = '\0';

    OPENSSL_cleanse(mac, sizeof(mac));
    return 0;
}


/* A lowercase hex digit's value, or 0x100 for anything else. The
 * branches depend only on the signature the client sent. */
static unsigned
fsdfs_sign_nibble(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    return 0x100;
}


int
fsdfs_sign_verify(const unsigned char *key, size_t keylen,
    const char *canon, size_t len, const char *sig_hex, size_t siglen)
{
    int            rc;
    size_t         i;
    unsigned       bad, hi, lo;
    unsigned char  want[FSDFS_SIGN_MAC_LEN], got[FSDFS_SIGN_MAC_LEN];

    if (siglen != FSDFS_SIGN_HEX_LEN || sig_hex == NULL) {
        return -1;
    }

    bad = 0;

    for (i = 0; i < FSDFS_SIGN_MAC_LEN; i++) {   /* no early exit */
        hi = fsdfs_sign_nibble((unsigned char) sig_hex[2 * i]);
        lo = fsdfs_sign_nibble((unsigned char) sig_hex[2 * i + 1]);
        bad |= (hi | lo) & 0x100;
        got[i] = (unsigned char) ((hi << 4) | (lo & 0x0f));
    }

    if (bad) {
        return -1;
    }

    if (fsdfs_sign_mac(key, keylen, canon, len, want) != 0) {
        return -1;
    }

    rc = CRYPTO_memcmp(want, got, FSDFS_SIGN_MAC_LEN) == 0 ? 0 : -1;

    OPENSSL_cleanse(want, sizeof(want));
    return rc;
}


static int
fsdfs_url_plain(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
           || (c >= '0' && c <= '9')
           || c == '-' || c == '_' || c == '.' || c == '~' || c == '/';
}


size_t
fsdfs_url_encode(char *dst, size_t cap, const char *src, size_t len)
{
    size_t         i, n, w;
    unsigned char  c;
    static const char  hex[] = "0123456789ABCDEF";

    n = 0;   /* bytes needed */
    w = 0;   /* bytes written: whole escapes only, so dst stays valid */

    for (i = 0; i < len; i++) {
        c = (unsigned char) src[i];

        if (fsdfs_url_plain(c)) {
            if (w == n && n + 1 < cap) {
                dst[w++] = (char) c;
            }
            n++;
            continue;
        }

        if (w == n && n + 3 < cap) {
            dst[w++] = '%';
            dst[w++] = hex[c >> 4];
            dst[w++] = hex[c & 0x0f];
        }
        n += 3;
    }

    if (cap) {
        dst[w] = '\0';
    }

    return n;
}


int
fsdfs_sign_query(char *buf, size_t cap, const unsigned char *key,
    size_t keylen, const char *method, const char *uri_path,
    const fsdfs_sign_param_t *params, unsigned nparams, int64_t ts,
    uint64_t epoch)
{
    int       n;
    size_t    pos, len;
    unsigned  i;
    char      canon[FSDFS_SIGN_CANON_MAX], sig[FSDFS_SIGN_HEX_LEN + 1];

    if (cap == 0 || method == NULL || uri_path == NULL) {
        return -1;
    }

    n = fsdfs_sign_canon(canon, sizeof(canon), method, strlen(method),
                         uri_path, strlen(uri_path), params, nparams, ts,
                         epoch);
    if (n < 0 || fsdfs_sign(key, keylen, canon, (size_t) n, sig) != 0) {
        return -1;
    }

    pos = 0;

    for (i = 0; i < nparams; i++) {
        if (fsdfs_sign_put(buf, cap, &pos, params[i].name, params[i].name_len)
            != 0
            || fsdfs_sign_put(buf, cap, &pos, "=", 1) != 0)
        {
            return -1;
        }

        len = fsdfs_url_encode(buf + pos, cap - pos, params[i].value,
                               params[i].value_len);
        if (len >= cap - pos) {
            return -1;
        }
        pos += len;

        if (fsdfs_sign_put(buf, cap, &pos, "&", 1) != 0) {
            return -1;
        }
    }

    n = snprintf(buf + pos, cap - pos, "ts=%" PRId64 "&epoch=%" PRIu64
                 "&sig=%s", ts, epoch, sig);
    if (n < 0 || (size_t) n >= cap - pos || pos + (size_t) n > INT_MAX) {
        return -1;
    }

    return (int) (pos + (size_t) n);
}


const char *
fsdfs_sign_check_time(int64_t ts, int64_t now, int64_t window)
{
    uint64_t  d;

    if (window < 0) {
        return ts > now ? "from the future" : "expired";
    }

    /* The differences in uint64_t cannot overflow, whatever the inputs. */

    if (ts <= now) {
        d = (uint64_t) now - (uint64_t) ts;
        return d <= (uint64_t) window ? NULL : "expired";
    }

    d = (uint64_t) ts - (uint64_t) now;
    return d <= (uint64_t) window ? NULL : "from the future";
}


const char *
fsdfs_sign_check_epoch(uint64_t epoch, uint64_t highest_seen)
{
    return epoch >= highest_seen ? NULL : "old epoch";
}


/* Reads up to cap bytes; returns the count, or -1 with errno. */
static ssize_t
fsdfs_secret_read(int fd, unsigned char *buf, size_t cap)
{
    size_t   got;
    ssize_t  n;

    for (got = 0; got < cap; got += (size_t) n) {
        n = read(fd, buf + got, cap - got);
        if (n < 0 && errno == EINTR) {
            n = 0;
            continue;
        }
        if (n < 0) {
            return -1;
        }
        if (n == 0) {
            break;
        }
    }

    return (ssize_t) got;
}


static int
fsdfs_secret_fd(int fd, unsigned char *key, size_t cap, size_t *len,
    const char **err)
{
    ssize_t        n, more;
    struct stat    st;
    unsigned char  extra[2];

    if (fstat(fd, &st) != 0) {
        *err = "cannot stat the secret file";
        return -1;
    }

    if (!S_ISREG(st.st_mode)) {
        *err = "the secret file is not a regular file";
        return -1;
    }

    if (st.st_mode & 077) {
        *err = "the secret file is accessible by group or others "
               "(chmod 600 it)";
        return -1;
    }

    n = fsdfs_secret_read(fd, key, cap);
    more = (n < 0) ? -1 : fsdfs_secret_read(fd, extra, sizeof(extra));

    if (n < 0 || more < 0) {
        *err = "cannot read the secret file";
        return -1;
    }

    /* One trailing newline is stripped, and may be the byte after cap. */

    if (more == 1 && extra[0] == '\n') {
        more = 0;

    } else if (more == 0 && n > 0 && key[n - 1] == '\n') {
        n--;
    }

    if (more > 0) {
        *err = "the secret is too long";
        return -1;
    }

    if ((size_t) n < FSDFS_SECRET_MIN) {
        *err = "the secret is too short (at least 32 bytes)";
        return -1;
    }

    *len = (size_t) n;
    return 0;
}


int
fsdfs_secret_load(const char *path, unsigned char *key, size_t cap,
    size_t *len, const char **err)
{
    int  fd, rc, saved;

    *len = 0;

    if (cap < FSDFS_SECRET_MIN) {
        *err = "the secret buffer is smaller than 32 bytes";
        return -1;
    }

    /* O_NONBLOCK: a FIFO must not hang the configuration; fstat then
     * refuses anything that is not a regular file. */

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd == -1) {
        *err = "cannot open the secret file";
        return -1;
    }

    rc = fsdfs_secret_fd(fd, key, cap, len, err);

    saved = errno;
    close(fd);
    errno = saved;

    if (rc != 0) {
        OPENSSL_cleanse(key, cap);
    }

    return rc;
}
