/*
 * The record codec: round trips, holder edits, and a long list of corrupt
 * records that must all be refused.
 */

#include <stdlib.h>

#include "tap.h"
#include "fsdfs_record.h"


static void
round_trips(void)
{
    int             i, j, n, bad;
    char            buf[FSDFS_RECORD_MAX], again[FSDFS_RECORD_MAX];
    fsdfs_record_t  rec, back;
    static const char  *names[] = { "popularity", "tier", "genre", "x" };
    static const char  *values[] = { "120", "gold", "hip-hop", "a.b:c_d" };

    srand(42);
    bad = 0;

    for (i = 0; i < 20000; i++) {
        memset(&rec, 0, sizeof(rec));
        rec.size = ((uint64_t) rand() << 20) ^ (uint64_t) rand();
        rec.sum = ((uint64_t) rand() << 40) ^ ((uint64_t) rand() << 20)
                  ^ (uint64_t) rand();
        rec.ctime = rand();
        n = rand() % 6;
        for (j = 0; j < n; j++) {
            fsdfs_record_add_holder(&rec, 1 + rand() % 65535);
        }
        rec.n = (rand() % 3) ? 0 : 1 + rand() % 255;
        rec.nvars = rand() % 5;
        for (j = 0; j < (int) rec.nvars; j++) {
            rec.vars[j].name = names[j];
            rec.vars[j].name_len = strlen(names[j]);
            rec.vars[j].value = values[(j + i) % 4];
            rec.vars[j].value_len = strlen(values[(j + i) % 4]);
        }

        n = fsdfs_record_encode(&rec, buf, sizeof(buf));
        if (n < 0 || fsdfs_record_decode(&back, buf, n) != 0
            || back.size != rec.size || back.sum != rec.sum
            || back.ctime != rec.ctime || back.n != rec.n
            || back.nholders != rec.nholders || back.nvars != rec.nvars
            || memcmp(back.holders, rec.holders,
                      rec.nholders * sizeof(uint16_t)) != 0
            || fsdfs_record_encode(&back, again, sizeof(again)) != n
            || memcmp(buf, again, n) != 0)
        {
            bad++;
        }
    }

    is_int(bad, 0, "20000 random records round-trip exactly");
}


static void
known_record(void)
{
    char            buf[64];
    fsdfs_record_t  rec;
    const char     *s = "1 48213 9f86d081884c7d65 1732470000 1,2,5 n=4 tier=gold";

    ok(fsdfs_record_decode(&rec, s, strlen(s)) == 0, "decodes a full record");
    is_int((long long) rec.size, 48213, "size");
    ok(rec.sum == 0x9f86d081884c7d65ULL, "sum");
    is_int(rec.ctime, 1732470000, "ctime");
    is_int(rec.nholders, 3, "three holders");
    is_int(rec.holders[2], 5, "last holder");
    is_int(rec.n, 4, "explicit n");
    is_int(rec.nvars, 1, "one variable");
    ok(rec.vars[0].value_len == 4 && memcmp(rec.vars[0].value, "gold", 4) == 0,
       "variable value points into the buffer");

    s = "1 0 0000000000000000 0 -";
    ok(fsdfs_record_decode(&rec, s, strlen(s)) == 0 && rec.nholders == 0,
       "no holders is \"-\"");

    memset(&rec, 0, sizeof(rec));
    ok(fsdfs_record_encode(&rec, buf, 10) == -1, "encode refuses a short buffer");
}


static void
holders(void)
{
    fsdfs_record_t  rec;

    memset(&rec, 0, sizeof(rec));
    fsdfs_record_add_holder(&rec, 7);
    fsdfs_record_add_holder(&rec, 3);
    fsdfs_record_add_holder(&rec, 9);
    ok(rec.nholders == 3 && rec.holders[0] == 3 && rec.holders[1] == 7
       && rec.holders[2] == 9, "add keeps holders sorted");
    is_int(fsdfs_record_add_holder(&rec, 7), -1, "no duplicate holder");
    is_int(fsdfs_record_add_holder(&rec, 0), -1, "id 0 refused");
    is_int(fsdfs_record_add_holder(&rec, 65536), -1, "id > 65535 refused");
    is_int(fsdfs_record_del_holder(&rec, 7), 0, "delete a holder");
    ok(rec.nholders == 2 && rec.holders[1] == 9, "delete keeps order");
    is_int(fsdfs_record_del_holder(&rec, 7), -1, "delete an absent holder");
    ok(fsdfs_record_has_holder(&rec, 3) && !fsdfs_record_has_holder(&rec, 7),
       "has_holder");
}


static void
corrupt(void)
{
    unsigned        i;
    fsdfs_record_t  rec;
    static const char  *bad[] = {
        "",
        "1",
        "garbage",
        "2 1 0123456789abcdef 1 1",
        "1 1 0123456789abcdef 1",
        "1 -1 0123456789abcdef 1 1",
        "1 01 0123456789abcdef 1 1",
        "1 1x 0123456789abcdef 1 1",
        "1 99999999999999999999 0123456789abcdef 1 1",
        "1 1 0123456789ABCDEF 1 1",
        "1 1 0123456789abcde 1 1",
        "1 1 0123456789abcdef0 1 1",
        "1 1 0123456789abcdeg 1 1",
        "1 1 0123456789abcdef x 1",
        "1 1 0123456789abcdef 1 0",
        "1 1 0123456789abcdef 1 65536",
        "1 1 0123456789abcdef 1 2,1",
        "1 1 0123456789abcdef 1 1,1",
        "1 1 0123456789abcdef 1 1,,2",
        "1 1 0123456789abcdef 1 1,",
        "1 1 0123456789abcdef 1 ,1",
        "1 1 0123456789abcdef 1 a",
        "1  1 0123456789abcdef 1 1",
        "1 1 0123456789abcdef 1 1 ",
        " 1 1 0123456789abcdef 1 1",
        "1 1 0123456789abcdef 1 1 n=0",
        "1 1 0123456789abcdef 1 1 n=256",
        "1 1 0123456789abcdef 1 1 n=3 n=4",
        "1 1 0123456789abcdef 1 1 n=",
        "1 1 0123456789abcdef 1 1 x",
        "1 1 0123456789abcdef 1 1 =1",
        "1 1 0123456789abcdef 1 1 Tier=gold",
        "1 1 0123456789abcdef 1 1 tier=gold tier=silver",
        "1 1 0123456789abcdef 1 1 tier=",
        "1 1 0123456789abcdef 1 1 tier=go ld",
        "1 1 0123456789abcdef 1 1 tier=g\"old",
        "1 1 0123456789abcdef 1 1 averyveryverylongname=1",
        "1 1 0123456789abcdef 1 1 t=012345678901234567890123456789012",
        "1 1 0123456789abcdef 1 1 a=1 b=1 c=1 d=1 e=1 f=1 g=1 h=1 i=1",
        "1 1 0123456789abcdef 1 -,1",
        "1 1 0123456789abcdef 1 1\n",
        "1 1 0123456789abcdef 1 1\t",
    };

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ok(fsdfs_record_decode(&rec, bad[i], strlen(bad[i])) == -1,
           "corrupt record refused: \"%s\"", bad[i]);
    }

    /* an embedded NUL is not the end of the record */
    ok(fsdfs_record_decode(&rec, "1 1 0123456789abcdef 1 1\0x", 26) == -1,
       "embedded NUL refused");
}


int
main(void)
{
    round_trips();
    known_record();
    holders();
    corrupt();
    return done_testing();
}
