/*
 * The replication policy (policy.h has the order of precedence). Rules are
 * PCRE2 patterns compiled once, when the config is read, and JIT-compiled
 * when the library can, because the whole index runs through them at every
 * takeover. Boosts read the record's variables as they come (nothing is
 * kept per file here). The plug-in is an ordinary shared object found by
 * dlopen(); its answers are never trusted: every one is clamped, and a
 * clamped one is logged at most once a minute per path (a small table of
 * path hashes) and counted, so a broken plug-in cannot flood the log.
 */

#define PCRE2_CODE_UNIT_WIDTH 8

#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsdfs_policy.h"
#include "log.h"
#include "policy.h"


#define POLICY_RULES_MAX    256
#define POLICY_BOOSTS_MAX   32
#define POLICY_NAME_MAX     16
#define POLICY_VALUE_MAX    32
#define POLICY_LOG_SLOTS    256
#define POLICY_LOG_EVERY_MS 60000


typedef struct {
    pcre2_code   *re;
    unsigned      n;
} policy_rule_t;


typedef struct {
    char      name[POLICY_NAME_MAX + 1];
    char      value[POLICY_VALUE_MAX + 1];   /* "" : numeric steps */
    double    per;
    unsigned  add;
    unsigned  max;
} policy_boost_t;


typedef struct {
    uint64_t  hash;
    int64_t   ms;
} policy_logged_t;


struct policy_s {
    policy_rule_t        rules[POLICY_RULES_MAX];
    unsigned             nrules;
    pcre2_match_data    *md;

    policy_boost_t       boosts[POLICY_BOOSTS_MAX];
    unsigned             nboosts;

    int                  pop;           /* pop_boost configured */
    double               pop_per;
    unsigned             pop_add, pop_max;

    unsigned             max_n;

    void                *dl;
    fsdfs_policy_pt      fn;
    char                 plugin[256];

    uint64_t             clamped;
    policy_logged_t      logged[POLICY_LOG_SLOTS];
};


policy_t *
policy_new(void)
{
    policy_t  *pl = calloc(1, sizeof(*pl));

    if (pl == NULL) {
        return NULL;
    }

    pl->max_n = POLICY_MAX_N;
    pl->md = pcre2_match_data_create(1, NULL);
    if (pl->md == NULL) {
        free(pl);
        return NULL;
    }
    return pl;
}


void
policy_free(policy_t *pl)
{
    unsigned  i;

    if (pl == NULL) {
        return;
    }

    for (i = 0; i < pl->nrules; i++) {
        pcre2_code_free(pl->rules[i].re);
    }
    pcre2_match_data_free(pl->md);
    if (pl->dl) {
        dlclose(pl->dl);
    }
    free(pl);
}


static int
policy_why(char *why, size_t cap, const char *fmt, const char *arg)
{
    snprintf(why, cap, fmt, arg);
    return -1;
}


/* A whole unsigned decimal in [min, max]; -1 if s is anything else. */
static int
policy_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
    char           *end;
    unsigned long   v;

    if (!isdigit((unsigned char) s[0])) {
        return -1;
    }
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || *end != '\0' || v < min || v > max) {
        return -1;
    }
    *out = (unsigned) v;
    return 0;
}


