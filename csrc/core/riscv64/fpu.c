/* fpu.c — RISC-V F and D extensions, exact to IEEE 754-2008 as the RISC-V
 * unprivileged spec (chapters "F" and "D") defines them.
 *
 * Two paths compute the same results:
 *  - an integer "softfloat" written here, exact in every rounding mode
 *    (including RMM, which x86 lacks) and for every flag; it is the reference
 *    and handles every case the fast path declines;
 *  - on x86-64, add/sub/mul/div/sqrt/fma run on the host's SSE unit with
 *    MXCSR set to the guest's rounding mode (RNE, RTZ, RDN, RUP).  x86 SSE
 *    detects tininess after rounding like RISC-V, so flags map one to one;
 *    only NaN results differ (x86 propagates payloads) and are made
 *    canonical.  In RNE, add/sub/mul/div/sqrt away from the subnormal and
 *    overflow ranges skip MXCSR altogether (see FAST_RNE).
 * RMM always uses softfloat, except sqrt (a root is never a tie).
 * tests/test_fpu.py checks both paths against qemu-riscv64.
 *
 * Values travel as raw bits (uint64_t; singles in the low 32 bits) so no
 * host FP operation sneaks in outside the fast path. */
#include "rv.h"

#include <string.h>

__extension__ typedef unsigned __int128 u128;

enum { RM_RNE = 0, RM_RTZ = 1, RM_RDN = 2, RM_RUP = 3, RM_RMM = 4, RM_DYN = 7 };

/* A binary interchange format: precision p (with the hidden bit), exponent
 * bias, and the total width. */
typedef struct fp_fmt {
    int p, bias, bits;
} fp_fmt;

static const fp_fmt F32 = {24, 127, 32};
static const fp_fmt F64 = {53, 1023, 64};

#define CNAN32 0x7fc00000ull
#define CNAN64 0x7ff8000000000000ull

static inline uint64_t canon_nan(const fp_fmt *f) { return f->bits == 32 ? CNAN32 : CNAN64; }
static inline uint64_t sign_bit(const fp_fmt *f) { return 1ull << (f->bits - 1); }
static inline uint64_t inf_bits(const fp_fmt *f) { return ((1ull << (f->bits - f->p)) - 1) << (f->p - 1); }
static inline int emax_biased(const fp_fmt *f) { return (1 << (f->bits - f->p)) - 1; }

/* ---- classification -------------------------------------------------------- */

enum { C_ZERO, C_FIN, C_INF, C_QNAN, C_SNAN };

/* An unpacked operand: for C_FIN, value = sig * 2^(exp - 63) with bit 63 of
 * sig set (subnormals are normalised here). */
typedef struct fp_unp {
    int cls, sign, exp;
    uint64_t sig;
} fp_unp;

static inline int clz64(uint64_t x) { return __builtin_clzll(x); }

static fp_unp unpack(const fp_fmt *f, uint64_t v)
{
    fp_unp u;
    int fb = f->p - 1;                       /* fraction bits */
    uint64_t frac = v & ((1ull << fb) - 1);
    int e = (int)((v >> fb) & (uint64_t)emax_biased(f));
    u.sign = (int)((v >> (f->bits - 1)) & 1);
    u.exp = 0;
    u.sig = 0;
    if (e == emax_biased(f)) {
        u.cls = frac == 0 ? C_INF : (frac >> (fb - 1)) & 1 ? C_QNAN : C_SNAN;
    } else if (e == 0) {
        if (frac == 0) {
            u.cls = C_ZERO;
        } else {
            int lz = clz64(frac);
            u.cls = C_FIN;
            u.sig = frac << lz;
            u.exp = 63 - lz - f->bias - fb + 1;
        }
    } else {
        u.cls = C_FIN;
        u.sig = (frac | (1ull << fb)) << (64 - f->p);
        u.exp = e - f->bias;
    }
    return u;
}

static inline int is_nan(int cls) { return cls >= C_QNAN; }

/* ---- rounding -------------------------------------------------------------- */

/* Drops the low s bits (s >= 1) of sig and rounds per rm; *inexact is set
 * when anything nonzero was dropped.  The result may carry one bit up. */
static uint64_t round_shift(uint64_t sig, int s, int sign, int rm, int *inexact)
{
    uint64_t kept, rbit, sticky;
    if (s > 64) {
        kept = 0; rbit = 0; sticky = sig != 0;
    } else if (s == 64) {
        kept = 0; rbit = sig >> 63; sticky = (sig << 1) != 0;
    } else {
        kept = sig >> s;
        rbit = (sig >> (s - 1)) & 1;
        sticky = (sig & ((1ull << (s - 1)) - 1)) != 0;
    }
    *inexact = (rbit | sticky) != 0;
    switch (rm) {
    case RM_RNE: return kept + (rbit & (sticky | (kept & 1)));
    case RM_RDN: return kept + (uint64_t)(*inexact && sign);
    case RM_RUP: return kept + (uint64_t)(*inexact && !sign);
    case RM_RMM: return kept + rbit;
    default: return kept;                 /* RTZ */
    }
}

static uint64_t overflow_result(const fp_fmt *f, int sign, int rm, uint32_t *fl)
{
    int to_max = rm == RM_RTZ || (rm == RM_RDN && !sign) || (rm == RM_RUP && sign);
    *fl |= RV_FFLAG_OF | RV_FFLAG_NX;
    return (sign ? sign_bit(f) : 0) | (inf_bits(f) - (to_max ? 1 : 0));
}

/* Rounds sign * sig * 2^(exp-63) (bit 63 of sig set; lower bits may hold a
 * sticky 1) to format f.  Tininess is detected after rounding. */
