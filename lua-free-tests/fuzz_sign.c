/*
 * Fuzz target for command signatures. The input is cut at NUL bytes into
 * method, path, then parameter names and values; its first 16 bytes, when
 * there are that many, are ts and epoch. Each field lives in its own heap
 * block of its exact size, so a read past one is caught.
 *
 *   - fsdfs_sign_canon() accepts exactly what a reference reading of the
 *     header's rules accepts, and never writes past cap;
 *   - the signature of the canonical string verifies, and the input's own
 *     bytes taken as a signature, or a mangled one, do not;
 *   - the query string of fsdfs_sign_query(), parsed back the way a node
 *     would (split at '&', percent-decoded), gives the same parameters,
 *     ts and epoch, and its sig verifies over the rebuilt canonical string.
 */

#include <inttypes.h>
#include <string.h>

#include "fsdfs_sign.h"
#include "fuzz.h"

#define FUZZ_FIELDS  (2 + 2 * (FSDFS_SIGN_MAX_PARAMS + 2))

static const unsigned char  key[] = "fuzz-secret-0123456789abcdef-0123456789";


typedef struct {
    char    *p;
    size_t   len;
} field_t;


static int
same_name(const fsdfs_sign_param_t *a, const char *s, size_t len)
{
    return a->name_len == len && memcmp(a->name, s, len) == 0;
}


/* What fsdfs_sign.h says canon must accept, read independently. */
static int
ref_canon_ok(const field_t *method, const field_t *path,
    const fsdfs_sign_param_t *pp, unsigned np)
{
    unsigned  i, j;

    if (np > FSDFS_SIGN_MAX_PARAMS || method->len == 0 || path->len == 0
        || memchr(method->p, '\n', method->len)
        || memchr(path->p, '\n', path->len))
    {
        return 0;
    }

    for (i = 0; i < np; i++) {
        if (pp[i].name_len == 0 || memchr(pp[i].name, '\n', pp[i].name_len)
            || memchr(pp[i].name, '=', pp[i].name_len)
            || memchr(pp[i].value, '\n', pp[i].value_len)
            || same_name(&pp[i], "ts", 2) || same_name(&pp[i], "epoch", 5))
        {
            return 0;
        }
        for (j = 0; j < i; j++) {
            if (same_name(&pp[j], pp[i].name, pp[i].name_len)) {
                return 0;
            }
        }
    }

    return 1;
}


static int
hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}


/* Percent-decodes [s, s+len) in place; its new length. */
static size_t
url_decode(char *s, size_t len)
{
    size_t  i, w;

    for (i = 0, w = 0; i < len; i++) {
        if (s[i] == '%') {
            FUZZ_CHECK(i + 2 < len && hexval(s[i + 1]) >= 0
                       && hexval(s[i + 2]) >= 0);
            s[w++] = (char) (hexval(s[i + 1]) << 4 | hexval(s[i + 2]));
            i += 2;
        } else {
            s[w++] = s[i];
        }
    }

    return w;
}


