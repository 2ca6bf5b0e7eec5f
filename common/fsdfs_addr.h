/*
 * Redis addresses as fsdfs writes them: host:port, unix:/path, or
 * sentinel://ip1:port1,ip2:port2/name (a master found through Sentinel).
 * Pure parsing, shared by the nginx module, fsdfsd and the CLI.
 */

#ifndef FSDFS_ADDR_H
#define FSDFS_ADDR_H

#include <stddef.h>

#define FSDFS_ADDR_MAX_SENTINELS  8
#define FSDFS_ADDR_HOST_MAX       64      /* an IPv6 literal fits */
#define FSDFS_ADDR_NAME_MAX       64

typedef enum {
    FSDFS_ADDR_TCP = 1,
    FSDFS_ADDR_UNIX,
    FSDFS_ADDR_SENTINEL
} fsdfs_addr_kind_t;

typedef struct {
    char  host[FSDFS_ADDR_HOST_MAX];      /* NUL-ended, no brackets */
    int   port;
} fsdfs_hostport_t;

typedef struct {
    fsdfs_addr_kind_t  kind;
    fsdfs_hostport_t   tcp;               /* FSDFS_ADDR_TCP */
    char               path[256];         /* FSDFS_ADDR_UNIX */
    char               name[FSDFS_ADDR_NAME_MAX];  /* FSDFS_ADDR_SENTINEL */
    int                nsentinels;
    fsdfs_hostport_t   sentinel[FSDFS_ADDR_MAX_SENTINELS];
} fsdfs_addr_t;

/*
 * Parses s (len bytes, need not be NUL-ended) into a. Returns NULL, or
 * what is wrong as a short phrase for an error message. Sentinels must be
 * IP literals (no DNS where the answer is used); a plain host:port may
 * name a host when ip_only is 0.
 */
const char *fsdfs_addr_parse(fsdfs_addr_t *a, const char *s, size_t len,
    int ip_only);

/* "ip:port" or "[v6]:port" of hp into buf; returns buf. */
char *fsdfs_hostport_str(const fsdfs_hostport_t *hp, char *buf, size_t cap);

/*
 * Checks a SENTINEL get-master-addr-by-name answer (its two strings) and
 * stores it in hp: an IP literal and a port. NULL, or what is wrong.
 */
const char *fsdfs_addr_master(fsdfs_hostport_t *hp, const char *ip,
    size_t iplen, const char *port, size_t portlen);

#endif
