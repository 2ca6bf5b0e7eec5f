/*
 * Signed commands (pull, drop, put, delete): an HMAC-SHA256 over a
 * canonical string, a timestamp window and epoch fencing, so that only a
 * holder of the shared secret can move files, a captured request stops
 * working after a few seconds, and a deposed master cannot give orders.
 *
 * The canonical string to sign is
 *
 *   METHOD "\n" PATH "\n" name1 "=" value1 "\n" name2 "=" value2 "\n" ...
 *
 * where the parameters are the command's own plus the mandatory "ts"
 * (unix seconds, decimal) and "epoch" (master epoch, decimal), sorted by
 * name bytewise, so the order of parameters on the wire does not matter.
 * The newline is the only separator, hence refused everywhere but
 * between fields; '=' is refused in names. The verifier rebuilds the
 * string from what it parsed, never from the raw request.
 *
 * No allocation, no nginx types: the nginx module, fsdfsd and the CLI all
 * use it. Everything but fsdfs_secret_load() is pure computation and safe
 * in an nginx event handler.
 */

#ifndef FSDFS_SIGN_H
#define FSDFS_SIGN_H

#include <stddef.h>
#include <stdint.h>

#define FSDFS_SIGN_MAX_PARAMS  16      /* command parameters, besides ts
                                          and epoch */
#define FSDFS_SIGN_HEX_LEN     64      /* HMAC-SHA256 as lowercase hex */
#define FSDFS_SECRET_MIN       32      /* bytes */

typedef struct {
    const char  *name;
    size_t       name_len;
    const char  *value;
    size_t       value_len;
} fsdfs_sign_param_t;

/*
 * Builds the canonical string into buf (NUL-terminated) and returns its
 * length, or -1 if: method or path is empty or holds a '\n'; a name is
 * empty or holds '\n' or '='; a value holds '\n'; two names are equal
 * (including a command parameter named "ts" or "epoch"); there are more
 * than FSDFS_SIGN_MAX_PARAMS parameters; or the string and its NUL do
 * not fit in cap bytes.
 */
int fsdfs_sign_canon(char *buf, size_t cap, const char *method,
    size_t method_len, const char *path, size_t path_len,
    const fsdfs_sign_param_t *params, unsigned nparams, int64_t ts,
    uint64_t epoch);

/*
 * Percent-encodes len bytes of src into dst for a query string: every
 * byte outside A-Za-z0-9 - _ . ~ / becomes %XX (uppercase hex), so '+',
 * '=', '&' and UTF-8 travel unambiguously. Like snprintf, returns the
 * length the encoding needs; dst holds all of it and a NUL only if that
 * is less than cap (dst may be NULL when cap is 0, to measure).
 */
size_t fsdfs_url_encode(char *dst, size_t cap, const char *src, size_t len);

/*
 * Builds a signed command's query string into buf, NUL-terminated:
 *
 *   name1=enc(value1)&...&nameN=enc(valueN)&ts=T&epoch=E&sig=HEX
 *
 * the parameters in the order given, values encoded as above, and HEX
 * the signature of fsdfs_sign_canon() over method, uri_path (the URI
 * path, "/_fsdfs/pull"; it is signed, not written) and the unencoded
 * values. Names go out as they are: the sender chooses them, and they
 * are plain words. Returns the length, or -1 if the canonical string is
 * refused or longer than FSDFS_SIGN_CANON_MAX, the query and its NUL do
 * not fit in cap, or signing fails.
 */
#define FSDFS_SIGN_CANON_MAX   8192

int fsdfs_sign_query(char *buf, size_t cap, const unsigned char *key,
    size_t keylen, const char *method, const char *uri_path,
    const fsdfs_sign_param_t *params, unsigned nparams, int64_t ts,
    uint64_t epoch);

/* HMAC-SHA256(key, canon) as 64 lowercase hex digits and a NUL; 0 on
 * success, -1 on a libcrypto failure. */
int fsdfs_sign(const unsigned char *key, size_t keylen, const char *canon,
    size_t len, char out_hex[FSDFS_SIGN_HEX_LEN + 1]);

/* 0 if sig_hex (siglen bytes, not necessarily NUL-terminated) is the
 * signature of canon, else -1. The comparison is constant-time
 * (CRYPTO_memcmp); a wrong length or a byte other than [0-9a-f] is
 * refused, in a time that depends on the signature given, never on the
 * secret or the expected MAC. */
int fsdfs_sign_verify(const unsigned char *key, size_t keylen,
    const char *canon, size_t len, const char *sig_hex, size_t siglen);

/* NULL if |now - ts| <= window, else "expired" or "from the future". A
 * negative window accepts nothing. */
const char *fsdfs_sign_check_time(int64_t ts, int64_t now, int64_t window);

/* NULL if epoch >= highest_seen, else "old epoch". */
const char *fsdfs_sign_check_epoch(uint64_t epoch, uint64_t highest_seen);

/*
 * Reads the shared secret from path (the fsdfs_secret directive, the
 * sidecar's config) into key: the file's bytes, one trailing '\n'
 * stripped, FSDFS_SECRET_MIN..cap bytes. Refuses anything but a regular
 * file, and a file whose mode grants group or others any access.
 * Returns 0 with *len set, or -1 with *err a static message (errno is
 * kept on open/stat/read failures for the caller to add) and key wiped.
 *
 * BLOCKING I/O: call it at configuration time (or in the CLI/sidecar),
 * never from an nginx event handler.
 */
int fsdfs_secret_load(const char *path, unsigned char *key, size_t cap,
    size_t *len, const char **err);

#endif
