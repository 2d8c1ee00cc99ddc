/* board_virt.c — the RISC-V `virt` board with QEMU's memory map, so that
 * generic kernels and OpenSBI boot unmodified:
 *
 *   0x00001000  boot ROM (fw_dynamic info)   0x00100000  test finisher/syscon
 *   0x00101000  goldfish RTC (irq 11)         0x02000000  CLINT
 *   0x0c000000  PLIC                          0x10000000  NS16550A (irq 10)
 *   0x10001000  virtio-mmio slots (irq 1..8)  0x80000000  RAM
 *
 * Firmware is loaded at the start of RAM and entered in M mode on every hart
 * with a0 = hartid, a1 = device tree, a2 = fw_dynamic info (as QEMU's reset
 * vector does); the kernel Image goes at RAM + its text_offset, the initrd
 * in the middle of RAM, the device tree near the top.
 *
 * One host thread runs all harts round-robin (machine.c's run loop); the
 * slice callback moves console bytes and idles the thread when every hart
 * waits in WFI. */
#include "board.h"
#include "devices.h"
#include "input_log.h"
#include "virtio.h"
#include "core/riscv64/rv.h"
#include "core/snapshot.h"
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ROM_BASE 0x1000ull
#define TEST_BASE 0x100000ull
#define RTC_BASE 0x101000ull
#define CLINT_BASE 0x2000000ull
#define PLIC_BASE 0xc000000ull
#define UART_BASE 0x10000000ull
#define VIRTIO_BASE 0x10001000ull
#define VIRTIO_SLOTS 8
#define RAM_BASE 0x80000000ull
#define UART_IRQ 10
#define RTC_IRQ 11
#define VIRTIO_IRQ0 1
#define IN_CAP 65536
#define OUT_CAP (1u << 20)
#define TX_PENDING 4096

struct vm_board {
    vm_machine *m;
    vm_board_config cfg;
    uint64_t ram_size, fdt_addr, initrd_start, initrd_end;
    uart16550 *uart;
    clint *clint;
    plic *plic;
    syscon *syscon;
    goldfish_rtc *rtc;
    virtio_mmio *virtio[VIRTIO_SLOTS];
    int nvirtio;
    virtio_console *hvc;        /* owned by its virtio_mmio slot */
    virtio_net *net;            /* likewise */

    pthread_mutex_t lock;
    pthread_cond_t cond;        /* input, output, stop, state changes */
    uint8_t in_q[IN_CAP];
    size_t in_head, in_len;
    vm_input_log *rec, *play;   /* console input being recorded / replayed */
    uint8_t *out;               /* ring of console output for readers */
    size_t out_head, out_len;
    int echo_fd;

    uint8_t tx[TX_PENDING];     /* run thread only: output not yet published */
    size_t tx_len;

    pthread_t thread;
    bool started;
    _Atomic int stop;
    int state, exit_code;
    char error[256];
};

/* ---- wiring: interrupt lines into harts -------------------------------- */

static rv_cpu *hart(vm_board *b, int i) { return rv_cpu_of(vm_machine_cpu(b->m, i)); }

static void plic_ctx_out(void *ctx, int context, bool level)
{
    vm_board *b = ctx;
    rv_irq_set_line(hart(b, context / 2), context % 2 ? RV_IRQ_SEI : RV_IRQ_MEI, level);
}

static void clint_set_msip(void *ctx, int h, bool level)
{
    rv_irq_set_line(hart(ctx, h), RV_IRQ_MSI, level);
}

static void clint_set_mtimecmp(void *ctx, int h, uint64_t v)
{
    rv_cpu *c = hart(ctx, h);
    c->mtimecmp = v;
    rv_irq_set_line(c, RV_IRQ_MTI, rv_time_now(c->common.machine) >= v);
    vm_cpu_request_exit(&c->common, VM_STOP_NONE);   /* re-plan the slice (budget_cap) */
}

static uint64_t clint_get_mtimecmp(void *ctx, int h) { return hart(ctx, h)->mtimecmp; }
static uint64_t clint_mtime(void *ctx) { return rv_time_now(((vm_board *)ctx)->m); }
static uint64_t rtc_now(void *ctx) { return vm_clock_realtime_ns(((vm_board *)ctx)->m); }

static void power(void *ctx, int what, int code)
{
    vm_board *b = ctx;
    pthread_mutex_lock(&b->lock);
    b->state = what == SYSCON_REBOOT ? VM_BOARD_REBOOT : VM_BOARD_POWEROFF;
    b->exit_code = what == SYSCON_FAIL ? (code ? code : 1) : 0;
    pthread_mutex_unlock(&b->lock);
    vm_machine_stop(b->m);
}

/* ---- console ----------------------------------------------------------- */

static void publish_output(vm_board *b)
{
    if (!b->tx_len)
        return;
    if (b->echo_fd >= 0) {
        size_t done = 0;
        while (done < b->tx_len) {
            ssize_t n = write(b->echo_fd, b->tx + done, b->tx_len - done);
            if (n <= 0 && errno != EINTR)
                break;
            if (n > 0)
                done += (size_t)n;
        }
    }
    pthread_mutex_lock(&b->lock);
    for (size_t i = 0; i < b->tx_len; i++) {
        if (b->out_len == OUT_CAP) {           /* a reader that lags loses the oldest */
            b->out_head = (b->out_head + 1) % OUT_CAP;
            b->out_len--;
        }
        b->out[(b->out_head + b->out_len++) % OUT_CAP] = b->tx[i];
    }
    pthread_cond_broadcast(&b->cond);
    pthread_mutex_unlock(&b->lock);
    b->tx_len = 0;
}

