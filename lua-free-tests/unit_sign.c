/*
 * Command signatures: HMAC-SHA256 against the RFC 4231 vectors, the
 * canonical string (exact form, order independence, every malformed
 * input refused), verification against each kind of tampering, the
 * time window and epoch fences, and the secret file loader.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "fsdfs_sign.h"


#define P(n, v)  { n, sizeof(n) - 1, v, sizeof(v) - 1 }


static void
rfc4231(void)
{
    unsigned       i;
    char           hex[FSDFS_SIGN_HEX_LEN + 1];
    unsigned char  key[131], data[50];

    /* Case 1 */
    memset(key, 0x0b, 20);
    ok(fsdfs_sign(key, 20, "Hi There", 8, hex) == 0, "RFC 4231 case 1 signs");
    is_str(hex, "b0344c61d8db38535ca8afceaf0bf12b"
                "881dc200c9833da726e9376c2e32cff7", "RFC 4231 case 1");
    is_int(fsdfs_sign_verify(key, 20, "Hi There", 8, hex, strlen(hex)), 0,
           "RFC 4231 case 1 verifies");

    /* Case 2 */
    fsdfs_sign((const unsigned char *) "Jefe", 4,
               "what do ya want for nothing?", 28, hex);
    is_str(hex, "5bdcc146bf60754e6a042426089575c7"
                "5a003f089d2739839dec58b964ec3843", "RFC 4231 case 2");

    /* Case 3 */
    memset(key, 0xaa, 20);
    memset(data, 0xdd, 50);
    fsdfs_sign(key, 20, (const char *) data, 50, hex);
    is_str(hex, "773ea91e36800e46854db8ebd09181a7"
                "2959098b3ef8c122d9635514ced565fe", "RFC 4231 case 3");

    /* Case 4 */
    for (i = 0; i < 25; i++) {
        key[i] = (unsigned char) (i + 1);
    }
    memset(data, 0xcd, 50);
    fsdfs_sign(key, 25, (const char *) data, 50, hex);
    is_str(hex, "82558a389a443c0ea4cc819899f2083a"
                "85f0faa3e578f8077a2e3ff46729665b", "RFC 4231 case 4");

    /* Case 6: a key longer than the block */
    memset(key, 0xaa, 131);
    fsdfs_sign(key, 131, "Test Using Larger Than Block-Size Key - Hash Key "
               "First", 54, hex);
    is_str(hex, "60e431591ee0b67f0d8a26aacbf5b77f"
                "8e0bc6213728c5140546040f0ee37f54", "RFC 4231 case 6");

    /* Case 7: key and data longer than the block */
    fsdfs_sign(key, 131, "This is a test using a larger than block-size key "
               "and a larger than block-size data. The key needs to be "
               "hashed before being used by the HMAC algorithm.", 152, hex);
    is_str(hex, "9b09ffa71b942fcb27635fbcd5b0e944"
                "bfdc63644f0713938a7f51535c3a35e2", "RFC 4231 case 7");
    is_int(fsdfs_sign_verify(key, 131, "This is a test", 14, hex, 64), -1,
           "RFC 4231 case 7 MAC does not verify other data");
}


static int
canon(char *buf, size_t cap, const char *method, const char *path,
    const fsdfs_sign_param_t *params, unsigned n, int64_t ts, uint64_t epoch)
{
    return fsdfs_sign_canon(buf, cap, method, strlen(method), path,
                            strlen(path), params, n, ts, epoch);
}


