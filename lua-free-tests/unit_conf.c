/*
 * The fsdfsd config parser: a complete good config, every default, the
 * duration and size readers, and one refusal per kind of bad line, each
 * of which must name the file, the line, the key and the value.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "conf.h"


static int
parse(fsd_conf_t *c, const char *text, char *err)
{
    fsd_conf_defaults(c);
    err[0] = '\0';
    return fsd_conf_parse(c, text, strlen(text), "test.conf", err,
                          FSD_CONF_ERR_MAX);
}


static void
defaults(void)
{
    char        err[FSD_CONF_ERR_MAX];
    fsd_conf_t  c;

    is_int(parse(&c, "secret /etc/fsdfs/secret\n", err), 0, "minimal config");
    is_str(c.redis, "127.0.0.1:6379", "default redis");
    is_str(c.redis_password, "", "default no password");
    is_int(c.redis_db, 0, "default db");
    is_str(c.prefix, "fsdfs:", "default prefix");
    is_str(c.secret, "/etc/fsdfs/secret", "secret");
    ok(c.name[0] != '\0', "default name is the host name (%s)", c.name);
    is_int(c.lease_ms, 3000, "default lease 3s");
    is_int(c.dead_after_ms, 30000, "default dead_after 30s");
    is_int(c.forget_after_ms, 86400000LL, "default forget_after 24h");
    is_int(c.cache_ttl_ms, 10000, "default cache_ttl 10s");
    is_int(c.pulls_in, 2, "default pulls_in");
    is_int(c.pulls_out, 4, "default pulls_out");
    is_int(c.pull_timeout_ms, 60000, "default pull_timeout 60s");
    is_int(c.retry_after_ms, 10000, "default retry_after 10s");
    ok(c.reserve_is_pct && c.reserve_pct == 1.0, "default reserve 1%%");
    is_int(c.replicas, 0, "default replicas from fsdfs:config");
    is_str(fsd_conf_level_name(c.log_level), "info", "default log_level");
}


static void
good(void)
{
    char        err[FSD_CONF_ERR_MAX];
    fsd_conf_t  c;
    const char *text =
        "# a full config\n"
        "redis          unix:/run/redis.sock   # the socket\n"
        "redis_password s3cr3t\n"
        "redis_db       2\n"
        "prefix         cdn:\n"
        "\n"
        "   secret      /etc/fsdfs/secret   \n"
        "name           sidecar-1\n"
        "lease          1500ms\n"
        "dead_after     1m\n"
        "forget_after   2h\n"
        "cache_ttl      0\n"
        "pulls_in       3\n"
        "pulls_out      5\n"
        "pull_timeout   90s\n"
        "retry_after    2s\n"
        "reserve        10g\n"
        "replicas       4\n"
        "log_level      debug";            /* no final newline */

    is_int(parse(&c, text, err), 0, "full config parses");
    if (err[0]) {
        printf("# %s\n", err);
    }
    is_str(c.redis, "unix:/run/redis.sock", "redis, comment cut");
    is_str(c.redis_password, "s3cr3t", "password");
    is_int(c.redis_db, 2, "db");
    is_str(c.prefix, "cdn:", "prefix");
    is_str(c.secret, "/etc/fsdfs/secret", "secret, blanks trimmed");
    is_str(c.name, "sidecar-1", "name");
    is_int(c.lease_ms, 1500, "lease 1500ms");
    is_int(c.dead_after_ms, 60000, "dead_after 1m");
    is_int(c.forget_after_ms, 7200000, "forget_after 2h");
    is_int(c.cache_ttl_ms, 0, "cache_ttl 0");
    is_int(c.pulls_in, 3, "pulls_in");
    is_int(c.pulls_out, 5, "pulls_out");
    is_int(c.pull_timeout_ms, 90000, "pull_timeout");
    is_int(c.retry_after_ms, 2000, "retry_after");
    ok(!c.reserve_is_pct && c.reserve_bytes == 10ULL << 30, "reserve 10g");
    is_int(c.replicas, 4, "replicas");
    is_int(c.log_level, 0, "log_level debug");

    is_int(parse(&c, "secret s\nreserve 2.5%\nredis 10.0.0.2:6380\n", err), 0,
           "percent reserve and host:port");
    ok(c.reserve_is_pct && c.reserve_pct == 2.5, "reserve 2.5%%");
    is_str(c.redis, "10.0.0.2:6380", "redis host:port");
}


