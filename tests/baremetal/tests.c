/* tests.c — bare-metal checks of the privileged architecture on the virt
 * board: traps, delegation, interrupts (timer, software, vectored), WFI,
 * Sv39 walks with A/D updates and page faults, SFENCE.VMA, counter enables,
 * PMP registers, and the UART/PLIC/CLINT registers.  It prints one line per
 * result; the test runs it on vmpy and on qemu-system-riscv64 and compares
 * the output, and each line also carries the hand-derived expectation
 * ("ok"/"BAD") where the spec fixes the answer. */
#include <stdint.h>

#define UART ((volatile uint8_t *)0x10000000)
#define CLINT_MSIP ((volatile uint32_t *)0x2000000)
#define CLINT_MTIMECMP ((volatile uint64_t *)0x2004000)
#define CLINT_MTIME ((volatile uint64_t *)0x200bff8)
#define PLIC ((volatile uint32_t *)0xc000000)
#define TEST_DEV ((volatile uint32_t *)0x100000)

#define csr_read(r) ({ uint64_t v_; __asm__ volatile("csrr %0, " #r : "=r"(v_)); v_; })
#define csr_write(r, v) __asm__ volatile("csrw " #r ", %0" :: "r"((uint64_t)(v)))
#define csr_set(r, v) __asm__ volatile("csrs " #r ", %0" :: "r"((uint64_t)(v)))
#define csr_clear(r, v) __asm__ volatile("csrc " #r ", %0" :: "r"((uint64_t)(v)))

extern long run_lower(int mpp, void (*fn)(void));
extern void back_to_m(void) __attribute__((noreturn));
extern char mtrap_entry[], strap_entry[], mvec_table[], mstack_top[];

static void putc_(char c) { while (!(UART[5] & 0x20)) {} UART[0] = (uint8_t)c; }
static void puts_(const char *s) { while (*s) putc_(*s++); }
static void puthex(uint64_t v)
{
    puts_("0x");
    for (int i = 60; i >= 0; i -= 4)
        putc_("0123456789abcdef"[(v >> i) & 15]);
}
static void report(const char *name, uint64_t v, uint64_t expect)
{
    puts_(name);
    puts_(": ");
    puthex(v);
    puts_(v == expect ? " ok\n" : " BAD\n");
}

/* ---- trap handlers ------------------------------------------------------ */

struct frame { uint64_t x[32]; };
static volatile uint64_t m_first, m_cause, m_tval, m_epc, m_count, s_cause, s_tval, s_count, vec7;
static volatile uint64_t flog_cause[8], flog_tval[8];   /* the first 8 M traps since m_count = 0 */

void trap_m(struct frame *f)
{
    uint64_t cause = csr_read(mcause);
    if (m_count == 0)
        m_first = cause;                             /* the first trap since m_count = 0 */
    m_cause = cause;
    m_tval = csr_read(mtval);
    if (m_count < 8) {
        flog_cause[m_count] = cause;
        flog_tval[m_count] = m_tval;
    }
    m_epc = csr_read(mepc);
    m_count++;
    if (cause >> 63) {                               /* interrupts: silence the source */
        unsigned irq = cause & 63;
        if (irq == 7) *CLINT_MTIMECMP = ~0ull;
        if (irq == 3) *CLINT_MSIP = 0;
        return;
    }
    if ((cause == 8 || cause == 9) && f->x[17] == 93)  /* "exit" from the lower mode */
        back_to_m();
    if (cause == 1)                                  /* fetch fault: no way to go on */
        back_to_m();
    csr_write(mepc, m_epc + 4);                      /* skip the faulting instruction */
}

void trap_m_vec7(struct frame *f)
{
    vec7++;
    trap_m(f);
}

/* Waits for *flag to become non-zero through an interrupt. A bare
 * "while (!flag) wfi;" with MIE set loses the wakeup when the interrupt lands
 * between the test and the wfi: the handler runs, and wfi then sleeps with
 * nothing left pending. So wfi runs with MIE clear (it still wakes on a
 * pending interrupt) and the interrupt is taken in the short MIE window. */
static void wait_for_irq(volatile uint64_t *flag)
{
    while (!*flag) {
        __asm__ volatile("wfi");
        csr_set(mstatus, 1 << 3);
        csr_clear(mstatus, 1 << 3);
    }
}

void trap_s(struct frame *f)
{
    s_cause = csr_read(scause);
    s_tval = csr_read(stval);
    s_count++;
    if (s_cause == 8 && f->x[17] == 93) {           /* exit request from U: pass it to M */
        __asm__ volatile("li a7, 93; ecall" ::: "a7", "memory");
    }
    csr_write(sepc, csr_read(sepc) + 4);
}

