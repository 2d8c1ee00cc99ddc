/* Why the interpreter's store loops cost what they cost: a host-only
 * microbenchmark of the sieve's inner loop,
 *
 *     loop: add a3, a1, a5;  sb a6, 0(a3);  add a5, a5, a4;  bgeu a0, a5, loop
 *
 * run six ways on a register file in memory (uint64_t x[32], as both vmpy's
 * interpreter and qemu's TCG keep guest registers):
 *
 *   fixed      register numbers are constants, so every x[] access has a
 *              fixed offset (what a JIT such as TCG emits inside a block)
 *   decoded    register numbers are read from a decoded-instruction record
 *              on every iteration, a byte each (what vmpy's handlers did
 *              until they read a slot's operands as one word)
 *   word       the same, but each record is read as one word and taken
 *              apart with shifts (what vmpy's handlers do: operand_word)
 *
 * each with the guest byte store and without it.  Nothing here depends on
 * vmpy; it isolates the host's cost of the two ways of addressing x[],
 * before any dispatch, TLB check or instruction count.  What it measured
 * on this project's hosts is in bench/README.md.
 *
 *     gcc -O2 bench/micro/regfile.c -o /tmp/regfile && /tmp/regfile [ITERATIONS]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { A0 = 10, A1 = 11, A3 = 13, A4 = 14, A5 = 15, A6 = 16 };
enum { ROUNDS = 5 };
static long iters = 50000000;    /* argv[1] */

typedef struct { uint8_t rd, rs1, rs2; } insn;   /* one decoded R-type op */

/* volatile: every register access is a host memory access, as in the
 * engines; the decoded records are re-read each iteration, as handlers do. */
typedef volatile uint64_t regs[32];
typedef volatile insn code[3];                   /* add; sb (rs1, rs2); add */
typedef volatile uint32_t words[3];              /* the same, rd | rs1 << 8 | rs2 << 16 */

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

__attribute__((noinline)) static void fixed(regs x, uint8_t *mem, int store)
{
    uint64_t v;     /* the same accesses as decoded(), at fixed offsets */
    do {
        v = x[A1] + x[A5];
        x[A3] = v;
        if (store)
            mem[v] = (uint8_t)x[A6];
        v = x[A5] + x[A4];
        x[A5] = v;
    } while (x[A0] >= v);
}

__attribute__((noinline)) static void decoded(regs x, uint8_t *mem, code c, int store)
{
    uint64_t v;
    do {
        v = x[c[0].rs1] + x[c[0].rs2];
        x[c[0].rd] = v;
        if (store)
            mem[v] = (uint8_t)x[c[1].rs2];
        v = x[c[2].rs1] + x[c[2].rs2];
        x[c[2].rd] = v;
    } while (x[A0] >= v);
}

__attribute__((noinline)) static void word(regs x, uint8_t *mem, words c, int store)
{
    uint64_t v;
    do {
        uint32_t w0 = c[0], w1 = c[1], w2 = c[2];
        v = x[(w0 >> 8) & 0xff] + x[(w0 >> 16) & 0xff];
        x[w0 & 0xff] = v;
        if (store)
            mem[v] = (uint8_t)x[(w1 >> 16) & 0xff];
        v = x[(w2 >> 8) & 0xff] + x[(w2 >> 16) & 0xff];
        x[w2 & 0xff] = v;
    } while (x[A0] >= v);
}

static void reset(regs x)
{
    x[A0] = iters - 1;       /* i runs 0 .. iters-1 */
    x[A1] = 0;               /* base */
    x[A4] = 1;               /* step */
    x[A5] = 0;               /* i */
    x[A6] = 1;               /* value stored */
}

int main(int argc, char **argv)
{
    if (argc > 1 && (iters = atol(argv[1])) < 1) {
        fprintf(stderr, "usage: %s [ITERATIONS >= 1]\n", argv[0]);
        return 2;
    }
    static regs x;
    static code c = { { A3, A1, A5 }, { 0, A3, A6 }, { A5, A5, A4 } };
    static words cw;
    for (int k = 0; k < 3; k++)
        cw[k] = (uint32_t)c[k].rd | (uint32_t)c[k].rs1 << 8 | (uint32_t)c[k].rs2 << 16;
    uint8_t *mem = malloc(iters);
    if (!mem)
        return 1;
    for (long i = 0; i < iters; i += 4096)
        mem[i] = 0;          /* fault every page in before timing */
    const char *name[6] = { "fixed, store", "fixed, no store", "decoded, store", "decoded, no store",
                            "word, store", "word, no store" };
    double best[6];
    for (int k = 0; k < 6; k++) {
        best[k] = 1e9;
        for (int r = 0; r < ROUNDS; r++) {
            reset(x);
            double t = now();
            if (k < 2)
                fixed(x, mem, k == 0);
            else if (k < 4)
                decoded(x, mem, c, k == 2);
            else
                word(x, mem, cw, k == 4);
            t = now() - t;
            if (t < best[k])
                best[k] = t;
        }
        printf("%-18s %6.2f ns/iteration\n", name[k], best[k] / iters * 1e9);
    }
    printf("decoded/fixed: %.2f with the store, %.2f without\n",
           best[2] / best[0], best[3] / best[1]);
    printf("word/fixed: %.2f with the store, %.2f without\n",
           best[4] / best[0], best[5] / best[1]);
    free(mem);
    return 0;
}
