/*
 * Holder edits on the location index, each an optimistic transaction:
 * WATCH and HGET go out together, the edited record comes back in
 * MULTI/HSET/EXEC; EXEC answers nil when a node or the CLI touched the
 * bucket meanwhile, and the edit starts over from the new record. A
 * record that vanished was deleted: the caller decides what that means
 * (a copy just pulled for it must be dropped).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsdfs_keys.h"
#include "fsdfs_record.h"
#include "index.h"
#include "log.h"


#define INDEX_RETRIES  20
#define PURGE_WINDOW   256


const char *
index_result_name(index_result_t res)
{
    switch (res) {
    case INDEX_DONE: return "done";
    case INDEX_ALREADY: return "already";
    case INDEX_GONE: return "gone";
    default: return "error";
    }
}


static void
index_unwatch(rds_t *r)
{
    freeReplyObject(rds_cmd(r, "UNWATCH"));
}


/* Appends the journal edits (sets only: dels = 0); returns how many
 * replies to read. */
static int
index_journal_append(rds_t *r, const char *jkey, const index_journal_t *j,
    int dels)
{
    int  i, n = 0;

    for (i = 0; j && i < INDEX_JOURNAL_MAX && j->set[i]; i++, n++) {
        rds_append(r, "HSET %s %s %s", jkey, j->set[i], j->val[i]);
    }
    for (i = 0; dels && j && i < INDEX_JOURNAL_MAX && j->del[i]; i++, n++) {
        rds_append(r, "HDEL %s %s", jkey, j->del[i]);
    }
    return n;
}


/* The record needed no edit: the journal edits still stand on their own. */
static void
index_journal_alone(rds_t *r, const char *jkey, const index_journal_t *j,
    int dels)
{
    int          n, bad = 0;
    redisReply  *rep;

    for (n = index_journal_append(r, jkey, j, dels); n > 0; n--) {
        rep = rds_get(r);
        bad |= !rds_is(rep, REDIS_REPLY_INTEGER);
        freeReplyObject(rep);
    }
    if (bad) {
        fsd_log(FSD_LOG_WARN, "journal %s: edit failed", jkey);
    }
}


index_result_t
index_holder(rds_t *r, const char *prefix, uint32_t buckets,
    const char *path, size_t len, unsigned id, int add)
{
    return index_holder_j(r, prefix, buckets, path, len, id, add, NULL);
}


index_result_t
index_holder_j(rds_t *r, const char *prefix, uint32_t buckets,
    const char *path, size_t len, unsigned id, int add,
    const index_journal_t *j)
{
    int              attempt, rc, nj, i;
    char             key[FSDFS_KEY_MAX], buf[FSDFS_RECORD_MAX];
    char             jkey[FSDFS_KEY_MAX];
    char             old[FSDFS_RECORD_MAX + 1];
    redisReply      *w, *g, *m, *h, *e;
    fsdfs_record_t   rec;

    fsdfs_key_loc(key, sizeof(key), prefix, fsdfs_bucket(path, len, buckets));
    fsdfs_key(jkey, sizeof(jkey), prefix, "inflight");

    for (attempt = 0; attempt < INDEX_RETRIES; attempt++) {
        rds_append(r, "WATCH %s", key);
        rds_append(r, "HGET %s %b", key, path, len);
        w = rds_get(r);
        g = rds_get(r);

        if (!rds_is(w, REDIS_REPLY_STATUS) || !rds_is(g, 0)) {
            freeReplyObject(w);
            freeReplyObject(g);
            return INDEX_ERROR;
        }
        freeReplyObject(w);

        if (g->type == REDIS_REPLY_NIL) {
            freeReplyObject(g);
            index_unwatch(r);
            index_journal_alone(r, jkey, j, 0);
            return INDEX_GONE;
        }

        /* the decoded variables point into the text they came from: it
         * must outlive the reply, which is freed before the re-encode */
        if (g->type != REDIS_REPLY_STRING || g->len > FSDFS_RECORD_MAX
            || (memcpy(old, g->str, g->len),
                fsdfs_record_decode(&rec, old, g->len) != 0))
        {
            fsd_log(FSD_LOG_WARN, "corrupt record of \"%.*s\" left alone",
                    (int) len, path);
            freeReplyObject(g);
            index_unwatch(r);
            return INDEX_ERROR;
        }
        freeReplyObject(g);

        if (fsdfs_record_has_holder(&rec, id) == add) {
            index_unwatch(r);
            index_journal_alone(r, jkey, j, 1);
            return INDEX_ALREADY;
        }

        rc = add ? fsdfs_record_add_holder(&rec, id)
                 : fsdfs_record_del_holder(&rec, id);
        if (rc != 0 || (rc = fsdfs_record_encode(&rec, buf, sizeof(buf))) < 0) {
            index_unwatch(r);
            return INDEX_ERROR;
        }

        rds_append(r, "MULTI");
        rds_append(r, "HSET %s %b %b", key, path, len, buf, (size_t) rc);
        nj = index_journal_append(r, jkey, j, 1);
        rds_append(r, "EXEC");
        m = rds_get(r);
        h = rds_get(r);
        rc = (m && h) ? 0 : -1;
        for (i = 0; i < nj; i++) {
            e = rds_get(r);             /* QUEUED */
            rc |= e ? 0 : -1;
            freeReplyObject(e);
        }
        e = rds_get(r);
        rc = (rc == 0 && e) ? 0 : -1;

        if (rc == 0 && e->type == REDIS_REPLY_NIL) {
            rc = 1;                             /* the bucket moved: again */
        } else if (rc == 0 && !rds_exec_ok(e)) {
            rc = -1;
        }

        freeReplyObject(m);
        freeReplyObject(h);
        freeReplyObject(e);

        if (rc == 0) {
            return INDEX_DONE;
        }
        if (rc < 0) {
            return INDEX_ERROR;
        }
    }

    fsd_log(FSD_LOG_WARN, "index too busy: gave up on \"%.*s\"", (int) len,
            path);
    return INDEX_ERROR;
}