static void lower_exit(void) { __asm__ volatile("li a7, 93; ecall" ::: "a7", "memory"); }

/* ---- code run in U and S ------------------------------------------------ */

static void u_ecall(void) { __asm__ volatile("li a7, 7; ecall" ::: "a7"); lower_exit(); }
static void u_rdtime(void) { (void)csr_read(time); lower_exit(); }
static void u_mret(void) { __asm__ volatile("mret"); lower_exit(); }

/* ---- page tables (Sv39) --------------------------------------------------- */
#define PTE_V 1
#define PTE_R 2
#define PTE_W 4
#define PTE_X 8
#define PTE_U 16
#define PTE_A 64
#define PTE_D 128
static uint64_t root[512] __attribute__((aligned(4096)));
static uint64_t l1[512] __attribute__((aligned(4096)));
static uint64_t l0[512] __attribute__((aligned(4096)));
static uint64_t page_a[512] __attribute__((aligned(4096)));
static uint64_t page_b[512] __attribute__((aligned(4096)));
static uint64_t page_ro[512] __attribute__((aligned(4096)));
#define VA_TEST 0xC0000000ull
static volatile uint64_t s_read1, s_read2, s_read3, s_read4;

static uint64_t pte(void *pa, uint64_t flags) { return ((uint64_t)pa >> 12) << 10 | flags; }

static void s_vm(void)
{
    volatile uint64_t *va = (volatile uint64_t *)VA_TEST;
    s_read1 = va[0];                                 /* sets A */
    va[1] = 0x5555;                                  /* sets D */
    *(volatile uint64_t *)(VA_TEST + 0x1000) = 1;    /* read-only page: store page fault */
    (void)*(volatile uint64_t *)(VA_TEST + 0x2000);  /* unmapped: load page fault */
    l0[0] = pte(page_b, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D);
    __asm__ volatile("sfence.vma" ::: "memory");
    s_read2 = va[0];
    __asm__ volatile("sfence.vma %0, zero" :: "r"(VA_TEST) : "memory");
    s_read3 = va[1];
    lower_exit();
}

static void s_user_page(void)
{
    /* an S access to a U page faults unless SUM is set */
    (void)*(volatile uint64_t *)(VA_TEST + 0x3000);
    csr_set(sstatus, 1ull << 18);
    s_read1 = *(volatile uint64_t *)(VA_TEST + 0x3000);
    csr_clear(sstatus, 1ull << 18);
    lower_exit();
}

static void test_vm(void)
{
    for (int i = 0; i < 512; i++) page_a[i] = 0xa000 + i, page_b[i] = 0xb000 + i, page_ro[i] = 0xc000 + i;
    root[0] = pte((void *)0, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D);            /* devices */
    root[2] = pte((void *)0x80000000, PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D);
    root[3] = pte(l1, PTE_V);
    l1[0] = pte(l0, PTE_V);
    l0[0] = pte(page_a, PTE_V | PTE_R | PTE_W);
    l0[1] = pte(page_ro, PTE_V | PTE_R | PTE_A);
    l0[3] = pte(page_ro, PTE_V | PTE_R | PTE_U | PTE_A);
    csr_write(satp, (8ull << 60) | ((uint64_t)root >> 12));
    m_count = 0;
    run_lower(1, s_vm);
    report("vm.read_a", s_read1, 0xa000);
    report("vm.pte_a_bit", (l0[0] & PTE_A) != 0 || page_a[1] == 0x5555, 1);
    report("vm.page_a_written", page_a[1], 0x5555);
    report("vm.read_after_sfence", s_read2, 0xb000);
    report("vm.read_after_sfence_va", s_read3, 0xb001);
    report("vm.faults", m_count, 3);                /* store PF, load PF, exit ecall */
    report("vm.satp_readback", csr_read(satp), (8ull << 60) | ((uint64_t)root >> 12));
    m_count = 0;
    run_lower(1, s_user_page);
    report("vm.sum_fault_cause", m_cause == 9 ? 13 : m_cause, 13);
    report("vm.sum_read", s_read1, 0xc000);
    csr_write(satp, 0);
}

static void s_ad(void)
{
    l0[0] = pte(page_a, PTE_V | PTE_R | PTE_W);
    __asm__ volatile("sfence.vma" ::: "memory");
    s_read1 = *(volatile uint64_t *)VA_TEST;
    s_read2 = l0[0] & (PTE_A | PTE_D);
    *(volatile uint64_t *)VA_TEST = 7;
    s_read3 = l0[0] & (PTE_A | PTE_D);
    lower_exit();
}

