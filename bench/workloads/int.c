/* Integer workload: table CRC32 over a buffer, sieve of Eratosthenes,
 * integer matrix multiply.  Prints one checksum line so every engine's
 * result can be compared with native.  argv[1] scales the work. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static uint32_t crc_table[256];

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

static uint32_t crc32_buf(uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    while (n--)
        crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static uint64_t sieve(uint32_t limit, uint8_t *comp)
{
    uint64_t sum = 0, count = 0;
    for (uint32_t i = 0; i <= limit; i++) comp[i] = 0;
    for (uint32_t i = 2; i <= limit; i++) {
        if (comp[i]) continue;
        count++;
        sum += i;
        for (uint64_t j = (uint64_t)i * i; j <= limit; j += i) comp[j] = 1;
    }
    return sum * 31 + count;
}

#define N 96
static int32_t A[N][N], B[N][N], C[N][N];

static uint64_t matmul(uint32_t seed)
{
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            seed = seed * 1103515245u + 12345u;
            A[i][j] = (int32_t)(seed >> 16) % 1000 - 500;
            seed = seed * 1103515245u + 12345u;
            B[i][j] = (int32_t)(seed >> 16) % 1000 - 500;
        }
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            int32_t s = 0;
            for (int k = 0; k < N; k++) s += A[i][k] * B[k][j];
            C[i][j] = s;
        }
    uint64_t h = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) h = h * 1000003u + (uint32_t)C[i][j];
    return h;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 8;
    enum { BUF = 1 << 16, LIMIT = 2000000 };
    uint8_t *buf = malloc(BUF), *comp = malloc(LIMIT + 1);
    if (!buf || !comp) return 1;
    crc_init();
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < BUF; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        buf[i] = (uint8_t)x;
    }
    uint32_t crc = 0;
    uint64_t sv = 0, mm = 0;
    for (int r = 0; r < reps; r++) {
        for (int k = 0; k < 8; k++) crc = crc32_buf(crc, buf, BUF);
        sv = sv * 1000003u + sieve(LIMIT - r, comp);
        mm = mm * 1000003u + matmul(r + 1);
    }
    printf("int crc=%08x sieve=%llx matmul=%llx\n", crc,
           (unsigned long long)sv, (unsigned long long)mm);
    return 0;
}
