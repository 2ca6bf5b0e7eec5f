/*
 * fsdfsd: the replication master of fsdfs (DESIGN §6). Any number may
 * run; the one holding the Redis lease plans, the others stand by.
 *
 *   fsdfsd -c /etc/fsdfs/fsdfsd.conf     run
 *   fsdfsd -c FILE -t                    check the config and the secret
 *
 * One loop, no threads: the lease is ticked every turn (it renews every
 * lease/3 and knows locally when it can no longer be trusted); while the
 * lease is valid the term (repl.c) reads events, plans, and waits on its
 * transfers for up to LOOP_WAIT_MS; once a second it re-reads the node
 * table and publishes stats. The lease has its own Redis connection, so
 * a long index load or a slow pipeline never delays a renewal. TERM and
 * INT end the term, release the lease (a standby takes over at once
 * instead of after the lease runs out) and exit 0.
 */

#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "policy.h"
#include "fsdfs_sign.h"
#include "lease.h"
#include "log.h"
#include "rds.h"
#include "repl.h"


#define LOOP_WAIT_MS  50
#define SECRET_MAX    1024


static volatile sig_atomic_t  fsd_stop;


static void
fsd_on_signal(int sig)
{
    (void) sig;
    fsd_stop = 1;
}


static int
fsd_usage(void)
{
    fprintf(stderr, "usage: fsdfsd -c FILE [-t]\n"
            "  -c FILE  config file (see conf.d/fsdfsd.conf)\n"
            "  -t       check the config and the secret, then exit\n");
    return 2;
}


/* The lease during a long step: renew it when due; -1 once it is gone. */
static int
fsd_keepalive(void *arg)
{
    lease_t        *l = arg;
    lease_event_t   ev;

    ev = lease_tick(l, fsd_now_ms());
    return (ev == LEASE_LEADING || ev == LEASE_WON) && !fsd_stop ? 0 : -1;
}


static long
fsd_redis_timeout(const fsd_conf_t *c)
{
    long  t = (long) (c->lease_ms / 3);

    return t < 200 ? 200 : t > 1000 ? 1000 : t;
}


int
main(int argc, char **argv)
{
    int                 opt, test = 0;
    const char         *file = NULL, *err;
    char                msg[FSD_CONF_ERR_MAX];
    unsigned char       key[SECRET_MAX];
    size_t              keylen;
    int64_t             now, next_tick = 0;
    fsd_conf_t          conf;
    rds_t               rl, rs;
    lease_t             lease;
    lease_event_t       ev;
    repl_t             *rp = NULL;
    struct sigaction    sa;

    while ((opt = getopt(argc, argv, "c:th")) != -1) {
        switch (opt) {
        case 'c': file = optarg; break;
        case 't': test = 1; break;
        default: return fsd_usage();
        }
    }
    if (file == NULL || optind != argc) {
        return fsd_usage();
    }

    /* a refused config frees what it compiled: under ASan a leak at exit
     * would turn the documented exit code 2 into 1 */
    if (fsd_conf_load(&conf, file, msg, sizeof(msg)) != 0) {
        fprintf(stderr, "fsdfsd: %s\n", msg);
        fsd_conf_free(&conf);
        return 2;
    }

    if (fsdfs_secret_load(conf.secret, key, sizeof(key), &keylen, &err) != 0) {
        fprintf(stderr, "fsdfsd: %s: secret \"%s\": %s%s%s\n", file,
                conf.secret, err, errno ? ": " : "", errno ? strerror(errno)
                                                           : "");
        fsd_conf_free(&conf);
        return 2;
    }

    /* the policy: rules and boosts were compiled by the parser; the
     * plug-in is loaded here, so -t finds a broken one too */
    if (conf.policy == NULL && (conf.policy = policy_new()) == NULL) {
        fprintf(stderr, "fsdfsd: out of memory\n");
        return 1;
    }
    policy_set_max(conf.policy, conf.max_replicas);
    if (conf.policy_plugin[0]
        && policy_load_plugin(conf.policy, conf.policy_plugin, msg,
                              sizeof(msg)) != 0)
    {
        fprintf(stderr, "fsdfsd: %s: %s\n", file, msg);
        fsd_conf_free(&conf);
        return 2;
    }

    if (test) {
        printf("fsdfsd: config %s ok (name %s, redis %s, prefix %s, "
               "lease %lld ms, %u rule(s)%s)\n", file, conf.name, conf.redis,
               conf.prefix, (long long) conf.lease_ms,
               policy_rules(conf.policy),
               policy_has_plugin(conf.policy) ? ", policy plug-in" : "");
        fsd_conf_free(&conf);
        return 0;
    }

    fsd_log_set_level(conf.log_level);

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = fsd_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fsd_log(FSD_LOG_ERROR, "libcurl cannot start");
        return 1;
    }

    rds_init(&rl, &conf, fsd_redis_timeout(&conf));
    rds_init(&rs, &conf, fsd_redis_timeout(&conf));
    lease_init(&lease, &rl, &conf);

    fsd_log(FSD_LOG_INFO, "fsdfsd %s starting: redis %s, prefix %s, lease "
            "%lld ms", conf.name, conf.redis, conf.prefix,
            (long long) conf.lease_ms);

    while (!fsd_stop) {
        now = fsd_now_ms();
        ev = lease_tick(&lease, now);

        if (ev == LEASE_LOST && rp) {
            repl_free(rp);
            rp = NULL;
        }

        if (ev == LEASE_WON) {
            rp = repl_new(&rs, &conf, key, keylen, lease.epoch, lease.value,
                          fsd_keepalive, &lease);
            if (rp == NULL || repl_takeover(rp) != 0) {
                repl_free(rp);
                rp = NULL;
                lease_release(&lease);
                continue;
            }
            next_tick = 0;
        }

        if (rp && lease_valid(&lease, fsd_now_ms())) {
            now = fsd_now_ms();
            if (now >= next_tick) {
                repl_tick(rp, now);
                next_tick = now + 1000;
            }
            if (repl_step(rp, fsd_now_ms(), LOOP_WAIT_MS) != 0) {
                fsd_log(FSD_LOG_WARN, "a node knows a newer epoch than %llu: "
                        "stepping down", (unsigned long long) lease.epoch);
                repl_free(rp);
                rp = NULL;
                lease_release(&lease);
            }
            continue;
        }

        /* standing by: until the next attempt, woken early by a signal */
        now = fsd_now_ms();
        poll(NULL, 0, lease.next_ms > now
                      ? (int) (lease.next_ms - now < 100 ? lease.next_ms - now
                                                         : 100)
                      : 1);
    }

    fsd_log(FSD_LOG_INFO, "stopping");
    repl_free(rp);
    lease_release(&lease);
    rds_close(&rl);
    rds_close(&rs);
    curl_global_cleanup();
    fsd_conf_free(&conf);
    memset(key, 0, sizeof(key));
    return 0;
}
