/*
 * The replication policy without Redis: config lines as fsdfsd reads them
 * (through the real config parser, so refusals name file:line), then N
 * for files described by hand: first matching rule, explicit n= over
 * everything, variable and popularity boosts with their caps, the clamps
 * to [1, live nodes] and max_replicas, and plug-ins: the sample one, and
 * broken ones (absent, without the symbol, answering -5 or 1000), whose
 * answers are clamped and logged once per path per minute.
 *
 *   unit_policy SAMPLE.so NOSYM.so NEG.so BIG.so     (unit_policy.t builds
 *                                                     the three bad ones)
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "conf.h"
#include "planner.h"
#include "policy.h"


static char  err[FSD_CONF_ERR_MAX];


static int
parse(fsd_conf_t *c, const char *text)
{
    fsd_conf_free(c);
    fsd_conf_defaults(c);
    err[0] = '\0';
    if (fsd_conf_parse(c, text, strlen(text), "test.conf", err,
                       FSD_CONF_ERR_MAX) != 0)
    {
        return -1;
    }
    if (c->policy == NULL) {
        c->policy = policy_new();
    }
    policy_set_max(c->policy, c->max_replicas);
    return 0;
}


/* N of path with a few "name=value" variables (NULL-terminated). */
static policy_out_t
eval(policy_t *pl, const char *path, uint64_t size, unsigned explicit_n,
    double pop, unsigned live, unsigned def, const char **vars)
{
    fsdfs_var_t    v[FSDFS_MAX_VARS];
    unsigned       nv = 0;
    const char    *eq;
    policy_in_t    in;
    policy_out_t   out;

    for (; vars && vars[nv] && nv < FSDFS_MAX_VARS; nv++) {
        eq = strchr(vars[nv], '=');
        v[nv].name = vars[nv];
        v[nv].name_len = (size_t) (eq - vars[nv]);
        v[nv].value = eq + 1;
        v[nv].value_len = strlen(eq + 1);
    }

    memset(&in, 0, sizeof(in));
    in.path = path;
    in.len = strlen(path);
    in.size = size;
    in.explicit_n = explicit_n;
    in.vars = v;
    in.nvars = nv;
    in.popularity = pop;
    in.live = live;
    in.default_n = def;
    policy_eval(pl, &in, 1000000, &out);
    return out;
}


#define S  "secret /dev/null\n"


static void
rules(void)
{
    fsd_conf_t    c = { 0 };
    policy_out_t  o;

    ok(parse(&c, S "rule ^/music/hits/ 3\nrule ^/music/ 1\n"
             "rule \\.(flac|wav)$ 4\n") == 0, "rules parse: %s", err);
    is_int(policy_rules(c.policy), 3, "three rules");

    o = eval(c.policy, "/music/hits/a.ogg", 1, 0, 0, 10, 2, NULL);
    is_int(o.n, 3, "/music/hits/ matches the first rule: 3");
    is_int(o.rule, 0, "rule 0 decided");
    o = eval(c.policy, "/music/hits/a.flac", 1, 0, 0, 10, 2, NULL);
    is_int(o.n, 3, "first match wins over a later one that matches too");
    o = eval(c.policy, "/music/b.ogg", 1, 0, 0, 10, 2, NULL);
    is_int(o.n, 1, "/music/ (not hits): the second rule, 1");
    o = eval(c.policy, "/video/c.wav", 1, 0, 0, 10, 2, NULL);
    is_int(o.n, 4, "pattern anywhere in the path: \\.wav$ gives 4");
    o = eval(c.policy, "/video/c.mp4", 1, 0, 0, 10, 2, NULL);
    is_int(o.n, 2, "no rule: the default");
    ok(o.by_default && o.rule == -1, "no rule: by default");

    ok(parse(&c, S "rule ^/music/ 1\nrule ^/music/hits/ 3\n") == 0,
       "rules in the other order");
    o = eval(c.policy, "/music/hits/a.ogg", 1, 0, 0, 10, 2, NULL);
    is_int(o.n, 1, "order matters: now the broader rule comes first");

    ok(parse(&c, S "rule ^/a b/ 5\n") == 0, "a pattern with a blank");
    o = eval(c.policy, "/a b/x", 1, 0, 0, 10, 2, NULL);
    is_int(o.n, 5, "N is the last word, the pattern keeps its blank");

    /* explicit n= wins over everything */
    ok(parse(&c, S "rule ^/music/hits/ 3\nboost tier=gold add=2\n"
             "pop_boost per=10 add=1\nmax_replicas 3\n") == 0, "explicit");
    o = eval(c.policy, "/music/hits/a.ogg", 1, 1, 500, 10, 2,
             (const char *[]) { "tier=gold", NULL });
    is_int(o.n, 1, "explicit 1 beats the rule, the boosts and popularity");
    o = eval(c.policy, "/x", 1, 5, 0, 10, 2, NULL);
    is_int(o.n, 5, "explicit 5 is not capped by max_replicas 3");
    o = eval(c.policy, "/x", 1, 5, 0, 4, 2, NULL);
    ok(o.n == 4 && o.want == 5, "explicit 5 on 4 live nodes: 4 now, 5 wanted");
    ok(!o.by_default, "explicit: not by default");

    fsd_conf_free(&c);
}


