/*
 * A plain driver for the fuzz targets, for builds without libFuzzer: each
 * argument is a file or a directory of files, and each file is handed to
 * LLVMFuzzerTestOneInput() once, in a heap buffer of exactly its size so
 * that ASan sees a read past the end. make test runs it over the seed
 * corpus and any crash reproducer kept there (fuzz_corpus.t).
 */

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"


static int
fuzz_file(const char *path)
{
    FILE     *f;
    long      size;
    uint8_t  *buf;

    f = fopen(path, "rb");
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0
        || fseek(f, 0, SEEK_SET) != 0)
    {
        fprintf(stderr, "fuzz: cannot read %s\n", path);
        if (f) {
            fclose(f);
        }
        return -1;
    }

    buf = malloc(size ? (size_t) size : 1);
    if (buf == NULL || fread(buf, 1, (size_t) size, f) != (size_t) size) {
        fprintf(stderr, "fuzz: cannot read %s\n", path);
        free(buf);
        fclose(f);
        return -1;
    }
    fclose(f);

    LLVMFuzzerTestOneInput(buf, (size_t) size);
    free(buf);
    return 0;
}


static int
fuzz_path(const char *path, unsigned *count)
{
    DIR            *d;
    struct dirent  *de;
    struct stat     st;
    char            sub[4096];
    int             rc = 0;

    if (stat(path, &st) != 0) {
        fprintf(stderr, "fuzz: no such file %s\n", path);
        return -1;
    }

    if (!S_ISDIR(st.st_mode)) {
        (*count)++;
        return fuzz_file(path);
    }

    d = opendir(path);
    if (d == NULL) {
        fprintf(stderr, "fuzz: cannot open %s\n", path);
        return -1;
    }

    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') {
            continue;
        }
        snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
        if (fuzz_path(sub, count) != 0) {
            rc = -1;
        }
    }

    closedir(d);
    return rc;
}


int
main(int argc, char **argv)
{
    int       i, rc = 0;
    unsigned  count = 0;

    for (i = 1; i < argc; i++) {
        if (fuzz_path(argv[i], &count) != 0) {
            rc = 1;
        }
    }

    printf("%s: %u inputs\n", argv[0], count);
    return rc;
}