static uint64_t round_pack(const fp_fmt *f, int sign, int exp, uint64_t sig, int rm, uint32_t *fl)
{
    int eb = exp + f->bias, sh = 64 - f->p, inexact;
    uint64_t s = sign ? sign_bit(f) : 0, kept;
    if (eb >= emax_biased(f))
        return overflow_result(f, sign, rm, fl);
    if (eb >= 1) {
        kept = round_shift(sig, sh, sign, rm, &inexact);
        uint64_t bits = ((uint64_t)(eb - 1) << (f->p - 1)) + kept;   /* a carry bumps the exponent */
        if (bits >= inf_bits(f))
            return overflow_result(f, sign, rm, fl);
        if (inexact)
            *fl |= RV_FFLAG_NX;
        return s | bits;
    }
    /* Tiny before rounding.  It is tiny after rounding unless rounding with an
     * unbounded exponent reaches 2^emin, which only eb == 0 can do. */
    int tiny = 1;
    if (eb == 0 && round_shift(sig, sh, sign, rm, &inexact) >> f->p)
        tiny = 0;
    kept = round_shift(sig, sh + 1 - eb, sign, rm, &inexact);   /* reaching 2^(p-1) = min normal */
    if (inexact)
        *fl |= RV_FFLAG_NX | (tiny ? RV_FFLAG_UF : 0);
    return s | kept;
}

/* Normalises a nonzero magnitude m with value m * 2^(exp-63) and rounds it. */
static uint64_t norm_round_pack(const fp_fmt *f, int sign, int exp, uint64_t m, int rm, uint32_t *fl)
{
    int lz = clz64(m);
    return round_pack(f, sign, exp - lz, m << lz, rm, fl);
}

static inline uint64_t shr_jam64(uint64_t x, int d)
{
    if (d <= 0) return x;
    if (d >= 64) return x != 0;
    return (x >> d) | ((x << (64 - d)) != 0);
}

static inline u128 shr_jam128(u128 x, int d)
{
    if (d <= 0) return x;
    if (d >= 128) return x != 0;
    return (x >> d) | (u128)((x << (128 - d)) != 0);
}

static inline int clz128(u128 x)
{
    uint64_t hi = (uint64_t)(x >> 64);
    return hi ? clz64(hi) : 64 + clz64((uint64_t)x);
}

/* ---- softfloat arithmetic ---------------------------------------------------- */

/* NaN operands: the result is the canonical NaN, NV if any was signalling. */
static uint64_t nan_result(const fp_fmt *f, const fp_unp *a, const fp_unp *b, const fp_unp *c, uint32_t *fl)
{
    if (a->cls == C_SNAN || (b && b->cls == C_SNAN) || (c && c->cls == C_SNAN))
        *fl |= RV_FFLAG_NV;
    return canon_nan(f);
}

static uint64_t invalid(const fp_fmt *f, uint32_t *fl)
{
    *fl |= RV_FFLAG_NV;
    return canon_nan(f);
}

static inline uint64_t zero_of(const fp_fmt *f, int sign) { return sign ? sign_bit(f) : 0; }

/* Sum of two finite values that are not both zero, given unpacked. */
static uint64_t add_fin(const fp_fmt *f, fp_unp a, fp_unp b, int rm, uint32_t *fl)
{
    if (a.cls == C_ZERO) return round_pack(f, b.sign, b.exp, b.sig, rm, fl);
    if (b.cls == C_ZERO) return round_pack(f, a.sign, a.exp, a.sig, rm, fl);
    if (a.exp < b.exp || (a.exp == b.exp && a.sig < b.sig)) {
        fp_unp t = a; a = b; b = t;
    }
    /* One bit of headroom for the carry; the low bits of sig are zero for
     * p <= 53 so nothing is lost. */
    uint64_t x = a.sig >> 1, y = shr_jam64(b.sig >> 1, a.exp - b.exp), r;
    if (a.sign == b.sign) {
        r = x + y;
    } else {
        r = x - y;
        if (r == 0)
            return zero_of(f, rm == RM_RDN);
    }
    return norm_round_pack(f, a.sign, a.exp + 1, r, rm, fl);
}

static uint64_t sf_add(const fp_fmt *f, uint64_t av, uint64_t bv, int rm, uint32_t *fl)
{
    fp_unp a = unpack(f, av), b = unpack(f, bv);
    if (is_nan(a.cls) || is_nan(b.cls))
        return nan_result(f, &a, &b, NULL, fl);
    if (a.cls == C_INF || b.cls == C_INF) {
        if (a.cls == C_INF && b.cls == C_INF && a.sign != b.sign)
            return invalid(f, fl);
        return a.cls == C_INF ? av : bv;
    }
    if (a.cls == C_ZERO && b.cls == C_ZERO)
        return zero_of(f, a.sign == b.sign ? a.sign : rm == RM_RDN);
    return add_fin(f, a, b, rm, fl);
}

static uint64_t sf_mul(const fp_fmt *f, uint64_t av, uint64_t bv, int rm, uint32_t *fl)
{
    fp_unp a = unpack(f, av), b = unpack(f, bv);
    int sign = a.sign ^ b.sign;
    if (is_nan(a.cls) || is_nan(b.cls))
        return nan_result(f, &a, &b, NULL, fl);
    if (a.cls == C_INF || b.cls == C_INF) {
        if (a.cls == C_ZERO || b.cls == C_ZERO)
            return invalid(f, fl);
        return sign_bit(f) * (uint64_t)sign | inf_bits(f);
    }
    if (a.cls == C_ZERO || b.cls == C_ZERO)
        return zero_of(f, sign);
    u128 p = (u128)a.sig * b.sig;           /* in [2^126, 2^128) */
    int exp = a.exp + b.exp;
    if (!(p >> 127)) { p <<= 1; } else { exp++; }
    uint64_t sig = (uint64_t)(p >> 64) | ((uint64_t)p != 0);
    return round_pack(f, sign, exp, sig, rm, fl);
}

