/*
 * Redis address parsing. The forms are few and the rules strict: a port
 * is 1..65535 in decimal, a sentinel list has 1..8 entries, each an IPv4
 * or a bracketed IPv6 literal, and a master name is what Sentinel accepts
 * in a config line (printable, no spaces). Everything is checked here, so
 * a bad address fails `nginx -t`, fsdfsd's start or the CLI with one
 * clear message, never later in a worker.
 */

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "fsdfs_addr.h"


static int
fsdfs_addr_is_ip(const char *host)
{
    unsigned char  buf[16];

    return inet_pton(AF_INET, host, buf) == 1
           || inet_pton(AF_INET6, host, buf) == 1;
}


static int
fsdfs_addr_port(const char *s, size_t len)
{
    size_t  i;
    long    port = 0;

    if (len == 0 || len > 5) {
        return -1;
    }

    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        port = port * 10 + (s[i] - '0');
    }

    return (port >= 1 && port <= 65535) ? (int) port : -1;
}


/* host:port or [v6]:port in s..s+len. */
static const char *
fsdfs_addr_hostport(fsdfs_hostport_t *hp, const char *s, size_t len,
    int ip_only)
{
    size_t       hlen;
    const char  *colon, *host, *p;

    if (len == 0) {
        return "empty address";
    }

    if (s[0] == '[') {
        p = memchr(s, ']', len);
        if (p == NULL || p + 1 == s + len || p[1] != ':') {
            return "expected [ipv6]:port";
        }
        host = s + 1;
        hlen = p - host;
        colon = p + 1;

    } else {
        colon = NULL;
        for (p = s; p < s + len; p++) {
            if (*p == ':') {
                colon = p;
            }
        }
        if (colon == NULL || colon == s) {
            return "expected host:port";
        }
        host = s;
        hlen = colon - s;
        if (memchr(host, ':', hlen)) {
            return "an IPv6 address needs brackets: [ipv6]:port";
        }
    }

    if (hlen == 0 || hlen >= sizeof(hp->host)) {
        return "bad host";
    }

    for (p = host; p < host + hlen; p++) {
        if (*p <= ' ' || *p >= 0x7f || *p == ',' || *p == '/') {
            return "bad host";
        }
    }

    memcpy(hp->host, host, hlen);
    hp->host[hlen] = '\0';

    hp->port = fsdfs_addr_port(colon + 1, s + len - colon - 1);
    if (hp->port < 0) {
        return "port must be 1..65535";
    }

    if (ip_only && !fsdfs_addr_is_ip(hp->host)) {
        return "expected an IP address, not a host name";
    }

    return NULL;
}


static const char *
fsdfs_addr_sentinel(fsdfs_addr_t *a, const char *s, size_t len)
{
    size_t       i, nlen;
    const char  *slash, *p, *end, *comma, *bad;

    slash = memchr(s, '/', len);
    if (slash == NULL) {
        return "expected sentinel://ip:port[,ip:port...]/name";
    }

    nlen = s + len - slash - 1;
    if (nlen == 0) {
        return "no master name after '/'";
    }

    if (nlen >= sizeof(a->name)) {
        return "master name too long";
    }

    for (i = 0; i < nlen; i++) {
        if (slash[1 + i] <= ' ' || slash[1 + i] >= 0x7f || slash[1 + i] == '/')
        {
            return "bad character in the master name";
        }
    }

    memcpy(a->name, slash + 1, nlen);
    a->name[nlen] = '\0';

    if (slash == s) {
        return "no sentinel before the master name";
    }

    for (p = s, end = slash; p <= end; p = comma + 1) {
        comma = memchr(p, ',', end - p);
        if (comma == NULL) {
            comma = end;
        }

        if (comma == p) {
            return "empty sentinel address";
        }

        if (a->nsentinels == FSDFS_ADDR_MAX_SENTINELS) {
            return "more than 8 sentinels";
        }

        bad = fsdfs_addr_hostport(&a->sentinel[a->nsentinels], p, comma - p,
                                  1);
        if (bad) {
            return bad;
        }

        a->nsentinels++;
    }

    return NULL;
}


const char *
fsdfs_addr_parse(fsdfs_addr_t *a, const char *s, size_t len, int ip_only)
{
    memset(a, 0, sizeof(*a));

    if (len == 0) {
        return "empty address";
    }

    if (memchr(s, '\0', len)) {
        return "NUL in the address";
    }

    if (len >= 11 && memcmp(s, "sentinel://", 11) == 0) {
        a->kind = FSDFS_ADDR_SENTINEL;
        return fsdfs_addr_sentinel(a, s + 11, len - 11);
    }

    if (len >= 5 && memcmp(s, "unix:", 5) == 0) {
        a->kind = FSDFS_ADDR_UNIX;
        if (len == 5 || s[5] != '/') {
            return "expected unix:/absolute/path";
        }
        if (len - 5 >= sizeof(a->path)) {
            return "socket path too long";
        }
        memcpy(a->path, s + 5, len - 5);
        a->path[len - 5] = '\0';
        return NULL;
    }

    if (memchr(s, '/', len)) {
        return "expected host:port, unix:/path or sentinel://ip:port/name";
    }

    a->kind = FSDFS_ADDR_TCP;
    return fsdfs_addr_hostport(&a->tcp, s, len, ip_only);
}


char *
fsdfs_hostport_str(const fsdfs_hostport_t *hp, char *buf, size_t cap)
{
    if (strchr(hp->host, ':')) {
        snprintf(buf, cap, "[%s]:%d", hp->host, hp->port);
    } else {
        snprintf(buf, cap, "%s:%d", hp->host, hp->port);
    }

    return buf;
}


const char *
fsdfs_addr_master(fsdfs_hostport_t *hp, const char *ip, size_t iplen,
    const char *port, size_t portlen)
{
    if (iplen == 0 || iplen >= sizeof(hp->host) || memchr(ip, '\0', iplen)) {
        return "bad master address";
    }

    memcpy(hp->host, ip, iplen);
    hp->host[iplen] = '\0';

    if (!fsdfs_addr_is_ip(hp->host)) {
        return "master address is not an IP address";
    }

    hp->port = fsdfs_addr_port(port, portlen);
    if (hp->port < 0) {
        return "bad master port";
    }

    return NULL;
}