/* The paths of one HSCAN reply whose record lists id; cursor updated. */
static int
index_purge_reply(rds_t *r, const char *prefix, uint32_t buckets,
    redisReply *rep, unsigned id, char *cursor, size_t ccap, long *changed)
{
    size_t          i;
    redisReply     *items, *f, *v;
    fsdfs_record_t  rec;

    items = rds_scan_items(rep);
    if (items == NULL) {
        return -1;
    }
    for (i = 0; i + 1 < items->elements; i += 2) {
        f = items->element[i];
        v = items->element[i + 1];
        if (f->type == REDIS_REPLY_STRING && v->type == REDIS_REPLY_STRING
            && fsdfs_record_decode(&rec, v->str, v->len) == 0
            && fsdfs_record_has_holder(&rec, id)
            && index_holder(r, prefix, buckets, f->str, f->len, id, 0)
               == INDEX_DONE)
        {
            (*changed)++;
        }
    }

    snprintf(cursor, ccap, "%s", rep->element[0]->str);
    return strcmp(cursor, "0") != 0;
}


long
index_purge_node(rds_t *r, const char *prefix, uint32_t buckets, unsigned id)
{
    int          more;
    long         changed = 0;
    char         key[FSDFS_KEY_MAX], cursor[32];
    uint32_t     b, first, i, n;
    redisReply  *reps[PURGE_WINDOW];

    for (first = 0; first < buckets; first += n) {
        n = buckets - first < PURGE_WINDOW ? buckets - first : PURGE_WINDOW;

        for (i = 0; i < n; i++) {
            fsdfs_key_loc(key, sizeof(key), prefix, first + i);
            rds_append(r, "HSCAN %s 0 COUNT 1000", key);
        }
        for (i = 0; i < n; i++) {
            reps[i] = rds_get(r);
        }

        /* edits only after every reply of the window is read */
        for (i = 0; i < n; i++) {
            b = first + i;
            more = index_purge_reply(r, prefix, buckets, reps[i], id, cursor,
                                     sizeof(cursor), &changed);
            freeReplyObject(reps[i]);
            while (more > 0) {
                fsdfs_key_loc(key, sizeof(key), prefix, b);
                reps[i] = rds_cmd(r, "HSCAN %s %s COUNT 1000", key, cursor);
                more = index_purge_reply(r, prefix, buckets, reps[i], id,
                                         cursor, sizeof(cursor), &changed);
                freeReplyObject(reps[i]);
            }
            if (more < 0) {
                for (i++; i < n; i++) {
                    freeReplyObject(reps[i]);
                }
                return -1;
            }
        }
    }

    return changed;
}
