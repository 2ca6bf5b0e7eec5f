/*
 * Path rules shared by the module (for command arguments, which nginx
 * does not normalise), the CLI and fsdfsd. A valid path is what a file
 * in a node's root may be called and what a URI may name:
 *
 *   - starts with '/', at most FSDFS_PATH_MAX bytes, does not end in '/'
 *   - no empty, "." or ".." segment
 *   - bytes: A-Z a-z 0-9 and - _ . ~ / + , = @ ( ) !  and well-formed UTF-8;
 *     no controls, no space, no quotes, no backslash, no % ? # * ;
 */

#ifndef FSDFS_PATH_H
#define FSDFS_PATH_H

#include <stddef.h>

#define FSDFS_PATH_MAX 1024

/* NULL if valid, else a short static reason ("empty segment", ...). */
const char *fsdfs_path_check(const char *path, size_t len);

#endif