static void
canonical_form(void)
{
    int         n, bad;
    unsigned    i, j, k, l, perm[4];
    char        want[256], buf[256];
    const char *expect;
    fsdfs_sign_param_t  ps[4] = {
        P("src", "3"), P("path", "/a/b.mp3"), P("sum", "9f86d081884c7d65"),
        P("size", "48213")
    }, shuffled[4];

    expect = "POST\n/_fsdfs/pull\n"
             "epoch=18446744073709551615\n"
             "path=/a/b.mp3\nsize=48213\nsrc=3\nsum=9f86d081884c7d65\n"
             "ts=1732470000\n";

    n = canon(want, sizeof(want), "POST", "/_fsdfs/pull", ps, 4,
              1732470000, UINT64_MAX);
    is_str(want, expect, "canonical string: exact form, ts and epoch sorted "
           "among the parameters");
    is_int(n, (long long) strlen(expect), "canonical length returned");

    n = canon(buf, sizeof(buf), "DELETE", "/x", NULL, 0, -5, 0);
    is_str(buf, "DELETE\n/x\nepoch=0\nts=-5\n", "no command parameters");

    bad = 0;
    for (i = 0; i < 4; i++) {
        for (j = 0; j < 4; j++) {
            for (k = 0; k < 4; k++) {
                for (l = 0; l < 4; l++) {
                    if (i == j || i == k || i == l || j == k || j == l
                        || k == l)
                    {
                        continue;
                    }
                    perm[0] = i; perm[1] = j; perm[2] = k; perm[3] = l;
                    for (n = 0; n < 4; n++) {
                        shuffled[n] = ps[perm[n]];
                    }
                    n = canon(buf, sizeof(buf), "POST", "/_fsdfs/pull",
                              shuffled, 4, 1732470000, UINT64_MAX);
                    bad += (n < 0 || strcmp(buf, want) != 0);
                }
            }
        }
    }
    is_int(bad, 0, "all 24 orders of the parameters give the same string");

    {
        fsdfs_sign_param_t  pre[2] = { P("ab", "1"), P("a", "2") };

        canon(buf, sizeof(buf), "GET", "/p", pre, 2, 1, 1);
        is_str(buf, "GET\n/p\na=2\nab=1\nepoch=1\nts=1\n",
               "sorting is bytewise: a prefix sorts first");
    }

    {
        fsdfs_sign_param_t  empty = P("note", "");

        ok(canon(buf, sizeof(buf), "GET", "/p", &empty, 1, 1, 1) > 0
           && strcmp(buf, "GET\n/p\nepoch=1\nnote=\nts=1\n") == 0,
           "an empty value is allowed");
    }
}


