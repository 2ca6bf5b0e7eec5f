/*
 * The tests' checksum (t/lib/FsdfsTest.pm, sum64): Perl has no XXH3, so
 * the harness keeps this running beside it and asks it for sums.
 * Reads "<length>\n<bytes>" again and again on stdin, answers each with
 * the sum in 16 hex digits and a newline; exits at end of input.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "fsdfs_sum.h"


int
main(void)
{
    char           *data;
    size_t          len;
    unsigned long   n;

    while (scanf("%lu", &n) == 1 && getchar() == '\n') {
        len = n;
        data = malloc(len ? len : 1);
        if (data == NULL || fread(data, 1, len, stdin) != len) {
            fprintf(stderr, "sum64: short input or out of memory\n");
            return 1;
        }
        printf("%016" PRIx64 "\n", fsdfs_sum_buf(data, len));
        fflush(stdout);
        free(data);
    }

    return 0;
}
