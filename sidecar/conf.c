/*
 * The fsdfsd config parser. Each line is split into a key and the rest
 * (the value, trailing blanks and comments cut); the key picks one entry
 * of a table that says how to read the value and where it goes. Values
 * are checked here, at start or at `fsdfsd -t`, so that a typo stops the
 * daemon with a message instead of running it with a surprise: unknown
 * keys, duplicate keys, out-of-range numbers and unit-less nonsense are
 * all refused.
 */

#include <ctype.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "fsdfs_addr.h"
#include "policy.h"


typedef enum {
    CONF_STR, CONF_ADDR, CONF_PREFIX, CONF_NAME, CONF_INT, CONF_DURATION,
    CONF_RESERVE, CONF_LEVEL
} conf_type_t;


typedef struct {
    const char   *key;
    conf_type_t   type;
    size_t        offset;
    long long     min, max;         /* ints: range; durations: ms range
                                       (max 0: none); strings: max size */
} conf_key_t;


#define OFF(f)  offsetof(fsd_conf_t, f)

static const conf_key_t  conf_keys[] = {
    { "redis", CONF_ADDR, OFF(redis), 0, 256 },
    { "redis_password", CONF_STR, OFF(redis_password), 0, 256 },
    { "redis_db", CONF_INT, OFF(redis_db), 0, 1000000 },
    { "prefix", CONF_PREFIX, OFF(prefix), 0, 0 },
    { "secret", CONF_STR, OFF(secret), 0, 1024 },
    { "name", CONF_NAME, OFF(name), 0, 0 },
    { "lease", CONF_DURATION, OFF(lease_ms), 300, 3600000 },
    { "dead_after", CONF_DURATION, OFF(dead_after_ms), 1, 0 },
    { "forget_after", CONF_DURATION, OFF(forget_after_ms), 1, 0 },
    { "cache_ttl", CONF_DURATION, OFF(cache_ttl_ms), 0, 3600000 },
    { "pull_timeout", CONF_DURATION, OFF(pull_timeout_ms), 100, 0 },
    { "retry_after", CONF_DURATION, OFF(retry_after_ms), 1, 0 },
    { "pulls_in", CONF_INT, OFF(pulls_in), 1, 1024 },
    { "pulls_out", CONF_INT, OFF(pulls_out), 1, 1024 },
    { "reserve", CONF_RESERVE, 0, 0, 0 },
    { "replicas", CONF_INT, OFF(replicas), 1, 255 },
    { "max_replicas", CONF_INT, OFF(max_replicas), 1, 255 },
    { "pop_half_life", CONF_DURATION, OFF(pop_half_life_ms), 1000, 0 },
    { "policy_plugin", CONF_STR, OFF(policy_plugin), 0, 256 },
    { "log_level", CONF_LEVEL, OFF(log_level), 0, 0 },
};

#define CONF_NKEYS  (sizeof(conf_keys) / sizeof(conf_keys[0]))

static const char  *conf_levels[] = { "debug", "info", "warn", "error" };


void
fsd_conf_defaults(fsd_conf_t *c)
{
    memset(c, 0, sizeof(*c));

    snprintf(c->redis, sizeof(c->redis), "127.0.0.1:6379");
    snprintf(c->prefix, sizeof(c->prefix), "fsdfs:");
    if (gethostname(c->name, sizeof(c->name)) != 0 || c->name[0] == '\0') {
        snprintf(c->name, sizeof(c->name), "fsdfsd");
    }
    c->name[sizeof(c->name) - 1] = '\0';
    /* a hostname may hold what a lease value cannot: keep the plain part */
    c->name[strspn(c->name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                   "0123456789_.-")] = '\0';
    if (c->name[0] == '\0') {
        snprintf(c->name, sizeof(c->name), "fsdfsd");
    }

    c->lease_ms = 3000;
    c->dead_after_ms = 30000;
    c->forget_after_ms = 24 * 3600 * 1000LL;
    c->cache_ttl_ms = 10000;
    c->pull_timeout_ms = 60000;
    c->retry_after_ms = 10000;
    c->pulls_in = 2;
    c->pulls_out = 4;
    c->reserve_pct = 1.0;
    c->reserve_is_pct = 1;
    c->replicas = 0;
    c->max_replicas = 255;
    c->pop_half_life_ms = 3600 * 1000;
    c->log_level = 1;
}