static void uart_tx(void *ctx, uint8_t byte)
{
    vm_board *b = ctx;
    b->tx[b->tx_len++] = byte;
    if (b->tx_len == TX_PENDING || byte == '\n')
        publish_output(b);
}

static uint64_t board_icount(vm_board *b)
{
    uint64_t n = 0;
    for (int i = 0; i < b->cfg.smp; i++)
        n += vm_cpu_icount(vm_machine_cpu(b->m, i));
    return n;
}

/* Replay: the recorded bytes whose instruction count has come, as far as
 * the FIFO takes them (it took them at the same counts when recorded). */
static void feed_replay(vm_board *b)
{
    uint8_t buf[256];
    size_t room = uart16550_rx_room(b->uart);
    size_t n = vm_input_log_due(b->play, board_icount(b), buf, room < sizeof buf ? room : sizeof buf);
    if (n)
        uart16550_rx_push(b->uart, buf, n);
}

static void feed_input(vm_board *b)
{
    pthread_mutex_lock(&b->lock);
    if (b->play) {
        feed_replay(b);
        pthread_mutex_unlock(&b->lock);
        return;
    }
    while (b->in_len && uart16550_rx_room(b->uart)) {
        size_t n = uart16550_rx_room(b->uart);
        size_t run = IN_CAP - b->in_head;
        if (n > b->in_len) n = b->in_len;
        if (n > run) n = run;
        uart16550_rx_push(b->uart, b->in_q + b->in_head, n);
        if (b->rec)          /* out of memory loses the record, never the input */
            vm_input_log_append(b->rec, board_icount(b), b->in_q + b->in_head, n);
        b->in_head = (b->in_head + n) % IN_CAP;
        b->in_len -= n;
    }
    pthread_mutex_unlock(&b->lock);
}

/* ---- the run thread ----------------------------------------------------- */

/* When every hart sleeps in WFI: the earliest timer deadline (mtime ticks)
 * that could wake one, UINT64_MAX for none.  0: some hart is awake. */
static uint64_t idle_deadline(vm_board *b)
{
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < b->cfg.smp; i++) {
        rv_cpu *c = hart(b, i);
        if (!c->wfi || rv_irq_wfi_wakes(c))
            return 0;
        if ((c->mie >> RV_IRQ_MTI) & 1 && c->mtimecmp < best)
            best = c->mtimecmp;
        if (((c->mie >> RV_IRQ_STI) & 1) && (c->menvcfg >> 63) && c->stimecmp < best)
            best = c->stimecmp;
    }
    return best;
}

/* Nanoseconds until the earliest timer of an idle hart could fire. */
static uint64_t idle_ns(vm_board *b, uint64_t best)
{
    uint64_t now = rv_time_now(b->m);
    if (best <= now)
        return 0;
    uint64_t ns = (best - now) * 100;
    return ns > 50000000 || best - now > 50000000 ? 50000000 : ns;   /* wake at least every 50 ms */
}

static void idle_wait(vm_board *b, uint64_t ns)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t t = (uint64_t)ts.tv_nsec + ns;
    ts.tv_sec += (time_t)(t / 1000000000u);
    ts.tv_nsec = (long)(t % 1000000000u);
    pthread_mutex_lock(&b->lock);
    if (!b->in_len && !atomic_load(&b->stop))
        pthread_cond_timedwait(&b->cond, &b->lock, &ts);
    pthread_mutex_unlock(&b->lock);
}

static void tick(void *arg)
{
    vm_board *b = arg;
    /* vm_machine_run clears stop requests when it begins, so a stop() that
     * came before the run thread got there would be lost; the board's own
     * flag is not, and ends the run at its first slice. */
    if (atomic_load(&b->stop))
        vm_machine_stop(b->m);
    publish_output(b);
    feed_input(b);
    goldfish_rtc_poll(b->rtc);
    virtio_console_poll(b->hvc);   /* host input for the virtio console */
    virtio_net_poll(b->net);       /* slirp's sockets and timers */
    uint64_t best = idle_deadline(b);
    if (!best)
        return;
    if (vm_clock_deterministic(b->m)) {
        /* Guest time is instructions retired, and sleeping harts retire
         * none: skip to the next deadline (a hart's timer or the RTC's
         * alarm) instead of waiting for it, so no host timing reaches the
         * guest.  Without one only input can wake the guest: wait for it
         * on the host below. */
        uint64_t mono = best <= UINT64_MAX / 100 ? best * 100 : UINT64_MAX, alarm;
        if (goldfish_rtc_alarm(b->rtc, &alarm)) {
            uint64_t now_mono = vm_clock_monotonic_ns(b->m), now_real = vm_clock_realtime_ns(b->m);
            uint64_t at = alarm > now_real ? now_mono + (alarm - now_real) : now_mono;
            if (at < mono)
                mono = at;
        }
        if (mono != UINT64_MAX) {
            vm_clock_warp_to(b->m, mono);
            return;
        }
    }
    uint64_t ns = idle_ns(b, best);
    if (b->net && ns > 1000000)
        ns = 1000000;              /* nobody wakes us for network input: poll each ms */
    if (ns && !atomic_load(&b->stop)) {
        idle_wait(b, ns);
        feed_input(b);
    }
}

