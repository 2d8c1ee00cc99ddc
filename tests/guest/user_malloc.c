/* malloc/realloc/free stress: small, large (mmap) and growing blocks, with
 * contents checked so that a wrong brk/mmap/mremap shows up. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 512

int main(void)
{
    unsigned char *blk[N] = { 0 };
    size_t len[N] = { 0 };
    uint32_t s = 1;
    unsigned long sum = 0;
    for (int round = 0; round < 20000; round++) {
        s = s * 1103515245u + 12345u;
        int i = (s >> 8) % N;
        if (blk[i]) {
            for (size_t k = 0; k < len[i]; k += 97)
                if (blk[i][k] != (unsigned char)(i + k)) {
                    printf("corrupt block %d at %zu\n", i, k);
                    return 1;
                }
            sum += len[i];
            if (s & 1) {
                free(blk[i]);
                blk[i] = NULL;
                continue;
            }
        }
        size_t n = (s >> 20) % 4 == 0 ? ((s >> 4) % (1u << 20)) + 1 : ((s >> 4) % 2000) + 1;
        unsigned char *p = realloc(blk[i], n);
        if (!p) {
            printf("out of memory at %zu\n", n);
            return 1;
        }
        for (size_t k = 0; k < n; k += 97)
            p[k] = (unsigned char)(i + k);
        blk[i] = p;
        len[i] = n;
    }
    for (int i = 0; i < N; i++)
        free(blk[i]);
    char *big = calloc(1, 64u << 20);
    big[(64u << 20) - 1] = 1;
    printf("sum=%lu big=%d\n", sum, big[12345]);
    free(big);
    return 0;
}