static void
units(void)
{
    int64_t   ms;
    uint64_t  b;

    ok(fsd_conf_duration("500ms", &ms) == 0 && ms == 500, "500ms");
    ok(fsd_conf_duration("3s", &ms) == 0 && ms == 3000, "3s");
    ok(fsd_conf_duration("3", &ms) == 0 && ms == 3000, "bare 3 is seconds");
    ok(fsd_conf_duration("1m", &ms) == 0 && ms == 60000, "1m");
    ok(fsd_conf_duration("24h", &ms) == 0 && ms == 86400000, "24h");
    ok(fsd_conf_duration("7d", &ms) == 0 && ms == 7 * 86400000LL, "7d");
    ok(fsd_conf_duration("", &ms) != 0, "empty duration refused");
    ok(fsd_conf_duration("-1s", &ms) != 0, "negative duration refused");
    ok(fsd_conf_duration("3 s", &ms) != 0, "blank inside refused");
    ok(fsd_conf_duration("3sec", &ms) != 0, "unknown unit refused");
    ok(fsd_conf_duration("1.5s", &ms) != 0, "fraction refused");
    ok(fsd_conf_duration("99999999999999999999s", &ms) != 0, "overflow refused");
    ok(fsd_conf_duration("400d", &ms) != 0, "over a year refused");

    ok(fsd_conf_size("4096", &b) == 0 && b == 4096, "4096");
    ok(fsd_conf_size("512k", &b) == 0 && b == 512 << 10, "512k");
    ok(fsd_conf_size("10M", &b) == 0 && b == 10 << 20, "10M");
    ok(fsd_conf_size("2g", &b) == 0 && b == 2ULL << 30, "2g");
    ok(fsd_conf_size("1t", &b) == 0 && b == 1ULL << 40, "1t");
    ok(fsd_conf_size("1kb", &b) != 0, "1kb refused");
    ok(fsd_conf_size("x", &b) != 0, "x refused");
    ok(fsd_conf_size("99999999999999g", &b) != 0, "size overflow refused");
}


/* Each bad line is refused with a message holding every needle. */
static void
bad(const char *text, const char *n1, const char *n2, const char *n3)
{
    char        err[FSD_CONF_ERR_MAX];
    fsd_conf_t  c;
    int         rc;

    rc = parse(&c, text, err);
    ok(rc == -1 && strstr(err, n1) && (!n2 || strstr(err, n2))
       && (!n3 || strstr(err, n3)), "refused, names %s %s %s", n1,
       n2 ? n2 : "", n3 ? n3 : "");
    printf("#   %s\n", err);
}


static void
refusals(void)
{
    bad("secret s\nleese 3s\n", "test.conf:2:", "\"leese\"", NULL);
    bad("secret s\nlease 3x\n", "test.conf:2:", "\"3x\"", "\"lease\"");
    bad("secret s\nlease 100ms\n", "test.conf:2:", "\"100ms\"", "\"lease\"");
    bad("secret s\nlease\n", "test.conf:2:", "\"lease\"", "needs a value");
    bad("secret s\nlease 3s\nlease 4s\n", "test.conf:3:", "duplicate",
        "\"lease\"");
    bad("secret s\ndead_after 0\n", ":2:", "\"0\"", "\"dead_after\"");
    bad("secret s\nforget_after soon\n", ":2:", "\"soon\"", "\"forget_after\"");
    bad("secret s\ncache_ttl -1s\n", ":2:", "\"-1s\"", "\"cache_ttl\"");
    bad("secret s\npull_timeout 10ms\n", ":2:", "\"10ms\"", "\"pull_timeout\"");
    bad("secret s\nretry_after 0s\n", ":2:", "\"0s\"", "\"retry_after\"");
    bad("secret s\npulls_in 0\n", ":2:", "\"0\"", "\"pulls_in\"");
    bad("secret s\npulls_out many\n", ":2:", "\"many\"", "\"pulls_out\"");
    bad("secret s\npulls_out 4 5\n", ":2:", "\"4 5\"", "\"pulls_out\"");
    bad("secret s\nreserve 100%\n", ":2:", "\"100%\"", "\"reserve\"");
    bad("secret s\nreserve 5x\n", ":2:", "\"5x\"", "\"reserve\"");
    bad("secret s\nreplicas 0\n", ":2:", "\"0\"", "\"replicas\"");
    bad("secret s\nreplicas 256\n", ":2:", "\"256\"", "\"replicas\"");
    bad("secret s\nlog_level loud\n", ":2:", "\"loud\"", "\"log_level\"");
    bad("secret s\nredis localhost\n", ":2:", "\"localhost\"", "\"redis\"");
    bad("secret s\nredis 127.0.0.1:0\n", ":2:", "\"127.0.0.1:0\"", "\"redis\"");
    bad("secret s\nredis unix:run.sock\n", ":2:", "\"unix:run.sock\"",
        "\"redis\"");
    bad("secret s\nredis_db -1\n", ":2:", "\"-1\"", "\"redis_db\"");
    bad("secret s\nprefix a b\n", ":2:", "\"a b\"", "\"prefix\"");
    bad("secret s\nname a:b\n", ":2:", "\"a:b\"", "\"name\"");
    bad("# no secret\nlease 3s\n", "test.conf:", "\"secret\"", "required");
    bad("secret s\ndead_after 1h\nforget_after 1m\n", "\"forget_after\"",
        "\"dead_after\"", NULL);
}


int
main(void)
{
    defaults();
    good();
    units();
    refusals();
    return done_testing();
}
