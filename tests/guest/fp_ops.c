/* fp_ops.c — riscv64 guest program for differential FPU tests.
 *
 * Runs every F/D operation (except loads/stores) over edge-case and
 * pseudo-random operands in all five static rounding modes and with the
 * dynamic mode (frm set by fsrm), and prints one line per operation:
 *
 *     <mnemonic> <rm> <frm> <a> <b> <c> <result> <fflags>
 *
 * all numbers in hex; rm is the instruction's rm field (7 = dynamic; 0 for
 * operations without one).  f operands and results are raw 64-bit register
 * contents (single operands are sometimes deliberately not NaN-boxed);
 * integer operands and results are x registers.  The output depends only on
 * the FPU's semantics, so it can be compared between qemu-riscv64, vmpy and
 * the native harness.
 *
 * Usage: fp_ops [group [random-count [seed]]]   group: all arith fma cvt misc
 * Build: riscv64-linux-gnu-gcc -static -O2 -o fp_ops fp_ops.c */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint64_t u64;

static double b2d(u64 v) { double d; memcpy(&d, &v, 8); return d; }
static u64 d2b(double d) { u64 v; memcpy(&v, &d, 8); return v; }

static inline void set_frm(unsigned frm) { __asm__ volatile("fsrm %0" : : "r"(frm)); }
static inline void clr_flags(void) { __asm__ volatile("fsflags zero"); }
static inline unsigned get_flags(void) { unsigned v; __asm__ volatile("frflags %0" : "=r"(v)); return v; }

/* One switch arm per rounding-mode field: STMT(mn, mode name, mode number). */
#define RM_SWITCH(rm, STMT, mn) switch (rm) { \
    case 0: STMT(mn, "rne", "0"); break; case 1: STMT(mn, "rtz", "1"); break; \
    case 2: STMT(mn, "rdn", "2"); break; case 3: STMT(mn, "rup", "3"); break; \
    case 4: STMT(mn, "rmm", "4"); break; default: STMT(mn, "dyn", "7"); break; }

#define A_FFF(mn, M, N) __asm__ volatile(mn " %0,%1,%2," M : "=f"(r) : "f"(x), "f"(y))
#define A_FFFF(mn, M, N) __asm__ volatile(mn " %0,%1,%2,%3," M : "=f"(r) : "f"(x), "f"(y), "f"(z))
#define A_FF(mn, M, N) __asm__ volatile(mn " %0,%1," M : "=f"(r) : "f"(x))
#define A_XF(mn, M, N) __asm__ volatile(mn " %0,%1," M : "=r"(r) : "f"(x))
#define A_FX(mn, M, N) __asm__ volatile(mn " %0,%1," M : "=f"(r) : "r"(x))
/* Forms binutils 2.40 only accepts without rm; mn is "funct7, rd, rs1, rs2". */
#define A_FF_INSN(mn, M, N) __asm__ volatile(".insn r 0x53, " N ", " mn : "=f"(r) : "f"(x))
#define A_FX_INSN(mn, M, N) __asm__ volatile(".insn r 0x53, " N ", " mn : "=f"(r) : "r"(x))

#define FN(fn) static u64 fn(int rm, u64 a, u64 b, u64 c)
#define F_FFF_RM(fn, mn) FN(fn) { double x = b2d(a), y = b2d(b), r; (void)c; \
    RM_SWITCH(rm, A_FFF, mn) return d2b(r); }
#define F_FFFF_RM(fn, mn) FN(fn) { double x = b2d(a), y = b2d(b), z = b2d(c), r; \
    RM_SWITCH(rm, A_FFFF, mn) return d2b(r); }
#define F_FF_RM(fn, mn, A) FN(fn) { double x = b2d(a), r; (void)b; (void)c; \
    RM_SWITCH(rm, A, mn) return d2b(r); }
#define F_XF_RM(fn, mn) FN(fn) { double x = b2d(a); u64 r; (void)b; (void)c; \
    RM_SWITCH(rm, A_XF, mn) return r; }
#define F_FX_RM(fn, mn, A) FN(fn) { u64 x = a; double r; (void)b; (void)c; \
    RM_SWITCH(rm, A, mn) return d2b(r); }