static uint64_t sf_div(const fp_fmt *f, uint64_t av, uint64_t bv, int rm, uint32_t *fl)
{
    fp_unp a = unpack(f, av), b = unpack(f, bv);
    int sign = a.sign ^ b.sign;
    if (is_nan(a.cls) || is_nan(b.cls))
        return nan_result(f, &a, &b, NULL, fl);
    if (a.cls == C_INF)
        return b.cls == C_INF ? invalid(f, fl) : (sign ? sign_bit(f) : 0) | inf_bits(f);
    if (b.cls == C_INF)
        return zero_of(f, sign);
    if (b.cls == C_ZERO) {
        if (a.cls == C_ZERO)
            return invalid(f, fl);
        *fl |= RV_FFLAG_DZ;
        return (sign ? sign_bit(f) : 0) | inf_bits(f);
    }
    if (a.cls == C_ZERO)
        return zero_of(f, sign);
    int exp = a.exp - b.exp;
    u128 n;
    if (a.sig >= b.sig) {
        n = (u128)a.sig << 63;
    } else {
        n = (u128)a.sig << 64;
        exp--;
    }
    uint64_t q = (uint64_t)(n / b.sig), r = (uint64_t)(n % b.sig);
    return round_pack(f, sign, exp, q | (r != 0), rm, fl);
}

/* floor(sqrt(n)) for n < 2^128, and whether it was exact. */
static uint64_t isqrt128(u128 n, int *exact)
{
    /* Start from a guess at or above the root, then Newton steps descend
     * monotonically onto the floor. */
    int bits = 128 - clz128(n);
    u128 x = (u128)1 << ((bits + 1) / 2), y;
    for (;;) {
        y = (x + n / x) >> 1;
        if (y >= x)
            break;
        x = y;
    }
    *exact = x * x == n;
    return (uint64_t)x;
}

/* Unused when the host computes square roots (see op_sqrt). */
__attribute__((unused)) static uint64_t sf_sqrt(const fp_fmt *f, uint64_t av, int rm, uint32_t *fl)
{
    fp_unp a = unpack(f, av);
    if (is_nan(a.cls))
        return nan_result(f, &a, NULL, NULL, fl);
    if (a.cls == C_ZERO)
        return av;
    if (a.sign)
        return invalid(f, fl);
    if (a.cls == C_INF)
        return av;
    /* value = sig * 2^(exp-63); make the exponent even and take the root of
     * the 128-bit integer so the result has 64 significant bits. */
    int exact;
    u128 n = (u128)a.sig << (a.exp & 1 ? 64 : 63);
    uint64_t r = isqrt128(n, &exact);
    return round_pack(f, 0, a.exp >> 1, r | !exact, rm, fl);
}

/* (-1)^np * a * b + (-1)^nc * c with a single rounding. */
static uint64_t sf_fma(const fp_fmt *f, uint64_t av, uint64_t bv, uint64_t cv, int np, int nc,
                       int rm, uint32_t *fl)
{
    fp_unp a = unpack(f, av), b = unpack(f, bv), c = unpack(f, cv);
    int ps = a.sign ^ b.sign ^ np, cs = c.sign ^ nc;
    int prod_inv = (a.cls == C_INF && b.cls == C_ZERO) || (a.cls == C_ZERO && b.cls == C_INF);
    if (is_nan(a.cls) || is_nan(b.cls) || is_nan(c.cls)) {
        if (prod_inv)                        /* RISC-V: 0 * inf + qNaN raises NV */
            *fl |= RV_FFLAG_NV;
        return nan_result(f, &a, &b, &c, fl);
    }
    if (prod_inv)
        return invalid(f, fl);
    if (a.cls == C_INF || b.cls == C_INF) {
        if (c.cls == C_INF && cs != ps)
            return invalid(f, fl);
        return (ps ? sign_bit(f) : 0) | inf_bits(f);
    }
    if (c.cls == C_INF)
        return (cs ? sign_bit(f) : 0) | inf_bits(f);
    if (a.cls == C_ZERO || b.cls == C_ZERO) {
        if (c.cls == C_ZERO)
            return zero_of(f, ps == cs ? ps : rm == RM_RDN);
        return cv ^ (nc ? sign_bit(f) : 0);
    }
    /* Exact product with its top bit at 126 (value = P * 2^(pe-126)). */
    u128 p = (u128)a.sig * b.sig;
    int pe = a.exp + b.exp;
    if (p >> 127) { p >>= 1; pe++; }        /* the low bits are zero: exact */
    if (c.cls == C_ZERO) {
        uint64_t sig = (uint64_t)(p >> 63) | ((uint64_t)(p << 1) != 0);
        return round_pack(f, ps, pe, sig, rm, fl);
    }
    u128 q = (u128)c.sig << 63;
    int qe = c.exp, sign = ps, e;
    if (pe < qe || (pe == qe && p < q)) {
        u128 t = p; p = q; q = t;
        e = qe; qe = pe; pe = e;
        sign = cs;
    }
    q = shr_jam128(q, pe - qe);
    u128 s = ps == cs ? p + q : p - q;
    if (s == 0)
        return zero_of(f, rm == RM_RDN);
    int lz = clz128(s);
    s <<= lz;
    uint64_t sig = (uint64_t)(s >> 64) | ((uint64_t)s != 0);
    return round_pack(f, sign, pe + 1 - lz, sig, rm, fl);
}

/* ---- conversions ------------------------------------------------------------- */

static uint64_t sf_cvt_ff(const fp_fmt *to, const fp_fmt *from, uint64_t v, int rm, uint32_t *fl)
{
    fp_unp a = unpack(from, v);
    switch (a.cls) {
    case C_QNAN: case C_SNAN: return nan_result(to, &a, NULL, NULL, fl);
    case C_INF: return (a.sign ? sign_bit(to) : 0) | inf_bits(to);
    case C_ZERO: return zero_of(to, a.sign);
    default: return round_pack(to, a.sign, a.exp, a.sig, rm, fl);
    }
}

