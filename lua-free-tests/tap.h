/*
 * A tiny TAP producer for the C unit tests: prove reads what it prints.
 * Include once per test program.
 */

#ifndef FSDFS_TAP_H
#define FSDFS_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int  tap_n;
static int  tap_failed;
static int  tap_planned;


/* Optional: announce the number of tests first. */
static inline void
plan(int n)
{
    tap_planned = n;
    printf("1..%d\n", n);
}


#ifdef __GNUC__
static inline int ok(int cond, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
#endif

static inline int
ok(int cond, const char *fmt, ...)
{
    va_list  ap;

    tap_n++;
    printf("%sok %d - ", cond ? "" : "not ", tap_n);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");

    if (!cond) {
        tap_failed++;
    }

    return cond;
}

static inline int
is_int(long long got, long long want, const char *what)
{
    if (!ok(got == want, "%s", what)) {
        printf("#   got %lld, want %lld\n", got, want);
        return 0;
    }
    return 1;
}

static inline int
is_str(const char *got, const char *want, const char *what)
{
    if (!ok(got && want && strcmp(got, want) == 0, "%s", what)) {
        printf("#   got \"%s\", want \"%s\"\n", got ? got : "(null)",
               want ? want : "(null)");
        return 0;
    }
    return 1;
}

/* Print the plan unless plan() did; the exit code for main(). */
static inline int
done_testing(void)
{
    if (tap_planned == 0) {
        printf("1..%d\n", tap_n);

    } else if (tap_planned != tap_n) {
        printf("# planned %d tests but ran %d\n", tap_planned, tap_n);
        return 1;
    }

    return tap_failed ? 1 : 0;
}

#endif
