/* Branchy workload: a small stack-machine bytecode interpreter (indirect
 * dispatch, data-dependent branches) and quicksort of random keys
 * (unpredictable compares).  argv[1] scales the work. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

enum { OP_PUSH, OP_ADD, OP_SUB, OP_MUL, OP_DUP, OP_SWAP, OP_JNZ, OP_DEC,
       OP_XOR, OP_SHR, OP_POP, OP_HALT };

typedef struct { uint8_t op; int32_t arg; } insn_t;

/* Program: acc = seed; loop n times: acc = acc*33 ^ (acc>>5) + i-ish. */
static uint64_t interp(const insn_t *code, uint64_t seed, uint64_t n)
{
    uint64_t st[16];
    int sp = 0, pc = 0;
    st[sp++] = seed;  /* acc */
    st[sp++] = n;     /* counter */
    for (;;) {
        const insn_t *in = &code[pc++];
        switch (in->op) {
        case OP_PUSH: st[sp++] = (uint64_t)(int64_t)in->arg; break;
        case OP_ADD:  sp--; st[sp - 1] += st[sp]; break;
        case OP_SUB:  sp--; st[sp - 1] -= st[sp]; break;
        case OP_MUL:  sp--; st[sp - 1] *= st[sp]; break;
        case OP_XOR:  sp--; st[sp - 1] ^= st[sp]; break;
        case OP_SHR:  sp--; st[sp - 1] >>= (st[sp] & 63); break;
        case OP_DUP:  st[sp] = st[sp - 1]; sp++; break;
        case OP_SWAP: { uint64_t t = st[sp - 1]; st[sp - 1] = st[sp - 2]; st[sp - 2] = t; } break;
        case OP_DEC:  st[sp - 1]--; break;
        case OP_POP:  sp--; break;
        case OP_JNZ:  if (st[sp - 1]) pc = in->arg; break;
        case OP_HALT: return st[0];
        }
    }
}

static const insn_t prog[] = {
    /* 0: stack = acc, cnt */
    {OP_SWAP, 0},            /* cnt acc */
    {OP_DUP, 0},             /* cnt acc acc */
    {OP_PUSH, 33}, {OP_MUL, 0},          /* cnt acc acc*33 */
    {OP_SWAP, 0},            /* cnt acc*33 acc */
    {OP_PUSH, 5}, {OP_SHR, 0},           /* cnt acc*33 acc>>5 */
    {OP_XOR, 0},             /* cnt acc' */
    {OP_PUSH, 7}, {OP_ADD, 0},
    {OP_SWAP, 0},            /* acc' cnt */
    {OP_DEC, 0},
    {OP_JNZ, 0},
    {OP_POP, 0},
    {OP_HALT, 0},
};

static void quicksort(uint32_t *a, long lo, long hi)
{
    while (lo < hi) {
        uint32_t p = a[lo + (hi - lo) / 2];
        long i = lo, j = hi;
        while (i <= j) {
            while (a[i] < p) i++;
            while (a[j] > p) j--;
            if (i <= j) { uint32_t t = a[i]; a[i] = a[j]; a[j] = t; i++; j--; }
        }
        if (j - lo < hi - i) { quicksort(a, lo, j); lo = i; }
        else { quicksort(a, i, hi); hi = j; }
    }
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 3;
    const long n = 300000;
    uint32_t *a = malloc(n * sizeof *a);
    if (!a) return 1;
    uint64_t x = 0x2545F4914F6CDD1Dull, vm = 0, qs = 0;
    for (int r = 0; r < reps; r++) {
        vm ^= interp(prog, (uint64_t)r + 1, 400000);
        for (long i = 0; i < n; i++) {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            a[i] = (uint32_t)x;
        }
        quicksort(a, 0, n - 1);
        for (long i = 1; i < n; i++)
            if (a[i - 1] > a[i]) { printf("unsorted\n"); return 2; }
        qs = qs * 31 + a[n / 3] + a[n - 1];
    }
    printf("branchy vm=%llx qsort=%llx\n", (unsigned long long)vm,
           (unsigned long long)qs);
    return 0;
}