static void
tampering(void)
{
    int            i;
    char           sig[FSDFS_SIGN_HEX_LEN + 1], bad[FSDFS_SIGN_HEX_LEN + 2];
    char           buf[256];
    unsigned char  key[32], other[32];
    fsdfs_sign_param_t  ps[2] = { P("path", "/a/b.mp3"), P("src", "3") };
    fsdfs_sign_param_t  t[2];

    for (i = 0; i < 32; i++) {
        key[i] = (unsigned char) (i * 7 + 1);
    }
    memcpy(other, key, 32);
    other[31] ^= 1;

    canon(buf, sizeof(buf), "POST", "/_fsdfs/pull", ps, 2, 1000, 5);
    ok(fsdfs_sign(key, 32, buf, strlen(buf), sig) == 0
       && strlen(sig) == FSDFS_SIGN_HEX_LEN
       && strspn(sig, "0123456789abcdef") == FSDFS_SIGN_HEX_LEN,
       "signature is 64 lowercase hex digits");
    is_int(fsdfs_sign_verify(key, 32, buf, strlen(buf), sig, 64), 0,
           "the genuine request verifies");
    is_int(fsdfs_sign_verify(other, 32, buf, strlen(buf), sig, 64), -1,
           "another key does not");

#define TAMPERED(what, m, pa, prm, ts, ep)                                    \
    do {                                                                      \
        canon(buf, sizeof(buf), m, pa, prm, 2, ts, ep);                       \
        is_int(fsdfs_sign_verify(key, 32, buf, strlen(buf), sig, 64), -1,     \
               "tampered " what " fails");                                    \
    } while (0)

    TAMPERED("method", "PUT", "/_fsdfs/pull", ps, 1000, 5);
    TAMPERED("path", "POST", "/_fsdfs/drop", ps, 1000, 5);
    TAMPERED("ts", "POST", "/_fsdfs/pull", ps, 1001, 5);
    TAMPERED("epoch", "POST", "/_fsdfs/pull", ps, 1000, 6);

    t[0] = ps[0];
    t[1] = (fsdfs_sign_param_t) P("src", "4");
    TAMPERED("parameter value", "POST", "/_fsdfs/pull", t, 1000, 5);

    t[1] = (fsdfs_sign_param_t) P("srd", "3");
    TAMPERED("parameter name", "POST", "/_fsdfs/pull", t, 1000, 5);

    t[1] = (fsdfs_sign_param_t) P("path", "/a/b.mp3");
    t[0] = (fsdfs_sign_param_t) P("src", "3");
    canon(buf, sizeof(buf), "POST", "/_fsdfs/pull", t, 2, 1000, 5);
    is_int(fsdfs_sign_verify(key, 32, buf, strlen(buf), sig, 64), 0,
           "the same parameters in another order still verify");

    memcpy(bad, sig, sizeof(sig));
    bad[10] = (bad[10] == '0') ? '1' : '0';
    is_int(fsdfs_sign_verify(key, 32, buf, strlen(buf), bad, 64), -1,
           "tampered signature (one digit) fails");

    memcpy(bad, sig, sizeof(sig));
    bad[63] = (bad[63] == 'f') ? 'e' : 'f';
    is_int(fsdfs_sign_verify(key, 32, buf, strlen(buf), bad, 64), -1,
           "tampered signature (last digit) fails");

    is_int(fsdfs_sign_verify(key, 32, buf, strlen(buf), sig, 63), -1,
           "63 digits fail");
    memcpy(bad, sig, sizeof(sig));
    bad[64] = '0';
    bad[65] = '\0';
    is_int(fsdfs_sign_verify(key, 32, buf, strlen(buf), bad, 65), -1,
           "65 digits fail");
    is_int(fsdfs_sign_verify(key, 32, buf, strlen(buf), "", 0), -1,
           "an empty signature fails");
    is_int(fsdfs_sign_verify(key, 32, buf, strlen(buf), NULL, 0), -1,
           "no signature fails");

    memcpy(bad, sig, sizeof(sig));
    bad[20] = 'g';
    is_int(fsdfs_sign_verify(key, 32, buf, strlen(buf), bad, 64), -1,
           "a non-hex digit fails");

    memcpy(bad, sig, sizeof(sig));
    bad[0] = '\0';
    is_int(fsdfs_sign_verify(key, 32, buf, strlen(buf), bad, 64), -1,
           "a NUL in the signature fails");

    for (i = 0; i < 64; i++) {
        bad[i] = (sig[i] >= 'a') ? (char) (sig[i] - 'a' + 'A') : sig[i];
    }
    ok(strcmp(bad, sig) != 0
       && fsdfs_sign_verify(key, 32, buf, strlen(buf), bad, 64) == -1,
       "uppercase hex is not the canonical form and fails");

#undef TAMPERED
}


static void
time_window(void)
{
    const char  *r;

    ok(fsdfs_sign_check_time(1000, 1000, 30) == NULL, "ts == now accepted");
    ok(fsdfs_sign_check_time(970, 1000, 30) == NULL, "30 s old accepted");
    ok(fsdfs_sign_check_time(1030, 1000, 30) == NULL, "30 s ahead accepted");
    is_str(fsdfs_sign_check_time(969, 1000, 30), "expired",
           "31 s old expired");
    is_str(fsdfs_sign_check_time(1031, 1000, 30), "from the future",
           "31 s ahead refused");
    is_str(fsdfs_sign_check_time(INT64_MIN, INT64_MAX, INT64_MAX), "expired",
           "extreme past: no overflow");
    is_str(fsdfs_sign_check_time(INT64_MAX, INT64_MIN, INT64_MAX),
           "from the future", "extreme future: no overflow");
    ok(fsdfs_sign_check_time(INT64_MAX, INT64_MAX - 5, 5) == NULL,
       "near INT64_MAX within the window");
    r = fsdfs_sign_check_time(1000, 1000, -1);
    ok(r != NULL, "a negative window accepts nothing");
    ok(fsdfs_sign_check_time(1000, 1000, 0) == NULL
       && fsdfs_sign_check_time(999, 1000, 0) != NULL,
       "window 0: only the same second");
}


