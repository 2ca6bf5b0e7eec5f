/*
 * Fuzz target for the path rules: fsdfs_path_check() must agree with a
 * second, deliberately naive reading of the rules in fsdfs_path.h, written
 * here from the header alone (segments split first, UTF-8 decoded the
 * textbook way), so a slip in either shows up as a disagreement.
 */

#include <string.h>

#include "fsdfs_path.h"
#include "fuzz.h"


static const char  ref_plain[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    "-_.~+,=@()!";


/* Bytes of the code point at p, or 0 if it is not well-formed UTF-8. */
static size_t
ref_utf8(const unsigned char *p, size_t left)
{
    size_t    n, k;
    uint32_t  cp;

    if ((p[0] & 0xe0) == 0xc0) {
        n = 2;
    } else if ((p[0] & 0xf0) == 0xe0) {
        n = 3;
    } else if ((p[0] & 0xf8) == 0xf0) {
        n = 4;
    } else {
        return 0;
    }

    if (n > left) {
        return 0;
    }

    cp = p[0] & (0xff >> (n + 1));
    for (k = 1; k < n; k++) {
        if ((p[k] & 0xc0) != 0x80) {
            return 0;
        }
        cp = cp << 6 | (p[k] & 0x3f);
    }

    /* the shortest form only */
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800)
        || (n == 4 && cp < 0x10000))
    {
        return 0;
    }

    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        return 0;
    }

    return n;
}


static int
ref_segment_ok(const unsigned char *s, size_t len)
{
    size_t  i, n;

    if (len == 0 || (len == 1 && s[0] == '.')
        || (len == 2 && s[0] == '.' && s[1] == '.'))
    {
        return 0;
    }

    for (i = 0; i < len; i += n) {
        if (s[i] >= 0x80) {
            n = ref_utf8(s + i, len - i);
            if (n == 0) {
                return 0;
            }
        } else if (s[i] != '\0' && strchr(ref_plain, s[i]) != NULL) {
            n = 1;
        } else {
            return 0;
        }
    }

    return 1;
}


static int
ref_path_ok(const unsigned char *p, size_t len)
{
    size_t  start, i;

    if (len == 0 || len > FSDFS_PATH_MAX || p[0] != '/') {
        return 0;
    }

    /* every '/' starts a segment that must be good; a trailing '/'
     * leaves an empty last segment */
    start = 1;
    for (i = 1; i <= len; i++) {
        if (i == len || p[i] == '/') {
            if (!ref_segment_ok(p + start, i - start)) {
                return 0;
            }
            start = i + 1;
        }
    }

    return 1;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char  *why;
    int          ref;

    why = fsdfs_path_check((const char *) data, size);
    ref = ref_path_ok(data, size);

    if ((why == NULL) != ref) {
        fprintf(stderr, "path check says %s, reference says %s\n",
                why ? why : "valid", ref ? "valid" : "invalid");
    }
    FUZZ_CHECK((why == NULL) == ref);
    FUZZ_CHECK(why == NULL || why[0] != '\0');

    return 0;
}
