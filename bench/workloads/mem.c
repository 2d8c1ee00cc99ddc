/* Memory-bound workload: pointer chasing around one random cycle over a
 * large array (defeats caches and prefetchers), then streaming copies
 * (memcpy and a hand-written word loop).  argv[1] scales the work. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint64_t next(void)
{
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return rng;
}

/* Sattolo's algorithm: a permutation that is a single cycle. */
static void make_cycle(uint32_t *a, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) a[i] = i;
    for (uint32_t i = n - 1; i > 0; i--) {
        uint32_t j = (uint32_t)(next() % i);
        uint32_t t = a[i]; a[i] = a[j]; a[j] = t;
    }
}

static uint64_t chase(const uint32_t *a, uint64_t steps)
{
    uint64_t sum = 0;
    uint32_t p = 0;
    while (steps--) {
        p = a[p];
        sum += p;
    }
    return sum ^ p;
}

static uint64_t stream(uint64_t *dst, uint64_t *src, size_t words, int passes)
{
    uint64_t h = 0;
    for (int p = 0; p < passes; p++) {
        memcpy(dst, src, words * 8);
        for (size_t i = 0; i < words; i++) src[i] = dst[i] + (uint64_t)p;
        h += dst[(p * 7919u) % words] ^ src[(p * 104729u) % words];
    }
    return h;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 4;
    const uint32_t n = 1u << 20;            /* 4 MiB of indices: beyond L2 */
    const size_t words = 1u << 19;          /* 4 MiB per buffer */
    uint32_t *a = malloc((size_t)n * 4);
    uint64_t *s = malloc(words * 8), *d = malloc(words * 8);
    if (!a || !s || !d) return 1;
    make_cycle(a, n);
    for (size_t i = 0; i < words; i++) s[i] = next();
    uint64_t c = 0, h = 0;
    for (int r = 0; r < reps; r++) {
        c = c * 1000003u + chase(a, (1u << 20) + (uint32_t)r);
        h = h * 1000003u + stream(d, s, words, 2);
    }
    printf("mem chase=%llx stream=%llx\n", (unsigned long long)c,
           (unsigned long long)h);
    return 0;
}