static void s_fault_cause(void)
{
    (void)*(volatile uint64_t *)(VA_TEST + 0x2000);
    lower_exit();
}


/* ---- SFENCE.VMA: code remapped under an ASID ------------------------------ */
static uint32_t code_a[1024] __attribute__((aligned(4096)));
static uint32_t code_b[1024] __attribute__((aligned(4096)));
#define VA_CODE (VA_TEST + 0x4000)
#define ASID 5ull

static void s_code_remap(void)
{
    typedef long (*fn_t)(void);
    s_read1 = ((fn_t)VA_CODE)();
    l0[4] = pte(code_b, PTE_V | PTE_R | PTE_X | PTE_A | PTE_D);
    __asm__ volatile("sfence.vma %0, zero" :: "r"(VA_CODE) : "memory");
    s_read2 = ((fn_t)VA_CODE)();
    l0[4] = pte(code_a, PTE_V | PTE_R | PTE_X | PTE_A | PTE_D);
    __asm__ volatile("sfence.vma zero, %0" :: "r"(ASID) : "memory");
    s_read3 = ((fn_t)VA_CODE)();
    l0[0] = pte(page_b, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D);
    __asm__ volatile("sfence.vma %0, %1" :: "r"(VA_TEST), "r"(ASID) : "memory");
    s_read4 = *(volatile uint64_t *)(VA_TEST + 16);
    lower_exit();
}

static void test_sfence(void)
{
    code_a[0] = 0x00100513; code_a[1] = 0x00008067;   /* li a0, 1; ret */
    code_b[0] = 0x00200513; code_b[1] = 0x00008067;   /* li a0, 2; ret */
    __asm__ volatile("fence.i" ::: "memory");
    l0[0] = pte(page_a, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D);
    l0[4] = pte(code_a, PTE_V | PTE_R | PTE_X | PTE_A | PTE_D);
    csr_write(satp, (8ull << 60) | (ASID << 44) | ((uint64_t)root >> 12));
    report("satp.asid_readback", (csr_read(satp) >> 44) & 0xffff, ASID);
    m_count = 0;
    run_lower(1, s_code_remap);
    report("sfence.code_before", s_read1, 1);
    report("sfence.code_after_va", s_read2, 2);
    report("sfence.code_after_asid", s_read3, 1);
    report("sfence.data_after_va_asid", s_read4, 0xb002);
    report("sfence.traps", m_count, 1);
    csr_write(satp, 0);
}

/* ---- two address spaces under two ASIDs, switched without fences ----------
 * Each switch of satp must show the new space's mapping of the same VA (a
 * TLB that keeps the entries of recent contexts must key them by ASID), and
 * a fence for one ASID must reach that space's saved entries too. */
static uint64_t root2[512] __attribute__((aligned(4096)));
static uint64_t l1_2[512] __attribute__((aligned(4096)));
static uint64_t l0_2[512] __attribute__((aligned(4096)));
static volatile uint64_t s_sum_a, s_sum_b, s_after_fence, s_back;
#define SATP_A ((8ull << 60) | (1ull << 44) | ((uint64_t)root >> 12))
#define SATP_B ((8ull << 60) | (2ull << 44) | ((uint64_t)root2 >> 12))

static void s_two_spaces(void)
{
    volatile uint64_t *va = (volatile uint64_t *)VA_TEST;
    uint64_t sum_a = 0, sum_b = 0;
    for (int i = 0; i < 8; i++) {
        csr_write(satp, SATP_A);
        sum_a += va[i];
        csr_write(satp, SATP_B);
        sum_b += va[i];
    }
    s_sum_a = sum_a;
    s_sum_b = sum_b;
    l0_2[0] = pte(page_ro, PTE_V | PTE_R | PTE_A);
    __asm__ volatile("sfence.vma zero, %0" :: "r"(2ull) : "memory");
    s_after_fence = va[0];
    csr_write(satp, SATP_A);
    s_back = va[0];
    lower_exit();
}

static void test_two_spaces(void)
{
    for (int i = 0; i < 8; i++) page_a[i] = 0xa000 + i, page_b[i] = 0xb000 + i;
    l0[0] = pte(page_a, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D);
    root2[0] = root[0];
    root2[2] = root[2];
    root2[3] = pte(l1_2, PTE_V);
    l1_2[0] = pte(l0_2, PTE_V);
    l0_2[0] = pte(page_b, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D);
    __asm__ volatile("sfence.vma" ::: "memory");
    csr_write(satp, SATP_A);
    run_lower(1, s_two_spaces);
    report("asid.sum_space_a", s_sum_a, 8 * 0xa000 + 28);
    report("asid.sum_space_b", s_sum_b, 8 * 0xb000 + 28);
    report("asid.after_fence_b", s_after_fence, 0xc000);
    report("asid.back_to_a", s_back, 0xa000);
    csr_write(satp, 0);
}