#define F_FFF(fn, mn) FN(fn) { double x = b2d(a), y = b2d(b), r; (void)rm; (void)c; \
    __asm__ volatile(mn " %0,%1,%2" : "=f"(r) : "f"(x), "f"(y)); return d2b(r); }
#define F_XFF(fn, mn) FN(fn) { double x = b2d(a), y = b2d(b); u64 r; (void)rm; (void)c; \
    __asm__ volatile(mn " %0,%1,%2" : "=r"(r) : "f"(x), "f"(y)); return r; }
#define F_XF(fn, mn) FN(fn) { double x = b2d(a); u64 r; (void)rm; (void)b; (void)c; \
    __asm__ volatile(mn " %0,%1" : "=r"(r) : "f"(x)); return r; }
#define F_FX(fn, mn) FN(fn) { u64 x = a; double r; (void)rm; (void)b; (void)c; \
    __asm__ volatile(mn " %0,%1" : "=f"(r) : "r"(x)); return d2b(r); }

/* Operand kinds. */
enum { S = 1, D = 2, X = 3 };

/* X-macro: form, function, mnemonic, operand kind, operand count, has rm, group */
#define OPS(O) \
    O(F_FFFF_RM, fmadd_s, "fmadd.s", S, 3, 1, "fma") O(F_FFFF_RM, fmsub_s, "fmsub.s", S, 3, 1, "fma") \
    O(F_FFFF_RM, fnmsub_s, "fnmsub.s", S, 3, 1, "fma") O(F_FFFF_RM, fnmadd_s, "fnmadd.s", S, 3, 1, "fma") \
    O(F_FFFF_RM, fmadd_d, "fmadd.d", D, 3, 1, "fma") O(F_FFFF_RM, fmsub_d, "fmsub.d", D, 3, 1, "fma") \
    O(F_FFFF_RM, fnmsub_d, "fnmsub.d", D, 3, 1, "fma") O(F_FFFF_RM, fnmadd_d, "fnmadd.d", D, 3, 1, "fma") \
    O(F_FFF_RM, fadd_s, "fadd.s", S, 2, 1, "arith") O(F_FFF_RM, fsub_s, "fsub.s", S, 2, 1, "arith") \
    O(F_FFF_RM, fmul_s, "fmul.s", S, 2, 1, "arith") O(F_FFF_RM, fdiv_s, "fdiv.s", S, 2, 1, "arith") \
    O(F_FFF_RM, fadd_d, "fadd.d", D, 2, 1, "arith") O(F_FFF_RM, fsub_d, "fsub.d", D, 2, 1, "arith") \
    O(F_FFF_RM, fmul_d, "fmul.d", D, 2, 1, "arith") O(F_FFF_RM, fdiv_d, "fdiv.d", D, 2, 1, "arith") \
    O(F_FF_RM1, fsqrt_s, "fsqrt.s", S, 1, 1, "arith") O(F_FF_RM1, fsqrt_d, "fsqrt.d", D, 1, 1, "arith") \
    O(F_FFF, fsgnj_s, "fsgnj.s", S, 2, 0, "misc") O(F_FFF, fsgnjn_s, "fsgnjn.s", S, 2, 0, "misc") \
    O(F_FFF, fsgnjx_s, "fsgnjx.s", S, 2, 0, "misc") O(F_FFF, fmin_s, "fmin.s", S, 2, 0, "misc") \
    O(F_FFF, fmax_s, "fmax.s", S, 2, 0, "misc") O(F_XFF, feq_s, "feq.s", S, 2, 0, "misc") \
    O(F_XFF, flt_s, "flt.s", S, 2, 0, "misc") O(F_XFF, fle_s, "fle.s", S, 2, 0, "misc") \
    O(F_XF, fclass_s, "fclass.s", S, 1, 0, "misc") O(F_XF, fmv_x_w, "fmv.x.w", S, 1, 0, "misc") \
    O(F_FX, fmv_w_x, "fmv.w.x", X, 1, 0, "misc") \
    O(F_FFF, fsgnj_d, "fsgnj.d", D, 2, 0, "misc") O(F_FFF, fsgnjn_d, "fsgnjn.d", D, 2, 0, "misc") \
    O(F_FFF, fsgnjx_d, "fsgnjx.d", D, 2, 0, "misc") O(F_FFF, fmin_d, "fmin.d", D, 2, 0, "misc") \
    O(F_FFF, fmax_d, "fmax.d", D, 2, 0, "misc") O(F_XFF, feq_d, "feq.d", D, 2, 0, "misc") \
    O(F_XFF, flt_d, "flt.d", D, 2, 0, "misc") O(F_XFF, fle_d, "fle.d", D, 2, 0, "misc") \
    O(F_XF, fclass_d, "fclass.d", D, 1, 0, "misc") O(F_XF, fmv_x_d, "fmv.x.d", D, 1, 0, "misc") \
    O(F_FX, fmv_d_x, "fmv.d.x", X, 1, 0, "misc") \
    O(F_XF_RM, fcvt_w_s, "fcvt.w.s", S, 1, 1, "cvt") O(F_XF_RM, fcvt_wu_s, "fcvt.wu.s", S, 1, 1, "cvt") \
    O(F_XF_RM, fcvt_l_s, "fcvt.l.s", S, 1, 1, "cvt") O(F_XF_RM, fcvt_lu_s, "fcvt.lu.s", S, 1, 1, "cvt") \
    O(F_XF_RM, fcvt_w_d, "fcvt.w.d", D, 1, 1, "cvt") O(F_XF_RM, fcvt_wu_d, "fcvt.wu.d", D, 1, 1, "cvt") \
    O(F_XF_RM, fcvt_l_d, "fcvt.l.d", D, 1, 1, "cvt") O(F_XF_RM, fcvt_lu_d, "fcvt.lu.d", D, 1, 1, "cvt") \
    O(F_FX_RM1, fcvt_s_w, "fcvt.s.w", X, 1, 1, "cvt") O(F_FX_RM1, fcvt_s_wu, "fcvt.s.wu", X, 1, 1, "cvt") \
    O(F_FX_RM1, fcvt_s_l, "fcvt.s.l", X, 1, 1, "cvt") O(F_FX_RM1, fcvt_s_lu, "fcvt.s.lu", X, 1, 1, "cvt") \
    O(F_FX_RM1, fcvt_d_l, "fcvt.d.l", X, 1, 1, "cvt") O(F_FX_RM1, fcvt_d_lu, "fcvt.d.lu", X, 1, 1, "cvt") \
    O(F_FF_RM1, fcvt_s_d, "fcvt.s.d", D, 1, 1, "cvt") \
    O(F_FF_INSN1, fcvt_d_s, "0x21, %0, %1, x0", S, 1, 1, "cvt") \
    O(F_FX_INSN1, fcvt_d_w, "0x69, %0, %1, x0", X, 1, 1, "cvt") O(F_FX_INSN1, fcvt_d_wu, "0x69, %0, %1, x1", X, 1, 1, "cvt")