static void
epochs(void)
{
    is_str(fsdfs_sign_check_epoch(5, 6), "old epoch", "old epoch refused");
    ok(fsdfs_sign_check_epoch(6, 6) == NULL, "equal epoch accepted");
    ok(fsdfs_sign_check_epoch(7, 6) == NULL, "newer epoch accepted");
    ok(fsdfs_sign_check_epoch(0, 0) == NULL, "epoch 0 at start accepted");
    ok(fsdfs_sign_check_epoch(UINT64_MAX, UINT64_MAX - 1) == NULL
       && fsdfs_sign_check_epoch(UINT64_MAX - 1, UINT64_MAX) != NULL,
       "64-bit epochs compare as unsigned");
}


static void
bad_params(void)
{
    int          n, i;
    char         buf[1024], names[17][4];
    const char  *want = "POST\n/p\nepoch=1\nk=v\nts=2\n";
    fsdfs_sign_param_t  one[1], two[2], many[17];

#define REFUSED(what, ...)                                                    \
    is_int(canon(buf, sizeof(buf), __VA_ARGS__), -1, what " refused")

    one[0] = (fsdfs_sign_param_t) { "path", 4, "/a\n/b", 5 };
    REFUSED("newline in a value", "POST", "/p", one, 1, 1, 1);

    one[0] = (fsdfs_sign_param_t) { "pa\nth", 5, "/a", 2 };
    REFUSED("newline in a name", "POST", "/p", one, 1, 1, 1);

    one[0] = (fsdfs_sign_param_t) { "a=b", 3, "c", 1 };
    REFUSED("'=' in a name", "POST", "/p", one, 1, 1, 1);

    one[0] = (fsdfs_sign_param_t) { "", 0, "c", 1 };
    REFUSED("an empty name", "POST", "/p", one, 1, 1, 1);

    two[0] = (fsdfs_sign_param_t) P("src", "1");
    two[1] = (fsdfs_sign_param_t) P("src", "2");
    REFUSED("a duplicate name", "POST", "/p", two, 2, 1, 1);

    one[0] = (fsdfs_sign_param_t) P("ts", "1");
    REFUSED("a parameter named ts", "POST", "/p", one, 1, 1, 1);

    one[0] = (fsdfs_sign_param_t) P("epoch", "1");
    REFUSED("a parameter named epoch", "POST", "/p", one, 1, 1, 1);

    REFUSED("newline in the method", "PO\nST", "/p", NULL, 0, 1, 1);
    REFUSED("newline in the path", "POST", "/p\n", NULL, 0, 1, 1);
    REFUSED("an empty method", "", "/p", NULL, 0, 1, 1);
    REFUSED("an empty path", "POST", "", NULL, 0, 1, 1);

    for (i = 0; i < 17; i++) {
        snprintf(names[i], sizeof(names[i]), "p%02d", i);
        many[i] = (fsdfs_sign_param_t) { names[i], 3, "x", 1 };
    }
    ok(canon(buf, sizeof(buf), "POST", "/p", many, 16, 1, 1) > 0,
       "16 parameters accepted");
    REFUSED("17 parameters", "POST", "/p", many, 17, 1, 1);

#undef REFUSED

    one[0] = (fsdfs_sign_param_t) P("k", "v");
    n = (int) strlen(want);
    is_int(canon(buf, n + 1, "POST", "/p", one, 1, 2, 1), n,
           "a buffer of exactly length + 1 is enough");
    is_str(buf, want, "and holds the whole string");

    for (i = n; i >= 0; i--) {
        if (canon(buf, (size_t) i, "POST", "/p", one, 1, 2, 1) != -1) {
            break;
        }
    }
    is_int(i, -1, "every buffer smaller than length + 1 refused");
}


/* Writes data to a fresh file in /tmp with the given mode, loads it as
 * the secret and removes it; the loader's return, or -2 if the file
 * could not be made. */
