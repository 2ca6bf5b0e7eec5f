/*
 * A sample fsdfs replication-policy plug-in, and the shape to start from
 * (the ABI is common/fsdfs_policy.h). Two house rules on top of what the
 * built-in policy decided:
 *
 *   - an .ogg under /music/hits/ gets one copy more: hits are played most,
 *     and .ogg is what the web player streams;
 *   - a file over 50 MB gets 2 copies, whatever else says: big masters
 *     are rarely played and cost the most disk per copy.
 *
 * fsdfsd clamps whatever this returns, so the code stays about the policy.
 *
 *   cc -shared -fPIC -Icommon -o sample_policy.so conf.d/policy/sample_policy.c
 *   policy_plugin /path/to/sample_policy.so          (fsdfsd.conf)
 */

#include <string.h>

#include "fsdfs_policy.h"


#define SAMPLE_BIG  (50ull * 1024 * 1024)


static int
sample_has_prefix(const fsdfs_policy_input_t *in, const char *prefix)
{
    size_t  len = strlen(prefix);

    return in->path_len >= len && memcmp(in->path, prefix, len) == 0;
}


static int
sample_has_suffix(const fsdfs_policy_input_t *in, const char *suffix)
{
    size_t  len = strlen(suffix);

    return in->path_len >= len
           && memcmp(in->path + in->path_len - len, suffix, len) == 0;
}


int
fsdfs_policy(const fsdfs_policy_input_t *in)
{
    if (in->abi != FSDFS_POLICY_ABI) {
        return (int) in->n;             /* a newer fsdfsd: do not guess */
    }

    if (in->size > SAMPLE_BIG) {
        return 2;
    }

    /* one more, if there is a node to hold it: more than the live nodes
     * would be clamped and logged as nonsense */
    if (sample_has_prefix(in, "/music/hits/") && sample_has_suffix(in, ".ogg")
        && (in->live_nodes == 0 || in->n < in->live_nodes))
    {
        return (int) in->n + 1;
    }

    return (int) in->n;
}