/* Deterministic mode: end the slice of hart vc exactly when its next timer
 * deadline, the RTC alarm or the next replayed input comes due, so that
 * interrupts and input reach the guest at instruction counts that do not
 * depend on how the runs were split.  Only future events count: one that is
 * due already is handled at this slice's start. */
static uint64_t budget_cap(void *arg, vm_cpu *vc)
{
    vm_board *b = arg;
    if (!vm_clock_deterministic(b->m))
        return UINT64_MAX;
    rv_cpu *c = rv_cpu_of(vc);
    uint64_t cap = UINT64_MAX, now_mono = vm_clock_monotonic_ns(b->m), alarm, at;
    uint64_t deadlines[3] = { c->mtimecmp, (c->menvcfg >> 63) ? c->stimecmp : UINT64_MAX, UINT64_MAX };
    for (int i = 0; i < 2; i++)
        deadlines[i] = deadlines[i] <= UINT64_MAX / 100 ? deadlines[i] * 100 : UINT64_MAX;
    if (goldfish_rtc_alarm(b->rtc, &alarm)) {
        uint64_t now_real = vm_clock_realtime_ns(b->m);
        deadlines[2] = alarm > now_real ? now_mono + (alarm - now_real) : UINT64_MAX;
    }
    for (int i = 0; i < 3; i++) {
        uint64_t n = deadlines[i] == UINT64_MAX ? UINT64_MAX : vm_clock_insns_until(b->m, deadlines[i]);
        if (n && n < cap)
            cap = n;
    }
    pthread_mutex_lock(&b->lock);
    if (b->play && vm_input_log_next_at(b->play, &at)) {
        uint64_t now = board_icount(b);
        if (at > now && at - now < cap)
            cap = at - now;
    }
    pthread_mutex_unlock(&b->lock);
    return cap;
}

/* After a run: a requested stop (or, for a counted run, the count or its
 * timeout) leaves the board stopped; anything else is an error that names
 * the reason. */
static void run_ended(vm_board *b, vm_stop_reason r, bool count_ok)
{
    pthread_mutex_lock(&b->lock);
    if (b->state == VM_BOARD_RUNNING) {
        if (r == VM_STOP_REQUEST || (count_ok && (r == VM_STOP_COUNT || r == VM_STOP_TIMEOUT))) {
            b->state = VM_BOARD_STOPPED;
        } else {
            b->state = VM_BOARD_ERROR;
            snprintf(b->error, sizeof b->error, "the machine stopped: %s (%s)",
                     vm_stop_reason_name(r), vm_machine_error(b->m));
        }
    }
    pthread_cond_broadcast(&b->cond);
    pthread_mutex_unlock(&b->lock);
}

static void *run_thread(void *arg)
{
    vm_board *b = arg;
    vm_stop_reason r = vm_machine_run(b->m, NULL);
    publish_output(b);
    for (int i = 0; i < b->nvirtio; i++)
        virtio_mmio_flush(b->virtio[i]);
    run_ended(b, r, false);
    return NULL;
}

/* ---- loading ------------------------------------------------------------ */

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static uint8_t *read_file(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fail(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    uint8_t *data = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 1 << 20;
            uint8_t *p = realloc(data, cap);
            if (!p) {
                free(data);
                fclose(f);
                fail(err, errlen, "out of memory reading %s", path);
                return NULL;
            }
            data = p;
        }
        size_t got = fread(data + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        free(data);
        fail(err, errlen, "cannot read %s", path);
        return NULL;
    }
    *len = n;
    return data;
}

static int load_at(vm_board *b, const char *path, uint64_t addr, uint64_t limit, size_t *len_out,
                   char *err, size_t errlen)
{
    size_t len;
    uint8_t *data = read_file(path, &len, err, errlen);
    if (!data)
        return -1;
    int rc = 0;
    if (addr < RAM_BASE || len > limit - addr)
        rc = fail(err, errlen, "%s (%zu bytes) does not fit in RAM at 0x%llx", path, len,
                  (unsigned long long)addr);
    else if (vm_mem_write(b->m, addr, data, len))
        rc = fail(err, errlen, "cannot load %s: %s", path, vm_machine_error(b->m));
    free(data);
    if (len_out)
        *len_out = len;
    return rc;
}

/* The RISC-V Linux Image header: text_offset at 8, "RISCV\0\0\0" at 48. */
static int kernel_offset(const char *path, uint64_t *off, char *err, size_t errlen)
{
    uint8_t h[64];
    FILE *f = fopen(path, "rb");
    if (!f)
        return fail(err, errlen, "cannot open %s: %s", path, strerror(errno));
    size_t n = fread(h, 1, sizeof h, f);
    fclose(f);
    if (n < sizeof h || memcmp(h + 48, "RISCV\0\0\0", 8))
        return fail(err, errlen, "%s is not a RISC-V Linux Image (no RISCV magic)", path);
    uint64_t t = 0;
    for (int i = 7; i >= 0; i--)
        t = (t << 8) | h[8 + i];
    *off = t ? t : 0x200000;
    return 0;
}

/* ---- the device tree ---------------------------------------------------- */

static void reg(fdt *f, uint64_t base, uint64_t size)
{
    uint32_t c[4] = { (uint32_t)(base >> 32), (uint32_t)base, (uint32_t)(size >> 32), (uint32_t)size };
    fdt_prop_cells(f, "reg", c, 4);
}