/* Integer to float: magnitude m, negative if sign. */
static uint64_t sf_from_int(const fp_fmt *f, int sign, uint64_t m, int rm, uint32_t *fl)
{
    if (m == 0)
        return 0;
    return norm_round_pack(f, sign, 63, m, rm, fl);
}

/* Float to integer with RISC-V saturation.  width is 32 or 64; the result is
 * the integer sign-extended to 64 bits (also for the unsigned 32-bit form,
 * as RV64 requires). */
static uint64_t sf_to_int(const fp_fmt *f, uint64_t v, int width, int is_signed, int rm, uint32_t *fl)
{
    fp_unp a = unpack(f, v);
    uint64_t maxpos = is_signed ? (1ull << (width - 1)) - 1 : width == 64 ? ~0ull : (1ull << width) - 1;
    uint64_t maxneg = is_signed ? 1ull << (width - 1) : 0;   /* magnitude of the most negative */
    uint64_t mag = 0;
    int inexact = 0, over = 0;
    switch (a.cls) {
    case C_QNAN: case C_SNAN: a.sign = 0; over = 1; break;
    case C_INF: over = 1; break;
    case C_ZERO: return 0;
    default:
        if (a.exp > 63)
            over = 1;
        else if (a.exp == 63)
            mag = a.sig;
        else
            mag = round_shift(a.sig, 63 - a.exp, a.sign, rm, &inexact);
        if (!over)
            over = a.sign ? mag > maxneg : mag > maxpos;
    }
    uint64_t r;
    if (over) {
        *fl |= RV_FFLAG_NV;
        r = a.sign ? 0 - maxneg : maxpos;
    } else {
        if (inexact)
            *fl |= RV_FFLAG_NX;
        r = a.sign ? 0 - mag : mag;
    }
    return width == 32 ? (uint64_t)(int64_t)(int32_t)(uint32_t)r : r;
}

/* ---- sign injection, comparisons, min/max, classify ----------------------------- */

static uint64_t sgnj(const fp_fmt *f, uint64_t a, uint64_t b, int kind)
{
    uint64_t sb = sign_bit(f), s;
    switch (kind) {
    case 0: s = b & sb; break;              /* fsgnj */
    case 1: s = ~b & sb; break;             /* fsgnjn */
    default: s = (a ^ b) & sb; break;       /* fsgnjx */
    }
    return (a & ~sb) | s;
}

/* a < b (or <=) for non-NaN operands, on the bit patterns. */
static int less(const fp_fmt *f, uint64_t a, uint64_t b, int or_equal)
{
    uint64_t sb = sign_bit(f);
    int sa = (a & sb) != 0, sbb = (b & sb) != 0;
    if (((a | b) & ~sb) == 0)               /* both zero, either sign */
        return or_equal;
    if (sa != sbb)
        return sa;
    if (a == b)
        return or_equal;
    return sa ? a > b : a < b;
}

/* FEQ (quiet, kind 0), FLT (1), FLE (2). */
static uint64_t compare(const fp_fmt *f, uint64_t av, uint64_t bv, int kind, uint32_t *fl)
{
    fp_unp a = unpack(f, av), b = unpack(f, bv);
    if (is_nan(a.cls) || is_nan(b.cls)) {
        if (kind != 0 || a.cls == C_SNAN || b.cls == C_SNAN)
            *fl |= RV_FFLAG_NV;
        return 0;
    }
    if (kind == 0)
        return av == bv || (a.cls == C_ZERO && b.cls == C_ZERO);
    return (uint64_t)less(f, av, bv, kind == 2);
}

/* FMIN/FMAX per the 2.2 spec: -0 < +0, a single NaN yields the other operand. */
static uint64_t minmax(const fp_fmt *f, uint64_t av, uint64_t bv, int is_max, uint32_t *fl)
{
    fp_unp a = unpack(f, av), b = unpack(f, bv);
    if (a.cls == C_SNAN || b.cls == C_SNAN)
        *fl |= RV_FFLAG_NV;
    if (is_nan(a.cls))
        return is_nan(b.cls) ? canon_nan(f) : bv;
    if (is_nan(b.cls))
        return av;
    if (a.cls == C_ZERO && b.cls == C_ZERO)   /* -0 < +0 */
        return is_max ? av & bv : av | bv;
    return less(f, av, bv, 0) != is_max ? av : bv;
}

static uint64_t fclass(const fp_fmt *f, uint64_t v)
{
    fp_unp a = unpack(f, v);
    int sub = a.cls == C_FIN && ((v >> (f->p - 1)) & (uint64_t)emax_biased(f)) == 0;
    switch (a.cls) {
    case C_INF: return a.sign ? 1u << 0 : 1u << 7;
    case C_ZERO: return a.sign ? 1u << 3 : 1u << 4;
    case C_SNAN: return 1u << 8;
    case C_QNAN: return 1u << 9;
    default:
        if (sub) return a.sign ? 1u << 2 : 1u << 5;
        return a.sign ? 1u << 1 : 1u << 6;
    }
}

/* ---- host fast path (x86-64 SSE) ------------------------------------------------ */

enum { K_ADD, K_SUB, K_MUL, K_DIV };

#if defined(__x86_64__) && !defined(RV_FPU_NO_HOST)
#define HAVE_HOST_FP 1

/* MXCSR: all exceptions masked, no FTZ/DAZ, rounding control from rm. */
static const uint32_t mxcsr_for_rm[4] = {
    [RM_RNE] = 0x1f80, [RM_RTZ] = 0x1f80 | (3u << 13),
    [RM_RDN] = 0x1f80 | (1u << 13), [RM_RUP] = 0x1f80 | (2u << 13),
};

static inline uint32_t mxcsr_get(void)
{
    uint32_t v;
    __asm__ volatile("stmxcsr %0" : "=m"(v));
    return v;
}

static inline void mxcsr_set(uint32_t v) { __asm__ volatile("ldmxcsr %0" : : "m"(v)); }

