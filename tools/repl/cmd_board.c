/* cmd_board.c — `console` (the virt board's UART, for `vmpy repl --boot`)
 * and `dev` (device registers on the bus, any machine).
 *
 * The REPL drives a board's machine itself (its run thread is not started):
 * `console expect` runs the machine in short pieces until the pattern
 * appears, so a script can wait for a prompt and answer it. */
#ifdef VMPY_HAVE_TCL
#include "repl_int.h"
#include "devices/board.h"

#include <stdlib.h>
#include <string.h>

#define EXPECT_PIECE 0.05     /* seconds of guest run between console checks */

void vmpy_repl_set_board(vmpy_repl *r, struct vm_board *b)
{
    r->board = b;
}

int vr_board_powered_off(vr_repl *r, int *code)
{
    if (!r->board)
        return 0;
    int st = vm_board_state(r->board);
    if (st != VM_BOARD_POWEROFF && st != VM_BOARD_REBOOT)
        return 0;
    *code = vm_board_exit_code(r->board);
    return 1;
}

void vr_board_free(vr_repl *r)
{
    free(r->con_buf);
    r->con_buf = NULL;
    r->con_len = r->con_cap = 0;
}

static int need_board(vr_repl *r, Tcl_Interp *ip)
{
    if (r->board)
        return TCL_OK;
    return vr_error(ip, "console: this machine has no board console (start the REPL with `vmpy repl --boot`)");
}

/* Moves what the guest printed into con_buf. */
static void pull_output(vr_repl *r)
{
    uint8_t tmp[4096];
    size_t n;
    while ((n = vm_board_console_read(r->board, tmp, sizeof tmp, 0)) > 0) {
        if (r->con_len + n + 1 > r->con_cap) {
            size_t cap = (r->con_cap ? r->con_cap * 2 : 8192) + n;
            char *b = realloc(r->con_buf, cap);
            if (!b)
                return;       /* keep what we have; the guest output stays queued */
            r->con_buf = b;
            r->con_cap = cap;
        }
        memcpy(r->con_buf + r->con_len, tmp, n);
        r->con_len += n;
        r->con_buf[r->con_len] = 0;
    }
}

/* Result: the first n bytes of con_buf, which are then consumed. */
static void take_output(vr_repl *r, Tcl_Interp *ip, size_t n)
{
    Tcl_SetObjResult(ip, Tcl_NewStringObj(r->con_buf ? r->con_buf : "", (int)n));
    if (n) {
        memmove(r->con_buf, r->con_buf + n, r->con_len - n + 1);
        r->con_len -= n;
    }
}

static int console_send_fn(vr_repl *r, Tcl_Interp *ip, int objc, Tcl_Obj *const objv[])
{
    if (need_board(r, ip) != TCL_OK)
        return TCL_ERROR;
    int len;
    const char *text = Tcl_GetStringFromObj(objv[0], &len);
    vm_board_console_write(r->board, (const uint8_t *)text, (size_t)len);
    Tcl_SetObjResult(ip, Tcl_NewIntObj(len));
    return TCL_OK;
}

static int console_read_fn(vr_repl *r, Tcl_Interp *ip, int objc, Tcl_Obj *const objv[])
{
    if (need_board(r, ip) != TCL_OK)
        return TCL_ERROR;
    pull_output(r);
    take_output(r, ip, r->con_len);
    return TCL_OK;
}

static size_t find(const char *hay, size_t n, const char *needle, size_t m)
{
    for (size_t i = 0; m && i + m <= n; i++)
        if (!memcmp(hay + i, needle, m))
            return i + m;
    return 0;
}

static int console_expect_fn(vr_repl *r, Tcl_Interp *ip, int objc, Tcl_Obj *const objv[])
{
    if (need_board(r, ip) != TCL_OK)
        return TCL_ERROR;
    int plen;
    const char *pat = Tcl_GetStringFromObj(objv[0], &plen);
    double timeout = 30;
    if (objc > 1 && (Tcl_GetDoubleFromObj(ip, objv[1], &timeout) != TCL_OK || timeout < 0))
        return TCL_ERROR + 100;
    if (!plen)
        return vr_error(ip, "console expect: the pattern is empty");
    vm_run_opts o = { .timeout = EXPECT_PIECE };
    for (double waited = 0;; waited += EXPECT_PIECE) {
        pull_output(r);
        size_t end = find(r->con_buf, r->con_len, pat, (size_t)plen);
        if (end) {
            take_output(r, ip, end);
            return TCL_OK;
        }
        if (waited >= timeout)
            break;
        vm_stop_reason why;
        if (vr_run_once(r, ip, &o, &why) != TCL_OK)
            return TCL_ERROR;
        if (why != VM_STOP_TIMEOUT && why != VM_STOP_COUNT) {
            pull_output(r);
            if (find(r->con_buf, r->con_len, pat, (size_t)plen))
                continue;     /* the next turn returns it */
            return vr_error(ip, "console expect: \"%s\" not seen; the machine stopped (%s)", pat,
                            why == VM_STOP_EXIT ? "powered off" : vm_stop_reason_name(why));
        }
    }
    size_t tail = r->con_len > 200 ? r->con_len - 200 : 0;
    return vr_error(ip, "console expect: \"%s\" not seen within %g s; last output: %s", pat, timeout,
                    r->con_buf ? r->con_buf + tail : "");
}