enum { PH_PLIC = 1, PH_TEST = 2, PH_CPU0 = 16 };   /* cpu i's intc: PH_CPU0 + i */

static void fdt_cpus(fdt *f, int n)
{
    static const char *const exts[] = { "i", "m", "a", "f", "d", "c", "zicntr", "zicsr",
                                        "zifencei", "zba", "zbb", "zbs", "sstc" };
    fdt_begin_node(f, "cpus");
    fdt_prop_u32(f, "#address-cells", 1);
    fdt_prop_u32(f, "#size-cells", 0);
    fdt_prop_u32(f, "timebase-frequency", 10000000);
    for (int i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "cpu@%d", i);
        fdt_begin_node(f, name);
        fdt_prop_str(f, "device_type", "cpu");
        fdt_prop_u32(f, "reg", (uint32_t)i);
        fdt_prop_str(f, "status", "okay");
        fdt_prop_str(f, "compatible", "riscv");
        fdt_prop_str(f, "riscv,isa", "rv64imafdc_zicntr_zicsr_zifencei_zba_zbb_zbs_sstc");
        fdt_prop_str(f, "riscv,isa-base", "rv64i");
        fdt_prop_strs(f, "riscv,isa-extensions", exts, sizeof exts / sizeof *exts);
        fdt_prop_str(f, "mmu-type", "riscv,sv57");
        fdt_begin_node(f, "interrupt-controller");
        fdt_prop_u32(f, "#interrupt-cells", 1);
        fdt_prop_empty(f, "interrupt-controller");
        fdt_prop_str(f, "compatible", "riscv,cpu-intc");
        fdt_prop_u32(f, "phandle", PH_CPU0 + (uint32_t)i);
        fdt_end_node(f);
        fdt_end_node(f);
    }
    fdt_end_node(f);
}

static void fdt_soc(vm_board *b, fdt *f)
{
    int n = b->cfg.smp;
    uint32_t ext[4 * 8];
    fdt_begin_node(f, "soc");
    fdt_prop_u32(f, "#address-cells", 2);
    fdt_prop_u32(f, "#size-cells", 2);
    fdt_prop_str(f, "compatible", "simple-bus");
    fdt_prop_empty(f, "ranges");

    fdt_begin_node(f, "clint@2000000");
    const char *const clint_compat[] = { "sifive,clint0", "riscv,clint0" };
    fdt_prop_strs(f, "compatible", clint_compat, 2);
    reg(f, CLINT_BASE, CLINT_SIZE);
    for (int i = 0; i < n; i++) {
        ext[4 * i] = PH_CPU0 + (uint32_t)i; ext[4 * i + 1] = RV_IRQ_MSI;
        ext[4 * i + 2] = PH_CPU0 + (uint32_t)i; ext[4 * i + 3] = RV_IRQ_MTI;
    }
    fdt_prop_cells(f, "interrupts-extended", ext, 4 * (size_t)n);
    fdt_end_node(f);

    fdt_begin_node(f, "plic@c000000");
    const char *const plic_compat[] = { "sifive,plic-1.0.0", "riscv,plic0" };
    fdt_prop_strs(f, "compatible", plic_compat, 2);
    reg(f, PLIC_BASE, PLIC_SIZE);
    fdt_prop_u32(f, "#address-cells", 0);
    fdt_prop_u32(f, "#interrupt-cells", 1);
    fdt_prop_empty(f, "interrupt-controller");
    for (int i = 0; i < n; i++) {
        ext[4 * i] = PH_CPU0 + (uint32_t)i; ext[4 * i + 1] = RV_IRQ_MEI;
        ext[4 * i + 2] = PH_CPU0 + (uint32_t)i; ext[4 * i + 3] = RV_IRQ_SEI;
    }
    fdt_prop_cells(f, "interrupts-extended", ext, 4 * (size_t)n);
    fdt_prop_u32(f, "riscv,ndev", PLIC_NSOURCES - 1);
    fdt_prop_u32(f, "phandle", PH_PLIC);
    fdt_end_node(f);

    fdt_begin_node(f, "serial@10000000");
    fdt_prop_str(f, "compatible", "ns16550a");
    reg(f, UART_BASE, 0x100);
    fdt_prop_u32(f, "clock-frequency", 3686400);
    fdt_prop_u32(f, "interrupt-parent", PH_PLIC);
    fdt_prop_u32(f, "interrupts", UART_IRQ);
    fdt_end_node(f);

    fdt_begin_node(f, "test@100000");
    const char *const test_compat[] = { "sifive,test1", "sifive,test0", "syscon" };
    fdt_prop_strs(f, "compatible", test_compat, 3);
    reg(f, TEST_BASE, 0x1000);
    fdt_prop_u32(f, "phandle", PH_TEST);
    fdt_end_node(f);

    fdt_begin_node(f, "rtc@101000");
    fdt_prop_str(f, "compatible", "google,goldfish-rtc");
    reg(f, RTC_BASE, 0x1000);
    fdt_prop_u32(f, "interrupt-parent", PH_PLIC);
    fdt_prop_u32(f, "interrupts", RTC_IRQ);
    fdt_end_node(f);

    for (int i = VIRTIO_SLOTS - 1; i >= 0; i--) {     /* QEMU lists them top down */
        char name[40];
        snprintf(name, sizeof name, "virtio_mmio@%llx", (unsigned long long)(VIRTIO_BASE + 0x1000ull * (unsigned)i));
        fdt_begin_node(f, name);
        fdt_prop_str(f, "compatible", "virtio,mmio");
        reg(f, VIRTIO_BASE + 0x1000ull * (unsigned)i, 0x1000);
        fdt_prop_u32(f, "interrupt-parent", PH_PLIC);
        fdt_prop_u32(f, "interrupts", VIRTIO_IRQ0 + (uint32_t)i);
        fdt_end_node(f);
    }
    fdt_end_node(f);
}