/* ---- PMP ------------------------------------------------------------------- */
/* ---- one address, two meanings: M runs it untranslated, S through satp ----
 * A block decoded when M ran physical address P must not run when S jumps
 * to virtual address P, which satp maps to another page (a cache of decoded
 * code keyed by address alone would run M's). */
static uint32_t code_m[1024] __attribute__((aligned(4096)));
static uint32_t code_s[1024] __attribute__((aligned(4096)));
static uint64_t root_alias[512] __attribute__((aligned(4096)));
static uint64_t l1_alias[512] __attribute__((aligned(4096)));
static uint64_t l0_alias[512] __attribute__((aligned(4096)));

static void s_call_alias(void)
{
    typedef long (*fn_t)(void);
    s_read1 = ((fn_t)code_m)();
    lower_exit();
}

static void test_mode_alias(void)
{
    typedef long (*fn_t)(void);
    code_m[0] = 0x00100513; code_m[1] = 0x00008067;   /* li a0, 1; ret */
    code_s[0] = 0x00200513; code_s[1] = 0x00008067;   /* li a0, 2; ret */
    __asm__ volatile("fence.i" ::: "memory");
    /* RAM's gigabyte identity-mapped in 2 MiB and 4 KiB pages, but for
     * code_m's page, which shows code_s */
    uint64_t gb = 0x80000000ull, mb = (uint64_t)code_m & ~0x1fffffull;
    uint64_t rwx = PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D;
    for (int i = 0; i < 512; i++) {
        l1_alias[i] = pte((void *)(gb + ((uint64_t)i << 21)), rwx);
        l0_alias[i] = pte((void *)(mb + ((uint64_t)i << 12)), rwx);
    }
    l0_alias[((uint64_t)code_m >> 12) & 511] = pte(code_s, PTE_V | PTE_R | PTE_X | PTE_A);
    l1_alias[(mb - gb) >> 21] = pte(l0_alias, PTE_V);
    root_alias[0] = root[0];
    root_alias[2] = pte(l1_alias, PTE_V);
    csr_write(satp, (8ull << 60) | ((uint64_t)root_alias >> 12));
    __asm__ volatile("sfence.vma" ::: "memory");
    report("alias.m_runs_physical", ((fn_t)code_m)(), 1);
    m_count = 0;
    run_lower(1, s_call_alias);
    report("alias.s_runs_mapped", s_read1, 2);
    report("alias.m_again", ((fn_t)code_m)(), 1);
    csr_write(satp, 0);
    __asm__ volatile("sfence.vma" ::: "memory");
}

static uint32_t pmp_buf[2048] __attribute__((aligned(8192)));
static uint32_t pmp_code[1024] __attribute__((aligned(4096)));
#define NAPOT_ALL (~0ull >> 10)
#define PMP_R 1
#define PMP_W 2
#define PMP_X 4
#define PMP_TOR 0x08
#define PMP_NA4 0x10
#define PMP_NAPOT 0x18
#define PMP_L 0x80

static uint64_t napot(void *base, uint64_t size) { return ((uint64_t)base >> 2) | ((size >> 3) - 1); }

static void lower_pmp_na4(void)
{
    volatile uint32_t *p = pmp_buf;
    s_read1 = p[0];                                  /* allowed */
    (void)p[2];                                      /* NA4 entry: load access fault */
    p[2] = 1;                                        /* store access fault */
    s_read3 = p[3];                                  /* the next word is allowed */
    uint64_t v;
    __asm__ volatile("ld %0, 4(%1)" : "=r"(v) : "r"(p) : "memory");   /* straddles: fault */
    lower_exit();
}

static void lower_pmp_tor(void)
{
    volatile uint32_t *p = pmp_buf;
    s_read1 = p[0x200];                              /* inside the R-only TOR range */
    p[0x200] = 7;                                    /* store access fault */
    p[0x400] = 8;                                    /* just above the range: allowed */
    s_read2 = p[0x400];
    lower_exit();
}

static void s_pmp_walk(void)
{
    (void)*(volatile uint64_t *)VA_TEST;            /* the walk reads l0: access fault */
    lower_exit();
}

static void pmp_reset(void)
{
    csr_write(pmpcfg0, 0);
    csr_write(pmpcfg2, 0);
    csr_write(pmpaddr0, NAPOT_ALL);
    csr_write(pmpcfg0, PMP_NAPOT | PMP_R | PMP_W | PMP_X);
}

