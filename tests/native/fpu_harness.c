/* fpu_harness.c — runs csrc/core/riscv64/fpu.c natively over vectors printed
 * by tests/guest/fp_ops.c (under qemu-riscv64, the oracle) and reports every
 * line where vmpy's result or fflags differ.
 *
 * Input lines:  <mnemonic> <rm> <frm> <a> <b> <c> <result> <fflags>   (hex)
 * Output:       one "MISMATCH ..." line per difference, then
 *               "compared N mismatches M"
 * "fpu_harness --selftest" instead checks hand-computed cases: illegal
 * rounding modes, FS = Off, x0 as destination, FS/SD marking, and values
 * worked out by hand from the ISA manual and IEEE 754.
 * Build: gcc -std=c11 -O2 -Icsrc tests/native/fpu_harness.c csrc/core/riscv64/fpu.c
 *        (add -DRV_FPU_NO_HOST to check the softfloat path alone) */
#include "core/riscv64/rv.h"

#include <stdio.h>
#include <string.h>

static const struct { int op; const char *name; } op_names[] = {
#define ENTRY(name, mnem) {RV_OP_##name, mnem},
    RV_OPS(ENTRY)
#undef ENTRY
};

static int lookup(const char *mn)
{
    for (size_t i = 0; i < sizeof op_names / sizeof op_names[0]; i++)
        if (!strcmp(op_names[i].name, mn))
            return op_names[i].op;
    return -1;
}

/* Operations whose destination is an x register. */
static int writes_x(const char *mn)
{
    static const char *const pfx[] = {"fcvt.w", "fcvt.l", "fmv.x", "feq", "flt", "fle", "fclass"};
    for (size_t i = 0; i < sizeof pfx / sizeof pfx[0]; i++)
        if (!strncmp(mn, pfx[i], strlen(pfx[i])))
            return 1;
    return 0;
}

static int failures;

static void check(int ok, const char *what)
{
    if (!ok) {
        printf("SELFTEST FAIL %s\n", what);
        failures++;
    }
}

static void cpu_init(rv_cpu *c)
{
    memset(c, 0, sizeof *c);
    c->mstatus = 1ull << RV_MSTATUS_FS_SHIFT;
}

/* Runs op on operands (f1/x1, f2, f3) into f10/x10; returns the exception. */
static int run(rv_cpu *c, int op, unsigned rm, uint64_t a, uint64_t b, uint64_t cc)
{
    rv_insn in = {.op = (uint16_t)op, .rd = 10, .rs1 = 1, .rs2 = 2, .rs3 = 3, .len = 4, .rm = (uint8_t)rm};
    c->f[1] = a; c->f[2] = b; c->f[3] = cc; c->x[1] = a;
    return rv_fp_exec(c, &in);
}

#define B(v) (0xffffffff00000000ull | (v))
#define QN64 0x7ff8000000000000ull
#define ONE64 0x3ff0000000000000ull

