/* isa.c — RISC-V 64 as the core sees it: register names, reset state, the
 * vm_isa descriptor and the Linux syscall ABI. */
#include "rv.h"
#include "../linux_abi.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Register numbering for vm_cpu_reg_*: x0..x31, pc, f0..f31, then CSRs by
 * their 12-bit number. */
enum { REG_X0 = 0, REG_PC = 32, REG_F0 = 33, REG_CSR0 = 65, REG_COUNT = REG_CSR0 + 4096 };

static const char *const xnames[32] = {
    "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3", "a4", "a5",
    "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6",
};
static const char *const fnames[32] = {
    "ft0", "ft1", "ft2", "ft3", "ft4", "ft5", "ft6", "ft7", "fs0", "fs1", "fa0", "fa1", "fa2", "fa3", "fa4", "fa5",
    "fa6", "fa7", "fs2", "fs3", "fs4", "fs5", "fs6", "fs7", "fs8", "fs9", "fs10", "fs11", "ft8", "ft9", "ft10", "ft11",
};

static const char *rv_reg_name(int reg)
{
    if (reg >= REG_X0 && reg < REG_X0 + 32)
        return xnames[reg];
    if (reg == REG_PC)
        return "pc";
    if (reg >= REG_F0 && reg < REG_F0 + 32)
        return fnames[reg - REG_F0];
    if (reg >= REG_CSR0 && reg < REG_COUNT)
        return rv_csr_name((unsigned)(reg - REG_CSR0));
    return NULL;
}

/* Accepts ABI names, x0..x31, f0..f31, fp (= s0), pc and CSR names. */
static int rv_reg_lookup(const char *name)
{
    if (!name || !*name)
        return -1;
    for (int i = 0; i < 32; i++) {
        if (!strcmp(name, xnames[i]))
            return REG_X0 + i;
        if (!strcmp(name, fnames[i]))
            return REG_F0 + i;
    }
    if (!strcmp(name, "pc"))
        return REG_PC;
    if (!strcmp(name, "fp"))
        return REG_X0 + 8;
    if ((name[0] == 'x' || name[0] == 'f') && name[1] >= '0' && name[1] <= '9') {
        char *end;
        long n = strtol(name + 1, &end, 10);
        if (!*end && n >= 0 && n < 32 && !(name[1] == '0' && name[2]))
            return (name[0] == 'x' ? REG_X0 : REG_F0) + (int)n;
    }
    int csr = rv_csr_lookup(name);
    return csr >= 0 ? REG_CSR0 + csr : -1;
}

static int rv_reg_read(vm_cpu *vc, int reg, uint64_t *v)
{
    rv_cpu *c = rv_cpu_of(vc);
    if (reg >= REG_X0 && reg < REG_X0 + 32)
        *v = c->x[reg];
    else if (reg == REG_PC)
        *v = c->pc;
    else if (reg >= REG_F0 && reg < REG_F0 + 32)
        *v = c->f[reg - REG_F0];
    else if (reg >= REG_CSR0 && reg < REG_COUNT) {
        /* The debugger sees every CSR, whatever the current privilege. */
        int saved = c->priv;
        c->priv = RV_PRIV_M;
        int err = rv_csr_read(c, (unsigned)(reg - REG_CSR0), v);
        c->priv = saved;
        return err ? VM_EINVAL : 0;
    } else
        return VM_EINVAL;
    return 0;
}

static int rv_reg_write(vm_cpu *vc, int reg, uint64_t v)
{
    rv_cpu *c = rv_cpu_of(vc);
    if (reg > REG_X0 && reg < REG_X0 + 32)
        c->x[reg] = v;
    else if (reg == REG_X0)
        return 0;                         /* x0 is hard-wired to zero */
    else if (reg == REG_PC)
        c->pc = v;
    else if (reg >= REG_F0 && reg < REG_F0 + 32)
        c->f[reg - REG_F0] = v;
    else if (reg >= REG_CSR0 && reg < REG_COUNT) {
        int saved = c->priv;
        c->priv = RV_PRIV_M;
        int err = rv_csr_write(c, (unsigned)(reg - REG_CSR0), v);
        c->priv = saved;
        rv_tlb_sync(c);                   /* the write ran as M: back to the real context */
        return err ? VM_EINVAL : 0;
    } else
        return VM_EINVAL;
    return 0;
}

