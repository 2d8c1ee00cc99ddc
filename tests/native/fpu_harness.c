/* fpu_harness.c — runs csrc/core/riscv64/fpu.c natively over vectors printed
 * by tests/guest/fp_ops.c (under qemu-riscv64, the oracle) and reports every
 * line where vmpy's result or fflags differ.
 *
 * Input lines:  <mnemonic> <rm> <frm> <a> <b> <c> <result> <fflags>   (hex)
 * Output:       one "MISMATCH ..." line per difference, then
 *               "compared N mismatches M"
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

int main(void)
{
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