static const vr_cmd console_subs[] = {
    { "send", "TEXT", "type TEXT on the guest's serial console (no newline added)", NULL, 1, 1,
      console_send_fn, NULL },
    { "read", "", "what the guest printed since the last read/expect (the machine does not run)", NULL, 0, 0,
      console_read_fn, NULL },
    { "expect", "TEXT ?SECONDS?", "run the machine until the console shows TEXT (default 30 s); returns the output up to it",
      "  Output after TEXT stays for the next read/expect.  Fails if the machine\n"
      "  stops (breakpoint, power-off) or the time runs out first.", 1, 2, console_expect_fn, NULL },
    { NULL },
};
const vr_cmd vr_cmd_console = { "console", "send|read|expect ...",
                                "the board's serial console (vmpy repl --boot)", NULL, 0, -1, NULL, console_subs };

/* ---- dev --------------------------------------------------------------------- */

/* The virt board's devices by name (csrc/devices/board_virt.c's map). */
static const struct { const char *name; uint64_t base; } virt_devices[] = {
    { "test", 0x100000 }, { "rtc", 0x101000 }, { "clint", 0x2000000 }, { "plic", 0xc000000 },
    { "uart0", 0x10000000 }, { "virtio0", 0x10001000 }, { "virtio1", 0x10002000 },
    { "virtio2", 0x10003000 }, { "virtio3", 0x10004000 }, { "virtio4", 0x10005000 },
    { "virtio5", 0x10006000 }, { "virtio6", 0x10007000 }, { "virtio7", 0x10008000 },
};
#define NDEV (sizeof virt_devices / sizeof *virt_devices)

static const char *dev_name(vr_repl *r, uint64_t base)
{
    for (size_t i = 0; r->board && i < NDEV; i++)
        if (virt_devices[i].base == base)
            return virt_devices[i].name;
    return "";
}

/* DEV is a device name (boards) or the address of its region. */
static int dev_base(vr_repl *r, Tcl_Interp *ip, Tcl_Obj *o, uint64_t *base)
{
    const char *s = Tcl_GetString(o);
    for (size_t i = 0; r->board && i < NDEV; i++)
        if (!strcmp(s, virt_devices[i].name)) {
            *base = virt_devices[i].base;
            return TCL_OK;
        }
    if (vr_get_u64(ip, o, base) == TCL_OK)
        return TCL_OK;
    Tcl_ResetResult(ip);
    return vr_error(ip, "no device \"%s\" (`dev list` shows them)", s);
}

static int dev_list_fn(vr_repl *r, Tcl_Interp *ip, int objc, Tcl_Obj *const objv[])
{
    vm_region_info regs[256];
    size_t n = vm_mem_regions(r->m, regs, 256);
    Tcl_DString d;
    Tcl_DStringInit(&d);
    for (size_t i = 0; i < n && i < 256; i++) {
        if (!regs[i].is_mmio)
            continue;
        char line[160];
        snprintf(line, sizeof line, "%s0x%016llx 0x%08llx %s", Tcl_DStringLength(&d) ? "\n" : "",
                 (unsigned long long)regs[i].base, (unsigned long long)regs[i].size, dev_name(r, regs[i].base));
        Tcl_DStringAppend(&d, line, -1);
    }
    if (!Tcl_DStringLength(&d))
        Tcl_DStringAppend(&d, "no devices", -1);
    Tcl_DStringResult(ip, &d);
    return TCL_OK;
}

static int dev_access(vr_repl *r, Tcl_Interp *ip, Tcl_Obj *dev, Tcl_Obj *off, Tcl_Obj *size_obj,
                      bool write, uint64_t *value)
{
    uint64_t base, offset, size = 4;
    if (dev_base(r, ip, dev, &base) != TCL_OK)
        return TCL_ERROR;
    if (vr_get_u64(ip, off, &offset) != TCL_OK || (size_obj && vr_get_u64(ip, size_obj, &size) != TCL_OK))
        return TCL_ERROR + 100;
    int err = vm_mmio_access(r->m, base + offset, (unsigned)(size > 8 ? 0 : size), write, value);
    if (err)
        return vr_error(ip, "dev %s: %s", write ? "write" : "read", vm_machine_error(r->m));
    return TCL_OK;
}

static int dev_read_fn(vr_repl *r, Tcl_Interp *ip, int objc, Tcl_Obj *const objv[])
{
    uint64_t v = 0;
    int rc = dev_access(r, ip, objv[0], objv[1], objc > 2 ? objv[2] : NULL, false, &v);
    if (rc == TCL_OK)
        vr_set_hex(ip, v);
    return rc;
}

static int dev_write_fn(vr_repl *r, Tcl_Interp *ip, int objc, Tcl_Obj *const objv[])
{
    uint64_t v;
    if (vr_get_u64(ip, objv[2], &v) != TCL_OK)
        return TCL_ERROR + 100;
    return dev_access(r, ip, objv[0], objv[1], objc > 3 ? objv[3] : NULL, true, &v);
}

static const vr_cmd dev_subs[] = {
    { "list", "", "device (MMIO) regions: base, size, name (board devices are named)", NULL, 0, 0,
      dev_list_fn, NULL },
    { "read", "DEV OFFSET ?SIZE?", "read a device register (SIZE 1, 2, 4 or 8 bytes, default 4)",
      "  DEV is a name from `dev list` (uart0, plic, clint, rtc, test, virtioN on\n"
      "  the virt board) or the base address of a device region.  The device sees\n"
      "  a guest access: reading a UART's receive register consumes a byte.", 2, 3, dev_read_fn, NULL },
    { "write", "DEV OFFSET VALUE ?SIZE?", "write a device register, as a guest store would", NULL, 3, 4,
      dev_write_fn, NULL },
    { NULL },
};
const vr_cmd vr_cmd_dev = { "dev", "list|read|write ...", "device registers on the bus", NULL, 0, -1, NULL,
                            dev_subs };
#endif /* VMPY_HAVE_TCL */