static int
load(const void *data, size_t len, mode_t mode, unsigned char *key,
    size_t cap, size_t *klen, const char **err)
{
    int   fd, rc;
    char  path[] = "/tmp/unit_sign.XXXXXX";

    *err = NULL;
    *klen = 0;

    fd = mkstemp(path);
    if (fd == -1) {
        return -2;
    }

    if (write(fd, data, len) != (ssize_t) len || fchmod(fd, mode) != 0) {
        close(fd);
        unlink(path);
        return -2;
    }

    close(fd);
    rc = fsdfs_secret_load(path, key, cap, klen, err);
    unlink(path);

    return rc;
}


static int
refused(int rc, const char *err, const char *want)
{
    return rc == -1 && err != NULL && strstr(err, want) != NULL;
}


static void
secrets(void)
{
    int            rc, zero;
    size_t         len, i;
    const char    *err;
    unsigned char  key[64];

#define s40  "0123456789abcdef0123456789abcdef01234567"
#define s64  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define LOAD(data, n, mode)                                                   \
    load(data, n, mode, key, sizeof(key), &len, &err)

    rc = LOAD(s40 "\n", 41, 0600);
    ok(rc == 0 && len == 40 && memcmp(key, s40, 40) == 0,
       "a 40-byte secret with a newline loads");

    rc = LOAD(s40, 40, 0400);
    ok(rc == 0 && len == 40 && memcmp(key, s40, 40) == 0,
       "without a newline, mode 0400");

    rc = LOAD(s40 "\n\n", 42, 0600);
    ok(rc == 0 && len == 41 && key[40] == '\n',
       "only one trailing newline is stripped");

    rc = LOAD(s64 "\n", 65, 0600);
    ok(rc == 0 && len == 64 && memcmp(key, s64, 64) == 0,
       "exactly cap bytes plus a newline loads");

    rc = LOAD(s64 "x", 65, 0600);
    ok(refused(rc, err, "too long"), "cap + 1 bytes refused: %s",
       err ? err : "(null)");

    rc = LOAD(s64 "\n\n", 66, 0600);
    ok(refused(rc, err, "too long"), "cap bytes and two newlines refused");

    rc = LOAD(s40, 32, 0600);
    ok(rc == 0 && len == 32, "32 bytes, the minimum, loads");

    memset(key, 0x55, sizeof(key));
    rc = LOAD("0123456789abcdef0123456789abcde\n", 32, 0600);
    ok(refused(rc, err, "too short"), "31 bytes and a newline refused: %s",
       err ? err : "(null)");
    for (zero = 1, i = 0; i < sizeof(key); i++) {
        zero &= (key[i] == 0);
    }
    ok(zero, "the key buffer is wiped on failure");

    rc = LOAD("", 0, 0600);
    ok(refused(rc, err, "too short"), "an empty file refused");

    rc = LOAD(s40, 40, 0644);
    ok(refused(rc, err, "group or others"), "mode 0644 refused: %s",
       err ? err : "(null)");

    rc = LOAD(s40, 40, 0640);
    ok(refused(rc, err, "group or others"), "mode 0640 refused");

    rc = LOAD(s40, 40, 0602);
    ok(refused(rc, err, "group or others"), "mode 0602 refused");

#undef LOAD
#undef s64
#undef s40

    err = NULL;
    errno = 0;
    rc = fsdfs_secret_load("/tmp/unit_sign.does-not-exist", key, sizeof(key),
                           &len, &err);
    ok(rc == -1 && err != NULL && errno == ENOENT,
       "a missing file refused with errno ENOENT: %s", err ? err : "(null)");

    err = NULL;
    rc = fsdfs_secret_load("/tmp", key, sizeof(key), &len, &err);
    ok(refused(rc, err, "regular"), "a directory refused");

    err = NULL;
    rc = fsdfs_secret_load("/dev/null", key, sizeof(key), &len, &err);
    ok(rc == -1 && err != NULL, "a device refused");

    err = NULL;
    rc = fsdfs_secret_load("/tmp/x", key, 16, &len, &err);
    ok(rc == -1 && err != NULL, "a key buffer under 32 bytes refused");
}


