/*
 * Path rules: one whitelist for every process, so a path that reaches the
 * index is one that every node can store under its root and serve, and a
 * command argument can never climb out of the root.
 */

#include "fsdfs_path.h"


static int
fsdfs_path_byte_ok(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9'))
    {
        return 1;
    }

    switch (c) {
    case '-': case '_': case '.': case '~': case '/': case '+':
    case ',': case '=': case '@': case '(': case ')': case '!':
        return 1;
    }

    return 0;
}


/* Length of the well-formed UTF-8 sequence at p (RFC 3629), 0 if none:
 * no overlong forms, no surrogates, nothing past U+10FFFF. */
static size_t
fsdfs_utf8_len(const unsigned char *p, size_t left)
{
    size_t         n, k;
    unsigned long  cp, min;

    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        n = 2; cp = p[0] & 0x1f; min = 0x80;

    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        n = 3; cp = p[0] & 0x0f; min = 0x800;

    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        n = 4; cp = p[0] & 0x07; min = 0x10000;

    } else {
        return 0;
    }

    if (left < n) {
        return 0;
    }

    for (k = 1; k < n; k++) {
        if ((p[k] & 0xc0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (p[k] & 0x3f);
    }

    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        return 0;
    }

    return n;
}


const char *
fsdfs_path_check(const char *path, size_t len)
{
    size_t  i, n, seg;

    if (len == 0 || path[0] != '/') {
        return "must start with /";
    }

    if (len > FSDFS_PATH_MAX) {
        return "too long";
    }

    if (path[len - 1] == '/') {
        return "ends with /";
    }

    seg = 1;

    for (i = 1; i <= len; i++) {
        if (i == len || path[i] == '/') {
            if (i == seg) {
                return "empty segment";
            }
            if (path[seg] == '.'
                && (i - seg == 1 || (i - seg == 2 && path[seg + 1] == '.')))
            {
                return "dot segment";
            }
            seg = i + 1;
            continue;
        }

        if ((unsigned char) path[i] >= 0x80) {
            n = fsdfs_utf8_len((const unsigned char *) path + i, len - i);
            if (n == 0) {
                return "invalid UTF-8";
            }
            i += n - 1;
            continue;
        }

        if (!fsdfs_path_byte_ok((unsigned char) path[i])) {
            return "forbidden character";
        }
    }

    return 0;
}
