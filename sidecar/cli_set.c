/*
 * fsdfs set PATH replicas=N VAR=VALUE ...: edits the per-file part of a
 * record (explicit replica count, user variables) and leaves the rest
 * (size, sum, holders) as the index has it. Every argument is checked
 * before Redis is touched, and the record is rewritten in a transaction
 * on the WATCHed bucket, so a holder the master adds meanwhile is kept.
 * A set event tells the master to re-plan the file.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fsdfs_keys.h"
#include "fsdfs_path.h"
#include "fsdfs_record.h"


#define SET_TRIES     16
#define SET_NAME_MAX  16
#define SET_VALUE_MAX 32


/* One assignment from the command line; value NULL removes the variable. */
typedef struct {
    const char  *name;
    size_t       name_len;
    const char  *value;
    size_t       value_len;
} set_op_t;


typedef struct {
    const char  *path;
    char         key[FSDFS_KEY_MAX];
    int          set_n;          /* replicas= given */
    unsigned     n;              /* 0: by policy */
    set_op_t    *ops;
    unsigned     nops;
    char         old[FSDFS_RECORD_MAX + 1];
    char         new[FSDFS_RECORD_MAX + 1];
} set_t;


/* The codec's grammar, checked here too so a bad argument is named. */
static const char *
set_check_name(const char *s, size_t len)
{
    size_t  i;

    if (len == 0 || len > SET_NAME_MAX || s[0] < 'a' || s[0] > 'z') {
        return "a name is [a-z][a-z0-9_]{0,15}";
    }

    for (i = 1; i < len; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')
              || s[i] == '_'))
        {
            return "a name is [a-z][a-z0-9_]{0,15}";
        }
    }

    if (len == 1 && s[0] == 'n') {
        return "\"n\" is the replica count: use replicas=";
    }

    return NULL;
}


static const char *
set_check_value(const char *s, size_t len)
{
    if (len > SET_VALUE_MAX
        || strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                  "0123456789_.:-") != len)
    {
        return "a value is [A-Za-z0-9_.:-]{1,32}";
    }

    return NULL;
}


/* Parses argv[2..] into s; 0, or -1 after saying which argument is bad. */
static int
set_parse(set_t *s, int argc, char **argv)
{
    int          i;
    long         v;
    char        *eq, *end;
    const char  *bad;
    set_op_t    *op;

    for (i = 2; i < argc; i++) {
        eq = strchr(argv[i], '=');
        bad = NULL;

        if (eq == NULL) {
            bad = "expected NAME=VALUE";

        } else if (eq - argv[i] == 8 && strncmp(argv[i], "replicas", 8) == 0) {
            s->set_n = 1;
            if (strcmp(eq + 1, "default") == 0) {
                s->n = 0;
            } else {
                v = strtol(eq + 1, &end, 10);
                if (eq[1] < '0' || eq[1] > '9' || *end || v < 1 || v > 255) {
                    bad = "replicas is 1..255 or default";
                }
                s->n = (unsigned) v;
            }

        } else {
            op = &s->ops[s->nops++];
            op->name = argv[i];
            op->name_len = (size_t) (eq - argv[i]);
            op->value_len = strlen(eq + 1);
            op->value = op->value_len ? eq + 1 : NULL;
            bad = set_check_name(op->name, op->name_len);
            if (bad == NULL) {
                bad = set_check_value(eq + 1, op->value_len);
            }
        }

        if (bad) {
            fprintf(stderr, "fsdfs set: invalid argument \"%s\": %s\n",
                    argv[i], bad);
            return -1;
        }
    }

    return 0;
}


/* Applies the assignments to rec; 0, or -1 if the variables overflow. */
static int
set_apply(const set_t *s, fsdfs_record_t *rec)
{
    unsigned        i, j;
    const set_op_t *op;

    if (s->set_n) {
        rec->n = s->n;
    }

    for (i = 0; i < s->nops; i++) {
        op = &s->ops[i];

        for (j = 0; j < rec->nvars; j++) {
            if (rec->vars[j].name_len == op->name_len
                && memcmp(rec->vars[j].name, op->name, op->name_len) == 0)
            {
                break;
            }
        }

        if (op->value == NULL) {
            if (j < rec->nvars) {
                memmove(&rec->vars[j], &rec->vars[j + 1],
                        (rec->nvars - j - 1) * sizeof(fsdfs_var_t));
                rec->nvars--;
            }
            continue;
        }

        if (j == rec->nvars) {
            if (rec->nvars == FSDFS_MAX_VARS) {
                fprintf(stderr, "fsdfs set: \"%s\" would have more than %d "
                        "variables\n", s->path, FSDFS_MAX_VARS);
                return -1;
            }
            rec->nvars++;
        }

        rec->vars[j].name = op->name;
        rec->vars[j].name_len = op->name_len;
        rec->vars[j].value = op->value;
        rec->vars[j].value_len = op->value_len;
    }

    return 0;
}


