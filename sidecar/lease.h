/*
 * The master lease: who plans. A sidecar leads while <prefix>master holds
 * "<name>:<epoch>" of its own and its last renewal is fresh; everyone
 * else stands by and tries again every LEASE_RETRY_MS. Taking the lease
 * bumps <prefix>epoch in the same atomic step, so every command of the
 * new master outranks the old one's at the nodes (fencing).
 */

#ifndef FSD_LEASE_H
#define FSD_LEASE_H

#include <stdint.h>

#include "rds.h"

#define LEASE_RETRY_MS  500

typedef enum {
    LEASE_STANDBY = 0,      /* not leading, nothing changed */
    LEASE_LEADING,          /* leading, nothing changed */
    LEASE_WON,              /* just took the lease: load state */
    LEASE_LOST              /* just lost it: stop planning now */
} lease_event_t;

typedef struct {
    rds_t      *r;
    int64_t     lease_ms;
    char        key[128];
    char        epoch_key[128];
    char        name[64];
    char        value[96];          /* "<name>:<epoch>" while leading */
    uint64_t    epoch;
    int         leading;
    int         said_standby;
    int64_t     valid_until_ms;     /* monotonic: stop planning after it */
    int64_t     next_ms;            /* next renewal or attempt */
} lease_t;

void lease_init(lease_t *l, rds_t *r, const fsd_conf_t *conf);

/* Renews or tries to take the lease when due; says what changed. */
lease_event_t lease_tick(lease_t *l, int64_t now_ms);

/* Leading with a lease that cannot have expired in Redis yet. */
int lease_valid(const lease_t *l, int64_t now_ms);

/* Gives the lease up (deletes it if still ours): on shutdown, or when a
 * node reported a newer epoch. */
void lease_release(lease_t *l);

#endif