static uint64_t rv_get_pc(const vm_cpu *c) { return ((const rv_cpu *)c)->pc; }
static void rv_set_pc(vm_cpu *c, uint64_t pc) { rv_cpu_of(c)->pc = pc; }

/* misa: RV64 (MXL=2) with I M A F D C S U. */
#define MISA_RV64GC ((2ull << 62) | (1u << ('I' - 'A')) | (1u << ('M' - 'A')) | (1u << ('A' - 'A')) | \
                     (1u << ('F' - 'A')) | (1u << ('D' - 'A')) | (1u << ('C' - 'A')) | \
                     (1u << ('S' - 'A')) | (1u << ('U' - 'A')))

static void rv_cpu_reset(vm_cpu *vc)
{
    rv_cpu *c = rv_cpu_of(vc);
    memset(c->x, 0, sizeof c->x);
    memset(c->f, 0, sizeof c->f);
    c->pc = 0;
    c->fflags = c->frm = 0;
    c->reservation = ~0ull;
    c->priv = RV_PRIV_M;
    c->misa = MISA_RV64GC;
    c->mhartid = (uint64_t)vc->index;
    c->mtimecmp = c->stimecmp = ~0ull;     /* no timer interrupt before software sets one */
    /* UXL = SXL = 2 (64-bit); the FPU starts usable (FS = Initial) so that a
     * bare machine can run FP code without firmware setting it up. */
    c->mstatus = (2ull << 32) | (2ull << 34) | (1ull << RV_MSTATUS_FS_SHIFT);
    vm_tlb_flush_cpu(vc);
}

static int rv_disasm_bytes(uint64_t pc, const uint8_t *bytes, size_t avail, char *buf, size_t buflen)
{
    if (avail < 2)
        return 0;
    uint32_t bits = (uint32_t)bytes[0] | (uint32_t)bytes[1] << 8;
    if ((bits & 3) == 3) {
        if (avail < 4)
            return 0;
        bits |= (uint32_t)bytes[2] << 16 | (uint32_t)bytes[3] << 24;
    }
    return rv_disasm(pc, bits, buf, buflen);
}

/* ---- Linux syscall ABI: number in a7, arguments a0..a5, result in a0 ---- */
static uint64_t abi_sysno(vm_cpu *c) { return rv_cpu_of(c)->x[17]; }
static uint64_t abi_arg(vm_cpu *c, int i) { return rv_cpu_of(c)->x[10 + i]; }
static void abi_set_ret(vm_cpu *c, uint64_t v) { rv_cpu_of(c)->x[10] = v; }
static void abi_set_sp(vm_cpu *c, uint64_t v) { rv_cpu_of(c)->x[2] = v; }
static void abi_set_tp(vm_cpu *c, uint64_t v) { rv_cpu_of(c)->x[4] = v; }
static void abi_enter_user(vm_cpu *c) { rv_cpu_of(c)->priv = RV_PRIV_U; rv_tlb_sync(rv_cpu_of(c)); }
static uint64_t abi_get_sp(vm_cpu *c) { return rv_cpu_of(c)->x[2]; }

/* Linux's struct sigcontext for riscv64: sc_regs (pc, then x1..x31), then
 * the F/D state (f0..f31 as 64-bit words, fcsr) in a union sized for Q. */
enum { SC_FREGS = 32 * 8, SC_FCSR = SC_FREGS + 32 * 8, SC_SIZE = SC_FREGS + 528 };

static void abi_save_context(vm_cpu *vc, uint64_t pc, uint8_t *mc)
{
    rv_cpu *c = rv_cpu_of(vc);
    memset(mc, 0, SC_SIZE);
    vm_host_store(mc, 8, pc);
    for (int i = 1; i < 32; i++)
        vm_host_store(mc + 8 * i, 8, c->x[i]);
    for (int i = 0; i < 32; i++)
        vm_host_store(mc + SC_FREGS + 8 * i, 8, c->f[i]);
    vm_host_store(mc + SC_FCSR, 4, (uint64_t)(c->fflags | c->frm << 5));
}