static void
end_to_end(void)
{
    int            n;
    char           buf[512], sig[FSDFS_SIGN_HEX_LEN + 1];
    unsigned char  key[32];
    fsdfs_sign_param_t  ps[3] = {
        P("src", "2"), P("path", "/music/a.mp3"), P("sum", "0011223344556677")
    };

    memset(key, 'k', sizeof(key));

    /* The CLI signs ... */
    n = canon(buf, sizeof(buf), "POST", "/_fsdfs/pull", ps, 3, 1700000000, 9);
    fsdfs_sign(key, sizeof(key), buf, (size_t) n, sig);

    /* ... the node rebuilds from what it parsed, in wire order. */
    ps[0] = (fsdfs_sign_param_t) P("sum", "0011223344556677");
    ps[2] = (fsdfs_sign_param_t) P("src", "2");
    n = canon(buf, sizeof(buf), "POST", "/_fsdfs/pull", ps, 3, 1700000000, 9);

    ok(n > 0 && fsdfs_sign_verify(key, sizeof(key), buf, (size_t) n, sig, 64)
                == 0
       && fsdfs_sign_check_time(1700000000, 1700000010, 30) == NULL
       && fsdfs_sign_check_epoch(9, 9) == NULL,
       "a signed pull: canon, sign, rebuild, verify, time and epoch");
}


/* The receiver's side, as the node does it: split on '&' and '=',
 * percent-decode, and keep sig apart. -1 on a malformed escape. */
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


static int
pct_decode(char *dst, const char *src, size_t len, size_t *out)
{
    int     hi, lo;
    size_t  i, n;

    for (i = 0, n = 0; i < len; i++) {
        if (src[i] != '%') {
            dst[n++] = src[i];
            continue;
        }
        if (i + 2 >= len) {
            return -1;
        }
        hi = hexval(src[i + 1]);
        lo = hexval(src[i + 2]);
        if (hi < 0 || lo < 0) {
            return -1;
        }
        dst[n++] = (char) (hi << 4 | lo);
        i += 2;
    }

    *out = n;
    return 0;
}


/* Parses query (modified in place), verifies it for method and uri.
 * Returns 0 if the signature holds. */
static int
verify_query(const unsigned char *key, size_t keylen, const char *method,
    const char *uri, const char *query, int64_t *ts, uint64_t *epoch)
{
    int                 n;
    char               *p, *amp, *eq, *sig, canonbuf[2048];
    char                q[2048], vals[FSDFS_SIGN_MAX_PARAMS][512];
    size_t              vlen;
    unsigned            np;
    fsdfs_sign_param_t  ps[FSDFS_SIGN_MAX_PARAMS];

    snprintf(q, sizeof(q), "%s", query);
    np = 0;
    sig = NULL;
    *ts = -1;
    *epoch = 0;

    for (p = q; p && *p; p = amp) {
        amp = strchr(p, '&');
        if (amp) {
            *amp++ = '\0';
        }
        eq = strchr(p, '=');
        if (eq == NULL) {
            return -1;
        }
        *eq++ = '\0';

        if (strcmp(p, "sig") == 0) {
            sig = eq;
            continue;
        }
        if (strcmp(p, "ts") == 0) {
            *ts = strtoll(eq, NULL, 10);
            continue;
        }
        if (strcmp(p, "epoch") == 0) {
            *epoch = strtoull(eq, NULL, 10);
            continue;
        }
        if (np == FSDFS_SIGN_MAX_PARAMS
            || pct_decode(vals[np], eq, strlen(eq), &vlen) != 0)
        {
            return -1;
        }
        ps[np] = (fsdfs_sign_param_t) { p, strlen(p), vals[np], vlen };
        np++;
    }

    if (sig == NULL) {
        return -1;
    }

    n = fsdfs_sign_canon(canonbuf, sizeof(canonbuf), method, strlen(method),
                         uri, strlen(uri), ps, np, *ts, *epoch);
    if (n < 0) {
        return -1;
    }

    return fsdfs_sign_verify(key, keylen, canonbuf, (size_t) n, sig,
                             strlen(sig));
}