/* One attempt: 1 done, 0 the bucket changed under us, else -exit code. */
static int
set_try(cli_t *cli, set_t *s)
{
    int             rc, len;
    redisReply     *r;
    fsdfs_record_t  rec;

    if (cli_cmd_ok(cli, "WATCH %s", s->key) != 0) {
        return -cli_fail(cli);
    }

    r = cli_cmd(cli, "HGET %s %s", s->key, s->path);
    if (!cli_reply_ok(r, 0)) {
        freeReplyObject(r);
        return -cli_fail(cli);
    }

    rc = 0;

    if (r->type != REDIS_REPLY_STRING) {
        fprintf(stderr, "fsdfs set: \"%s\" is not indexed (its bucket is "
                "%s)\n", s->path, s->key);
        rc = -CLI_NOTFOUND;

    } else if (r->len > FSDFS_RECORD_MAX
               || fsdfs_record_decode(&rec, r->str, r->len) != 0)
    {
        fprintf(stderr, "fsdfs set: corrupt record in %s for \"%s\": "
                "\"%.*s\"; not changed\n", s->key, s->path, (int) r->len,
                r->str);
        rc = -CLI_ERROR;

    } else if (set_apply(s, &rec) != 0) {
        rc = -CLI_USAGE;

    } else {
        memcpy(s->old, r->str, r->len);
        s->old[r->len] = '\0';
        len = fsdfs_record_encode(&rec, s->new, sizeof(s->new));
        if (len < 0) {
            fprintf(stderr, "fsdfs set: the new record for \"%s\" would not "
                    "encode; not changed\n", s->path);
            rc = -CLI_USAGE;
        }
    }

    freeReplyObject(r);

    if (rc == 0 && strcmp(s->old, s->new) == 0) {
        rc = 1;
    }

    if (rc != 0) {
        (void) cli_cmd_ok(cli, "UNWATCH");
        return rc;
    }

    if (cli_cmd_ok(cli, "MULTI") != 0
        || cli_cmd_ok(cli, "HSET %s %s %s", s->key, s->path, s->new) != 0
        || cli_cmd_ok(cli, "XADD %sevents MAXLEN ~ 100000 * type set path %s",
                      cli->prefix, s->path) != 0)
    {
        (void) cli_cmd_ok(cli, "DISCARD");
        return -cli_fail(cli);
    }

    rc = cli_exec(cli);

    return rc < 0 ? -cli_fail(cli) : rc;
}


int
cli_set(cli_t *cli, int argc, char **argv)
{
    int          rc, tries;
    set_t        s;
    const char  *bad;

    if (argc < 3) {
        return CLI_USAGE;
    }

    memset(&s, 0, sizeof(s));
    s.path = argv[1];

    bad = fsdfs_path_check(s.path, strlen(s.path));
    if (bad) {
        fprintf(stderr, "fsdfs set: invalid path \"%s\": %s\n", s.path, bad);
        return CLI_USAGE;
    }

    s.ops = calloc((size_t) argc, sizeof(set_op_t));
    if (s.ops == NULL) {
        return CLI_ERROR;
    }

    rc = (set_parse(&s, argc, argv) == 0) ? cli_connect(cli) : CLI_USAGE;
    if (rc == CLI_OK) {
        rc = cli_loc_key(cli, "set", s.path, s.key, sizeof(s.key));
    }

    for (tries = 0; rc == CLI_OK && tries < SET_TRIES; tries++) {
        rc = set_try(cli, &s);

        if (rc == 1) {
            if (strcmp(s.old, s.new) == 0) {
                printf("fsdfs: %s unchanged: %s\n", s.path, s.new);
            } else {
                printf("fsdfs: %s: %s -> %s\n", s.path, s.old, s.new);
            }
            rc = CLI_OK;
            break;
        }

        rc = (rc < 0) ? -rc : CLI_OK;
    }

    if (rc == CLI_OK && tries == SET_TRIES) {
        fprintf(stderr, "fsdfs set: %s kept changing, %d tries; nothing "
                "changed\n", s.key, SET_TRIES);
        rc = CLI_ERROR;
    }

    free(s.ops);
    return rc;
}