void
fsd_conf_free(fsd_conf_t *c)
{
    policy_free(c->policy);
    c->policy = NULL;
}


/* rule, boost and pop_boost: the policy's lines, some repeatable, read in
 * order (the first matching rule wins). 1 if key is one of them (with *bad
 * set on a refused value), 0 if not. */
static int
conf_policy_line(fsd_conf_t *c, const char *key, const char *value,
    int *seen_pop, char *why, size_t cap, const char **bad)
{
    int  rc;

    if (strcmp(key, "rule") != 0 && strcmp(key, "boost") != 0
        && strcmp(key, "pop_boost") != 0)
    {
        return 0;
    }

    *bad = NULL;
    if (*value == '\0') {
        *bad = "a value is needed";
        return 1;
    }
    if (c->policy == NULL && (c->policy = policy_new()) == NULL) {
        *bad = "out of memory";
        return 1;
    }

    if (key[0] == 'r') {
        rc = policy_add_rule(c->policy, value, why, cap);
    } else if (key[0] == 'b') {
        rc = policy_add_boost(c->policy, value, why, cap);
    } else {
        if ((*seen_pop)++) {
            *bad = "duplicate key";
            return 1;
        }
        rc = policy_set_pop_boost(c->policy, value, why, cap);
    }

    if (rc != 0) {
        *bad = why;
    }
    return 1;
}


int
fsd_conf_duration(const char *s, int64_t *ms)
{
    char          *end;
    unsigned long long  v;
    int64_t        unit;

    if (!isdigit((unsigned char) s[0])) {
        return -1;
    }

    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno) {
        return -1;
    }

    if (strcmp(end, "ms") == 0) {
        unit = 1;
    } else if (strcmp(end, "s") == 0 || *end == '\0') {
        unit = 1000;
    } else if (strcmp(end, "m") == 0) {
        unit = 60 * 1000;
    } else if (strcmp(end, "h") == 0) {
        unit = 3600 * 1000;
    } else if (strcmp(end, "d") == 0) {
        unit = 86400 * 1000LL;
    } else {
        return -1;
    }

    /* a year is more than any timeout here wants */
    if (v > (unsigned long long) (366 * 86400 * 1000LL) / (unsigned long long) unit) {
        return -1;
    }

    *ms = (int64_t) v * unit;
    return 0;
}


int
fsd_conf_size(const char *s, uint64_t *bytes)
{
    char               *end;
    unsigned long long  v;
    int                 shift;

    if (!isdigit((unsigned char) s[0])) {
        return -1;
    }

    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno) {
        return -1;
    }

    switch (tolower((unsigned char) *end)) {
    case '\0': shift = 0; break;
    case 'k': shift = 10; break;
    case 'm': shift = 20; break;
    case 'g': shift = 30; break;
    case 't': shift = 40; break;
    default: return -1;
    }

    if (*end != '\0' && end[1] != '\0') {
        return -1;
    }

    if (shift && v > (UINT64_MAX >> shift)) {
        return -1;
    }

    *bytes = (uint64_t) v << shift;
    return 0;
}


const char *
fsd_conf_level_name(int level)
{
    return (level >= 0 && level < 4) ? conf_levels[level] : "?";
}


int
fsd_conf_level(const char *s)
{
    int  i;

    for (i = 0; i < 4; i++) {
        if (strcmp(s, conf_levels[i]) == 0) {
            return i;
        }
    }

    return -1;
}


static int
conf_error(char *err, size_t cap, const char *file, unsigned line,
    const char *fmt, ...)
{
    int      n;
    va_list  ap;

    n = line ? snprintf(err, cap, "%s:%u: ", file, line)
             : snprintf(err, cap, "%s: ", file);
    if (n < 0 || (size_t) n >= cap) {
        return -1;
    }

    va_start(ap, fmt);
    vsnprintf(err + n, cap - n, fmt, ap);
    va_end(ap);
    return -1;
}