int
policy_add_rule(policy_t *pl, const char *value, char *why, size_t cap)
{
    const char   *sp;
    char          pat[1024], msg[256];
    size_t        plen;
    unsigned      n;
    int           rc;
    PCRE2_SIZE    off;
    pcre2_code   *re;

    if (pl->nrules == POLICY_RULES_MAX) {
        return policy_why(why, cap, "more than %s rules", "256");
    }

    /* the pattern may hold blanks: N is the last word */
    sp = value + strlen(value);
    while (sp > value && !isspace((unsigned char) sp[-1])) {
        sp--;
    }
    if (sp == value) {
        return policy_why(why, cap, "expected REGEX N%s", "");
    }
    if (policy_uint(sp, 1, POLICY_MAX_N, &n) != 0) {
        return policy_why(why, cap, "N \"%s\" is not 1..255", sp);
    }

    plen = (size_t) (sp - value);
    while (plen && isspace((unsigned char) value[plen - 1])) {
        plen--;
    }
    if (plen == 0 || plen >= sizeof(pat)) {
        return policy_why(why, cap, "expected REGEX N%s", "");
    }
    memcpy(pat, value, plen);
    pat[plen] = '\0';

    re = pcre2_compile((PCRE2_SPTR) pat, plen, 0, &rc, &off, NULL);
    if (re == NULL) {
        pcre2_get_error_message(rc, (PCRE2_UCHAR *) msg, sizeof(msg));
        snprintf(why, cap, "bad regex \"%s\" at offset %zu: %s", pat,
                 (size_t) off, msg);
        return -1;
    }
    /* only a speed-up: without JIT the interpreter matches the same */
    (void) pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);

    pl->rules[pl->nrules].re = re;
    pl->rules[pl->nrules].n = n;
    pl->nrules++;
    return 0;
}


/* "per=X add=A max=M" words after the first; per is required when
 * need_per. */