static void abi_restore_context(vm_cpu *vc, const uint8_t *mc)
{
    rv_cpu *c = rv_cpu_of(vc);
    c->pc = vm_host_load(mc, 8);
    for (int i = 1; i < 32; i++)
        c->x[i] = vm_host_load(mc + 8 * i, 8);
    for (int i = 0; i < 32; i++)
        c->f[i] = vm_host_load(mc + SC_FREGS + 8 * i, 8);
    uint32_t fcsr = (uint32_t)vm_host_load(mc + SC_FCSR, 4);
    c->fflags = fcsr & 0x1f;
    c->frm = (fcsr >> 5) & 7;
    c->reservation = ~0ull;
}

static void abi_enter_signal_handler(vm_cpu *vc, uint64_t handler, uint64_t sp, uint64_t ret,
                                     uint64_t a0, uint64_t a1, uint64_t a2)
{
    rv_cpu *c = rv_cpu_of(vc);
    c->pc = handler;
    c->x[1] = ret;
    c->x[2] = sp;
    c->x[10] = a0;
    c->x[11] = a1;
    c->x[12] = a2;
    c->reservation = ~0ull;
}

/* li a7, 139 (rt_sigreturn); ecall */
static const uint8_t sigreturn_code[8] = { 0x93, 0x08, 0xb0, 0x08, 0x73, 0x00, 0x00, 0x00 };

static const struct vm_linux_abi rv_linux_abi = {
    .elf_machine = 243, /* EM_RISCV */
    .sysno = abi_sysno, .arg = abi_arg, .set_ret = abi_set_ret,
    .set_sp = abi_set_sp, .set_tp = abi_set_tp, .enter_user = abi_enter_user,
    /* struct ucontext: 40 bytes, the 128-byte signal mask, then
     * uc_mcontext aligned to 16 (its F/D union is). */
    .mcontext_offset = 176, .mcontext_size = SC_SIZE,
    .get_sp = abi_get_sp, .save_context = abi_save_context, .restore_context = abi_restore_context,
    .enter_signal_handler = abi_enter_signal_handler,
    .sigreturn_code = sigreturn_code, .sigreturn_code_size = sizeof sigreturn_code,
    /* AT_HWCAP: one bit per single-letter extension, as Linux reports it. */
    .hwcap = (1u << ('I' - 'A')) | (1u << ('M' - 'A')) | (1u << ('A' - 'A')) |
             (1u << ('F' - 'A')) | (1u << ('D' - 'A')) | (1u << ('C' - 'A')),
    .platform = NULL,
};

extern const vm_engine rv_engine_interp, rv_engine_jit, rv_engine_auto;
/* The first is the default: "auto" (tiered JIT) when asmjit is built in. */
#ifdef VMPY_HAVE_ASMJIT
static const vm_engine *const rv_engines[] = { &rv_engine_auto, &rv_engine_interp, &rv_engine_jit, NULL };
#else
static const vm_engine *const rv_engines[] = { &rv_engine_interp, &rv_engine_jit, &rv_engine_auto, NULL };
#endif

const vm_isa vm_isa_riscv64 = {
    .name = "riscv64",
    .cpu_size = sizeof(rv_cpu),
    .cpu_reset = rv_cpu_reset,
    .nregs = REG_COUNT,
    .reg_name = rv_reg_name,
    .reg_lookup = rv_reg_lookup,
    .reg_read = rv_reg_read,
    .reg_write = rv_reg_write,
    .get_pc = rv_get_pc,
    .set_pc = rv_set_pc,
    .disasm = rv_disasm_bytes,
    .translate = rv_mmu_translate,
    .phys_check = rv_pmp_phys_check,
    .engines = rv_engines,
    .linux_abi = &rv_linux_abi,
};