/* Host MXCSR status bits (IE DE ZE OE UE PE) to fflags. */
static inline uint32_t host_flags(uint32_t m)
{
    return ((m & 1) << 4) | ((m & 4) << 1) | ((m & 8) >> 1) | ((m & 16) >> 3) | ((m & 32) >> 5);
}

static int host_has_fma = -1;

static int host_fma_ok(void)
{
    if (host_has_fma < 0)
        host_has_fma = __builtin_cpu_supports("fma") ? 1 : 0;
    return host_has_fma;
}

/* The operation itself is inline asm: the compiler can neither fold it nor
 * move it across the MXCSR accesses (all are volatile asm). */
#define HOST_OP(insn, x, y) __asm__ volatile(insn " %2, %0" : "=x"(x) : "0"(x), "x"(y))

static uint64_t host_arith(const fp_fmt *f, int kind, uint64_t a, uint64_t b, int rm, uint32_t *fl)
{
    uint32_t saved = mxcsr_get(), m;
    mxcsr_set(mxcsr_for_rm[rm]);
    uint64_t r;
    if (f->bits == 64) {
        double x, y;
        memcpy(&x, &a, 8); memcpy(&y, &b, 8);
        switch (kind) {
        case K_ADD: HOST_OP("addsd", x, y); break;
        case K_SUB: HOST_OP("subsd", x, y); break;
        case K_MUL: HOST_OP("mulsd", x, y); break;
        default: HOST_OP("divsd", x, y); break;
        }
        m = mxcsr_get();
        memcpy(&r, &x, 8);
    } else {
        float x, y;
        uint32_t a32 = (uint32_t)a, b32 = (uint32_t)b, r32;
        memcpy(&x, &a32, 4); memcpy(&y, &b32, 4);
        switch (kind) {
        case K_ADD: HOST_OP("addss", x, y); break;
        case K_SUB: HOST_OP("subss", x, y); break;
        case K_MUL: HOST_OP("mulss", x, y); break;
        default: HOST_OP("divss", x, y); break;
        }
        m = mxcsr_get();
        memcpy(&r32, &x, 4);
        r = r32;
    }
    mxcsr_set(saved);
    *fl |= host_flags(m);
    if ((r & ~sign_bit(f)) > inf_bits(f))
        r = canon_nan(f);
    return r;
}

static uint64_t host_sqrt(const fp_fmt *f, uint64_t a, int rm, uint32_t *fl)
{
    uint32_t saved = mxcsr_get(), m;
    mxcsr_set(mxcsr_for_rm[rm]);
    uint64_t r;
    if (f->bits == 64) {
        double x;
        memcpy(&x, &a, 8);
        HOST_OP("sqrtsd", x, x);
        m = mxcsr_get();
        memcpy(&r, &x, 8);
    } else {
        float x;
        uint32_t a32 = (uint32_t)a, r32;
        memcpy(&x, &a32, 4);
        HOST_OP("sqrtss", x, x);
        m = mxcsr_get();
        memcpy(&r32, &x, 4);
        r = r32;
    }
    mxcsr_set(saved);
    *fl |= host_flags(m);
    if ((r & ~sign_bit(f)) > inf_bits(f))
        r = canon_nan(f);
    return r;
}

/* a * b + c; the caller has applied the sign flips and excluded NaN inputs. */
static uint64_t host_fma(const fp_fmt *f, uint64_t a, uint64_t b, uint64_t c, int rm, uint32_t *fl)
{
    uint32_t saved = mxcsr_get(), m;
    mxcsr_set(mxcsr_for_rm[rm]);
    uint64_t r;
    if (f->bits == 64) {
        double x, y, z;
        memcpy(&x, &a, 8); memcpy(&y, &b, 8); memcpy(&z, &c, 8);
        __asm__ volatile("vfmadd213sd %3, %2, %0" : "=x"(x) : "0"(x), "x"(y), "x"(z));
        m = mxcsr_get();
        memcpy(&r, &x, 8);
    } else {
        float x, y, z;
        uint32_t a32 = (uint32_t)a, b32 = (uint32_t)b, c32 = (uint32_t)c, r32;
        memcpy(&x, &a32, 4); memcpy(&y, &b32, 4); memcpy(&z, &c32, 4);
        __asm__ volatile("vfmadd213ss %3, %2, %0" : "=x"(x) : "0"(x), "x"(y), "x"(z));
        m = mxcsr_get();
        memcpy(&r32, &x, 4);
        r = r32;
    }
    mxcsr_set(saved);
    *fl |= host_flags(m);
    if ((r & ~sign_bit(f)) > inf_bits(f))
        r = canon_nan(f);
    return r;
}

/* RNE without touching MXCSR (stmxcsr alone costs ~10 ns on some hosts).
 * The host computes the rounded result; inexactness comes from error-free
 * transforms: Fast2Sum for sums (exact for any finite operands, and sums
 * never underflow since subnormal sums are exact), an FMA residual for
 * products, quotients and roots, exact while everything stays well above
 * the subnormal range.  Whatever might overflow, underflow, divide by zero
 * or be invalid returns 0 and takes the MXCSR path.  Requires the host to be
 * in its default mode (RNE, no FTZ/DAZ), checked once per thread. */
/* initial-exec: a plain %fs-relative load, not a __tls_get_addr call per
 * FP instruction (the module's TLS is kept small so that it can load). */
static __thread int host_default_mode __attribute__((tls_model("initial-exec"))) = -1;

static int fast_ok(void)
{
    if (host_default_mode < 0)
        host_default_mode = (mxcsr_get() & 0xffc0) == 0x1f80 && host_fma_ok();
    return host_default_mode;
}