#define F_FF_RM1(fn, mn) F_FF_RM(fn, mn, A_FF)
#define F_FX_RM1(fn, mn) F_FX_RM(fn, mn, A_FX)
#define F_FF_INSN1(fn, mn) F_FF_RM(fn, mn, A_FF_INSN)
#define F_FX_INSN1(fn, mn) F_FX_RM(fn, mn, A_FX_INSN)

#define DEFINE(form, fn, mn, kind, n, hasrm, group) form(fn, mn)
OPS(DEFINE)

typedef struct op_desc {
    const char *name;
    u64 (*fn)(int rm, u64 a, u64 b, u64 c);
    int kind, nargs, has_rm;
    const char *group;
} op_desc;

#define DESC(form, fn, mn, kind, n, hasrm, group) {#fn, fn, kind, n, hasrm, group},
static op_desc ops[] = { OPS(DESC) };

/* ---- operands ------------------------------------------------------------------ */

static u64 rng_state = 0x9e3779b97f4a7c15ull;

static u64 rnd(void)
{
    u64 x = rng_state;
    x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
    rng_state = x;
    return x * 0x2545f4914f6cdd1dull;
}

#define BOX(v) (0xffffffff00000000ull | (v))

static const u64 edge_s[] = {
    BOX(0x00000000), BOX(0x80000000), BOX(0x00000001), BOX(0x80000001), BOX(0x007fffff),
    BOX(0x807fffff), BOX(0x00800000), BOX(0x80800000), BOX(0x00800001), BOX(0x00400000),
    BOX(0x3f800000), BOX(0xbf800000), BOX(0x3f800001), BOX(0x3fffffff), BOX(0x40000000),
    BOX(0x3fc00000), BOX(0xbfc00000), BOX(0x40400000), BOX(0x3f000000), BOX(0x33800000),
    BOX(0x7f7fffff), BOX(0xff7fffff), BOX(0x7f000000), BOX(0x7f800000), BOX(0xff800000),
    BOX(0x7fc00000), BOX(0x7fa00000), BOX(0xffc00001), BOX(0xff800001), BOX(0x4f000000),
    BOX(0xcf000000), BOX(0x5f000000), BOX(0x5f800000), BOX(0xdf000000), BOX(0x4effffff),
    BOX(0x40200000), BOX(0x3eaaaaab),
    0x000000003f800000ull, 0x7ff8000000000000ull,       /* not NaN-boxed */
};

