/*
 * The location record: what the index knows about one path, packed into a
 * short line of text so a bucketed Redis hash stays in its compact
 * listpack encoding and an operator can still read it with redis-cli.
 *
 *   1 <size> <sum> <ctime> <holders> [n=<N>] [<var>=<value> ...]
 *
 *   1        codec version
 *   size     bytes, decimal
 *   sum      XXH3-64 of the file's bytes (fsdfs_sum.h), 16 lowercase hex digits
 *   ctime    unix seconds when the record was created
 *   holders  node ids, comma separated, ascending, no duplicates; "-" if none
 *   n=N      explicit replica count (1..255); absent means "by policy"
 *   var=val  user variables: names [a-z][a-z0-9_]{0,15} except "n", values
 *            [A-Za-z0-9_.:-]{1,32}; at most FSDFS_MAX_VARS
 *
 * Decoding never allocates: variables point into the caller's buffer.
 * Anything that does not match the grammar exactly is rejected, so a
 * corrupt record reads as "unknown", never as a wrong holder.
 */

#ifndef FSDFS_RECORD_H
#define FSDFS_RECORD_H

#include <stddef.h>
#include <stdint.h>

#define FSDFS_RECORD_VERSION  1
#define FSDFS_MAX_HOLDERS     32
#define FSDFS_MAX_VARS        8
#define FSDFS_MAX_NODE_ID     65535
#define FSDFS_RECORD_MAX      1024     /* longest encoded record */

typedef struct {
    const char  *name;
    size_t       name_len;
    const char  *value;
    size_t       value_len;
} fsdfs_var_t;

typedef struct {
    uint64_t     size;
    uint64_t     sum;
    int64_t      ctime;
    uint16_t     holders[FSDFS_MAX_HOLDERS];
    unsigned     nholders;
    unsigned     n;                    /* 0: by policy */
    fsdfs_var_t  vars[FSDFS_MAX_VARS];
    unsigned     nvars;
} fsdfs_record_t;

/* 0 on success, -1 if buf is not a valid record (rec is then undefined). */
int fsdfs_record_decode(fsdfs_record_t *rec, const char *buf, size_t len);

/* Encoded length (without NUL; buf is NUL-terminated), or -1 if rec is
 * invalid or cap too small. */
int fsdfs_record_encode(const fsdfs_record_t *rec, char *buf, size_t cap);

/* Holder set edits keep the list sorted; 0 on success, -1 if full/absent. */
int fsdfs_record_add_holder(fsdfs_record_t *rec, unsigned id);
int fsdfs_record_del_holder(fsdfs_record_t *rec, unsigned id);
int fsdfs_record_has_holder(const fsdfs_record_t *rec, unsigned id);

#endif
