/*
 * The location record codec; the grammar is in fsdfs_record.h. The
 * decoder is a strict scanner over the caller's buffer: one token at a
 * time, each checked exactly, so anything a human or a bug wrote into
 * Redis by hand either parses to the same record it would encode to, or
 * is refused.
 */

#include <stdio.h>
#include <string.h>

#include "fsdfs_record.h"


typedef struct {
    const char  *p;
    const char  *end;
} fsdfs_scan_t;


/* Next space-separated token; 0 if none. Double spaces are an error. */
static int
fsdfs_token(fsdfs_scan_t *s, const char **tok, size_t *len)
{
    const char  *q;

    if (s->p >= s->end) {
        return 0;
    }

    q = memchr(s->p, ' ', s->end - s->p);
    if (q == NULL) {
        q = s->end;
    }

    *tok = s->p;
    *len = q - s->p;
    s->p = (q < s->end) ? q + 1 : q;

    if (*len == 0 || (q < s->end && s->p == s->end)) {
        return -1;                      /* empty token or trailing space */
    }

    return 1;
}


static int
fsdfs_u64(const char *p, size_t len, uint64_t *v)
{
    size_t    i;
    uint64_t  n = 0;

    if (len == 0 || len > 20 || (len > 1 && p[0] == '0')) {
        return -1;
    }

    for (i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return -1;
        }
        if (n > (UINT64_MAX - (uint64_t) (p[i] - '0')) / 10) {
            return -1;
        }
        n = n * 10 + (uint64_t) (p[i] - '0');
    }

    *v = n;
    return 0;
}


static int
fsdfs_hex64(const char *p, size_t len, uint64_t *v)
{
    size_t    i;
    uint64_t  n = 0;

    if (len != 16) {
        return -1;
    }

    for (i = 0; i < 16; i++) {
        if (p[i] >= '0' && p[i] <= '9') {
            n = (n << 4) | (uint64_t) (p[i] - '0');
        } else if (p[i] >= 'a' && p[i] <= 'f') {
            n = (n << 4) | (uint64_t) (p[i] - 'a' + 10);
        } else {
            return -1;
        }
    }

    *v = n;
    return 0;
}


static int
fsdfs_holders(fsdfs_record_t *rec, const char *p, size_t len)
{
    size_t       l;
    uint64_t     id;
    const char  *q, *end = p + len;

    rec->nholders = 0;

    if (len == 1 && p[0] == '-') {
        return 0;
    }

    while (p <= end) {
        q = memchr(p, ',', end - p);
        l = (q ? q : end) - p;

        if (fsdfs_u64(p, l, &id) != 0 || id == 0 || id > FSDFS_MAX_NODE_ID
            || rec->nholders == FSDFS_MAX_HOLDERS
            || (rec->nholders && id <= rec->holders[rec->nholders - 1]))
        {
            return -1;
        }

        rec->holders[rec->nholders++] = (uint16_t) id;

        if (q == NULL) {
            return 0;
        }
        p = q + 1;
    }

    return -1;
}


static int
fsdfs_var_name_ok(const char *p, size_t len)
{
    size_t  i;

    if (len == 0 || len > 16 || p[0] < 'a' || p[0] > 'z'
        || (len == 1 && p[0] == 'n'))             /* "n" is the replica count */
    {
        return 0;
    }

    for (i = 1; i < len; i++) {
        if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9')
              || p[i] == '_'))
        {
            return 0;
        }
    }

    return 1;
}


static int
fsdfs_var_value_ok(const char *p, size_t len)
{
    size_t  i;

    if (len == 0 || len > 32) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z')
              || (p[i] >= '0' && p[i] <= '9') || p[i] == '_' || p[i] == '.'
              || p[i] == ':' || p[i] == '-'))
        {
            return 0;
        }
    }

    return 1;
}


/* "n=N" or "name=value" after the five fixed fields. */
static int
fsdfs_option(fsdfs_record_t *rec, const char *tok, size_t len)
{
    unsigned     i;
    uint64_t     n;
    fsdfs_var_t *v;
    const char  *eq;

    eq = memchr(tok, '=', len);
    if (eq == NULL) {
        return -1;
    }

    if (eq - tok == 1 && tok[0] == 'n') {
        if (rec->n || rec->nvars || fsdfs_u64(eq + 1, len - 2, &n) != 0
            || n < 1 || n > 255)
        {
            return -1;
        }
        rec->n = (unsigned) n;
        return 0;
    }

    if (rec->nvars == FSDFS_MAX_VARS
        || !fsdfs_var_name_ok(tok, eq - tok)
        || !fsdfs_var_value_ok(eq + 1, len - (eq - tok) - 1))
    {
        return -1;
    }

    for (i = 0; i < rec->nvars; i++) {
        if (rec->vars[i].name_len == (size_t) (eq - tok)
            && memcmp(rec->vars[i].name, tok, eq - tok) == 0)
        {
            return -1;
        }
    }

    v = &rec->vars[rec->nvars++];
    v->name = tok;
    v->name_len = eq - tok;
    v->value = eq + 1;
    v->value_len = len - (eq - tok) - 1;

    return 0;
}


