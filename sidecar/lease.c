/*
 * Lease election over Redis. Taking, renewing and releasing are each one
 * small Lua script, so no step can interleave with another sidecar's:
 * taking sets the key only if absent and bumps the epoch in the same
 * call; renewing extends the key only if it still holds our value;
 * releasing deletes it only if it is ours.
 *
 * The local view is deliberately pessimistic: a renewal sent at time t
 * keeps the lease valid here until t + lease - lease/10, measured on the
 * monotonic clock from *before* the request left, while Redis counts its
 * lease from when the request arrived. So a master whose renewals stop
 * getting through (Redis down, partition, a long pause) stops planning
 * before any standby can take over.
 */

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "fsdfs_keys.h"
#include "lease.h"
#include "log.h"


static const char  lease_take_lua[] =
    "if redis.call('SET', KEYS[1], ARGV[1] .. ':0', 'NX', 'PX', ARGV[2]) then "
    "  local e = redis.call('INCR', KEYS[2]) "
    "  redis.call('SET', KEYS[1], ARGV[1] .. ':' .. e, 'PX', ARGV[2]) "
    "  return e "
    "end "
    "return 0";

static const char  lease_renew_lua[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "  return redis.call('PEXPIRE', KEYS[1], ARGV[2]) "
    "end "
    "return 0";

static const char  lease_release_lua[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "  return redis.call('DEL', KEYS[1]) "
    "end "
    "return 0";


void
lease_init(lease_t *l, rds_t *r, const fsd_conf_t *conf)
{
    memset(l, 0, sizeof(*l));
    l->r = r;
    l->lease_ms = conf->lease_ms;
    fsdfs_key(l->key, sizeof(l->key), conf->prefix, "master");
    fsdfs_key(l->epoch_key, sizeof(l->epoch_key), conf->prefix, "epoch");
    snprintf(l->name, sizeof(l->name), "%s", conf->name);
}


int
lease_valid(const lease_t *l, int64_t now_ms)
{
    return l->leading && now_ms < l->valid_until_ms;
}


static lease_event_t
lease_lose(lease_t *l, const char *why)
{
    l->leading = 0;
    l->said_standby = 0;
    l->next_ms = fsd_now_ms() + LEASE_RETRY_MS;
    fsd_log(FSD_LOG_WARN, "lost the lease (epoch %" PRIu64 "): %s; "
            "planning stopped", l->epoch, why);
    return LEASE_LOST;
}


static lease_event_t
lease_take(lease_t *l, int64_t now_ms)
{
    char         px[32];
    redisReply  *rep;

    l->next_ms = now_ms + LEASE_RETRY_MS;
    snprintf(px, sizeof(px), "%lld", (long long) l->lease_ms);

    rep = rds_cmd(l->r, "EVAL %s 2 %s %s %s %s", lease_take_lua, l->key,
                  l->epoch_key, l->name, px);
    if (!rds_is(rep, REDIS_REPLY_INTEGER)) {
        if (rep && rep->type == REDIS_REPLY_ERROR) {
            fsd_log(FSD_LOG_ERROR, "lease: redis refused: %s", rep->str);
        }
        freeReplyObject(rep);
        return LEASE_STANDBY;
    }

    if (rep->integer <= 0) {
        freeReplyObject(rep);
        if (!l->said_standby) {
            rep = rds_cmd(l->r, "GET %s", l->key);
            fsd_log(FSD_LOG_INFO, "standby (master is %s)",
                    rds_is(rep, REDIS_REPLY_STRING) ? rep->str : "unknown");
            freeReplyObject(rep);
            l->said_standby = 1;
        }
        return LEASE_STANDBY;
    }

    l->epoch = (uint64_t) rep->integer;
    freeReplyObject(rep);

    snprintf(l->value, sizeof(l->value), "%s:%" PRIu64, l->name, l->epoch);
    l->leading = 1;
    l->valid_until_ms = now_ms + l->lease_ms - l->lease_ms / 10;
    l->next_ms = now_ms + l->lease_ms / 3;
    fsd_log(FSD_LOG_INFO, "leading, epoch %" PRIu64, l->epoch);
    return LEASE_WON;
}


static lease_event_t
lease_renew(lease_t *l, int64_t now_ms)
{
    char         px[32];
    redisReply  *rep;

    snprintf(px, sizeof(px), "%lld", (long long) l->lease_ms);
    rep = rds_cmd(l->r, "EVAL %s 1 %s %s %s", lease_renew_lua, l->key,
                  l->value, px);

    if (!rds_is(rep, REDIS_REPLY_INTEGER)) {
        freeReplyObject(rep);
        /* keep trying often; the lease still covers us until valid_until */
        l->next_ms = now_ms + 100;
        if (now_ms >= l->valid_until_ms) {
            return lease_lose(l, "could not renew it in time");
        }
        return LEASE_LEADING;
    }

    if (rep->integer != 1) {
        freeReplyObject(rep);
        return lease_lose(l, "another sidecar holds it");
    }

    freeReplyObject(rep);
    l->valid_until_ms = now_ms + l->lease_ms - l->lease_ms / 10;
    l->next_ms = now_ms + l->lease_ms / 3;
    return LEASE_LEADING;
}


lease_event_t
lease_tick(lease_t *l, int64_t now_ms)
{
    if (l->leading && now_ms >= l->valid_until_ms) {
        return lease_lose(l, "it expired before a renewal got through");
    }

    if (now_ms < l->next_ms) {
        return l->leading ? LEASE_LEADING : LEASE_STANDBY;
    }

    return l->leading ? lease_renew(l, now_ms) : lease_take(l, now_ms);
}


void
lease_release(lease_t *l)
{
    redisReply  *rep;

    if (l->value[0] == '\0') {
        return;
    }

    rep = rds_cmd(l->r, "EVAL %s 1 %s %s", lease_release_lua, l->key,
                  l->value);
    freeReplyObject(rep);

    if (l->leading) {
        fsd_log(FSD_LOG_INFO, "lease released (epoch %" PRIu64 ")", l->epoch);
    }

    l->leading = 0;
    l->said_standby = 0;
    l->value[0] = '\0';
    l->next_ms = fsd_now_ms() + LEASE_RETRY_MS;
}
