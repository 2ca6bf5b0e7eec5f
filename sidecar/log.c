/*
 * The logger of log.h. The whole line, timestamp to newline, is built in
 * a stack buffer and written at once; a message that does not fit is cut
 * and marked rather than split over two writes. A trailing newline in
 * the message is tolerated, not doubled.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "log.h"


static int  fsd_log_level = FSD_LOG_INFO;

static const char  *fsd_log_names[] = { "debug", "info", "warn", "error" };


void
fsd_log_set_level(int level)
{
    if (level < FSD_LOG_DEBUG) {
        level = FSD_LOG_DEBUG;
    }

    if (level > FSD_LOG_ERROR) {
        level = FSD_LOG_ERROR;
    }

    fsd_log_level = level;
}


int
fsd_log_get_level(void)
{
    return fsd_log_level;
}


int
fsd_log_level_parse(const char *name)
{
    int  i;

    if (name == NULL) {
        return -1;
    }

    if (strcasecmp(name, "warning") == 0) {
        return FSD_LOG_WARN;
    }

    for (i = FSD_LOG_DEBUG; i <= FSD_LOG_ERROR; i++) {
        if (strcasecmp(name, fsd_log_names[i]) == 0) {
            return i;
        }
    }

    return -1;
}


int
fsd_log_enabled(int level)
{
    return level >= fsd_log_level;
}


void
fsd_log(int level, const char *fmt, ...)
{
    int              saved, n;
    size_t           len, off;
    ssize_t          w;
    va_list          ap;
    struct tm        tm;
    struct timespec  now;
    char             line[FSD_LOG_LINE_MAX];

    if (level < fsd_log_level) {
        return;
    }

    if (level > FSD_LOG_ERROR) {
        level = FSD_LOG_ERROR;
    }

    if (level < FSD_LOG_DEBUG) {
        level = FSD_LOG_DEBUG;
    }

    /* Callers log right after a failed call and may still want errno. */
    saved = errno;

    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);

    n = snprintf(line, sizeof(line),
                 "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ [%s] ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, now.tv_nsec / 1000000,
                 fsd_log_names[level]);
    len = n > 0 ? (size_t) n : 0;

    va_start(ap, fmt);
    n = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
    va_end(ap);

    if (n < 0) {
        n = 0;
    }

    /* Room is kept for the newline; a cut message ends in "...". */

    if ((size_t) n >= sizeof(line) - len - 1) {
        len = sizeof(line) - 1;
        memcpy(line + len - 4, "...", 3);
        len--;

    } else {
        len += (size_t) n;
    }

    if (len && line[len - 1] == '\n') {
        len--;
    }
    line[len++] = '\n';

    for (off = 0; off < len; off += (size_t) w) {
        w = write(STDERR_FILENO, line + off, len - off);
        if (w < 0 && errno == EINTR) {
            w = 0;
            continue;
        }
        if (w <= 0) {
            break;
        }
    }

    errno = saved;
}