static void fdt_syscon_node(fdt *f, const char *name, const char *compat, uint32_t value)
{
    fdt_begin_node(f, name);
    fdt_prop_str(f, "compatible", compat);
    fdt_prop_u32(f, "regmap", PH_TEST);
    fdt_prop_u32(f, "offset", 0);
    fdt_prop_u32(f, "value", value);
    fdt_end_node(f);
}

static int build_fdt(vm_board *b, char *err, size_t errlen)
{
    fdt *f = fdt_new();
    if (!f)
        return fail(err, errlen, "out of memory");
    fdt_begin_node(f, "");
    fdt_prop_u32(f, "#address-cells", 2);
    fdt_prop_u32(f, "#size-cells", 2);
    fdt_prop_str(f, "compatible", "riscv-virtio");
    fdt_prop_str(f, "model", "riscv-virtio,qemu");

    fdt_begin_node(f, "chosen");
    fdt_prop_str(f, "bootargs", b->cfg.append ? b->cfg.append : "");
    fdt_prop_str(f, "stdout-path", "/soc/serial@10000000");
    if (b->initrd_end) {
        fdt_prop_u64(f, "linux,initrd-start", b->initrd_start);
        fdt_prop_u64(f, "linux,initrd-end", b->initrd_end);
    }
    fdt_end_node(f);

    fdt_begin_node(f, "memory@80000000");
    fdt_prop_str(f, "device_type", "memory");
    reg(f, RAM_BASE, b->ram_size);
    fdt_end_node(f);

    fdt_cpus(f, b->cfg.smp);
    fdt_soc(b, f);
    fdt_syscon_node(f, "poweroff", "syscon-poweroff", 0x5555);
    fdt_syscon_node(f, "reboot", "syscon-reboot", 0x7777);
    fdt_end_node(f);

    size_t size;
    const uint8_t *blob = fdt_finish(f, &size);
    int rc = 0;
    if (!blob)
        rc = fail(err, errlen, "cannot build the device tree");
    else if (vm_mem_write(b->m, b->fdt_addr, blob, size))
        rc = fail(err, errlen, "cannot write the device tree: %s", vm_machine_error(b->m));
    fdt_free(f);
    return rc;
}

/* ---- building ------------------------------------------------------------ */

static int map_devices(vm_board *b, char *err, size_t errlen)
{
    vm_machine *m = b->m;
    int smp = b->cfg.smp;
    b->plic = plic_new(2 * smp, plic_ctx_out, b);
    if (!b->plic)
        return fail(err, errlen, "out of memory for devices");
    b->uart = uart16550_new((vm_irq_line){ plic_set_irq, b->plic, UART_IRQ }, uart_tx, b);
    clint_ops ops = { b, clint_set_msip, clint_set_mtimecmp, clint_get_mtimecmp, clint_mtime };
    b->clint = clint_new(smp, ops);
    b->syscon = syscon_new(power, b);
    b->rtc = goldfish_rtc_new((vm_irq_line){ plic_set_irq, b->plic, RTC_IRQ }, rtc_now, b);
    if (!b->uart || !b->clint || !b->syscon || !b->rtc)
        return fail(err, errlen, "out of memory for devices");
    /* The address space does not own these devices (free_opaque NULL): the
     * board frees them after the machine. */
    if (vm_mmio_map(m, PLIC_BASE, PLIC_SIZE, plic_read, plic_write, b->plic, NULL) ||
        vm_mmio_map(m, CLINT_BASE, CLINT_SIZE, clint_read, clint_write, b->clint, NULL) ||
        vm_mmio_map(m, UART_BASE, 0x1000, uart16550_read, uart16550_write, b->uart, NULL) ||
        vm_mmio_map(m, TEST_BASE, 0x1000, syscon_read, syscon_write, b->syscon, NULL) ||
        vm_mmio_map(m, RTC_BASE, 0x1000, goldfish_rtc_read, goldfish_rtc_write, b->rtc, NULL))
        return fail(err, errlen, "cannot map devices: %s", vm_machine_error(m));
    return 0;
}

static int add_virtio(vm_board *b, virtio_mmio *v, char *err, size_t errlen)
{
    if (!v)
        return -1;
    int slot = b->nvirtio;
    b->virtio[b->nvirtio++] = v;
    if (vm_mmio_map(b->m, VIRTIO_BASE + 0x1000ull * (unsigned)slot, 0x1000,
                    virtio_mmio_read, virtio_mmio_write, v, NULL))
        return fail(err, errlen, "cannot map virtio: %s", vm_machine_error(b->m));
    return 0;
}