int
fsdfs_record_decode(fsdfs_record_t *rec, const char *buf, size_t len)
{
    int           rc;
    size_t        tl;
    uint64_t      v;
    const char   *tok;
    fsdfs_scan_t  s;

    memset(rec, 0, sizeof(*rec));
    s.p = buf;
    s.end = buf + len;

    if (len > FSDFS_RECORD_MAX
        || fsdfs_token(&s, &tok, &tl) != 1 || tl != 1 || tok[0] != '1'
        || fsdfs_token(&s, &tok, &tl) != 1 || fsdfs_u64(tok, tl, &rec->size)
        || fsdfs_token(&s, &tok, &tl) != 1 || fsdfs_hex64(tok, tl, &rec->sum)
        || fsdfs_token(&s, &tok, &tl) != 1 || fsdfs_u64(tok, tl, &v)
        || v > INT64_MAX
        || (rec->ctime = (int64_t) v,
            fsdfs_token(&s, &tok, &tl) != 1)
        || fsdfs_holders(rec, tok, tl) != 0)
    {
        return -1;
    }

    while ((rc = fsdfs_token(&s, &tok, &tl)) == 1) {
        if (fsdfs_option(rec, tok, tl) != 0) {
            return -1;
        }
    }

    return rc;      /* 0 at the end, -1 on a bad separator */
}


int
fsdfs_record_encode(const fsdfs_record_t *rec, char *buf, size_t cap)
{
    int       n;
    size_t    len;
    unsigned  i;

#define FSDFS_PUT(...)                                                        \
    do {                                                                      \
        n = snprintf(buf + len, cap - len, __VA_ARGS__);                      \
        if (n < 0 || (size_t) n >= cap - len) {                               \
            return -1;                                                        \
        }                                                                     \
        len += (size_t) n;                                                    \
    } while (0)

    if (cap == 0 || rec->ctime < 0 || rec->n > 255
        || rec->nholders > FSDFS_MAX_HOLDERS || rec->nvars > FSDFS_MAX_VARS)
    {
        return -1;
    }

    len = 0;
    FSDFS_PUT("%d %llu %016llx %lld ", FSDFS_RECORD_VERSION,
              (unsigned long long) rec->size, (unsigned long long) rec->sum,
              (long long) rec->ctime);

    if (rec->nholders == 0) {
        FSDFS_PUT("-");
    }

    for (i = 0; i < rec->nholders; i++) {
        if (rec->holders[i] == 0
            || (i && rec->holders[i] <= rec->holders[i - 1]))
        {
            return -1;
        }
        FSDFS_PUT("%s%u", i ? "," : "", (unsigned) rec->holders[i]);
    }

    if (rec->n) {
        FSDFS_PUT(" n=%u", rec->n);
    }

    for (i = 0; i < rec->nvars; i++) {
        if (!fsdfs_var_name_ok(rec->vars[i].name, rec->vars[i].name_len)
            || !fsdfs_var_value_ok(rec->vars[i].value, rec->vars[i].value_len))
        {
            return -1;
        }
        FSDFS_PUT(" %.*s=%.*s", (int) rec->vars[i].name_len,
                  rec->vars[i].name, (int) rec->vars[i].value_len,
                  rec->vars[i].value);
    }

#undef FSDFS_PUT

    return (int) len;
}


int
fsdfs_record_has_holder(const fsdfs_record_t *rec, unsigned id)
{
    unsigned  i;

    for (i = 0; i < rec->nholders; i++) {
        if (rec->holders[i] == id) {
            return 1;
        }
    }

    return 0;
}


int
fsdfs_record_add_holder(fsdfs_record_t *rec, unsigned id)
{
    unsigned  i;

    if (id == 0 || id > FSDFS_MAX_NODE_ID || fsdfs_record_has_holder(rec, id)
        || rec->nholders == FSDFS_MAX_HOLDERS)
    {
        return -1;
    }

    for (i = rec->nholders; i > 0 && rec->holders[i - 1] > id; i--) {
        rec->holders[i] = rec->holders[i - 1];
    }

    rec->holders[i] = (uint16_t) id;
    rec->nholders++;

    return 0;
}


int
fsdfs_record_del_holder(fsdfs_record_t *rec, unsigned id)
{
    unsigned  i;

    for (i = 0; i < rec->nholders; i++) {
        if (rec->holders[i] == id) {
            memmove(&rec->holders[i], &rec->holders[i + 1],
                    (rec->nholders - i - 1) * sizeof(uint16_t));
            rec->nholders--;
            return 0;
        }
    }

    return -1;
}
