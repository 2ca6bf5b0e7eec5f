/*
 * Path rules: one whitelist for every process, so a path that reaches the
 * index is one that every node can store under its root and serve, and a
 * command argument can never climb out of the root.
 */

#include "fsdfs_path.h"


static int
fsdfs_path_byte_ok(unsigned char c)
{
    if (c >= 0x80) {
        return 1;                       /* UTF-8 */
    }

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


const char *
fsdfs_path_check(const char *path, size_t len)
{
    size_t  i, seg;

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

        if (!fsdfs_path_byte_ok((unsigned char) path[i])) {
            return "forbidden character";
        }
    }

    return 0;
}