/* Names a node can find in a query string: the plain words senders use. */
static int
plain_name(const fsdfs_sign_param_t *p)
{
    size_t  i;

    if (same_name(p, "sig", 3)) {
        return 0;
    }
    for (i = 0; i < p->name_len; i++) {
        if (p->name[i] == '\0' || !strchr("abcdefghijklmnopqrstuvwxyz"
                                          "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                          "0123456789_-.", p->name[i]))
        {
            return 0;
        }
    }
    return 1;
}


static void
query_round_trip(const field_t *method, const field_t *path,
    const fsdfs_sign_param_t *pp, unsigned np, int64_t ts, uint64_t epoch)
{
    int                 n, m;
    char               *q, *a, *amp, *eq, *sig, *end, canon[FSDFS_SIGN_CANON_MAX];
    size_t              vlen, siglen;
    unsigned            i, got;
    int64_t             qts;
    uint64_t            qepoch;
    fsdfs_sign_param_t  back[FSDFS_SIGN_MAX_PARAMS];
    int                 have_ts = 0, have_epoch = 0;

    for (i = 0; i < np; i++) {
        if (!plain_name(&pp[i])) {
            return;
        }
    }

    q = malloc(65536);
    FUZZ_CHECK(q != NULL);
    n = fsdfs_sign_query(q, 65536, key, sizeof(key) - 1, method->p, path->p,
                         pp, np, ts, epoch);
    if (n < 0) {
        /* only a canonical string over FSDFS_SIGN_CANON_MAX is refused */
        free(q);
        return;
    }
    FUZZ_CHECK((size_t) n == strlen(q));

    /* one byte short: refused, nothing written past the buffer */
    a = malloc((size_t) n);
    FUZZ_CHECK(a != NULL);
    FUZZ_CHECK(fsdfs_sign_query(a, (size_t) n, key, sizeof(key) - 1,
                                method->p, path->p, pp, np, ts, epoch) == -1);
    free(a);

    got = 0;
    sig = NULL;
    siglen = 0;
    qts = 0;
    qepoch = 0;

    for (a = q; a != NULL; a = amp ? amp + 1 : NULL) {
        amp = strchr(a, '&');
        if (amp) {
            *amp = '\0';
        }
        eq = strchr(a, '=');
        FUZZ_CHECK(eq != NULL);
        *eq = '\0';
        vlen = url_decode(eq + 1, strlen(eq + 1));

        if (strcmp(a, "ts") == 0 && !have_ts) {
            eq[1 + vlen] = '\0';
            qts = strtoll(eq + 1, &end, 10);
            FUZZ_CHECK(*end == '\0');
            have_ts = 1;
        } else if (strcmp(a, "epoch") == 0 && !have_epoch) {
            eq[1 + vlen] = '\0';
            qepoch = strtoull(eq + 1, &end, 10);
            FUZZ_CHECK(*end == '\0');
            have_epoch = 1;
        } else if (strcmp(a, "sig") == 0) {
            FUZZ_CHECK(sig == NULL);
            sig = eq + 1;
            siglen = vlen;
        } else {
            FUZZ_CHECK(got < np);
            back[got] = (fsdfs_sign_param_t) { a, strlen(a), eq + 1, vlen };
            FUZZ_CHECK(same_name(&pp[got], back[got].name,
                                 back[got].name_len));
            FUZZ_CHECK(back[got].value_len == pp[got].value_len
                       && memcmp(back[got].value, pp[got].value,
                                 pp[got].value_len) == 0);
            got++;
        }
    }

    FUZZ_CHECK(got == np && have_ts && have_epoch && sig != NULL);
    FUZZ_CHECK(qts == ts && qepoch == epoch);

    m = fsdfs_sign_canon(canon, sizeof(canon), method->p, method->len,
                         path->p, path->len, back, got, qts, qepoch);
    FUZZ_CHECK(m > 0);
    FUZZ_CHECK(fsdfs_sign_verify(key, sizeof(key) - 1, canon, (size_t) m,
                                 sig, siglen) == 0);
    free(q);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                 n, m;
    char               *canon, *small, hex[FSDFS_SIGN_HEX_LEN + 1];
    size_t              i, start, cap, want;
    int64_t             ts = 1700000000;
    uint64_t            epoch = 1;
    unsigned            nf, np;
    field_t             f[FUZZ_FIELDS];
    fsdfs_sign_param_t  pp[FSDFS_SIGN_MAX_PARAMS + 2];

    if (size >= 16) {
        memcpy(&ts, data, 8);
        memcpy(&epoch, data + 8, 8);
        data += 16;
        size -= 16;
    }

    /* fields at NUL bytes; each its own exact-size, NUL-terminated block */
    nf = 0;
    for (i = 0, start = 0; i <= size && nf < FUZZ_FIELDS; i++) {
        if (i == size || data[i] == '\0') {
            f[nf].len = i - start;
            f[nf].p = malloc(f[nf].len + 1);
            FUZZ_CHECK(f[nf].p != NULL);
            memcpy(f[nf].p, data + start, f[nf].len);
            f[nf].p[f[nf].len] = '\0';
            nf++;
            start = i + 1;
        }
    }
    while (nf < 2) {
        f[nf].p = calloc(1, 1);
        f[nf].len = 0;
        nf++;
    }

    np = 0;
    for (i = 2; i + 1 < nf; i += 2) {
        pp[np++] = (fsdfs_sign_param_t) { f[i].p, f[i].len, f[i + 1].p,
                                          f[i + 1].len };
    }

    want = f[0].len + f[1].len + 2 + sizeof("ts=\n") - 1
           + sizeof("epoch=\n") - 1
           + (size_t) snprintf(hex, sizeof(hex), "%" PRId64, ts)
           + (size_t) snprintf(hex, sizeof(hex), "%" PRIu64, epoch);
    for (i = 0; i < np; i++) {
        want += pp[i].name_len + pp[i].value_len + 2;
    }

    cap = want + 1;
    canon = malloc(cap);
    FUZZ_CHECK(canon != NULL);
    n = fsdfs_sign_canon(canon, cap, f[0].p, f[0].len, f[1].p, f[1].len,
                         pp, np, ts, epoch);

    FUZZ_CHECK((n >= 0) == ref_canon_ok(&f[0], &f[1], pp, np));

    if (n >= 0) {
        FUZZ_CHECK((size_t) n == want && canon[n] == '\0');
        FUZZ_CHECK(memcmp(canon, f[0].p, f[0].len) == 0
                   && canon[f[0].len] == '\n');

        /* a buffer with no room for the NUL: refused, in bounds */
        small = malloc((size_t) n);
        FUZZ_CHECK(small != NULL);
        FUZZ_CHECK(fsdfs_sign_canon(small, (size_t) n, f[0].p, f[0].len,
                                    f[1].p, f[1].len, pp, np, ts, epoch)
                   == -1);
        free(small);

        /* the right signature verifies; anything else does not */
        FUZZ_CHECK(fsdfs_sign(key, sizeof(key) - 1, canon, (size_t) n, hex)
                   == 0);
        FUZZ_CHECK(fsdfs_sign_verify(key, sizeof(key) - 1, canon, (size_t) n,
                                     hex, FSDFS_SIGN_HEX_LEN) == 0);
        FUZZ_CHECK(fsdfs_sign_verify(key, sizeof(key) - 2, canon, (size_t) n,
                                     hex, FSDFS_SIGN_HEX_LEN) == -1);
        FUZZ_CHECK(fsdfs_sign_verify(key, sizeof(key) - 1, canon, (size_t) n,
                                     hex, FSDFS_SIGN_HEX_LEN - 1) == -1);

        i = (size_t) (ts & 0x3f);
        hex[i] = hex[i] == '0' ? '1' : '0';
        FUZZ_CHECK(fsdfs_sign_verify(key, sizeof(key) - 1, canon, (size_t) n,
                                     hex, FSDFS_SIGN_HEX_LEN) == -1);
        hex[i] = hex[i] == '0' ? '1' : '0';

        if (n > 0) {
            canon[n - 1] ^= 1;
            FUZZ_CHECK(fsdfs_sign_verify(key, sizeof(key) - 1, canon,
                                         (size_t) n, hex, FSDFS_SIGN_HEX_LEN)
                       == -1);
            canon[n - 1] ^= 1;
        }

        for (i = 0; i < FSDFS_SIGN_HEX_LEN; i++) {
            if (hex[i] >= 'a') {
                hex[i] = (char) (hex[i] - 'a' + 'A');
                FUZZ_CHECK(fsdfs_sign_verify(key, sizeof(key) - 1, canon,
                                             (size_t) n, hex,
                                             FSDFS_SIGN_HEX_LEN) == -1);
                break;
            }
        }

        /* the last field, as a signature an attacker made up */
        m = (int) f[nf - 1].len;
        if (fsdfs_sign(key, sizeof(key) - 1, canon, (size_t) n, hex) == 0
            && (m != FSDFS_SIGN_HEX_LEN || memcmp(hex, f[nf - 1].p, 64) != 0))
        {
            FUZZ_CHECK(fsdfs_sign_verify(key, sizeof(key) - 1, canon,
                                         (size_t) n, f[nf - 1].p,
                                         f[nf - 1].len) == -1);
        }

        query_round_trip(&f[0], &f[1], pp, np, ts, epoch);
    }

    /* any smaller buffer: refused without a write past it */
    if (want > 0) {
        cap = (size_t) (epoch % want);
        small = malloc(cap ? cap : 1);
        FUZZ_CHECK(small != NULL);
        FUZZ_CHECK(fsdfs_sign_canon(small, cap, f[0].p, f[0].len, f[1].p,
                                    f[1].len, pp, np, ts, epoch) == -1);
        free(small);
    }

    free(canon);
    for (i = 0; i < nf; i++) {
        free(f[i].p);
    }

    return 0;
}