static void test_pmp(void)
{
    for (int i = 0; i < 2048; i++) pmp_buf[i] = 0xa0000 + i;
    /* NA4 with no permission ahead of an all-RWX NAPOT entry */
    csr_write(pmpaddr0, ((uint64_t)pmp_buf + 8) >> 2);
    csr_write(pmpaddr1, NAPOT_ALL);
    csr_write(pmpcfg0, ((uint64_t)(PMP_NAPOT | PMP_R | PMP_W | PMP_X) << 8) | PMP_NA4);
    for (int mode = 0; mode <= 1; mode++) {
        m_count = 0;
        run_lower(mode, lower_pmp_na4);
        puts_(mode ? "[S] " : "[U] ");
        report("pmp.na4.traps", m_count, 4);
        report("pmp.na4.load_cause", flog_cause[0], 5);
        report("pmp.na4.load_tval", flog_tval[0] - (uint64_t)pmp_buf, 8);
        report("pmp.na4.store_cause", flog_cause[1], 7);
        report("pmp.na4.store_tval", flog_tval[1] - (uint64_t)pmp_buf, 8);
        report("pmp.na4.straddle_cause", flog_cause[2], 5);
        report("pmp.na4.read_before", s_read1, 0xa0000);
        report("pmp.na4.read_after", s_read3, 0xa0003);
    }
    report("pmp.na4.m_allowed", pmp_buf[2], 0xa0002);   /* M: unlocked entries don't apply */
    /* MPRV makes M's loads use MPP's privilege, and so S's PMP view */
    m_count = 0;
    csr_clear(mstatus, 3ull << 11);
    csr_set(mstatus, (1ull << 11) | (1ull << 17));
    uint64_t v = *(volatile uint32_t *)&pmp_buf[2];
    csr_clear(mstatus, 1ull << 17);
    report("pmp.mprv.cause", m_count ? flog_cause[0] : 0, 5);
    (void)v;

    /* TOR: [pmpaddr0, pmpaddr1) read-only for S/U */
    pmp_buf[0x400] = 0;
    csr_write(pmpcfg0, 0);
    csr_write(pmpaddr0, (uint64_t)pmp_buf >> 2);
    csr_write(pmpaddr1, ((uint64_t)pmp_buf + 0x1000) >> 2);
    csr_write(pmpaddr2, NAPOT_ALL);
    csr_write(pmpcfg0, ((uint64_t)(PMP_NAPOT | PMP_R | PMP_W | PMP_X) << 16) | ((PMP_TOR | PMP_R) << 8));
    m_count = 0;
    run_lower(0, lower_pmp_tor);
    report("pmp.tor.traps", m_count, 2);
    report("pmp.tor.store_cause", flog_cause[0], 7);
    report("pmp.tor.store_tval", flog_tval[0] - (uint64_t)pmp_buf, 0x800);
    report("pmp.tor.read", s_read1, 0xa0200);
    report("pmp.tor.above", s_read2, 8);
    report("pmp.tor.unchanged", pmp_buf[0x200], 0xa0200);

    /* page-table walks are checked as S-mode accesses */
    csr_write(pmpcfg0, 0);
    csr_write(pmpaddr0, napot(l0, 4096));
    csr_write(pmpaddr1, NAPOT_ALL);
    csr_write(pmpcfg0, ((uint64_t)(PMP_NAPOT | PMP_R | PMP_W | PMP_X) << 8) | PMP_NAPOT);
    csr_write(satp, (8ull << 60) | ((uint64_t)root >> 12));
    m_count = 0;
    run_lower(1, s_pmp_walk);
    csr_write(satp, 0);
    report("pmp.walk.cause", flog_cause[0], 5);
    report("pmp.walk.tval", flog_tval[0], VA_TEST);

    /* execute permission, re-checked for code that ran before */
    pmp_code[0] = 0x05d00893;                        /* li a7, 93 */
    pmp_code[1] = 0x00000073;                        /* ecall */
    __asm__ volatile("fence.i" ::: "memory");
    csr_write(pmpaddr0, napot(pmp_code, 4096));
    static const uint8_t xcfg[3] = { PMP_R | PMP_W, PMP_R | PMP_W | PMP_X, PMP_R | PMP_W };
    static const char *const xname[3] = { "pmp.exec.denied", "pmp.exec.allowed", "pmp.exec.denied_again" };
    static const uint64_t xcause[3] = { 1, 8, 1 };
    for (int i = 0; i < 3; i++) {
        csr_write(pmpcfg0, ((uint64_t)(PMP_NAPOT | PMP_R | PMP_W | PMP_X) << 8) | PMP_NAPOT | xcfg[i]);
        m_cause = 0;
        run_lower(0, (void (*)(void))pmp_code);
        report(xname[i], m_cause, xcause[i]);
    }
    report("pmp.exec.tval", m_tval - (uint64_t)pmp_code, 0);

    /* S/U are denied where no entry matches; M is not */
    csr_write(pmpcfg0, 0);
    csr_write(pmpaddr0, napot(pmp_buf, 8192));
    csr_write(pmpcfg0, PMP_NAPOT | PMP_R | PMP_W | PMP_X);
    m_cause = 0;
    run_lower(0, (void (*)(void))pmp_code);
    report("pmp.nomatch.u_fetch", m_cause, 1);
    report("pmp.nomatch.m_read", pmp_code[0], 0x05d00893);
    pmp_reset();
}