static int
policy_steps(const char *words, int need_per, double *per, unsigned *add,
    unsigned *max, char *why, size_t cap)
{
    char    buf[256], *w, *save, *end;
    int     seen_per = 0, seen_add = 0;

    if (strlen(words) >= sizeof(buf)) {
        return policy_why(why, cap, "too long%s", "");
    }
    snprintf(buf, sizeof(buf), "%s", words);
    *per = 0;
    *add = 1;
    *max = POLICY_MAX_N;

    for (w = strtok_r(buf, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
        if (strncmp(w, "per=", 4) == 0 && need_per) {
            errno = 0;
            *per = strtod(w + 4, &end);
            if (!isdigit((unsigned char) w[4]) || errno || *end != '\0'
                || !(*per > 0) || isinf(*per))
            {
                return policy_why(why, cap, "\"%s\": per must be a number "
                                  "above 0", w);
            }
            seen_per = 1;
        } else if (strncmp(w, "add=", 4) == 0) {
            if (policy_uint(w + 4, 1, POLICY_MAX_N, add) != 0) {
                return policy_why(why, cap, "\"%s\": add must be 1..255", w);
            }
            seen_add = 1;
        } else if (strncmp(w, "max=", 4) == 0) {
            if (policy_uint(w + 4, 1, POLICY_MAX_N, max) != 0) {
                return policy_why(why, cap, "\"%s\": max must be 1..255", w);
            }
        } else {
            return policy_why(why, cap, "unexpected \"%s\"", w);
        }
    }

    if (need_per && !seen_per) {
        return policy_why(why, cap, "per=X is required%s", "");
    }
    (void) seen_add;
    return 0;
}


static int
policy_name_ok(const char *s, size_t len)
{
    size_t  i;

    if (len == 0 || len > POLICY_NAME_MAX || !islower((unsigned char) s[0])) {
        return 0;
    }
    for (i = 1; i < len; i++) {
        if (!islower((unsigned char) s[i]) && !isdigit((unsigned char) s[i])
            && s[i] != '_')
        {
            return 0;
        }
    }
    return !(len == 1 && s[0] == 'n');
}


int
policy_add_boost(policy_t *pl, const char *value, char *why, size_t cap)
{
    policy_boost_t  *b;
    const char      *sp, *eq;
    size_t           wlen, nlen;

    if (pl->nboosts == POLICY_BOOSTS_MAX) {
        return policy_why(why, cap, "more than %s boosts", "32");
    }
    b = &pl->boosts[pl->nboosts];
    memset(b, 0, sizeof(*b));

    sp = value + strcspn(value, " \t");
    wlen = (size_t) (sp - value);
    eq = memchr(value, '=', wlen);
    nlen = eq ? (size_t) (eq - value) : wlen;

    if (!policy_name_ok(value, nlen)) {
        return policy_why(why, cap, "expected VAR or VAR=VALUE first, VAR "
                          "being [a-z][a-z0-9_]{0,15}%s", "");
    }
    memcpy(b->name, value, nlen);

    if (eq) {
        if (wlen - nlen - 1 == 0 || wlen - nlen - 1 > POLICY_VALUE_MAX) {
            return policy_why(why, cap, "VALUE must be 1..32 characters%s",
                              "");
        }
        memcpy(b->value, eq + 1, wlen - nlen - 1);
    }

    if (policy_steps(sp, eq == NULL, &b->per, &b->add, &b->max, why, cap)
        != 0)
    {
        return -1;
    }

    pl->nboosts++;
    return 0;
}


int
policy_set_pop_boost(policy_t *pl, const char *value, char *why, size_t cap)
{
    if (policy_steps(value, 1, &pl->pop_per, &pl->pop_add, &pl->pop_max,
                     why, cap) != 0)
    {
        return -1;
    }
    pl->pop = 1;
    return 0;
}


void
policy_set_max(policy_t *pl, unsigned max_n)
{
    pl->max_n = (max_n >= 1 && max_n <= POLICY_MAX_N) ? max_n : POLICY_MAX_N;
}


int
policy_load_plugin(policy_t *pl, const char *path, char *err, size_t cap)
{
    void        *dl;
    const char  *e;
    union { void *p; fsdfs_policy_pt fn; } sym;

    dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (dl == NULL) {
        e = dlerror();
        snprintf(err, cap, "policy_plugin \"%s\": cannot load: %s", path,
                 e ? e : "unknown error");
        return -1;
    }

    dlerror();
    sym.p = dlsym(dl, FSDFS_POLICY_SYMBOL);
    if (sym.p == NULL) {
        snprintf(err, cap, "policy_plugin \"%s\": no function \"%s\" in it "
                 "(see common/fsdfs_policy.h)", path, FSDFS_POLICY_SYMBOL);
        dlclose(dl);
        return -1;
    }

    if (pl->dl) {
        dlclose(pl->dl);
    }
    pl->dl = dl;
    pl->fn = sym.fn;
    snprintf(pl->plugin, sizeof(pl->plugin), "%s", path);
    return 0;
}


/* Copies the numeric steps of one value add: floor(v / per) * add, at
 * most max; anything that is not a number adds nothing. */
static unsigned
policy_steps_of(double v, double per, unsigned add, unsigned max)
{
    double  steps;

    if (!(v >= per)) {
        return 0;
    }
    steps = floor(v / per) * add;
    return steps >= max ? max : (unsigned) steps;
}


static unsigned
policy_var_boost(const policy_boost_t *b, const fsdfs_var_t *v)
{
    char     buf[POLICY_VALUE_MAX + 1], *end;
    double   d;
    size_t   nlen = strlen(b->name);

    if (v->name_len != nlen || memcmp(v->name, b->name, nlen) != 0) {
        return 0;
    }

    if (b->value[0]) {
        return (v->value_len == strlen(b->value)
                && memcmp(v->value, b->value, v->value_len) == 0)
               ? b->add : 0;
    }

    if (v->value_len == 0 || v->value_len > POLICY_VALUE_MAX) {
        return 0;
    }
    memcpy(buf, v->value, v->value_len);
    buf[v->value_len] = '\0';
    errno = 0;
    d = strtod(buf, &end);
    if (errno || *end != '\0' || !isfinite(d)) {
        return 0;
    }
    return policy_steps_of(d, b->per, b->add, b->max);
}


unsigned
policy_pop_boost(const policy_t *pl, double popularity)
{
    if (!pl->pop) {
        return 0;
    }
    return policy_steps_of(popularity, pl->pop_per, pl->pop_add, pl->pop_max);
}


double
policy_pop_min(const policy_t *pl)
{
    return pl->pop ? pl->pop_per : 0;
}


static uint64_t
policy_hash(const char *s, size_t len)
{
    uint64_t  h = 1469598103934665603ull;
    size_t    i;

    for (i = 0; i < len; i++) {
        h = (h ^ (unsigned char) s[i]) * 1099511628211ull;
    }
    return h | 1;
}


/* A plug-in answered r, which had to become n: count it, and log it unless
 * this path was logged in the last minute. */
static void
policy_clamp_log(policy_t *pl, const policy_in_t *in, int r, unsigned n,
    int64_t now_ms)
{
    uint64_t          h = policy_hash(in->path, in->len);
    policy_logged_t  *s = &pl->logged[h % POLICY_LOG_SLOTS];

    pl->clamped++;
    if (s->hash == h && now_ms - s->ms < POLICY_LOG_EVERY_MS) {
        return;
    }
    s->hash = h;
    s->ms = now_ms;
    fsd_log(FSD_LOG_WARN, "policy_plugin %s returned %d for %.*s (%u live "
            "nodes): using %u (%llu answers clamped so far)", pl->plugin, r,
            (int) in->len, in->path, in->live, n,
            (unsigned long long) pl->clamped);
}


void
policy_eval(policy_t *pl, const policy_in_t *in, int64_t now_ms,
    policy_out_t *out)
{
    unsigned              i, j, n, boost, top, nv;
    int                   r;
    fsdfs_policy_input_t  pi;
    fsdfs_policy_var_t    vars[FSDFS_MAX_VARS];

    memset(out, 0, sizeof(*out));
    out->rule = -1;

    if (in->explicit_n) {
        out->want = in->explicit_n > POLICY_MAX_N ? POLICY_MAX_N
                                                  : in->explicit_n;
        out->n = (in->live && out->want > in->live) ? in->live : out->want;
        return;
    }

    n = in->default_n ? in->default_n : 1;
    for (i = 0; i < pl->nrules; i++) {
        r = pcre2_match(pl->rules[i].re, (PCRE2_SPTR) in->path, in->len, 0, 0,
                        pl->md, NULL);
        if (r >= 0) {
            n = pl->rules[i].n;
            out->rule = (int) i;
            break;
        }
    }

    boost = 0;
    for (i = 0; i < pl->nboosts; i++) {
        for (j = 0; j < in->nvars; j++) {
            boost += policy_var_boost(&pl->boosts[i], &in->vars[j]);
        }
    }
    boost += policy_pop_boost(pl, in->popularity);
    out->boost = boost;

    top = pl->max_n;
    n = (boost >= top || n + boost > top) ? top : n + boost;
    if (n < 1) {
        n = 1;
    }
    out->by_default = (out->rule < 0 && boost == 0 && n == in->default_n);

    if (pl->fn) {
        nv = in->nvars < FSDFS_MAX_VARS ? in->nvars : FSDFS_MAX_VARS;
        for (i = 0; i < nv; i++) {
            vars[i].name = in->vars[i].name;
            vars[i].name_len = in->vars[i].name_len;
            vars[i].value = in->vars[i].value;
            vars[i].value_len = in->vars[i].value_len;
        }
        memset(&pi, 0, sizeof(pi));
        pi.abi = FSDFS_POLICY_ABI;
        pi.path = in->path;
        pi.path_len = in->len;
        pi.size = in->size;
        pi.vars = vars;
        pi.nvars = nv;
        pi.popularity = in->popularity;
        pi.live_nodes = in->live;
        pi.n = (in->live && n > in->live) ? in->live : n;

        r = pl->fn(&pi);

        if (r < 1 || r > (int) top || (in->live && r > (int) in->live)) {
            out->clamped = 1;
            out->want = r < 1 ? 1 : r > (int) top ? top : (unsigned) r;
            policy_clamp_log(pl, in, r,
                             (in->live && out->want > in->live)
                             ? in->live : out->want, now_ms);
            /* more copies than live nodes is what nonsense means here:
             * keep the live count, not the wish */
            if (in->live && out->want > in->live) {
                out->want = in->live;
            }
        } else {
            out->want = (unsigned) r;
        }
        out->by_default = out->by_default && (unsigned) r == pi.n
                          && out->want == n;
    } else {
        out->want = n;
    }

    out->n = (in->live && out->want > in->live) ? in->live : out->want;
}


int
policy_has_plugin(const policy_t *pl)
{
    return pl->fn != NULL;
}


unsigned
policy_rules(const policy_t *pl)
{
    return pl->nrules;
}


uint64_t
policy_clamped(const policy_t *pl)
{
    return pl->clamped;
}