#define FAST_RNE(T, UT, SFX, FB, EMASK, LO)                                                  \
static inline T h_add_##SFX(T x, T y) { __asm__("add" #SFX " %1, %0" : "+x"(x) : "x"(y)); return x; } \
static inline T h_sub_##SFX(T x, T y) { __asm__("sub" #SFX " %1, %0" : "+x"(x) : "x"(y)); return x; } \
static inline T h_mul_##SFX(T x, T y) { __asm__("mul" #SFX " %1, %0" : "+x"(x) : "x"(y)); return x; } \
static inline T h_div_##SFX(T x, T y) { __asm__("div" #SFX " %1, %0" : "+x"(x) : "x"(y)); return x; } \
static inline T h_sqrt_##SFX(T x) { __asm__("sqrt" #SFX " %0, %0" : "+x"(x)); return x; }            \
/* x * y + z */                                                                               \
static inline T h_fma_##SFX(T x, T y, T z) {                                                  \
    __asm__("vfmadd231" #SFX " %2, %1, %0" : "+x"(z) : "x"(x), "x"(y)); return z; }           \
static inline int ex_##SFX(UT v) { return (int)((v >> FB) & EMASK); }                          \
static inline T to_##SFX(UT v) { T x; memcpy(&x, &v, sizeof x); return x; }                   \
static inline UT from_##SFX(T x) { UT v; memcpy(&v, &x, sizeof v); return v; }               \
/* kind: K_ADD/K_SUB/K_MUL/K_DIV; returns 1 with *r and *fl set, or 0. */                     \
static int fast_##SFX(int kind, UT a, UT b, uint64_t *r, uint32_t *fl)                        \
{                                                                                             \
    int ea = ex_##SFX(a), eb = ex_##SFX(b);                                                   \
    if (ea == EMASK || eb == EMASK)                                                           \
        return 0;                                                                             \
    T x = to_##SFX(a), y = to_##SFX(b), res, err;                                             \
    UT mag = (UT)~(UT)0 >> 1;                                                                 \
    switch (kind) {                                                                           \
    case K_SUB:                                                                               \
        y = to_##SFX(b ^ ~mag);                                                               \
        /* fall through */                                                                    \
    case K_ADD: {                                                                             \
        res = h_add_##SFX(x, y);                                                              \
        if (ex_##SFX(from_##SFX(res)) == EMASK)                                               \
            return 0;                                                                         \
        if ((a & mag) < (from_##SFX(y) & mag)) { T t = x; x = y; y = t; }                    \
        err = h_sub_##SFX(y, h_sub_##SFX(res, x));          /* Fast2Sum, |x| >= |y| */        \
        break;                                                                                \
    }                                                                                         \
    case K_MUL:                                                                               \
        res = h_mul_##SFX(x, y);                                                              \
        if ((a & mag) == 0 || (b & mag) == 0) { err = 0; break; }                             \
        if (ex_##SFX(from_##SFX(res)) < LO || ex_##SFX(from_##SFX(res)) == EMASK)              \
            return 0;                                                                         \
        err = h_fma_##SFX(x, y, -res);                                                        \
        break;                                                                                \
    default:                                                                                  \
        if (eb == 0)                                  /* zero or subnormal divisor */         \
            return 0;                                                                         \
        res = h_div_##SFX(x, y);                                                              \
        if ((a & mag) == 0) { err = 0; break; }                                               \
        if (ea < LO || ex_##SFX(from_##SFX(res)) < LO || ex_##SFX(from_##SFX(res)) == EMASK)   \
            return 0;                                                                         \
        err = h_fma_##SFX(-res, y, x);                                                        \
        break;                                                                                \
    }                                                                                         \
    *r = from_##SFX(res);                                                                     \
    if (err != 0)                                                                             \
        *fl |= RV_FFLAG_NX;                                                                   \
    return 1;                                                                                 \
}                                                                                             \
static int fast_sqrt_##SFX(UT a, uint64_t *r, uint32_t *fl)                                   \
{                                                                                             \
    UT mag = (UT)~(UT)0 >> 1;                                                                 \
    if ((a & mag) == 0) { *r = a; return 1; }                                                 \
    if (a > mag || ex_##SFX(a) < LO || ex_##SFX(a) == EMASK)                                  \
        return 0;                                                                             \
    T x = to_##SFX(a), res = h_sqrt_##SFX(x);                                                 \
    *r = from_##SFX(res);                                                                     \
    if (h_fma_##SFX(-res, res, x) != 0)                                                       \
        *fl |= RV_FFLAG_NX;                                                                   \
    return 1;                                                                                 \
}

FAST_RNE(double, uint64_t, sd, 52, 0x7ff, 2 * 53 + 2)
FAST_RNE(float, uint32_t, ss, 23, 0xff, 2 * 24 + 2)
#else
#define HAVE_HOST_FP 0
#endif

/* ---- operation front ends: pick the fast path when it is exact ------------------ */

static uint64_t op_arith(const fp_fmt *f, int kind, uint64_t a, uint64_t b, int rm, uint32_t *fl)
{
#if HAVE_HOST_FP
    if (rm == RM_RNE && fast_ok()) {
        uint64_t r;
        if (f->bits == 64 ? fast_sd(kind, a, b, &r, fl) : fast_ss(kind, (uint32_t)a, (uint32_t)b, &r, fl))
            return r;
    }
    if (rm != RM_RMM)
        return host_arith(f, kind, a, b, rm, fl);
#endif
    switch (kind) {
    case K_ADD: return sf_add(f, a, b, rm, fl);
    case K_SUB: return sf_add(f, a, b ^ sign_bit(f), rm, fl);
    case K_MUL: return sf_mul(f, a, b, rm, fl);
    default: return sf_div(f, a, b, rm, fl);
    }
}

static uint64_t op_sqrt(const fp_fmt *f, uint64_t a, int rm, uint32_t *fl)
{
#if HAVE_HOST_FP
    /* A square root is never exactly halfway between two floats, so RMM
     * rounds like RNE. */
    if (rm == RM_RMM)
        rm = RM_RNE;
    if (rm == RM_RNE && fast_ok()) {
        uint64_t r;
        if (f->bits == 64 ? fast_sqrt_sd(a, &r, fl) : fast_sqrt_ss((uint32_t)a, &r, fl))
            return r;
    }
    return host_sqrt(f, a, rm, fl);
#else
    return sf_sqrt(f, a, rm, fl);
#endif
}

static uint64_t op_fma(const fp_fmt *f, uint64_t a, uint64_t b, uint64_t c, int np, int nc,
                       int rm, uint32_t *fl)
{
#if HAVE_HOST_FP
    if (rm != RM_RMM && host_fma_ok()) {
        uint64_t mag = ~sign_bit(f);
        /* NaN operands go to softfloat for RISC-V's 0 * inf + qNaN rule. */
        if ((a & mag) <= inf_bits(f) && (b & mag) <= inf_bits(f) && (c & mag) <= inf_bits(f))
            return host_fma(f, a ^ (np ? sign_bit(f) : 0), b, c ^ (nc ? sign_bit(f) : 0), rm, fl);
    }
#endif
    return sf_fma(f, a, b, c, np, nc, rm, fl);
}

/* ---- register access -------------------------------------------------------------- */

/* A single from an f register; an improperly NaN-boxed value reads as the
 * canonical NaN. */
static inline uint64_t get_s(const rv_cpu *c, int r)
{
    uint64_t v = c->f[r];
    return (v >> 32) == 0xffffffffu ? (uint32_t)v : CNAN32;
}

static inline void put_s(rv_cpu *c, int r, uint64_t v) { c->f[r] = 0xffffffff00000000ull | (uint32_t)v; }
static inline void put_x(rv_cpu *c, int r, uint64_t v) { if (r != 0) c->x[r] = v; }

/* Operations whose funct3 is a rounding mode (the others use it as an opcode). */
static int has_rm(int op)
{
    switch (op) {
    case RV_OP_FSGNJ_S: case RV_OP_FSGNJN_S: case RV_OP_FSGNJX_S:
    case RV_OP_FSGNJ_D: case RV_OP_FSGNJN_D: case RV_OP_FSGNJX_D:
    case RV_OP_FMIN_S: case RV_OP_FMAX_S: case RV_OP_FMIN_D: case RV_OP_FMAX_D:
    case RV_OP_FEQ_S: case RV_OP_FLT_S: case RV_OP_FLE_S:
    case RV_OP_FEQ_D: case RV_OP_FLT_D: case RV_OP_FLE_D:
    case RV_OP_FCLASS_S: case RV_OP_FCLASS_D:
    case RV_OP_FMV_X_W: case RV_OP_FMV_W_X: case RV_OP_FMV_X_D: case RV_OP_FMV_D_X:
        return 0;
    default:
        return 1;
    }
}

static inline uint64_t sext32(uint64_t v) { return (uint64_t)(int64_t)(int32_t)(uint32_t)v; }

/* Integer source of fcvt.{s,d}.{w,wu,l,lu} as sign and magnitude. */
static uint64_t cvt_from_x(const fp_fmt *f, uint64_t x, int width, int is_signed, int rm, uint32_t *fl)
{
    if (width == 32)
        x = is_signed ? sext32(x) : (uint32_t)x;
    int neg = is_signed && (int64_t)x < 0;
    return sf_from_int(f, neg, neg ? 0 - x : x, rm, fl);
}

/* Single-precision operations; returns 0 if op is not one. */
static int exec_s(rv_cpu *c, const rv_insn *in, int rm, uint32_t *fl)
{
    const fp_fmt *f = &F32;
    uint64_t a = get_s(c, in->rs1), b = get_s(c, in->rs2), x = c->x[in->rs1];
    switch (in->op) {
    case RV_OP_FMADD_S: put_s(c, in->rd, op_fma(f, a, b, get_s(c, in->rs3), 0, 0, rm, fl)); break;
    case RV_OP_FMSUB_S: put_s(c, in->rd, op_fma(f, a, b, get_s(c, in->rs3), 0, 1, rm, fl)); break;
    case RV_OP_FNMSUB_S: put_s(c, in->rd, op_fma(f, a, b, get_s(c, in->rs3), 1, 0, rm, fl)); break;
    case RV_OP_FNMADD_S: put_s(c, in->rd, op_fma(f, a, b, get_s(c, in->rs3), 1, 1, rm, fl)); break;
    case RV_OP_FADD_S: put_s(c, in->rd, op_arith(f, K_ADD, a, b, rm, fl)); break;
    case RV_OP_FSUB_S: put_s(c, in->rd, op_arith(f, K_SUB, a, b, rm, fl)); break;
    case RV_OP_FMUL_S: put_s(c, in->rd, op_arith(f, K_MUL, a, b, rm, fl)); break;
    case RV_OP_FDIV_S: put_s(c, in->rd, op_arith(f, K_DIV, a, b, rm, fl)); break;
    case RV_OP_FSQRT_S: put_s(c, in->rd, op_sqrt(f, a, rm, fl)); break;
    case RV_OP_FSGNJ_S: put_s(c, in->rd, sgnj(f, a, b, 0)); break;
    case RV_OP_FSGNJN_S: put_s(c, in->rd, sgnj(f, a, b, 1)); break;
    case RV_OP_FSGNJX_S: put_s(c, in->rd, sgnj(f, a, b, 2)); break;
    case RV_OP_FMIN_S: put_s(c, in->rd, minmax(f, a, b, 0, fl)); break;
    case RV_OP_FMAX_S: put_s(c, in->rd, minmax(f, a, b, 1, fl)); break;
    case RV_OP_FCVT_W_S: put_x(c, in->rd, sf_to_int(f, a, 32, 1, rm, fl)); break;
    case RV_OP_FCVT_WU_S: put_x(c, in->rd, sf_to_int(f, a, 32, 0, rm, fl)); break;
    case RV_OP_FCVT_L_S: put_x(c, in->rd, sf_to_int(f, a, 64, 1, rm, fl)); break;
    case RV_OP_FCVT_LU_S: put_x(c, in->rd, sf_to_int(f, a, 64, 0, rm, fl)); break;
    case RV_OP_FMV_X_W: put_x(c, in->rd, sext32(c->f[in->rs1])); break;   /* bits as they are */
    case RV_OP_FEQ_S: put_x(c, in->rd, compare(f, a, b, 0, fl)); break;
    case RV_OP_FLT_S: put_x(c, in->rd, compare(f, a, b, 1, fl)); break;
    case RV_OP_FLE_S: put_x(c, in->rd, compare(f, a, b, 2, fl)); break;
    case RV_OP_FCLASS_S: put_x(c, in->rd, fclass(f, a)); break;
    case RV_OP_FCVT_S_W: put_s(c, in->rd, cvt_from_x(f, x, 32, 1, rm, fl)); break;
    case RV_OP_FCVT_S_WU: put_s(c, in->rd, cvt_from_x(f, x, 32, 0, rm, fl)); break;
    case RV_OP_FCVT_S_L: put_s(c, in->rd, cvt_from_x(f, x, 64, 1, rm, fl)); break;
    case RV_OP_FCVT_S_LU: put_s(c, in->rd, cvt_from_x(f, x, 64, 0, rm, fl)); break;
    case RV_OP_FMV_W_X: put_s(c, in->rd, x); break;
    case RV_OP_FCVT_S_D: put_s(c, in->rd, sf_cvt_ff(&F32, &F64, c->f[in->rs1], rm, fl)); break;
    default: return 0;
    }
    return 1;
}

/* Double-precision operations; returns 0 if op is not one. */
static int exec_d(rv_cpu *c, const rv_insn *in, int rm, uint32_t *fl)
{
    const fp_fmt *f = &F64;
    uint64_t a = c->f[in->rs1], b = c->f[in->rs2], x = c->x[in->rs1];
    uint64_t *d = &c->f[in->rd];
    switch (in->op) {
    case RV_OP_FMADD_D: *d = op_fma(f, a, b, c->f[in->rs3], 0, 0, rm, fl); break;
    case RV_OP_FMSUB_D: *d = op_fma(f, a, b, c->f[in->rs3], 0, 1, rm, fl); break;
    case RV_OP_FNMSUB_D: *d = op_fma(f, a, b, c->f[in->rs3], 1, 0, rm, fl); break;
    case RV_OP_FNMADD_D: *d = op_fma(f, a, b, c->f[in->rs3], 1, 1, rm, fl); break;
    case RV_OP_FADD_D: *d = op_arith(f, K_ADD, a, b, rm, fl); break;
    case RV_OP_FSUB_D: *d = op_arith(f, K_SUB, a, b, rm, fl); break;
    case RV_OP_FMUL_D: *d = op_arith(f, K_MUL, a, b, rm, fl); break;
    case RV_OP_FDIV_D: *d = op_arith(f, K_DIV, a, b, rm, fl); break;
    case RV_OP_FSQRT_D: *d = op_sqrt(f, a, rm, fl); break;
    case RV_OP_FSGNJ_D: *d = sgnj(f, a, b, 0); break;
    case RV_OP_FSGNJN_D: *d = sgnj(f, a, b, 1); break;
    case RV_OP_FSGNJX_D: *d = sgnj(f, a, b, 2); break;
    case RV_OP_FMIN_D: *d = minmax(f, a, b, 0, fl); break;
    case RV_OP_FMAX_D: *d = minmax(f, a, b, 1, fl); break;
    case RV_OP_FCVT_D_S: *d = sf_cvt_ff(&F64, &F32, get_s(c, in->rs1), rm, fl); break;
    case RV_OP_FEQ_D: put_x(c, in->rd, compare(f, a, b, 0, fl)); break;
    case RV_OP_FLT_D: put_x(c, in->rd, compare(f, a, b, 1, fl)); break;
    case RV_OP_FLE_D: put_x(c, in->rd, compare(f, a, b, 2, fl)); break;
    case RV_OP_FCLASS_D: put_x(c, in->rd, fclass(f, a)); break;
    case RV_OP_FCVT_W_D: put_x(c, in->rd, sf_to_int(f, a, 32, 1, rm, fl)); break;
    case RV_OP_FCVT_WU_D: put_x(c, in->rd, sf_to_int(f, a, 32, 0, rm, fl)); break;
    case RV_OP_FCVT_L_D: put_x(c, in->rd, sf_to_int(f, a, 64, 1, rm, fl)); break;
    case RV_OP_FCVT_LU_D: put_x(c, in->rd, sf_to_int(f, a, 64, 0, rm, fl)); break;
    case RV_OP_FCVT_D_W: *d = cvt_from_x(f, x, 32, 1, rm, fl); break;
    case RV_OP_FCVT_D_WU: *d = cvt_from_x(f, x, 32, 0, rm, fl); break;
    case RV_OP_FCVT_D_L: *d = cvt_from_x(f, x, 64, 1, rm, fl); break;
    case RV_OP_FCVT_D_LU: *d = cvt_from_x(f, x, 64, 0, rm, fl); break;
    case RV_OP_FMV_X_D: put_x(c, in->rd, a); break;
    case RV_OP_FMV_D_X: *d = x; break;
    default: return 0;
    }
    return 1;
}

int rv_fp_exec(rv_cpu *c, const rv_insn *in)
{
    if ((c->mstatus & RV_MSTATUS_FS) == 0)
        return RV_EXC_ILLEGAL;
    int rm = in->rm;
    if (has_rm(in->op)) {
        if (rm == RM_DYN)
            rm = (int)c->frm;
        if (rm > RM_RMM)
            return RV_EXC_ILLEGAL;
    }
    uint32_t fl = 0;
    if (!exec_s(c, in, rm, &fl) && !exec_d(c, in, rm, &fl))
        return RV_EXC_ILLEGAL;
    c->fflags |= fl;
    c->mstatus |= RV_MSTATUS_FS | RV_MSTATUS_SD;
    return 0;
}