/* A locked entry binds M too and ignores writes until reset. */
static void test_pmp_lock(void)
{
    volatile uint32_t *p = pmp_buf;
    csr_write(pmpaddr0, ((uint64_t)pmp_buf + 16) >> 2);
    csr_write(pmpaddr1, NAPOT_ALL);
    csr_write(pmpcfg0, ((uint64_t)(PMP_NAPOT | PMP_R | PMP_W | PMP_X) << 8) | PMP_L | PMP_NA4 | PMP_R);
    m_count = 0;
    uint64_t r = p[4];
    p[4] = 9;
    report("pmp.lock.m_read", r, 0xa0004);
    report("pmp.lock.m_store_cause", m_count ? flog_cause[0] : 0, 7);
    report("pmp.lock.m_store_tval", flog_tval[0] - (uint64_t)pmp_buf, 16);
    report("pmp.lock.unchanged", p[4], 0xa0004);
    csr_write(pmpcfg0, 0x0f1f);                      /* entry 1 becomes TOR RWX */
    csr_write(pmpaddr0, 0);
    report("pmp.lock.cfg_kept", csr_read(pmpcfg0) & 0xff, PMP_L | PMP_NA4 | PMP_R);
    report("pmp.lock.cfg1_written", (csr_read(pmpcfg0) >> 8) & 0xff, 0x0f);
    report("pmp.lock.addr_kept", csr_read(pmpaddr0), ((uint64_t)pmp_buf + 16) >> 2);
}

/* ---- virtio-mmio: a virtio-rng request through a split virtqueue -------- */
#define VIO(slot, off) (*(volatile uint32_t *)(0x10001000ul + 0x1000ul * (slot) + (off)))
static struct { uint64_t addr; uint32_t len; uint16_t flags, next; } vq_desc[8] __attribute__((aligned(16)));
static struct { uint16_t flags, idx, ring[8], used_event; } vq_avail __attribute__((aligned(4)));
static struct { uint16_t flags, idx; struct { uint32_t id, len; } ring[8]; uint16_t avail_event; } vq_used
    __attribute__((aligned(4096)));
static uint8_t rng_buf[16];

