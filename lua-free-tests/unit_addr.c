/*
 * Redis address parsing: host:port, unix:/path, sentinel://ip:port,.../name,
 * and the check of a sentinel's answer.
 */

#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "fsdfs_addr.h"


static const char *
parse(fsdfs_addr_t *a, const char *s, int ip_only)
{
    return fsdfs_addr_parse(a, s, strlen(s), ip_only);
}


static void
bad(const char *s, int ip_only, const char *want)
{
    fsdfs_addr_t  a;
    const char   *why = parse(&a, s, ip_only);

    ok(why != NULL && strstr(why, want) != NULL,
       "invalid: \"%s\" - %s (want \"%s\")", s, why ? why : "accepted", want);
}


int
main(void)
{
    int           i;
    char          buf[512], hp[96];
    fsdfs_addr_t  a;

    ok(parse(&a, "127.0.0.1:6379", 1) == NULL && a.kind == FSDFS_ADDR_TCP
       && strcmp(a.tcp.host, "127.0.0.1") == 0 && a.tcp.port == 6379,
       "host:port");
    ok(parse(&a, "redis.local:6380", 0) == NULL
       && strcmp(a.tcp.host, "redis.local") == 0 && a.tcp.port == 6380,
       "a host name where allowed");
    bad("redis.local:6380", 1, "IP address");
    ok(parse(&a, "[::1]:7000", 1) == NULL && strcmp(a.tcp.host, "::1") == 0
       && a.tcp.port == 7000, "[v6]:port");
    ok(strcmp(fsdfs_hostport_str(&a.tcp, hp, sizeof(hp)), "[::1]:7000") == 0,
       "v6 shown with brackets");
    ok(parse(&a, "unix:/run/redis.sock", 0) == NULL && a.kind == FSDFS_ADDR_UNIX
       && strcmp(a.path, "/run/redis.sock") == 0, "unix:/path");

    ok(parse(&a, "sentinel://127.0.0.1:26379,127.0.0.2:26380/fsdfs", 1) == NULL
       && a.kind == FSDFS_ADDR_SENTINEL && a.nsentinels == 2
       && strcmp(a.name, "fsdfs") == 0
       && strcmp(a.sentinel[0].host, "127.0.0.1") == 0
       && a.sentinel[0].port == 26379
       && strcmp(a.sentinel[1].host, "127.0.0.2") == 0
       && a.sentinel[1].port == 26380, "sentinel://two/name");
    ok(parse(&a, "sentinel://[::1]:26379/m-1.x", 1) == NULL
       && a.nsentinels == 1 && strcmp(a.sentinel[0].host, "::1") == 0
       && strcmp(a.name, "m-1.x") == 0, "sentinel with a v6 literal");

    strcpy(buf, "sentinel://");
    for (i = 0; i < 8; i++) {
        sprintf(buf + strlen(buf), "%s10.0.0.%d:2637%d", i ? "," : "", i + 1, i);
    }
    strcat(buf, "/fsdfs");
    ok(parse(&a, buf, 1) == NULL && a.nsentinels == 8
       && a.sentinel[7].port == 26377, "8 sentinels");
    buf[strlen(buf) - 6] = '\0';
    strcat(buf, ",10.0.0.9:1/fsdfs");
    bad(buf, 1, "more than 8");

    /* a sentinel is never a name, whatever the caller allows */
    bad("sentinel://sentinel1:26379/fsdfs", 0, "IP address");
    bad("sentinel://127.0.0.1:26379", 1, "expected sentinel://");
    bad("sentinel://127.0.0.1:26379/", 1, "no master name");
    bad("sentinel:///fsdfs", 1, "no sentinel");
    bad("sentinel://127.0.0.1:26379,/fsdfs", 1, "empty sentinel");
    bad("sentinel://,127.0.0.1:26379/fsdfs", 1, "empty sentinel");
    bad("sentinel://127.0.0.1/fsdfs", 1, "host:port");
    bad("sentinel://127.0.0.1:0/fsdfs", 1, "1..65535");
    bad("sentinel://127.0.0.1:65536/fsdfs", 1, "1..65535");
    bad("sentinel://127.0.0.1:26379x/fsdfs", 1, "1..65535");
    bad("sentinel://::1:26379/fsdfs", 1, "brackets");
    bad("sentinel://[::1:26379/fsdfs", 1, "[ipv6]:port");
    bad("sentinel://127.0.0.1:26379/a b", 1, "master name");
    bad("sentinel://127.0.0.1:26379/a/b", 1, "master name");
    bad("sentinel://127.0.0.1:26379/"
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        1, "too long");
    bad("", 0, "empty");
    bad("127.0.0.1", 0, "host:port");
    bad(":6379", 0, "host:port");
    bad("127.0.0.1:", 0, "1..65535");
    bad("127.0.0.1:-1", 0, "1..65535");
    bad("unix:", 0, "unix:/absolute");
    bad("unix:run/x", 0, "unix:/absolute");
    bad("redis://127.0.0.1:6379", 0, "expected host:port");
    ok(fsdfs_addr_parse(&a, "127.0.0.1:6379\0x", 16, 0) != NULL,
       "NUL inside: invalid");

    ok(fsdfs_addr_master(&a.tcp, "127.0.0.1", 9, "6380", 4) == NULL
       && strcmp(a.tcp.host, "127.0.0.1") == 0 && a.tcp.port == 6380,
       "a sentinel's answer");
    ok(fsdfs_addr_master(&a.tcp, "redis-a", 7, "6380", 4) != NULL,
       "an answer that is a name: refused");
    ok(fsdfs_addr_master(&a.tcp, "127.0.0.1", 9, "0", 1) != NULL,
       "an answer with port 0: refused");
    ok(fsdfs_addr_master(&a.tcp, "", 0, "6379", 4) != NULL,
       "an empty answer: refused");

    return done_testing();
}
