/*
 * Fuzz target for the location record codec. The decoder is strict, so
 * every record it accepts is canonical: encoding it again must give back
 * the very same bytes, and decoding those the same fields. Holder edits
 * must keep the list sorted and unique, and an add followed by a delete
 * must leave it as it was. Encoding into a buffer one byte too small
 * must refuse without writing past it.
 */

#include <string.h>

#include "fsdfs_record.h"
#include "fuzz.h"


static void
same_record(const fsdfs_record_t *a, const fsdfs_record_t *b)
{
    unsigned  i;

    FUZZ_CHECK(a->size == b->size);
    FUZZ_CHECK(a->sum == b->sum);
    FUZZ_CHECK(a->ctime == b->ctime);
    FUZZ_CHECK(a->n == b->n);
    FUZZ_CHECK(a->nholders == b->nholders);
    FUZZ_CHECK(memcmp(a->holders, b->holders,
                      a->nholders * sizeof(a->holders[0])) == 0);
    FUZZ_CHECK(a->nvars == b->nvars);

    for (i = 0; i < a->nvars; i++) {
        FUZZ_CHECK(a->vars[i].name_len == b->vars[i].name_len);
        FUZZ_CHECK(a->vars[i].value_len == b->vars[i].value_len);
        FUZZ_CHECK(memcmp(a->vars[i].name, b->vars[i].name,
                          a->vars[i].name_len) == 0);
        FUZZ_CHECK(memcmp(a->vars[i].value, b->vars[i].value,
                          a->vars[i].value_len) == 0);
    }
}


static void
holders_sane(const fsdfs_record_t *r)
{
    unsigned  i;

    FUZZ_CHECK(r->nholders <= FSDFS_MAX_HOLDERS);
    for (i = 0; i < r->nholders; i++) {
        FUZZ_CHECK(r->holders[i] != 0);
        FUZZ_CHECK(i == 0 || r->holders[i - 1] < r->holders[i]);
    }
}


/* Add then delete one id picked by the input; the list must come back. */
static void
holder_edits(const fsdfs_record_t *rec, unsigned id)
{
    int             had, rc;
    fsdfs_record_t  r;

    r = *rec;
    had = fsdfs_record_has_holder(&r, id);
    rc = fsdfs_record_add_holder(&r, id);

    if (id == 0 || id > FSDFS_MAX_NODE_ID || had
        || rec->nholders == FSDFS_MAX_HOLDERS)
    {
        FUZZ_CHECK(rc == -1);
        FUZZ_CHECK(r.nholders == rec->nholders);
        FUZZ_CHECK(memcmp(r.holders, rec->holders, sizeof(r.holders)) == 0);
    } else {
        FUZZ_CHECK(rc == 0);
        FUZZ_CHECK(r.nholders == rec->nholders + 1);
        FUZZ_CHECK(fsdfs_record_has_holder(&r, id));
        holders_sane(&r);
        FUZZ_CHECK(fsdfs_record_del_holder(&r, id) == 0);
        FUZZ_CHECK(!fsdfs_record_has_holder(&r, id));
        FUZZ_CHECK(r.nholders == rec->nholders);
        FUZZ_CHECK(memcmp(r.holders, rec->holders,
                          r.nholders * sizeof(r.holders[0])) == 0);
    }

    /* deleting a holder that is there removes only it */
    r = *rec;
    if (r.nholders) {
        id = r.holders[id % r.nholders];
        FUZZ_CHECK(fsdfs_record_del_holder(&r, id) == 0);
        FUZZ_CHECK(r.nholders == rec->nholders - 1);
        FUZZ_CHECK(!fsdfs_record_has_holder(&r, id));
        holders_sane(&r);
        FUZZ_CHECK(fsdfs_record_del_holder(&r, id) == -1);
        FUZZ_CHECK(fsdfs_record_add_holder(&r, id) == 0);
        FUZZ_CHECK(memcmp(r.holders, rec->holders,
                          r.nholders * sizeof(r.holders[0])) == 0);
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int             n, m;
    char            buf[FSDFS_RECORD_MAX + 64], *small;
    unsigned        id;
    fsdfs_record_t  rec, again;

    if (fsdfs_record_decode(&rec, (const char *) data, size) != 0) {
        return 0;
    }

    holders_sane(&rec);
    FUZZ_CHECK(rec.n <= 255 && rec.nvars <= FSDFS_MAX_VARS);
    FUZZ_CHECK(rec.ctime >= 0);

    n = fsdfs_record_encode(&rec, buf, sizeof(buf));
    FUZZ_CHECK(n > 0);
    FUZZ_CHECK((size_t) n == size && memcmp(buf, data, size) == 0);
    FUZZ_CHECK(buf[n] == '\0');

    FUZZ_CHECK(fsdfs_record_decode(&again, buf, (size_t) n) == 0);
    same_record(&rec, &again);

    /* exactly the room for the text but not its NUL: refused, in bounds */
    small = malloc((size_t) n);
    FUZZ_CHECK(small != NULL);
    FUZZ_CHECK(fsdfs_record_encode(&rec, small, (size_t) n) == -1);
    free(small);

    small = malloc((size_t) n + 1);
    FUZZ_CHECK(small != NULL);
    m = fsdfs_record_encode(&rec, small, (size_t) n + 1);
    FUZZ_CHECK(m == n && memcmp(small, buf, (size_t) n + 1) == 0);
    free(small);

    /* an id from the input: its first bytes, so mutations reach it */
    id = (unsigned) data[size - 1] | (unsigned) data[size / 2] << 8;
    holder_edits(&rec, id);
    holder_edits(&rec, id & 0xff);
    if (rec.nholders) {
        holder_edits(&rec, rec.holders[0] + 1u);
    }

    return 0;
}