/* host:port (IP literal or name), unix:/absolute/path, or
 * sentinel://ip:port[,ip:port...]/name (see common/fsdfs_addr.h). */
static const char *
conf_check_addr(const char *v)
{
    fsdfs_addr_t  a;

    /* host:port may name a host here: fsdfsd may block resolving it */
    return fsdfs_addr_parse(&a, v, strlen(v), 0);
}


/* What is wrong with v for key k, or NULL; stores the value in c. */
static const char *
conf_set(fsd_conf_t *c, const conf_key_t *k, const char *v)
{
    char        *field = (char *) c + k->offset, *end;
    size_t       len = strlen(v);
    long long    n;
    int64_t      ms;
    uint64_t     bytes;
    double       pct;
    const char  *bad;

    switch (k->type) {

    case CONF_ADDR:
        if ((bad = conf_check_addr(v)) != NULL) {
            return bad;
        }
        /* fall through */

    case CONF_STR:
        if (len >= (size_t) k->max) {       /* max: the field's size */
            return "too long";
        }
        memcpy(field, v, len + 1);
        return NULL;

    case CONF_PREFIX:
        if (len == 0 || len >= sizeof(c->prefix)
            || strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                      "0123456789_.:-{}") != len)
        {
            return "expected 1..63 of A-Z a-z 0-9 _ . : - { }";
        }
        memcpy(field, v, len + 1);
        return NULL;

    case CONF_NAME:
        if (len == 0 || len > 32
            || strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                      "0123456789_.-") != len)
        {
            return "expected 1..32 of A-Z a-z 0-9 _ . -";
        }
        memcpy(field, v, len + 1);
        return NULL;

    case CONF_INT:
        errno = 0;
        n = strtoll(v, &end, 10);
        if (!isdigit((unsigned char) v[0]) || *end != '\0' || errno
            || n < k->min || n > k->max)
        {
            return "not an integer in range";
        }
        if (k->offset == OFF(redis_db)) {
            *(int *) field = (int) n;
        } else {
            *(unsigned *) field = (unsigned) n;
        }
        return NULL;

    case CONF_DURATION:
        if (fsd_conf_duration(v, &ms) != 0) {
            return "expected a duration like 500ms, 3s, 1m, 24h";
        }
        if (ms < k->min || (k->max && ms > k->max)) {
            return k->min >= 100 ? "duration out of range" : "must not be 0";
        }
        *(int64_t *) field = ms;
        return NULL;

    case CONF_RESERVE:
        if (len > 1 && v[len - 1] == '%') {
            errno = 0;
            pct = strtod(v, &end);
            if (!isdigit((unsigned char) v[0]) || end != v + len - 1
                || errno || pct < 0 || pct >= 100)
            {
                return "expected a percentage 0..99%";
            }
            c->reserve_pct = pct;
            c->reserve_is_pct = 1;
            c->reserve_bytes = 0;
            return NULL;
        }
        if (fsd_conf_size(v, &bytes) != 0) {
            return "expected a size like 512m, 10g, or a percentage like 1%";
        }
        c->reserve_bytes = bytes;
        c->reserve_is_pct = 0;
        c->reserve_pct = 0;
        return NULL;

    case CONF_LEVEL:
        if ((n = fsd_conf_level(v)) < 0) {
            return "expected debug, info, warn or error";
        }
        *(int *) field = (int) n;
        return NULL;
    }

    return "unknown type";
}


/* Trim the line [p, e) in place: the key ends at the first blank, the
 * value runs to a '#' or the end, without surrounding blanks. */
static void
conf_split(char *line, char **key, char **value)
{
    char  *p, *hash;

    hash = strchr(line, '#');
    if (hash) {
        *hash = '\0';
    }

    p = line + strlen(line);
    while (p > line && isspace((unsigned char) p[-1])) {
        *--p = '\0';
    }

    p = line;
    while (isspace((unsigned char) *p)) {
        p++;
    }
    *key = p;

    while (*p && !isspace((unsigned char) *p)) {
        p++;
    }
    if (*p) {
        *p++ = '\0';
    }
    while (isspace((unsigned char) *p)) {
        p++;
    }
    *value = p;
}


