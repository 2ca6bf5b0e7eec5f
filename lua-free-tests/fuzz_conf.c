/*
 * Fuzz target for the fsdfsd config parser (sidecar/conf.c) on arbitrary
 * buffers: no crash, no leak (the policy it may compile is freed), a
 * message on every refusal. An accepted config must hold only values in
 * the README's ranges, and since the parser has no writer of its own, the
 * target writes the scalar keys back out as text and parses that again:
 * the same values must come back. (rule/boost/pop_boost lines are
 * compiled into the policy and are not written back.)
 */

#include <stdarg.h>
#include <string.h>

#include "conf.h"
#include "fuzz.h"


static fsd_conf_t  defaults;
static int         have_defaults;


static size_t
put(char *buf, size_t cap, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static size_t
put(char *buf, size_t cap, size_t len, const char *fmt, ...)
{
    int      n;
    va_list  ap;

    va_start(ap, fmt);
    n = vsnprintf(buf + len, cap - len, fmt, ap);
    va_end(ap);
    FUZZ_CHECK(n >= 0 && (size_t) n < cap - len);
    return len + (size_t) n;
}


static size_t
serialise(const fsd_conf_t *c, char *buf, size_t cap)
{
    size_t  len = 0;

    len = put(buf, cap, len, "redis %s\n", c->redis);
    if (c->redis_password[0]) {
        len = put(buf, cap, len, "redis_password %s\n", c->redis_password);
    }
    len = put(buf, cap, len, "redis_db %d\nprefix %s\nsecret %s\nname %s\n",
              c->redis_db, c->prefix, c->secret, c->name);
    len = put(buf, cap, len, "lease %lldms\ndead_after %lldms\n"
              "forget_after %lldms\ncache_ttl %lldms\npull_timeout %lldms\n"
              "retry_after %lldms\npop_half_life %lldms\n",
              (long long) c->lease_ms, (long long) c->dead_after_ms,
              (long long) c->forget_after_ms, (long long) c->cache_ttl_ms,
              (long long) c->pull_timeout_ms, (long long) c->retry_after_ms,
              (long long) c->pop_half_life_ms);
    len = put(buf, cap, len, "pulls_in %u\npulls_out %u\nmax_replicas %u\n",
              c->pulls_in, c->pulls_out, c->max_replicas);
    if (c->replicas) {
        len = put(buf, cap, len, "replicas %u\n", c->replicas);
    }
    if (c->reserve_is_pct) {
        len = put(buf, cap, len, "reserve %.17g%%\n", c->reserve_pct);
    } else {
        len = put(buf, cap, len, "reserve %llu\n",
                  (unsigned long long) c->reserve_bytes);
    }
    if (c->policy_plugin[0]) {
        len = put(buf, cap, len, "policy_plugin %s\n", c->policy_plugin);
    }
    len = put(buf, cap, len, "log_level %s\n",
              fsd_conf_level_name(c->log_level));

    return len;
}


static void
in_range(const fsd_conf_t *c)
{
    FUZZ_CHECK(memchr(c->redis, '\0', sizeof(c->redis)));
    FUZZ_CHECK(memchr(c->redis_password, '\0', sizeof(c->redis_password)));
    FUZZ_CHECK(memchr(c->secret, '\0', sizeof(c->secret)));
    FUZZ_CHECK(memchr(c->policy_plugin, '\0', sizeof(c->policy_plugin)));
    FUZZ_CHECK(c->prefix[0] && memchr(c->prefix, '\0', sizeof(c->prefix)));
    FUZZ_CHECK(c->name[0] && strlen(c->name) <= 63);
    FUZZ_CHECK(c->secret[0] != '\0');
    FUZZ_CHECK(c->redis_db >= 0 && c->redis_db <= 1000000);
    FUZZ_CHECK(c->lease_ms >= 300 && c->lease_ms <= 3600000);
    FUZZ_CHECK(c->dead_after_ms >= 1 && c->forget_after_ms >= 1);
    FUZZ_CHECK(c->forget_after_ms >= c->dead_after_ms);
    FUZZ_CHECK(c->cache_ttl_ms >= 0 && c->cache_ttl_ms <= 3600000);
    FUZZ_CHECK(c->pull_timeout_ms >= 100 && c->retry_after_ms >= 1);
    FUZZ_CHECK(c->pop_half_life_ms >= 1000);
    FUZZ_CHECK(c->pulls_in >= 1 && c->pulls_in <= 1024);
    FUZZ_CHECK(c->pulls_out >= 1 && c->pulls_out <= 1024);
    FUZZ_CHECK(c->replicas <= 255);
    FUZZ_CHECK(c->max_replicas >= 1 && c->max_replicas <= 255);
    FUZZ_CHECK(c->log_level >= 0 && c->log_level <= 3);
    FUZZ_CHECK(!c->reserve_is_pct
               || (c->reserve_pct >= 0 && c->reserve_pct < 100));
}


static void
same_conf(const fsd_conf_t *a, const fsd_conf_t *b)
{
    FUZZ_CHECK(strcmp(a->redis, b->redis) == 0);
    FUZZ_CHECK(strcmp(a->redis_password, b->redis_password) == 0);
    FUZZ_CHECK(a->redis_db == b->redis_db);
    FUZZ_CHECK(strcmp(a->prefix, b->prefix) == 0);
    FUZZ_CHECK(strcmp(a->secret, b->secret) == 0);
    FUZZ_CHECK(strcmp(a->name, b->name) == 0);
    FUZZ_CHECK(a->lease_ms == b->lease_ms);
    FUZZ_CHECK(a->dead_after_ms == b->dead_after_ms);
    FUZZ_CHECK(a->forget_after_ms == b->forget_after_ms);
    FUZZ_CHECK(a->cache_ttl_ms == b->cache_ttl_ms);
    FUZZ_CHECK(a->pull_timeout_ms == b->pull_timeout_ms);
    FUZZ_CHECK(a->retry_after_ms == b->retry_after_ms);
    FUZZ_CHECK(a->pop_half_life_ms == b->pop_half_life_ms);
    FUZZ_CHECK(a->pulls_in == b->pulls_in && a->pulls_out == b->pulls_out);
    FUZZ_CHECK(a->replicas == b->replicas);
    FUZZ_CHECK(a->max_replicas == b->max_replicas);
    FUZZ_CHECK(a->reserve_is_pct == b->reserve_is_pct);
    FUZZ_CHECK(a->reserve_bytes == b->reserve_bytes);
    FUZZ_CHECK(a->reserve_pct == b->reserve_pct);
    FUZZ_CHECK(strcmp(a->policy_plugin, b->policy_plugin) == 0);
    FUZZ_CHECK(a->log_level == b->log_level);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int          rc;
    char         err[FSD_CONF_ERR_MAX], text[8192];
    size_t       len;
    fsd_conf_t   c, again;

    if (!have_defaults) {               /* gethostname() once, not per run */
        fsd_conf_defaults(&defaults);
        have_defaults = 1;
    }

    c = defaults;
    err[0] = '\0';
    rc = fsd_conf_parse(&c, (const char *) data, size, "fuzz.conf", err,
                        sizeof(err));

    if (rc != 0) {
        FUZZ_CHECK(rc == -1);
        FUZZ_CHECK(strncmp(err, "fuzz.conf:", 10) == 0);
        FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL);
        fsd_conf_free(&c);
        return 0;
    }

    in_range(&c);

    len = serialise(&c, text, sizeof(text));
    again = defaults;
    rc = fsd_conf_parse(&again, text, len, "fuzz.conf", err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "re-parse refused: %s\n--\n%s--\n", err, text);
    }
    FUZZ_CHECK(rc == 0);
    same_conf(&c, &again);

    fsd_conf_free(&again);
    fsd_conf_free(&c);
    return 0;
}