static void
query_string(void)
{
    int            n, rc, fits;
    char           q[1024], want[1024], buf[1024], sig[FSDFS_SIGN_HEX_LEN + 1];
    char           small[8];
    size_t         len, cap;
    int64_t        ts;
    uint64_t       epoch;
    unsigned char  key[32];
    fsdfs_sign_param_t  ps[4] = {
        P("path", "/music/caf\xc3\xa9 & co/a+b=c.mp3"), P("from", "2"),
        P("size", "48213"), P("sum", "0011223344556677")
    };
    fsdfs_sign_param_t  bad[2];

    memset(key, 'k', sizeof(key));

    /* Encoding alone */
    len = fsdfs_url_encode(buf, sizeof(buf), "/a-b_c.d~e/F9", 13);
    ok(len == 13 && strcmp(buf, "/a-b_c.d~e/F9") == 0,
       "url_encode: unreserved bytes and '/' pass as they are");
    len = fsdfs_url_encode(buf, sizeof(buf), "\xc3\xa9+=& ?%#\x01\xff", 11);
    is_str(buf, "%C3%A9%2B%3D%26%20%3F%25%23%01%FF",
           "url_encode: UTF-8, '+', '=', '&', space, '?', '%', '#', "
           "control and high bytes as uppercase %XX");
    is_int((long long) len, 33, "url_encode returns the encoded length");
    is_int((long long) fsdfs_url_encode(NULL, 0, "a b", 3), 5,
           "url_encode measures with a NULL buffer and cap 0");
    len = fsdfs_url_encode(small, 4, "ab c", 4);
    ok(len == 6 && strcmp(small, "ab") == 0,
       "url_encode: a short buffer holds whole escapes only, "
       "NUL-terminated");
    len = fsdfs_url_encode(small, 6, "ab c", 4);
    ok(len == 6 && strcmp(small, "ab%20") == 0,
       "url_encode: cap one more than the length is enough");
    len = fsdfs_url_encode(small, sizeof(small), "", 0);
    ok(len == 0 && small[0] == '\0', "url_encode: empty value");

    /* The exact form: parameters in the given order, then ts, epoch, sig
     * over the canonical string of the unencoded values. */
    n = fsdfs_sign_query(q, sizeof(q), key, sizeof(key), "POST",
                         "/_fsdfs/pull", ps, 4, 1700000000, 9);
    rc = fsdfs_sign_canon(buf, sizeof(buf), "POST", 4, "/_fsdfs/pull", 12,
                          ps, 4, 1700000000, 9);
    fsdfs_sign(key, sizeof(key), buf, (size_t) rc, sig);
    snprintf(want, sizeof(want),
             "path=/music/caf%%C3%%A9%%20%%26%%20co/a%%2Bb%%3Dc.mp3&from=2"
             "&size=48213&sum=0011223344556677&ts=1700000000&epoch=9&sig=%s",
             sig);
    is_str(q, want, "sign_query: exact query string");
    is_int(n, (long long) strlen(want), "sign_query returns its length");

    /* Round trip: the node's parse, decode, canon, verify */
    ok(verify_query(key, sizeof(key), "POST", "/_fsdfs/pull", q, &ts, &epoch)
       == 0 && ts == 1700000000 && epoch == 9,
       "sign_query round trip: parsed, decoded, verified");
    ok(verify_query(key, sizeof(key), "POST", "/_fsdfs/drop", q, &ts, &epoch)
       != 0, "the URI path is signed: another command does not verify");
    ok(verify_query(key, sizeof(key), "GET", "/_fsdfs/pull", q, &ts, &epoch)
       != 0, "the method is signed");
    key[0] ^= 1;
    ok(verify_query(key, sizeof(key), "POST", "/_fsdfs/pull", q, &ts, &epoch)
       != 0, "another key does not verify");
    key[0] ^= 1;

    snprintf(buf, sizeof(buf), "%s", q);
    *strstr(buf, "48213") = '5';
    ok(verify_query(key, sizeof(key), "POST", "/_fsdfs/pull", buf, &ts,
                    &epoch) != 0, "a changed value does not verify");
    snprintf(buf, sizeof(buf), "%s", q);
    *strstr(buf, "epoch=9") = 'E';   /* becomes an unknown "Epoch" param */
    ok(verify_query(key, sizeof(key), "POST", "/_fsdfs/pull", buf, &ts,
                    &epoch) != 0, "a renamed parameter does not verify");

    /* A drop: one parameter; a negative ts and a huge epoch print whole. */
    n = fsdfs_sign_query(q, sizeof(q), key, sizeof(key), "POST",
                         "/_fsdfs/drop", ps, 1, -5, UINT64_MAX);
    ok(n > 0 && strstr(q, "&ts=-5&epoch=18446744073709551615&sig=") != NULL
       && verify_query(key, sizeof(key), "POST", "/_fsdfs/drop", q, &ts,
                       &epoch) == 0 && ts == -5 && epoch == UINT64_MAX,
       "sign_query: negative ts, largest epoch, round trip");

    /* No parameters at all */
    n = fsdfs_sign_query(q, sizeof(q), key, sizeof(key), "GET", "/_fsdfs/x",
                         NULL, 0, 1, 2);
    ok(n > 0 && strncmp(q, "ts=1&epoch=2&sig=", 17) == 0
       && (size_t) n == 17 + FSDFS_SIGN_HEX_LEN,
       "sign_query: no command parameters");

    /* Every cap below the length is refused; the exact one fits. */
    n = fsdfs_sign_query(q, sizeof(q), key, sizeof(key), "POST",
                         "/_fsdfs/pull", ps, 4, 1700000000, 9);
    fits = 1;
    for (cap = 1; cap <= (size_t) n; cap++) {
        memset(buf, 'x', sizeof(buf));
        if (fsdfs_sign_query(buf, cap, key, sizeof(key), "POST",
                             "/_fsdfs/pull", ps, 4, 1700000000, 9) != -1
            || buf[cap] != 'x')
        {
            fits = 0;
        }
    }
    ok(fits, "sign_query: -1 for every cap too small, nothing past cap");
    is_int(fsdfs_sign_query(buf, (size_t) n + 1, key, sizeof(key), "POST",
                            "/_fsdfs/pull", ps, 4, 1700000000, 9), n,
           "sign_query: length + 1 is enough");
    is_int(fsdfs_sign_query(buf, 0, key, sizeof(key), "POST", "/_fsdfs/pull",
                            ps, 4, 1, 1), -1, "sign_query: cap 0 refused");

    /* What the canonical string refuses, the query refuses. */
    bad[0] = (fsdfs_sign_param_t) P("path", "/a\nb");
    is_int(fsdfs_sign_query(q, sizeof(q), key, sizeof(key), "POST",
                            "/_fsdfs/drop", bad, 1, 1, 1), -1,
           "sign_query: newline in a value refused");
    bad[0] = (fsdfs_sign_param_t) P("ts", "5");
    is_int(fsdfs_sign_query(q, sizeof(q), key, sizeof(key), "POST",
                            "/_fsdfs/drop", bad, 1, 1, 1), -1,
           "sign_query: a parameter named ts refused");
    bad[0] = (fsdfs_sign_param_t) P("path", "/a");
    bad[1] = (fsdfs_sign_param_t) P("path", "/b");
    is_int(fsdfs_sign_query(q, sizeof(q), key, sizeof(key), "POST",
                            "/_fsdfs/drop", bad, 2, 1, 1), -1,
           "sign_query: a repeated name refused");
    is_int(fsdfs_sign_query(q, sizeof(q), key, sizeof(key), "POST", "",
                            ps, 1, 1, 1), -1,
           "sign_query: empty URI path refused");
}


int
main(void)
{
    rfc4231();
    canonical_form();
    tampering();
    time_window();
    epochs();
    bad_params();
    secrets();
    end_to_end();
    query_string();
    return done_testing();
}