int
fsd_conf_parse(fsd_conf_t *c, const char *buf, size_t len, const char *file,
    char *err, size_t errcap)
{
    char               line[2048], *key, *value;
    const char        *p, *e, *nl, *bad;
    char               why[POLICY_ERR_MAX];
    unsigned           lineno, i;
    int                seen_pop = 0;
    unsigned char      seen[CONF_NKEYS];
    const conf_key_t  *k;

    memset(seen, 0, sizeof(seen));
    p = buf;
    e = buf + len;

    for (lineno = 1; p < e; lineno++, p = nl + 1) {
        nl = memchr(p, '\n', e - p);
        if (nl == NULL) {
            nl = e;
        }

        if ((size_t) (nl - p) >= sizeof(line)) {
            return conf_error(err, errcap, file, lineno, "line too long");
        }
        if (memchr(p, '\0', nl - p)) {
            return conf_error(err, errcap, file, lineno, "NUL byte in line");
        }

        memcpy(line, p, nl - p);
        line[nl - p] = '\0';
        conf_split(line, &key, &value);

        if (*key == '\0') {
            continue;
        }

        if (conf_policy_line(c, key, value, &seen_pop, why,
                                       sizeof(why), &bad))
        {
            if (bad) {
                return conf_error(err, errcap, file, lineno,
                                  "invalid value \"%s\" of \"%s\": %s",
                                  value, key, bad);
            }
            continue;
        }

        for (i = 0, k = NULL; i < CONF_NKEYS; i++) {
            if (strcmp(conf_keys[i].key, key) == 0) {
                k = &conf_keys[i];
                break;
            }
        }

        if (k == NULL) {
            return conf_error(err, errcap, file, lineno,
                              "unknown key \"%s\"", key);
        }
        if (seen[i]) {
            return conf_error(err, errcap, file, lineno,
                              "duplicate key \"%s\"", key);
        }
        seen[i] = 1;

        if (*value == '\0') {
            return conf_error(err, errcap, file, lineno,
                              "key \"%s\" needs a value", key);
        }

        bad = conf_set(c, k, value);
        if (bad) {
            return conf_error(err, errcap, file, lineno,
                              "invalid value \"%s\" of \"%s\": %s",
                              value, key, bad);
        }
    }

    if (c->secret[0] == '\0') {
        return conf_error(err, errcap, file, 0, "key \"secret\" is required "
                          "(the command secret file)");
    }

    if (c->forget_after_ms < c->dead_after_ms) {
        return conf_error(err, errcap, file, 0, "\"forget_after\" (%lld ms) "
                          "must not be shorter than \"dead_after\" (%lld ms)",
                          (long long) c->forget_after_ms,
                          (long long) c->dead_after_ms);
    }

    return 0;
}


int
fsd_conf_load(fsd_conf_t *c, const char *path, char *err, size_t errcap)
{
    int          fd, rc;
    char        *buf;
    ssize_t      n;
    size_t       len;
    struct stat  st;

    fsd_conf_defaults(c);

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, errcap, "%s: %s", path, strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }

    if (!S_ISREG(st.st_mode) || st.st_size > 1024 * 1024) {
        snprintf(err, errcap, "%s: not a regular file of at most 1 MB", path);
        close(fd);
        return -1;
    }

    buf = malloc((size_t) st.st_size + 1);
    if (buf == NULL) {
        snprintf(err, errcap, "%s: out of memory", path);
        close(fd);
        return -1;
    }

    for (len = 0; len < (size_t) st.st_size; len += (size_t) n) {
        n = read(fd, buf + len, (size_t) st.st_size - len);
        if (n <= 0) {
            break;
        }
    }
    close(fd);

    rc = fsd_conf_parse(c, buf, len, path, err, errcap);
    free(buf);
    return rc;
}