static const u64 edge_d[] = {
    0, 0x8000000000000000, 1, 0x8000000000000001, 0x000fffffffffffff, 0x800fffffffffffff,
    0x0010000000000000, 0x8010000000000000, 0x0010000000000001, 0x0008000000000000,
    0x3ff0000000000000, 0xbff0000000000000, 0x3ff0000000000001, 0x3fffffffffffffff,
    0x4000000000000000, 0x3ff8000000000000, 0xbff8000000000000, 0x4008000000000000,
    0x3fe0000000000000, 0x3ca0000000000000, 0x7fefffffffffffff, 0xffefffffffffffff,
    0x7fe0000000000000, 0x7ff0000000000000, 0xfff0000000000000, 0x7ff8000000000000,
    0x7ff4000000000000, 0xfff8000000000001, 0xfff0000000000001, 0x41e0000000000000,
    0xc1e0000000000000, 0x43e0000000000000, 0x43f0000000000000, 0xc3e0000000000000,
    0x41dfffffffc00000, 0x41efffffffe00000, 0x41e0000000100000, 0xc1e0000000200000,
    0x3fd5555555555555, 0x36a0000000000000, 0x47efffffe0000000, 0x47efffff00000000,
    0x3810000000000000, 0x380fffffe0000000, 0x36a0000000000001,
};

static const u64 edge_x[] = {
    0, 1, 2, 3, ~0ull, 0x7fffffff, 0x80000000, 0xffffffff, 0x100000000, 0xffffffff80000000,
    0x1000001, 0x1000003, 0xfffffffffefffffd, 0x20000000000001, 0x1fffffffffffff,
    0x7fffffffffffffff, 0x8000000000000000, 0x8000000000000001, 0xfffffffffffffbff,
    0x123456789abcdef0, 0x80000001, 0xffffff7f, 0x7fffffc0, 0xfffffffffffff800,
    0xffffffffffffffc0, 0xfedcba9876543210,
};

/* Smaller edge sets for the three-operand forms. */
static const int fma_edge_idx[] = {0, 1, 2, 6, 10, 11, 15, 20, 23, 24, 25, 26};

#define N_OF(a) (int)(sizeof(a) / sizeof((a)[0]))

/* A random float of precision p, exponent width ew: biased towards the
 * places rounding gets interesting (ties, overflow, subnormals). */
static u64 rand_float(int p, int ew)
{
    u64 r = rnd(), frac = rnd() & ((1ull << (p - 1)) - 1);
    int bias = (1 << (ew - 1)) - 1, e;
    switch (r % 8) {
    case 0: e = (int)(rnd() % (2u << (ew - 1))); break;                     /* anywhere */
    case 1: e = bias - 2 * p + (int)(rnd() % (4u * p)); break;              /* near 1 */
    case 2: e = (int)(rnd() % (2u * p)); break;                             /* subnormal/tiny */
    case 3: e = (1 << ew) - 2 - (int)(rnd() % 4); break;                    /* huge */
    case 4: e = bias / 2 + (int)(rnd() % 8); break;                         /* sqrt(tiny) region */
    case 5: e = bias + bias / 2 - (int)(rnd() % 8); break;
    default: e = bias - 8 + (int)(rnd() % 80); break;                       /* integers */
    }
    if (e < 0) e = 0;
    if (e > (1 << ew) - 1) e = (1 << ew) - 1;
    if (r & 0x100)                                       /* few significant bits: ties */
        frac &= ~0ull << (rnd() % (unsigned)p);
    if ((r & 0xe00) == 0)
        frac |= (1ull << (p - 1)) - 1 - (rnd() & 7);       /* just below a power of two */
    u64 v = ((u64)e << (p - 1)) | frac | ((r >> 20) & 1ull) << (p - 1 + ew);
    return v;
}

