/* Integer and floating-point arithmetic whose printed results qemu-riscv64
 * must reproduce exactly. */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>

static uint64_t lcg(uint64_t *s) { return *s = *s * 6364136223846793005ull + 1442695040888963407ull; }

int main(void)
{
    uint64_t s = 12345, acc = 0;
    int64_t sacc = 0;
    for (int i = 0; i < 20000; i++) {
        uint64_t a = lcg(&s), b = lcg(&s) | 1;
        int64_t sa = (int64_t)a, sb = (int64_t)b;
        acc += a / b + a % b + (a * b) + (a >> (b & 63)) + (uint64_t)((unsigned __int128)a * b >> 64);
        sacc ^= sa / sb + sa % sb + (sa >> (b & 63)) + (int32_t)a / ((int32_t)b | 1);
    }
    printf("acc=%" PRIu64 " sacc=%" PRId64 "\n", acc, sacc);
    double d = 0;
    for (int i = 1; i < 2000; i++)
        d += sqrt((double)i) / (i + 0.5) - sin(i) * cos(i * 0.25);
    printf("d=%.17g f=%.9g\n", d, (float)d * 1.5f);
    printf("div0: %d\n", (int)(s % 7));
    return 0;
}
