/*
 * fsdfsd's configuration: `key value` lines, `#` comments, the keys of the
 * README's fsdfsd table. Parsing is a pure function of a buffer, so the
 * unit test drives every default and every refusal without touching the
 * disk; reading the file is a thin wrapper. A bad line is refused with one
 * message naming the file, the line, the key and the value, and nothing
 * of a refused config is used.
 */

#ifndef FSD_CONF_H
#define FSD_CONF_H

#include <stddef.h>
#include <stdint.h>

#define FSD_CONF_ERR_MAX   512

typedef struct {
    char      redis[256];           /* host:port, unix:/path, sentinel:// */
    char      redis_password[256];
    int       redis_db;
    char      prefix[64];
    char      secret[1024];         /* path of the secret file */
    char      name[64];             /* this sidecar in the lease */

    int64_t   lease_ms;
    int64_t   dead_after_ms;
    int64_t   forget_after_ms;
    int64_t   cache_ttl_ms;
    int64_t   pull_timeout_ms;
    int64_t   retry_after_ms;

    unsigned  pulls_in;
    unsigned  pulls_out;

    uint64_t  reserve_bytes;        /* absolute reserve, or ... */
    double    reserve_pct;          /* ... a share of each quota (0..100) */
    int       reserve_is_pct;

    unsigned  replicas;             /* 0: fsdfs:config replicas */
    unsigned  max_replicas;         /* ceiling of the policy's N (255) */
    int64_t   pop_half_life_ms;     /* decay of fsdfs:pop (whole seconds) */
    char      policy_plugin[256];   /* .so path, "" for none */
    /* rule / boost / pop_boost lines, compiled as they are read (NULL
     * until the first one; fsd_conf_free() releases it) */
    struct policy_s  *policy;
    int       log_level;            /* rank: debug 0, info 1, warn 2, error 3 */
} fsd_conf_t;

/* Every default of the README table (name: this host's name). */
void fsd_conf_defaults(fsd_conf_t *c);

/*
 * Parses len bytes of buf over the defaults already in c; file names the
 * source in messages. 0 on success; -1 with one line in err ("FILE:LINE:
 * invalid value \"V\" of \"KEY\": why") and c in an unspecified state.
 * A missing `secret` is an error (line 0 is then the whole file).
 */
int fsd_conf_parse(fsd_conf_t *c, const char *buf, size_t len,
    const char *file, char *err, size_t errcap);

/* Frees what parsing allocated (the policy); c can be parsed again after
 * fsd_conf_defaults(). */
void fsd_conf_free(fsd_conf_t *c);

/* Defaults, then the file at path. */
int fsd_conf_load(fsd_conf_t *c, const char *path, char *err, size_t errcap);

/* "500ms", "3s", "1m", "24h", "2d", or bare seconds -> ms; -1 if bad. */
int fsd_conf_duration(const char *s, int64_t *ms);

/* "4096", "512k", "10m", "2g", "1t" (powers of 1024) -> bytes; -1 if bad. */
int fsd_conf_size(const char *s, uint64_t *bytes);

/* The level's name ("info") for a rank, and back (-1 if unknown). */
const char *fsd_conf_level_name(int level);
int fsd_conf_level(const char *s);

#endif