static u64 rand_operand(int kind)
{
    u64 r = rnd();
    if (r % 16 == 0) {
        if (kind == S) return edge_s[rnd() % N_OF(edge_s)];
        if (kind == D) return edge_d[rnd() % N_OF(edge_d)];
        return edge_x[rnd() % N_OF(edge_x)];
    }
    if (kind == S)
        return BOX(rand_float(24, 8));
    if (kind == D)
        return rand_float(53, 11);
    u64 v = rnd() >> (rnd() % 64);                /* all bit lengths */
    return r & 0x10 ? 0 - v : v;
}

static const u64 *edges_of(int kind, int *n)
{
    if (kind == S) { *n = N_OF(edge_s); return edge_s; }
    if (kind == D) { *n = N_OF(edge_d); return edge_d; }
    *n = N_OF(edge_x);
    return edge_x;
}

/* ---- driver ------------------------------------------------------------------------ */

static unsigned long long count;

static void run_one(const op_desc *o, int rm, u64 a, u64 b, u64 c)
{
    unsigned frm = rm == 7 ? (unsigned)(count % 5) : (unsigned)((count * 3 + 1) % 5);
    set_frm(frm);
    clr_flags();
    u64 r = o->fn(rm, a, b, c);
    unsigned fl = get_flags();
    char name[16];                        /* function names are mnemonics with '_' for '.' */
    size_t i;
    for (i = 0; o->name[i] && i < sizeof name - 1; i++)
        name[i] = o->name[i] == '_' ? '.' : o->name[i];
    name[i] = 0;
    printf("%s %d %u %llx %llx %llx %llx %x\n", name, rm, frm, (unsigned long long)a,
           (unsigned long long)b, (unsigned long long)c, (unsigned long long)r, fl);
    count++;
}

static void run_op(const op_desc *o, int nrandom)
{
    static const int rms[] = {0, 1, 2, 3, 4, 7};
    int nrm = o->has_rm ? 6 : 1, n;
    const u64 *e = edges_of(o->kind, &n);
    for (int k = 0; k < nrm; k++) {
        int rm = rms[k];
        if (o->nargs == 1) {
            for (int i = 0; i < n; i++) run_one(o, rm, e[i], 0, 0);
        } else if (o->nargs == 2) {
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++) run_one(o, rm, e[i], e[j], 0);
        } else {
            int m = N_OF(fma_edge_idx);
            for (int i = 0; i < m; i++)
                for (int j = 0; j < m; j++)
                    for (int l = 0; l < m; l++)
                        run_one(o, rm, e[fma_edge_idx[i]], e[fma_edge_idx[j]], e[fma_edge_idx[l]]);
        }
        for (int i = 0; i < nrandom; i++) {
            u64 a = rand_operand(o->kind), b = rand_operand(o->kind), c = rand_operand(o->kind);
            if (o->nargs == 3 && rnd() % 4 == 0) {
                /* c near -a*b so the sum cancels: exercises the exact product */
                int dbl = o->kind == D;
                double x = b2d(a), y = b2d(b), p;
                if (dbl) { __asm__ volatile("fmul.d %0,%1,%2,rne" : "=f"(p) : "f"(x), "f"(y)); c = d2b(p) ^ (1ull << 63); }
                else { __asm__ volatile("fmul.s %0,%1,%2,rne" : "=f"(p) : "f"(x), "f"(y)); c = d2b(p) ^ (1ull << 31); }
                c ^= rnd() & 3;
            }
            run_one(o, rm, a, b, c);
        }
    }
}

int main(int argc, char **argv)
{
    const char *group = argc > 1 ? argv[1] : "all";
    int nrandom = argc > 2 ? atoi(argv[2]) : 300;
    if (argc > 3)
        rng_state ^= strtoull(argv[3], NULL, 0) * 0x100000001b3ull;
    for (int i = 0; i < N_OF(ops); i++)
        if (!strcmp(group, "all") || !strcmp(group, ops[i].group))
            run_op(&ops[i], ops[i].nargs == 3 ? nrandom * 3 : nrandom);
    fprintf(stderr, "%llu operations\n", count);
    return 0;
}