static void test_virtio_rng(void)
{
    int slot = -1;
    for (int i = 0; i < 8; i++)
        if (VIO(i, 0x000) == 0x74726976 && VIO(i, 0x004) == 2 && VIO(i, 0x008) == 4)
            slot = i;
    report("virtio.rng_found", slot >= 0, 1);
    if (slot < 0)
        return;
    VIO(slot, 0x070) = 0;                            /* reset */
    VIO(slot, 0x070) = 1 | 2;                        /* ACKNOWLEDGE | DRIVER */
    VIO(slot, 0x014) = 1;
    report("virtio.version_1", VIO(slot, 0x010) & 1, 1);
    VIO(slot, 0x024) = 1;
    VIO(slot, 0x020) = 1;                            /* VIRTIO_F_VERSION_1 */
    VIO(slot, 0x024) = 0;
    VIO(slot, 0x020) = 0;
    VIO(slot, 0x070) = 1 | 2 | 8;                    /* FEATURES_OK */
    report("virtio.features_ok", VIO(slot, 0x070) & 8, 8);
    VIO(slot, 0x030) = 0;
    report("virtio.queue_num_max_ok", VIO(slot, 0x034) >= 8, 1);
    report("virtio.queue_not_ready", VIO(slot, 0x044), 0);
    VIO(slot, 0x038) = 8;
    VIO(slot, 0x080) = (uint32_t)(uint64_t)vq_desc;  VIO(slot, 0x084) = 0;
    VIO(slot, 0x090) = (uint32_t)(uint64_t)&vq_avail; VIO(slot, 0x094) = 0;
    VIO(slot, 0x0a0) = (uint32_t)(uint64_t)&vq_used;  VIO(slot, 0x0a4) = 0;
    VIO(slot, 0x044) = 1;
    report("virtio.queue_ready", VIO(slot, 0x044), 1);
    VIO(slot, 0x070) = 1 | 2 | 8 | 4;                /* DRIVER_OK */
    vq_desc[0].addr = (uint64_t)rng_buf;
    vq_desc[0].len = sizeof rng_buf;
    vq_desc[0].flags = 2;                            /* device writes */
    vq_avail.ring[0] = 0;
    __asm__ volatile("fence" ::: "memory");
    vq_avail.idx = 1;
    __asm__ volatile("fence" ::: "memory");
    VIO(slot, 0x050) = 0;                            /* notify queue 0 */
    for (long spin = 0; spin < 100000000 && *(volatile uint16_t *)&vq_used.idx == 0; spin++) {}
    uint64_t nonzero = 0;
    for (unsigned i = 0; i < sizeof rng_buf; i++) nonzero |= rng_buf[i];
    report("virtio.used_idx", *(volatile uint16_t *)&vq_used.idx, 1);
    report("virtio.used_id", vq_used.ring[0].id, 0);
    report("virtio.used_len", vq_used.ring[0].len, sizeof rng_buf);
    report("virtio.random_bytes", nonzero != 0, 1);
    report("virtio.int_status", VIO(slot, 0x060) & 1, 1);
    VIO(slot, 0x064) = 1;                            /* InterruptACK */
    report("virtio.int_acked", VIO(slot, 0x060) & 1, 0);
    VIO(slot, 0x070) = 0;
    report("virtio.reset_status", VIO(slot, 0x070), 0);
}

