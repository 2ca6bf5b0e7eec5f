/*
 * The record codec: round trips, holder edits, and a long list of corrupt
 * records that must all be refused.
 */

#include <stdint.h>
#include <stdio.h>
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


/* The string with control bytes escaped, for a one-line test name. */
static const char *
shown(const char *s)
{
    size_t       n;
    static char  buf[256];

    for (n = 0; *s && n < sizeof(buf) - 5; s++) {
        n += (unsigned char) *s < 0x20
             ? (size_t) snprintf(buf + n, 5, "\\x%02x", (unsigned char) *s)
             : (size_t) snprintf(buf + n, 2, "%c", *s);
    }
    buf[n] = '\0';

    return buf;
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
           "corrupt record refused: \"%s\"", shown(bad[i]));
    }

    /* an embedded NUL is not the end of the record */
    ok(fsdfs_record_decode(&rec, "1 1 0123456789abcdef 1 1\0x", 26) == -1,
       "embedded NUL refused");
}


/* Limits: the largest values and lists the grammar allows, and one more. */
static void
limits(void)
{
    int             len;
    unsigned        i;
    char            buf[FSDFS_RECORD_MAX];
    fsdfs_record_t  rec, back;
    static const char  *names[] = { "a", "b", "c", "d", "e", "f", "g", "h" };

    memset(&rec, 0, sizeof(rec));
    rec.size = UINT64_MAX;
    rec.sum = UINT64_MAX;
    rec.ctime = INT64_MAX;
    rec.n = 255;
    for (i = 0; i < FSDFS_MAX_HOLDERS; i++) {
        fsdfs_record_add_holder(&rec, 65535 - i);
    }
    is_int(fsdfs_record_add_holder(&rec, 1), -1, "holder list full at 32");
    for (i = 0; i < FSDFS_MAX_VARS; i++) {
        rec.vars[i].name = names[i];
        rec.vars[i].name_len = 1;
        rec.vars[i].value = "0123456789abcdefghijABCDEFGHIJ.:";
        rec.vars[i].value_len = 32;
    }
    rec.nvars = FSDFS_MAX_VARS;

    len = fsdfs_record_encode(&rec, buf, sizeof(buf));
    ok(len > 0 && fsdfs_record_decode(&back, buf, len) == 0
       && back.size == UINT64_MAX && back.ctime == INT64_MAX
       && back.nholders == FSDFS_MAX_HOLDERS && back.holders[0] == 65504
       && back.nvars == FSDFS_MAX_VARS && back.n == 255,
       "the largest record round-trips (%d bytes)", len);

    rec.vars[0].name = "n";
    is_int(fsdfs_record_encode(&rec, buf, sizeof(buf)), -1,
           "encode refuses a variable named n");
    rec.vars[0].name = "a";
    rec.n = 256;
    is_int(fsdfs_record_encode(&rec, buf, sizeof(buf)), -1,
           "encode refuses n > 255");
    rec.n = 0;
    rec.holders[3] = rec.holders[2];
    is_int(fsdfs_record_encode(&rec, buf, sizeof(buf)), -1,
           "encode refuses unsorted holders");

    len = snprintf(buf, sizeof(buf), "1 1 0123456789abcdef 9223372036854775808 1");
    is_int(fsdfs_record_decode(&back, buf, len), -1, "ctime past INT64_MAX");
    len = snprintf(buf, sizeof(buf), "1 18446744073709551616 0123456789abcdef 1 1");
    is_int(fsdfs_record_decode(&back, buf, len), -1, "size past UINT64_MAX");
    len = snprintf(buf, sizeof(buf), "1 1 0123456789abcdef 1 1,2,3,4,5,6,7,8,9,"
                   "10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,"
                   "29,30,31,32,33");
    is_int(fsdfs_record_decode(&back, buf, len), -1, "33 holders refused");
}


/*
 * Mutations of valid records (fixed seed): whatever the decoder accepts
 * must encode back to exactly the same bytes, so one record has one
 * spelling and a damaged one cannot pass for another. Each candidate is
 * decoded from a buffer of its exact size, so an overread shows in ASan.
 */
static void
mutations(void)
{
    int             i, k, len, n, accepted, noncanonical;
    char            buf[FSDFS_RECORD_MAX + 8], again[FSDFS_RECORD_MAX + 8];
    char           *exact;
    fsdfs_record_t  rec;
    static const char  alphabet[] = "0123456789abcdefn=,- _.:xAZ\0\n";
    static const char  *seeds[] = {
        "1 48213 9f86d081884c7d65 1732470000 1,2,5 n=4 tier=gold",
        "1 0 0000000000000000 0 -",
        "1 7 00000000000000ff 17 65535 a=1 b=x.y:z",
    };

    srand(7);
    accepted = 0;
    noncanonical = 0;

    for (i = 0; i < 200000; i++) {
        len = snprintf(buf, sizeof(buf), "%s", seeds[i % 3]);

        for (k = 1 + rand() % 3; k > 0; k--) {
            n = rand() % len;
            switch (rand() % 3) {
            case 0:                             /* replace a byte */
                buf[n] = alphabet[rand() % (sizeof(alphabet) - 1)];
                break;
            case 1:                             /* delete a byte */
                memmove(buf + n, buf + n + 1, len - n);
                len--;
                break;
            default:                            /* insert a byte */
                memmove(buf + n + 1, buf + n, len - n + 1);
                buf[n] = alphabet[rand() % (sizeof(alphabet) - 1)];
                len++;
            }
        }

        exact = malloc(len ? len : 1);
        memcpy(exact, buf, len);

        if (fsdfs_record_decode(&rec, exact, len) == 0) {
            accepted++;
            n = fsdfs_record_encode(&rec, again, sizeof(again));
            noncanonical += (n != len || memcmp(again, exact, len) != 0);
        }

        free(exact);
    }

    is_int(noncanonical, 0, "200000 mutated records: every accepted one is "
           "canonical");
    ok(accepted > 1000 && accepted < 150000, "and the mutations were "
       "neither all accepted nor all refused (%d accepted)", accepted);
}


int
main(void)
{
    round_trips();
    known_record();
    holders();
    corrupt();
    limits();
    mutations();
    return done_testing();
}