static int map_virtio(vm_board *b, char *err, size_t errlen)
{
    /* Empty slots answer with device id 0 so that Linux skips them. */
    if (b->cfg.disk) {
        vm_irq_line irq = { plic_set_irq, b->plic, VIRTIO_IRQ0 + b->nvirtio };
        if (add_virtio(b, virtio_blk_new(b->m, irq, b->cfg.disk, b->cfg.disk_readonly, err, errlen), err, errlen))
            return -1;
    }
    if (b->cfg.rng) {
        vm_irq_line irq = { plic_set_irq, b->plic, VIRTIO_IRQ0 + b->nvirtio };
        if (add_virtio(b, virtio_rng_new(b->m, irq), err, errlen))
            return fail(err, errlen, "cannot create virtio-rng");
    }
    if (b->cfg.hvc) {
        vm_irq_line irq = { plic_set_irq, b->plic, VIRTIO_IRQ0 + b->nvirtio };
        if (add_virtio(b, virtio_console_new(b->m, irq, &b->hvc), err, errlen))
            return fail(err, errlen, "cannot create virtio-console");
    }
    if (b->cfg.net) {
        vm_irq_line irq = { plic_set_irq, b->plic, VIRTIO_IRQ0 + b->nvirtio };
        if (add_virtio(b, virtio_net_new(b->m, irq, b->cfg.hostfwd, &b->net, err, errlen), err, errlen))
            return -1;
    }
    while (b->nvirtio < VIRTIO_SLOTS) {
        vm_irq_line none = { 0 };
        if (add_virtio(b, virtio_mmio_new_empty(b->m, none), err, errlen))
            return fail(err, errlen, "out of memory for virtio slots");
    }
    return 0;
}

/* Every device's state joins the machine's snapshots, one section each. */
static int register_sections(vm_board *b, char *err, size_t errlen)
{
#define OPS(name) { name##_save, name##_check, name##_load }
    static const vm_snap_section_ops plic_ops = OPS(plic), clint_ops = OPS(clint),
        uart_ops = OPS(uart16550), syscon_ops = OPS(syscon), rtc_ops = OPS(goldfish_rtc),
        virtio_ops = OPS(virtio_mmio);
#undef OPS
    vm_machine *m = b->m;
    int rc = vm_snapshot_section_register(m, "plic", &plic_ops, b->plic) ||
             vm_snapshot_section_register(m, "clint", &clint_ops, b->clint) ||
             vm_snapshot_section_register(m, "uart0", &uart_ops, b->uart) ||
             vm_snapshot_section_register(m, "syscon", &syscon_ops, b->syscon) ||
             vm_snapshot_section_register(m, "rtc", &rtc_ops, b->rtc);
    for (int i = 0; !rc && i < b->nvirtio; i++) {
        char name[24];                      /* "virtio" and any int */
        snprintf(name, sizeof name, "virtio%d", i);
        rc = vm_snapshot_section_register(m, name, &virtio_ops, b->virtio[i]);
    }
    return rc ? fail(err, errlen, "cannot register device state: %s", vm_machine_error(m)) : 0;
}

static int load_images(vm_board *b, char *err, size_t errlen)
{
    uint64_t ram_end = RAM_BASE + b->ram_size;
    size_t fw_len;
    if (!b->cfg.firmware)
        return fail(err, errlen, "a firmware (OpenSBI fw_dynamic.bin or fw_jump.bin) is required");
    if (load_at(b, b->cfg.firmware, RAM_BASE, ram_end, &fw_len, err, errlen))
        return -1;
    uint64_t kernel_addr = 0, kernel_end = RAM_BASE + fw_len;
    if (b->cfg.kernel) {
        uint64_t off = 0;
        size_t klen;
        if (kernel_offset(b->cfg.kernel, &off, err, errlen))
            return -1;
        kernel_addr = RAM_BASE + off;
        if (kernel_addr < RAM_BASE + fw_len)
            return fail(err, errlen, "the firmware (%zu bytes) overlaps the kernel at 0x%llx", fw_len,
                        (unsigned long long)kernel_addr);
        if (load_at(b, b->cfg.kernel, kernel_addr, ram_end, &klen, err, errlen))
            return -1;
        kernel_end = kernel_addr + klen;
    }
    b->fdt_addr = ram_end - 0x200000;          /* 2 MiB for the tree and its growth */
    if (b->cfg.initrd) {
        size_t len;
        uint8_t *data = read_file(b->cfg.initrd, &len, err, errlen);
        if (!data)
            return -1;
        /* Above the kernel and its bss: the middle of RAM (at most 512 MiB
         * in), as QEMU does; 2 MiB aligned. */
        uint64_t half = b->ram_size / 2 > 0x20000000 ? 0x20000000 : b->ram_size / 2;
        uint64_t start = (RAM_BASE + half) & ~0x1fffffull;
        if (start < kernel_end + 0x2000000)
            start = (kernel_end + 0x2000000 + 0x1fffff) & ~0x1fffffull;
        int rc = 0;
        if (len > b->fdt_addr || start > b->fdt_addr - len)
            rc = fail(err, errlen, "the initrd (%zu bytes) does not fit in %llu MiB of RAM", len,
                      (unsigned long long)(b->ram_size >> 20));
        else if (vm_mem_write(b->m, start, data, len))
            rc = fail(err, errlen, "cannot load the initrd: %s", vm_machine_error(b->m));
        free(data);
        if (rc)
            return rc;
        b->initrd_start = start;
        b->initrd_end = start + len;
    }
    /* fw_dynamic info (version 1: the boot hart is chosen by lottery). */
    uint64_t info[6] = { 0x4942534full, 1, kernel_addr ? kernel_addr : RAM_BASE + 0x200000, 1, 0, 0 };
    if (vm_mem_write(b->m, ROM_BASE, info, sizeof info))
        return fail(err, errlen, "cannot write the boot ROM");
    if (build_fdt(b, err, errlen))
        return -1;
    for (int i = 0; i < b->cfg.smp; i++) {
        rv_cpu *c = hart(b, i);
        c->pc = RAM_BASE;
        c->priv = RV_PRIV_M;
        c->x[10] = (uint64_t)i;
        c->x[11] = b->fdt_addr;
        c->x[12] = ROM_BASE;
    }
    return 0;
}