static void
boosts(void)
{
    fsd_conf_t    c = { 0 };
    policy_out_t  o;

    ok(parse(&c, S "boost popularity per=1000 add=1 max=3\n"
             "boost tier=gold add=1\nboost weight per=0.5 add=2\n") == 0,
       "boosts parse: %s", err);

    o = eval(c.policy, "/a", 1, 0, 0, 20, 2,
             (const char *[]) { "popularity=999", NULL });
    is_int(o.n, 2, "popularity 999: no step yet");
    o = eval(c.policy, "/a", 1, 0, 0, 20, 2,
             (const char *[]) { "popularity=2500", NULL });
    is_int(o.n, 4, "popularity 2500: +2");
    is_int(o.boost, 2, "boost says 2");
    o = eval(c.policy, "/a", 1, 0, 0, 20, 2,
             (const char *[]) { "popularity=99999", NULL });
    is_int(o.n, 5, "popularity 99999: capped at +3");
    o = eval(c.policy, "/a", 1, 0, 0, 20, 2,
             (const char *[]) { "popularity=lots", NULL });
    is_int(o.n, 2, "a value that is no number adds nothing");
    o = eval(c.policy, "/a", 1, 0, 0, 20, 2,
             (const char *[]) { "popularity=-5000", NULL });
    is_int(o.n, 2, "a negative value adds nothing");
    o = eval(c.policy, "/a", 1, 0, 0, 20, 2,
             (const char *[]) { "tier=gold", NULL });
    is_int(o.n, 3, "tier=gold: +1");
    o = eval(c.policy, "/a", 1, 0, 0, 20, 2,
             (const char *[]) { "tier=silver", NULL });
    is_int(o.n, 2, "tier=silver: nothing");
    o = eval(c.policy, "/a", 1, 0, 0, 20, 2,
             (const char *[]) { "tier=gold", "popularity=1000", "weight=1.2",
                                NULL });
    is_int(o.n, 2 + 1 + 1 + 4, "boosts add up: gold 1, 1000 plays 1, "
           "weight 1.2 two steps of 2");
    o = eval(c.policy, "/a", 1, 0, 0, 20, 2,
             (const char *[]) { "other=5000", NULL });
    ok(o.n == 2 && o.by_default, "an unknown variable: by default");

    /* popularity */
    ok(parse(&c, S "pop_boost per=100 add=1 max=4\n") == 0, "pop_boost");
    is_int((long long) policy_pop_min(c.policy), 100, "least boosting "
           "popularity is per");
    is_int(policy_pop_boost(c.policy, 99.9), 0, "99.9 plays: nothing");
    is_int(policy_pop_boost(c.policy, 250), 2, "250 plays: +2");
    is_int(policy_pop_boost(c.policy, 1e9), 4, "1e9 plays: capped at +4");
    o = eval(c.policy, "/a", 1, 0, 250, 20, 2, NULL);
    ok(o.n == 4 && !o.by_default, "popularity 250 on default 2: 4");
    ok(parse(&c, S) == 0, "no pop_boost");
    is_int(policy_pop_boost(c.policy, 1e9), 0, "no pop_boost: no boost");
    ok(policy_pop_min(c.policy) == 0, "no pop_boost: no threshold");

    fsd_conf_free(&c);
}


