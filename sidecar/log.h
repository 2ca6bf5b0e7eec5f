/*
 * fsdfsd's logger: one line per event on stderr,
 *
 *   2026-11-25T13:00:00.123Z [info] message
 *
 * UTC with milliseconds, so lines from several sidecars and nodes sort
 * together. Each line leaves in a single write(2), so a line is never
 * interleaved with another process's on the same stderr. Lines below the
 * threshold (default info) cost one comparison.
 */

#ifndef FSD_LOG_H
#define FSD_LOG_H

enum {
    FSD_LOG_DEBUG = 0,
    FSD_LOG_INFO,
    FSD_LOG_WARN,
    FSD_LOG_ERROR
};

#define FSD_LOG_LINE_MAX  2048     /* longer messages are cut, with "..." */

void fsd_log_set_level(int level);
int fsd_log_get_level(void);

/* "debug", "info", "warn" (or "warning"), "error" -> level; -1 if none of
 * them (the config's log_level key). */
int fsd_log_level_parse(const char *name);

/* Whether a line at this level would be printed: lets a caller skip
 * building an expensive message. */
int fsd_log_enabled(int level);

#ifdef __GNUC__
void fsd_log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
#else
void fsd_log(int level, const char *fmt, ...);
#endif

#endif
