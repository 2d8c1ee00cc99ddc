/* devices.h — the device models of csrc/devices and the small interfaces
 * between them and a board.  A device sees only its registers (MMIO read/
 * write at an offset) and callbacks for its outputs (interrupt lines, bytes,
 * power); it never sees a vCPU.  All device calls happen on the board's run
 * thread, except where a function says it is thread-safe. */
#ifndef VM_DEVICES_H
#define VM_DEVICES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An interrupt line: fn(ctx, line, level). */
typedef struct vm_irq_line {
    void (*fn)(void *ctx, int line, bool level);
    void *ctx;
    int line;
} vm_irq_line;

static inline void vm_irq_set(const vm_irq_line *l, bool level)
{
    if (l->fn)
        l->fn(l->ctx, l->line, level);
}

/* ---- NS16550A UART (uart16550.c) ---- */
typedef struct uart16550 uart16550;
uart16550 *uart16550_new(vm_irq_line irq, void (*tx)(void *ctx, uint8_t byte), void *tx_ctx);
void uart16550_free(void *u);
uint64_t uart16550_read(void *u, uint64_t off, unsigned size);
void uart16550_write(void *u, uint64_t off, unsigned size, uint64_t val);
/* Room in the receive FIFO, and feeding it. */
size_t uart16550_rx_room(const uart16550 *u);
void uart16550_rx_push(uart16550 *u, const uint8_t *buf, size_t n);

/* Snapshot sections (vm_snap_section_ops in core/snapshot.h): every device
 * that holds state has name_save / name_check / name_load, with opaque the
 * device.  The blob format is devstate.h's, versioned per device. */
#define VM_DEVICE_SNAP_DECL(name) \
    int name##_save(void *dev, uint8_t **data, size_t *len); \
    int name##_check(void *dev, const uint8_t *data, size_t len); \
    void name##_load(void *dev, const uint8_t *data, size_t len);
VM_DEVICE_SNAP_DECL(uart16550)

/* ---- CLINT / ACLINT mtimer + mswi (clint.c) ---- */
typedef struct clint_ops {
    void *ctx;
    void (*set_msip)(void *ctx, int hart, bool level);
    void (*set_mtimecmp)(void *ctx, int hart, uint64_t value);
    uint64_t (*get_mtimecmp)(void *ctx, int hart);
    uint64_t (*mtime)(void *ctx);
} clint_ops;
typedef struct clint clint;
clint *clint_new(int nharts, clint_ops ops);
void clint_free(void *c);
uint64_t clint_read(void *c, uint64_t off, unsigned size);
void clint_write(void *c, uint64_t off, unsigned size, uint64_t val);
VM_DEVICE_SNAP_DECL(clint)
#define CLINT_SIZE 0x10000

/* ---- PLIC (plic.c): contexts 2h (M) and 2h+1 (S) of hart h ---- */
#define PLIC_NSOURCES 96       /* source 0 does not exist */
#define PLIC_SIZE 0x600000
typedef struct plic plic;
/* ctx_out(ctx, context, level) drives MEIP/SEIP. */
plic *plic_new(int ncontexts, void (*ctx_out)(void *ctx, int context, bool level), void *ctx);
void plic_free(void *p);
uint64_t plic_read(void *p, uint64_t off, unsigned size);
void plic_write(void *p, uint64_t off, unsigned size, uint64_t val);
/* A device's interrupt line into the PLIC (use as vm_irq_line.fn, ctx = plic). */
void plic_set_irq(void *p, int source, bool level);
VM_DEVICE_SNAP_DECL(plic)

/* ---- syscon / SiFive test finisher (syscon.c) ---- */
enum { SYSCON_POWEROFF = 1, SYSCON_REBOOT = 2, SYSCON_FAIL = 3 };
typedef struct syscon syscon;
syscon *syscon_new(void (*power)(void *ctx, int what, int code), void *ctx);
void syscon_free(void *s);
uint64_t syscon_read(void *s, uint64_t off, unsigned size);
void syscon_write(void *s, uint64_t off, unsigned size, uint64_t val);
VM_DEVICE_SNAP_DECL(syscon)

/* ---- Goldfish RTC (goldfish_rtc.c) ---- */
typedef struct goldfish_rtc goldfish_rtc;
/* now(ctx): guest wall-clock ns since the epoch (NULL: the host's). */
goldfish_rtc *goldfish_rtc_new(vm_irq_line irq, uint64_t (*now)(void *ctx), void *now_ctx);
VM_DEVICE_SNAP_DECL(goldfish_rtc)
void goldfish_rtc_free(void *r);
uint64_t goldfish_rtc_read(void *r, uint64_t off, unsigned size);
void goldfish_rtc_write(void *r, uint64_t off, unsigned size, uint64_t val);
/* Raises the alarm interrupt if it is due (called from the board's tick). */
void goldfish_rtc_poll(goldfish_rtc *r);
/* The armed alarm (wall-clock ns), for a board that skips idle time. */
bool goldfish_rtc_alarm(const goldfish_rtc *r, uint64_t *when_ns);

/* ---- flattened device tree writer (fdt.c) ---- */
typedef struct fdt fdt;
fdt *fdt_new(void);
void fdt_free(fdt *f);
void fdt_begin_node(fdt *f, const char *name);
void fdt_end_node(fdt *f);
void fdt_prop(fdt *f, const char *name, const void *data, size_t len);
void fdt_prop_u32(fdt *f, const char *name, uint32_t v);
void fdt_prop_u64(fdt *f, const char *name, uint64_t v);
void fdt_prop_cells(fdt *f, const char *name, const uint32_t *cells, size_t n);
void fdt_prop_str(fdt *f, const char *name, const char *s);
/* Several strings in one property: "a\0b\0" given as a list. */
void fdt_prop_strs(fdt *f, const char *name, const char *const *strs, size_t n);
void fdt_prop_empty(fdt *f, const char *name);
/* Finishes the blob; returns it (owned by f) and its size, or NULL on
 * allocation failure or unbalanced nodes. */
const uint8_t *fdt_finish(fdt *f, size_t *size);

#endif