vm_board *vm_board_new(const vm_board_config *cfg, char *err, size_t errlen)
{
    if (cfg->smp < 1 || cfg->smp > 8) {
        fail(err, errlen, "smp must be 1..8");
        return NULL;
    }
    if (cfg->ram_size < (16u << 20) || (cfg->ram_size & 0x1fffff) || cfg->ram_size > (64ull << 30)) {
        fail(err, errlen, "ram must be a multiple of 2 MiB between 16 MiB and 64 GiB");
        return NULL;
    }
    vm_board *b = calloc(1, sizeof *b);
    if (!b || !(b->out = malloc(OUT_CAP))) {
        free(b);
        fail(err, errlen, "out of memory");
        return NULL;
    }
    b->cfg = *cfg;
    b->cfg.firmware = b->cfg.kernel = b->cfg.initrd = b->cfg.append = b->cfg.disk = NULL;
    b->cfg.hostfwd = NULL;
    b->ram_size = cfg->ram_size;
    b->echo_fd = -1;
    pthread_mutex_init(&b->lock, NULL);
    pthread_cond_init(&b->cond, NULL);
    b->m = vm_machine_new("riscv64", cfg->smp);
    if (!b->m) {
        fail(err, errlen, "cannot create the machine");
        vm_board_free(b);
        return NULL;
    }
    b->m->system_mode = true;
    vm_tlb_set_bits(b->m, VM_TLB_SYS_BITS);
    /* `vmpy boot --engine E` (and tests) choose the engine through the
     * environment, keeping the board's ctypes interface unchanged. */
    const char *engine = getenv("VMPY_ENGINE");
    if (engine && *engine && vm_machine_set_engine(b->m, engine)) {
        fail(err, errlen, "%s", vm_machine_error(b->m));
        vm_board_free(b);
        return NULL;
    }
    vm_machine_set_slice_callback(b->m, tick, b);
    vm_machine_set_budget_cap(b->m, budget_cap, b);
    b->cfg.firmware = cfg->firmware;       /* borrowed for the duration of the build */
    b->cfg.kernel = cfg->kernel;
    b->cfg.initrd = cfg->initrd;
    b->cfg.append = cfg->append;
    b->cfg.disk = cfg->disk;
    b->cfg.hostfwd = cfg->hostfwd;
    int rc = 0;
    if (vm_mem_map(b->m, ROM_BASE, 0x1000, VM_PROT_R | VM_PROT_X) ||
        vm_mem_map(b->m, RAM_BASE, cfg->ram_size, VM_PROT_RWX))
        rc = fail(err, errlen, "cannot allocate %llu MiB of RAM: %s",
                  (unsigned long long)(cfg->ram_size >> 20), vm_machine_error(b->m));
    if (!rc)
        rc = map_devices(b, err, errlen);
    if (!rc)
        rc = map_virtio(b, err, errlen);
    if (!rc)
        rc = register_sections(b, err, errlen);
    if (!rc)
        rc = load_images(b, err, errlen);
    b->cfg.firmware = b->cfg.kernel = b->cfg.initrd = b->cfg.append = b->cfg.disk = NULL;
    b->cfg.hostfwd = NULL;
    if (rc) {
        vm_board_free(b);
        return NULL;
    }
    return b;
}

void vm_board_free(vm_board *b)
{
    if (!b)
        return;
    vm_board_stop(b);
    vm_machine_free(b->m);
    for (int i = 0; i < b->nvirtio; i++)
        virtio_mmio_free(b->virtio[i]);
    plic_free(b->plic);
    uart16550_free(b->uart);
    clint_free(b->clint);
    syscon_free(b->syscon);
    goldfish_rtc_free(b->rtc);
    vm_input_log_free(b->rec);
    vm_input_log_free(b->play);
    pthread_mutex_destroy(&b->lock);
    pthread_cond_destroy(&b->cond);
    free(b->out);
    free(b);
}

vm_machine *vm_board_machine(vm_board *b) { return b->m; }

vm_machine *vm_board_idle_machine(vm_board *b)
{
    return b->started ? NULL : b->m;
}

int vm_board_run_count(vm_board *b, uint64_t count, double timeout)
{
    if (b->started || !count)
        return -1;
    b->state = VM_BOARD_RUNNING;
    atomic_store(&b->stop, 0);
    vm_run_opts o = { .count = count, .timeout = timeout > 0 ? timeout : 0 };
    vm_stop_reason r = vm_machine_run(b->m, &o);
    publish_output(b);
    run_ended(b, r, true);
    return b->state;
}

int vm_board_start(vm_board *b)
{
    if (b->started)
        return -1;
    b->state = VM_BOARD_RUNNING;
    atomic_store(&b->stop, 0);
    if (pthread_create(&b->thread, NULL, run_thread, b)) {
        b->state = VM_BOARD_ERROR;
        snprintf(b->error, sizeof b->error, "cannot start the run thread");
        return -1;
    }
    b->started = true;
    return 0;
}