static void
clamps(void)
{
    fsd_conf_t    c = { 0 };
    policy_out_t  o;

    ok(parse(&c, S "rule ^/big/ 9\nboost tier=gold add=200\n") == 0,
       "clamp config");
    o = eval(c.policy, "/big/a", 1, 0, 0, 3, 2, NULL);
    ok(o.n == 3 && o.want == 9, "rule 9 on 3 live nodes: 3, 9 wanted");
    o = eval(c.policy, "/big/a", 1, 0, 0, 0, 2, NULL);
    is_int(o.n, 9, "live count unknown: no node clamp");
    o = eval(c.policy, "/big/a", 1, 0, 0, 300, 2,
             (const char *[]) { "tier=gold", NULL });
    is_int(o.want, 209, "9 + 200 = 209");
    ok(parse(&c, S "rule ^/big/ 200\nboost tier=gold add=200\n") == 0,
       "over 255");
    o = eval(c.policy, "/big/a", 1, 0, 0, 300, 2,
             (const char *[]) { "tier=gold", NULL });
    is_int(o.want, 255, "200 + 200 capped at 255");

    ok(parse(&c, S "rule ^/big/ 9\nmax_replicas 4\n") == 0, "max_replicas");
    is_int(c.max_replicas, 4, "max_replicas read");
    o = eval(c.policy, "/big/a", 1, 0, 0, 10, 2, NULL);
    ok(o.n == 4 && o.want == 4, "rule 9, max_replicas 4: 4");
    o = eval(c.policy, "/small", 1, 0, 0, 1, 2, NULL);
    is_int(o.n, 1, "default 2 on one node: 1");
    o = eval(c.policy, "/small", 1, 0, 0, 10, 0, NULL);
    is_int(o.n, 1, "never below 1");

    fsd_conf_free(&c);
}


static void
refusals(void)
{
    fsd_conf_t  c = { 0 };

    ok(parse(&c, S "rule ^/a/ 2\nrule ^/b/( 3\n") == -1, "bad regex refused");
    ok(strstr(err, "test.conf:3:") && strstr(err, "bad regex")
       && strstr(err, "^/b/("), "names file:line and the pattern: %s", err);
    ok(parse(&c, S "rule ^/a/ 0\n") == -1 && strstr(err, "test.conf:2:"),
       "rule N 0 refused: %s", err);
    ok(parse(&c, S "rule ^/a/ 256\n") == -1, "rule N 256 refused");
    ok(parse(&c, S "rule 3\n") == -1, "rule without a pattern refused: %s",
       err);
    ok(parse(&c, S "rule\n") == -1, "rule without a value refused: %s", err);
    ok(parse(&c, S "boost popularity add=1\n") == -1
       && strstr(err, "per="), "numeric boost without per refused: %s", err);
    ok(parse(&c, S "boost popularity per=0 add=1\n") == -1,
       "per=0 refused");
    ok(parse(&c, S "boost Tier=gold add=1\n") == -1, "bad variable name "
       "refused");
    ok(parse(&c, S "boost tier=gold add=1 bogus=2\n") == -1
       && strstr(err, "bogus"), "unknown word refused: %s", err);
    ok(parse(&c, S "pop_boost per=10\npop_boost per=20\n") == -1
       && strstr(err, "test.conf:3:"), "pop_boost twice refused: %s", err);
    ok(parse(&c, S "max_replicas 0\n") == -1, "max_replicas 0 refused");
    ok(parse(&c, S "pop_half_life 500ms\n") == -1, "half-life under 1 s "
       "refused");
    ok(parse(&c, S "pop_half_life 2s\n") == 0 && c.pop_half_life_ms == 2000,
       "pop_half_life 2s");
    ok(parse(&c, S) == 0 && c.pop_half_life_ms == 3600000
       && c.max_replicas == 255, "defaults: half-life 1h, max_replicas 255");

    fsd_conf_free(&c);
}


/* Runs f with stderr going to a file; returns how many lines it wrote. */
static int
log_lines(policy_t *pl, const char **paths, unsigned n, unsigned live)
{
    char   tmpl[] = "/tmp/unit_policy.XXXXXX", line[4096];
    int    fd, saved, lines = 0;
    FILE  *f;
    unsigned  i;

    fflush(stderr);
    fd = mkstemp(tmpl);
    saved = dup(2);
    dup2(fd, 2);
    for (i = 0; i < n; i++) {
        eval(pl, paths[i], 1, 0, 0, live, 2, NULL);
    }
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    f = fdopen(fd, "r");
    rewind(f);
    while (fgets(line, sizeof(line), f)) {
        lines += strstr(line, "policy_plugin") != NULL;
    }
    fclose(f);
    unlink(tmpl);
    return lines;
}