/* Hand-computed expectations: op, rm, a, b, c, result, fflags, result in x? */
static const struct vec {
    int op; unsigned rm; uint64_t a, b, c, want; unsigned fl; int in_x;
} hand[] = {
    /* 1 + 2^-24 is exactly halfway between 1 and 1 + 2^-23 */
    {RV_OP_FADD_S, 0, B(0x3f800000), B(0x33800000), 0, B(0x3f800000), 1, 0},
    {RV_OP_FADD_S, 4, B(0x3f800000), B(0x33800000), 0, B(0x3f800001), 1, 0},
    {RV_OP_FADD_S, 3, B(0x3f800000), B(0x33800000), 0, B(0x3f800001), 1, 0},
    {RV_OP_FADD_S, 1, B(0x3f800000), B(0x33800000), 0, B(0x3f800000), 1, 0},
    {RV_OP_FADD_D, 4, ONE64, 0x3ca0000000000000ull, 0, 0x3ff0000000000001ull, 1, 0},
    /* min normal * 0.5 is an exact subnormal: no UF */
    {RV_OP_FMUL_D, 0, 0x0010000000000000ull, 0x3fe0000000000000ull, 0, 0x0008000000000000ull, 0, 0},
    /* (1 + 2^-52) * 2^-1023: a tie in the subnormal range; tiny, inexact */
    {RV_OP_FMUL_D, 0, 0x0010000000000001ull, 0x3fe0000000000000ull, 0, 0x0008000000000000ull, 3, 0},
    {RV_OP_FMUL_D, 4, 0x0010000000000001ull, 0x3fe0000000000000ull, 0, 0x0008000000000001ull, 3, 0},
    /* (1 - 2^-53) * 2^-1022 rounds up to 2^-1022 but is tiny after rounding */
    {RV_OP_FMUL_D, 0, 0x3fefffffffffffffull, 0x0010000000000000ull, 0, 0x0010000000000000ull, 3, 0},
    /* overflow: RNE to inf, RTZ to the largest finite */
    {RV_OP_FMUL_D, 0, 0x7fe0000000000000ull, 0x4000000000000000ull, 0, 0x7ff0000000000000ull, 5, 0},
    {RV_OP_FMUL_D, 1, 0x7fe0000000000000ull, 0x4000000000000000ull, 0, 0x7fefffffffffffffull, 5, 0},
    {RV_OP_FDIV_D, 0, ONE64, 0, 0, 0x7ff0000000000000ull, 8, 0},
    {RV_OP_FSQRT_D, 0, 0xbff0000000000000ull, 0, 0, QN64, 16, 0},
    {RV_OP_FSQRT_D, 0, 0x4010000000000000ull, 0, 0, 0x4000000000000000ull, 0, 0},
    /* 0 * inf + qNaN raises NV on RISC-V */
    {RV_OP_FMADD_D, 0, 0, 0x7ff0000000000000ull, QN64, QN64, 16, 0},
    {RV_OP_FMADD_D, 0, ONE64, ONE64, QN64, QN64, 0, 0},
    /* conversions to integers */
    {RV_OP_FCVT_W_S, 0, B(0x7fc00000), 0, 0, 0x7fffffffull, 16, 1},
    {RV_OP_FCVT_W_S, 0, B(0xff800000), 0, 0, 0xffffffff80000000ull, 16, 1},
    {RV_OP_FCVT_WU_S, 0, B(0xbf800000), 0, 0, 0, 16, 1},
    {RV_OP_FCVT_WU_S, 1, B(0xbe800000), 0, 0, 0, 1, 1},
    {RV_OP_FCVT_W_D, 0, 0x4004000000000000ull, 0, 0, 2, 1, 1},
    {RV_OP_FCVT_W_D, 4, 0x4004000000000000ull, 0, 0, 3, 1, 1},
    {RV_OP_FCVT_W_D, 2, 0xc004000000000000ull, 0, 0, 0xfffffffffffffffdull, 1, 1},
    {RV_OP_FCVT_WU_D, 0, 0x41e65a0bc0000000ull, 0, 0, 0xffffffffb2d05e00ull, 0, 1},
    {RV_OP_FCVT_L_D, 0, 0x43e0000000000000ull, 0, 0, 0x7fffffffffffffffull, 16, 1},
    {RV_OP_FCVT_L_D, 0, 0xc3e0000000000000ull, 0, 0, 0x8000000000000000ull, 0, 1},
    {RV_OP_FCVT_LU_D, 0, 0x7ff0000000000000ull, 0, 0, ~0ull, 16, 1},
    /* conversions from integers: 2^24 + 1 is a tie in single precision */
    {RV_OP_FCVT_S_W, 0, 0x1000001, 0, 0, B(0x4b800000), 1, 0},
    {RV_OP_FCVT_S_W, 4, 0x1000001, 0, 0, B(0x4b800001), 1, 0},
    {RV_OP_FCVT_S_WU, 0, 0xffffffffffffffffull, 0, 0, B(0x4f800000), 1, 0},
    {RV_OP_FCVT_D_L, 0, 0xffffffffffffffffull, 0, 0, 0xbff0000000000000ull, 0, 0},
    {RV_OP_FCVT_S_D, 0, 0x3690000000000000ull, 0, 0, B(0x00000000), 3, 0},   /* 2^-150: tie */
    {RV_OP_FCVT_D_S, 0, B(0x7f800001), 0, 0, QN64, 16, 0},
    /* min/max, comparisons, classification, NaN boxing */
    {RV_OP_FMIN_S, 0, B(0x00000000), B(0x80000000), 0, B(0x80000000), 0, 0},
    {RV_OP_FMAX_D, 1, 0x8000000000000000ull, 0, 0, 0, 0, 0},
    {RV_OP_FMAX_D, 1, QN64, ONE64, 0, ONE64, 0, 0},
    {RV_OP_FMAX_D, 1, 0x7ff4000000000000ull, ONE64, 0, ONE64, 16, 0},
    {RV_OP_FMIN_S, 0, B(0x7fc00001), B(0xffc00000), 0, B(0x7fc00000), 0, 0},
    {RV_OP_FEQ_S, 2, B(0x7fc00000), B(0x7fc00000), 0, 0, 0, 1},
    {RV_OP_FEQ_S, 2, B(0x7f800001), B(0x3f800000), 0, 0, 16, 1},
    {RV_OP_FEQ_D, 2, 0, 0x8000000000000000ull, 0, 1, 0, 1},
    {RV_OP_FLT_S, 1, B(0x7fc00000), B(0x3f800000), 0, 0, 16, 1},
    {RV_OP_FLE_D, 0, 0x8000000000000000ull, 0, 0, 1, 0, 1},
    {RV_OP_FLT_D, 1, 0x8000000000000000ull, 0, 0, 0, 0, 1},
    {RV_OP_FCLASS_S, 1, 0x000000003f800000ull, 0, 0, 0x200, 0, 1},
    {RV_OP_FCLASS_D, 1, 0x800fffffffffffffull, 0, 0, 0x4, 0, 1},
    {RV_OP_FCLASS_D, 1, 0x7ff0000000000001ull, 0, 0, 0x100, 0, 1},
    {RV_OP_FADD_S, 0, 0x000000003f800000ull, B(0x3f800000), 0, B(0x7fc00000), 0, 0},
    {RV_OP_FMV_X_W, 0, 0x0000000080000000ull, 0, 0, 0xffffffff80000000ull, 0, 1},
    {RV_OP_FMV_W_X, 0, 0x123456789abcdef0ull, 0, 0, B(0x9abcdef0), 0, 0},
    {RV_OP_FSGNJN_S, 0, 0x000000003f800000ull, B(0x3f800000), 0, B(0xffc00000), 0, 0},
    {RV_OP_FSGNJX_D, 2, 0xbff0000000000000ull, 0x8000000000000000ull, 0, ONE64, 0, 0},
};