void vm_board_stop(vm_board *b)
{
    if (!b->started)
        return;
    atomic_store(&b->stop, 1);
    vm_machine_stop(b->m);
    pthread_mutex_lock(&b->lock);
    pthread_cond_broadcast(&b->cond);
    pthread_mutex_unlock(&b->lock);
    pthread_join(b->thread, NULL);
    b->started = false;
}

int vm_board_wait(vm_board *b, double timeout)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (timeout >= 0) {
        uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)(timeout * 1e9);
        ts.tv_sec += (time_t)(ns / 1000000000u);
        ts.tv_nsec = (long)(ns % 1000000000u);
    }
    pthread_mutex_lock(&b->lock);
    while (b->state == VM_BOARD_RUNNING) {
        if (timeout < 0)
            pthread_cond_wait(&b->cond, &b->lock);
        else if (pthread_cond_timedwait(&b->cond, &b->lock, &ts) == ETIMEDOUT)
            break;
    }
    int s = b->state;
    pthread_mutex_unlock(&b->lock);
    return s;
}

int vm_board_state(vm_board *b)
{
    pthread_mutex_lock(&b->lock);
    int s = b->state;
    pthread_mutex_unlock(&b->lock);
    return s;
}

int vm_board_exit_code(vm_board *b) { return b->exit_code; }
const char *vm_board_error(vm_board *b) { return b->error; }

size_t vm_board_console_read(vm_board *b, uint8_t *buf, size_t max, double timeout)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)((timeout > 0 ? timeout : 0) * 1e9);
    ts.tv_sec += (time_t)(ns / 1000000000u);
    ts.tv_nsec = (long)(ns % 1000000000u);
    pthread_mutex_lock(&b->lock);
    while (!b->out_len && timeout > 0 && b->state == VM_BOARD_RUNNING)
        if (pthread_cond_timedwait(&b->cond, &b->lock, &ts) == ETIMEDOUT)
            break;
    size_t n = 0;
    while (n < max && b->out_len) {
        buf[n++] = b->out[b->out_head];
        b->out_head = (b->out_head + 1) % OUT_CAP;
        b->out_len--;
    }
    pthread_mutex_unlock(&b->lock);
    return n;
}

void vm_board_console_write(vm_board *b, const uint8_t *buf, size_t n)
{
    pthread_mutex_lock(&b->lock);
    if (b->play) {                      /* replaying: live input is not the guest's */
        pthread_mutex_unlock(&b->lock);
        return;
    }
    for (size_t i = 0; i < n && b->in_len < IN_CAP; i++)
        b->in_q[(b->in_head + b->in_len++) % IN_CAP] = buf[i];
    pthread_cond_broadcast(&b->cond);
    pthread_mutex_unlock(&b->lock);
}

void vm_board_set_echo_fd(vm_board *b, int fd) { b->echo_fd = fd; }

size_t vm_board_hvc_read(vm_board *b, uint8_t *buf, size_t max, double timeout)
{
    return b->hvc ? virtio_console_host_read(b->hvc, buf, max, timeout) : 0;
}

size_t vm_board_hvc_write(vm_board *b, const uint8_t *buf, size_t n)
{
    if (!b->hvc)
        return 0;
    size_t done = virtio_console_host_write(b->hvc, buf, n);
    pthread_mutex_lock(&b->lock);
    pthread_cond_broadcast(&b->cond);           /* wake an idle run thread */
    pthread_mutex_unlock(&b->lock);
    return done;
}

/* ---- console input record/replay ------------------------------------------ */

/* Puts a new empty log (or none) in *slot and frees the old one; with
 * drop_typed, live input not yet fed to the guest is discarded with it. */
static int swap_log(vm_board *b, vm_input_log **slot, bool on, bool drop_typed)
{
    vm_input_log *l = on ? vm_input_log_new() : NULL;
    if (on && !l)
        return -1;
    pthread_mutex_lock(&b->lock);
    vm_input_log *old = *slot;
    *slot = l;
    if (on && drop_typed)
        b->in_len = 0;
    pthread_mutex_unlock(&b->lock);
    vm_input_log_free(old);
    return 0;
}

int vm_board_input_record(vm_board *b, bool on) { return swap_log(b, &b->rec, on, false); }

long vm_board_input_pop(vm_board *b, uint64_t *at, uint8_t *buf, size_t max)
{
    pthread_mutex_lock(&b->lock);
    long n = b->rec ? vm_input_log_pop(b->rec, at, buf, max) : -1;
    pthread_mutex_unlock(&b->lock);
    return n;
}

/* Live input typed before a replay starts does not count. */
int vm_board_input_replay(vm_board *b, bool on) { return swap_log(b, &b->play, on, true); }

int vm_board_input_replay_add(vm_board *b, uint64_t at, const uint8_t *data, size_t n)
{
    pthread_mutex_lock(&b->lock);
    int rc = b->play ? vm_input_log_append(b->play, at, data, n) : -1;
    pthread_mutex_unlock(&b->lock);
    return rc;
}

size_t vm_board_input_replay_left(vm_board *b)
{
    pthread_mutex_lock(&b->lock);
    size_t n = b->play ? vm_input_log_pending(b->play) : 0;
    pthread_mutex_unlock(&b->lock);
    return n;
}