static void
plugins(int argc, char **argv)
{
    policy_t      *pl;
    policy_out_t   o;
    char           e[POLICY_ERR_MAX];

    if (argc < 5) {
        ok(0, "plug-in paths given (SAMPLE NOSYM NEG BIG)");
        return;
    }

    pl = policy_new();
    ok(policy_load_plugin(pl, argv[1], e, sizeof(e)) == 0,
       "sample plug-in loads: %s", argv[1]);
    ok(policy_has_plugin(pl), "has a plug-in");
    o = eval(pl, "/music/hits/a.ogg", 1000, 0, 0, 5, 2, NULL);
    is_int(o.n, 3, "sample: .ogg under /music/hits/ gets +1");
    o = eval(pl, "/music/hits/a.mp3", 1000, 0, 0, 5, 2, NULL);
    is_int(o.n, 2, "sample: .mp3 there does not");
    o = eval(pl, "/music/a.ogg", 1000, 0, 0, 5, 2, NULL);
    is_int(o.n, 2, "sample: .ogg elsewhere does not");
    o = eval(pl, "/video/big.mkv", 60ull << 20, 0, 0, 5, 4, NULL);
    is_int(o.n, 2, "sample: over 50 MB gets 2");
    o = eval(pl, "/music/hits/a.ogg", 1000, 4, 0, 5, 2, NULL);
    is_int(o.n, 4, "sample: not asked for an explicit n=");
    o = eval(pl, "/music/hits/a.ogg", 1000, 0, 0, 2, 2, NULL);
    ok(o.n == 2 && !o.clamped, "sample: no +1 beyond the 2 live nodes");
    policy_free(pl);

    pl = policy_new();
    ok(policy_load_plugin(pl, "/nonexistent/x.so", e, sizeof(e)) == -1
       && strstr(e, "/nonexistent/x.so") && strstr(e, "cannot load"),
       "missing file refused: %s", e);
    ok(policy_load_plugin(pl, argv[2], e, sizeof(e)) == -1
       && strstr(e, "fsdfs_policy"), "missing symbol refused: %s", e);
    ok(!policy_has_plugin(pl), "no plug-in after refusals");
    policy_free(pl);

    pl = policy_new();
    ok(policy_load_plugin(pl, argv[3], e, sizeof(e)) == 0, "-5 plug-in loads");
    o = eval(pl, "/a", 1, 0, 0, 4, 2, NULL);
    ok(o.n == 1 && o.want == 1 && o.clamped, "-5 becomes 1");
    is_int((long long) policy_clamped(pl), 1, "counted");
    is_int(log_lines(pl, (const char *[]) { "/b", "/b", "/b" }, 3, 4), 1,
           "three -5 for one path: logged once");
    is_int(log_lines(pl, (const char *[]) { "/c", "/d" }, 2, 4), 2,
           "two paths: two lines");
    is_int((long long) policy_clamped(pl), 6, "every clamp counted");
    policy_free(pl);

    pl = policy_new();
    policy_set_max(pl, 6);
    ok(policy_load_plugin(pl, argv[4], e, sizeof(e)) == 0,
       "1000 plug-in loads");
    o = eval(pl, "/a", 1, 0, 0, 4, 2, NULL);
    ok(o.n == 4 && o.want == 4 && o.clamped, "1000 on 4 live nodes: 4");
    o = eval(pl, "/a", 1, 0, 0, 0, 2, NULL);
    ok(o.n == 6 && o.clamped, "1000, live unknown, max_replicas 6: 6");
    policy_free(pl);
}


/* The master keeps the wanted N in the planner, which caps it by the
 * nodes that count: a node loss lowers N at once, its return restores it. */
static void
cap(void)
{
    planner_t       *p = planner_new(2);
    planner_file_t   f, g;
    const uint16_t   h[] = { 1, 2, 3 };

    f = planner_file_add(p, "/a", 2, 10, 1, 5, h, 3);
    g = planner_file_add(p, "/b", 2, 10, 2, 0, h, 2);
    is_int(planner_file_n(p, f), 5, "planner: N 5 wanted");
    planner_set_cap(p, 3);
    ok(planner_file_n(p, f) == 3 && planner_file_n_explicit(p, f) == 5,
       "cap 3: effective 3, wanted 5 kept");
    is_int(planner_file_n(p, g), 2, "the default 2 is under the cap");
    planner_set_cap(p, 1);
    ok(planner_file_n(p, f) == 1 && planner_file_n(p, g) == 1, "cap 1: both 1");
    planner_set_cap(p, 0);
    ok(planner_file_n(p, f) == 5 && planner_file_n(p, g) == 2,
       "no cap: 5 and 2 again");
    planner_free(p);
}


int
main(int argc, char **argv)
{
    cap();
    rules();
    boosts();
    clamps();
    refusals();
    plugins(argc, argv);
    return done_testing();
}