static int selftest(void)
{
    static rv_cpu c;
    char what[96];
    for (size_t i = 0; i < sizeof hand / sizeof hand[0]; i++) {
        const struct vec *v = &hand[i];
        cpu_init(&c);
        c.frm = 5;                       /* invalid: static modes must not look at it */
        int exc = run(&c, v->op, v->rm, v->a, v->b, v->c);
        uint64_t got = v->in_x ? c.x[10] : c.f[10];
        snprintf(what, sizeof what, "hand[%zu] got %llx flags %x", i, (unsigned long long)got, c.fflags);
        check(exc == 0 && got == v->want && c.fflags == v->fl, what);
    }
    /* Reserved rm 5 and 6, and dynamic rm with frm >= 5: illegal, nothing changes. */
    for (unsigned rm = 5; rm <= 7; rm++)
        for (unsigned frm = 5; frm <= 7; frm++) {
            cpu_init(&c);
            c.frm = frm;
            c.f[10] = 42;
            int exc = run(&c, RV_OP_FDIV_D, rm, ONE64, 0, 0);
            snprintf(what, sizeof what, "rm %u frm %u illegal", rm, frm);
            check(exc == RV_EXC_ILLEGAL && c.f[10] == 42 && c.fflags == 0 &&
                  c.mstatus == 1ull << RV_MSTATUS_FS_SHIFT, what);
        }
    /* Dynamic rm uses frm. */
    cpu_init(&c);
    c.frm = 4;
    check(run(&c, RV_OP_FADD_S, 7, B(0x3f800000), B(0x33800000), 0) == 0 && c.f[10] == B(0x3f800001),
          "dynamic rm = RMM");
    /* Operations without an rm field run whatever frm holds. */
    cpu_init(&c);
    c.frm = 6;
    check(run(&c, RV_OP_FSGNJ_D, 0, ONE64, 0x8000000000000000ull, 0) == 0 &&
          c.f[10] == 0xbff0000000000000ull, "fsgnj with invalid frm");
    /* FS = Off: illegal for every operation, including moves. */
    cpu_init(&c);
    c.mstatus = 0;
    check(run(&c, RV_OP_FMV_X_D, 0, ONE64, 0, 0) == RV_EXC_ILLEGAL && c.x[10] == 0, "FS off");
    /* Success marks FS dirty and sets SD; fflags accumulate. */
    cpu_init(&c);
    c.fflags = RV_FFLAG_DZ;
    check(run(&c, RV_OP_FADD_S, 0, B(0x3f800000), B(0x33800000), 0) == 0 &&
          (c.mstatus & RV_MSTATUS_FS) == RV_MSTATUS_FS && (c.mstatus & RV_MSTATUS_SD) &&
          c.fflags == (RV_FFLAG_DZ | RV_FFLAG_NX), "dirty + accumulate");
    /* x0 as destination stays zero; the flags are still raised. */
    cpu_init(&c);
    rv_insn in = {.op = RV_OP_FCVT_W_D, .rd = 0, .rs1 = 1, .len = 4, .rm = 0};
    c.f[1] = QN64;
    check(rv_fp_exec(&c, &in) == 0 && c.x[0] == 0 && c.fflags == RV_FFLAG_NV, "x0 destination");
    in.op = RV_OP_FMV_X_D;
    check(rv_fp_exec(&c, &in) == 0 && c.x[0] == 0, "fmv.x.d to x0");
    /* Not an F/D operation. */
    cpu_init(&c);
    check(run(&c, RV_OP_ADD, 0, 0, 0, 0) == RV_EXC_ILLEGAL, "non-FP op");
    printf("selftest %zu hand vectors, failures %d\n", sizeof hand / sizeof hand[0], failures);
    return failures != 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--selftest"))
        return selftest();
    char line[256], mn[32];
    unsigned long long a, b, c, want, n = 0, bad = 0;
    unsigned rm, frm, want_fl;
    while (fgets(line, sizeof line, stdin)) {
        if (sscanf(line, "%31s %u %u %llx %llx %llx %llx %x", mn, &rm, &frm, &a, &b, &c, &want,
                   &want_fl) != 8)
            continue;
        int op = lookup(mn);
        if (op < 0) {
            printf("UNKNOWN %s", line);
            bad++;
            continue;
        }
        static rv_cpu cpu;
        memset(&cpu, 0, sizeof cpu);
        cpu.mstatus = 1ull << RV_MSTATUS_FS_SHIFT;             /* FS = Initial */
        cpu.frm = frm;
        cpu.f[1] = a; cpu.f[2] = b; cpu.f[3] = c;
        cpu.x[1] = a;
        cpu.f[10] = 0x5555555555555555ull;
        cpu.x[10] = 0x5555555555555555ull;
        rv_insn in = {.op = (uint16_t)op, .rd = 10, .rs1 = 1, .rs2 = 2, .rs3 = 3, .len = 4, .rm = (uint8_t)rm};
        int exc = rv_fp_exec(&cpu, &in);
        uint64_t got = writes_x(mn) ? cpu.x[10] : cpu.f[10];
        n++;
        if (exc || got != want || cpu.fflags != want_fl ||
            (cpu.mstatus & RV_MSTATUS_FS) != RV_MSTATUS_FS || !(cpu.mstatus & RV_MSTATUS_SD)) {
            bad++;
            if (bad <= 200)
                printf("MISMATCH %s %u %u %llx %llx %llx want %llx %x got %llx %x exc %d\n", mn, rm, frm,
                       a, b, c, want, want_fl, (unsigned long long)got, cpu.fflags, exc);
        }
    }
    printf("compared %llu mismatches %llu\n", n, bad);
    return bad != 0;
}