int main(void)
{
    csr_write(mscratch, mstack_top);
    csr_write(mtvec, mtrap_entry);
    /* PMP: one NAPOT entry over everything, so that S and U may access
     * memory (with PMP present and no entry, they may not). */
    csr_write(pmpaddr0, ~0ull >> 10);
    csr_write(pmpcfg0, 0x1f);
    puts_("vmpy bare-metal tests\n");

    /* traps from U and the recorded state */
    run_lower(0, u_ecall);
    report("ecall_u.cause", m_cause, 8);
    m_cause = 0;
    __asm__ volatile(".word 0xffffffff");              /* illegal in M */
    report("illegal.cause", m_cause, 2);
    report("illegal.tval", m_tval, 0xffffffff);
    __asm__ volatile("ebreak");
    report("ebreak.cause", m_cause, 3);
    m_count = 0;
    run_lower(0, u_mret);
    report("mret_in_u.cause", m_first, 2);
    report("mstatus.mpp_after_u", (csr_read(mstatus) >> 11) & 3, 0);

    /* counters: U needs mcounteren.TM */
    csr_write(mcounteren, 0);
    m_count = 0;
    run_lower(0, u_rdtime);
    report("rdtime_u_disabled", m_first, 2);
    csr_write(mcounteren, 7);
    csr_write(scounteren, 7);
    m_cause = 0;
    run_lower(0, u_rdtime);
    report("rdtime_u_enabled", m_cause, 8);           /* only the exit ecall */

    /* delegation: U ecall goes to S; S passes "exit" to M as cause 9 */
    csr_write(stvec, strap_entry);
    csr_write(medeleg, 1 << 8);
    s_count = 0;
    run_lower(0, u_ecall);
    report("deleg.s_cause", s_cause, 8);
    report("deleg.m_cause", m_cause, 9);
    report("deleg.s_count", s_count, 2);
    report("medeleg.readback", csr_read(medeleg), 1 << 8);
    csr_write(medeleg, 0);

    /* timer interrupt through the CLINT, WFI wakes on it */
    m_count = 0;
    *CLINT_MTIMECMP = *CLINT_MTIME + 1000;
    csr_set(mie, 1 << 7);
    wait_for_irq(&m_count);
    report("timer.cause", m_cause, (1ull << 63) | 7);
    report("timer.count", m_count, 1);

    /* WFI returns with the interrupt pending but MIE clear; no trap */
    m_count = 0;
    *CLINT_MTIMECMP = *CLINT_MTIME + 100;
    while (!(csr_read(mip) & (1 << 7)))
        __asm__ volatile("wfi");
    report("wfi_masked.count", m_count, 0);
    report("wfi_masked.mip_mtip", (csr_read(mip) >> 7) & 1, 1);
    *CLINT_MTIMECMP = ~0ull;
    report("mtip_cleared", (csr_read(mip) >> 7) & 1, 0);
    csr_clear(mie, 1 << 7);

    /* software interrupt via msip, vectored mode */
    csr_write(mtvec, (uint64_t)mvec_table | 1);
    csr_set(mie, 1 << 3);
    m_count = 0;
    *CLINT_MSIP = 1;
    csr_set(mstatus, 1 << 3);
    csr_clear(mstatus, 1 << 3);
    report("msip.cause", m_cause, (1ull << 63) | 3);
    report("msip.count", m_count, 1);
    csr_clear(mie, 1 << 3);
    vec7 = 0;
    *CLINT_MTIMECMP = *CLINT_MTIME + 100;
    csr_set(mie, 1 << 7);
    wait_for_irq(&vec7);
    csr_clear(mie, 1 << 7);
    report("vectored.timer_slot", vec7, 1);
    csr_write(mtvec, mtrap_entry);

    /* Sv39 */
    test_vm();
    csr_write(satp, (8ull << 60) | ((uint64_t)root >> 12));
    run_lower(1, s_ad);
    report("ad.after_read", s_read2, PTE_A);
    report("ad.after_write", s_read3, PTE_A | PTE_D);
    csr_write(medeleg, 1 << 13);
    s_count = 0;
    run_lower(1, s_fault_cause);
    report("deleg.load_pf_scause", s_cause, 13);
    report("deleg.load_pf_stval", s_tval, VA_TEST + 0x2000);
    csr_write(medeleg, 0);
    csr_write(satp, 0);

    /* sv48 / sv57 accepted, an unsupported mode leaves satp alone */
    csr_write(satp, 9ull << 60);
    report("satp.sv48", csr_read(satp) >> 60, 9);
    csr_write(satp, 10ull << 60);
    report("satp.sv57", csr_read(satp) >> 60, 10);
    csr_write(satp, 0);
    csr_write(satp, 5ull << 60);
    report("satp.bad_mode", csr_read(satp), 0);

    /* PMP registers: address bits and configuration read back */
    /* (bits 63:54 are WARL: compare the 54 address bits only) */
    csr_write(pmpaddr1, 0x123456789abull);
    report("pmpaddr1.readback", csr_read(pmpaddr1) & ((1ull << 54) - 1), 0x123456789abull);
    csr_write(pmpcfg0, 0x0f1f);
    report("pmpcfg0.readback", csr_read(pmpcfg0) & 0xffff, 0x0f1f);
    csr_write(pmpcfg0, 0x1f);

    /* misaligned load works (the virt board's harts handle them) */
    static uint8_t bytes[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
    uint64_t v;
    __asm__ volatile("ld %0, 0(%1)" : "=r"(v) : "r"(bytes + 3));
    report("misaligned_ld", v, 0x0b0a090807060504ull);

    /* UART THRE interrupt through the PLIC: priority, enable, claim, complete */
    PLIC[10] = 1;                                    /* priority of source 10 */
    report("plic.priority", PLIC[10], 1);
    PLIC[0x2000 / 4] = 1u << 10;                     /* enable for context 0 (hart 0 M) */
    PLIC[0x200000 / 4] = 0;                          /* threshold */
    /* no printing in between: every character sent raises THRE again */
    while (!(UART[5] & 0x40)) {}
    UART[1] = 0x02;                                  /* IER: THRE */
    uint64_t pend = (PLIC[0x1000 / 4] >> 10) & 1, meip = (csr_read(mip) >> 11) & 1;
    uint32_t claim = PLIC[0x200004 / 4];
    uint64_t iir1 = UART[2] & 0x0f, iir2 = UART[2] & 0x0f;   /* reading IIR acknowledges THRE */
    UART[1] = 0;
    PLIC[0x200004 / 4] = claim;
    uint64_t claim2 = PLIC[0x200004 / 4], meip2 = (csr_read(mip) >> 11) & 1;
    report("plic.pending10", pend, 1);
    report("mip.meip", meip, 1);
    report("plic.claim", claim, 10);
    report("uart.iir_thre", iir1, 0x02);
    report("uart.iir_none", iir2, 0x01);
    report("plic.claim_empty", claim2, 0);
    report("mip.meip_clear", meip2, 0);
    UART[7] = 0x5a;
    report("uart.scratch", UART[7], 0x5a);
    report("uart.lsr", UART[5] & 0x60, 0x60);

    test_virtio_rng();
    test_sfence();
    test_two_spaces();
    test_mode_alias();
    test_pmp();
    test_pmp_lock();                                 /* last: a locked entry stays */

    puts_("done\n");
    *TEST_DEV = 0x5555;
    for (;;)
        __asm__ volatile("wfi");
}
