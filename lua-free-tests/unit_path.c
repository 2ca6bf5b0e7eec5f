/*
 * Path rules: what may be indexed, stored under a root and served.
 */

#include <stdio.h>

#include "tap.h"
#include "fsdfs_path.h"


static void
check(const char *path, size_t len, int valid)
{
    size_t       i, n;
    char         shown[256];
    const char  *why = fsdfs_path_check(path, len);

    /* the path in the test name: 60 bytes at most, control bytes escaped */
    for (i = 0, n = 0; i < len && i < 60; i++) {
        n += (unsigned char) path[i] < 0x20
             ? (size_t) snprintf(shown + n, 5, "\\x%02x",
                                 (unsigned char) path[i])
             : (size_t) snprintf(shown + n, 2, "%c", path[i]);
    }
    shown[n] = '\0';

    ok(valid ? why == NULL : why != NULL, "%s: \"%s\"%s%s",
       valid ? "valid" : "invalid", shown, why ? " - " : "", why ? why : "");
}


int
main(void)
{
    unsigned     i;
    char         longp[FSDFS_PATH_MAX + 2];
    static const char  *good[] = {
        "/a", "/music/ab/1234.mp3", "/x/y-z_w.ogg", "/a/b.c/d~e+f,g=h@i(j)!k",
        "/caf\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac.mp3", "/.hidden", "/a/..b",
        "/a/b..", "/...",
    };
    static const char  *bad[] = {
        "", "a/b", "/", "/a/", "//a", "/a//b", "/./a", "/a/./b", "/a/.",
        "/../a", "/a/../b", "/a/..", "/a b", "/a%20b", "/a?b", "/a#b",
        "/a\"b", "/a'b", "/a\\b", "/a*b", "/a;b", "/a\tb", "/a\nb",
        "/a\x7f", "/a<b>", "/a|b",
        "/a\xff" "b", "/a\xc3" "b", "/a\xc3", "/\xc0\xaf", "/\xe0\x80\xaf",
        "/\xed\xa0\x80", "/\xf4\x90\x80\x80", "/\xf5\x80\x80\x80",
        "/\x80", "/a\xe6\x97",
    };

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        check(good[i], strlen(good[i]), 1);
    }

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        check(bad[i], strlen(bad[i]), 0);
    }

    check("/a\0b", 4, 0);

    longp[0] = '/';
    memset(longp + 1, 'a', FSDFS_PATH_MAX - 1);
    check(longp, FSDFS_PATH_MAX, 1);
    longp[FSDFS_PATH_MAX] = 'a';
    check(longp, FSDFS_PATH_MAX + 1, 0);

    return done_testing();
}
