/* cmd_data.c — registers and memory: `reg`, `mem read|write`, `x`. */
#ifdef VMPY_HAVE_TCL
#include "repl_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* Bulk reads are capped so a typo cannot ask for gigabytes. */
#define MAX_READ ((uint64_t)64 << 20)

static vm_cpu *cpu0(vr_repl *r) { return vm_machine_cpu(r->m, 0); }

/* ---- reg ------------------------------------------------------------------ */

/* The general registers (the first 32 names) and pc, four to a line. */
static void reg_dump(vr_repl *r, Tcl_DString *d)
{
    vm_cpu *c = cpu0(r);
    int shown = 0;
    for (int i = 0; i < vm_reg_count(r->m) && shown < 32; i++) {
        const char *name = vm_reg_name(r->m, i);
        uint64_t v;
        if (!name || !strcmp(name, "pc") || vm_cpu_reg_read(c, i, &v))
            continue;
        char cell[48];
        snprintf(cell, sizeof cell, "%-5s0x%016llx%s", name, (unsigned long long)v,
                 ++shown % 4 ? "  " : "\n");
        Tcl_DStringAppend(d, cell, -1);
    }
    char where[256];
    vr_format_addr(r, vm_cpu_pc(c), where, sizeof where);
    Tcl_DStringAppend(d, "pc   ", -1);
    Tcl_DStringAppend(d, where, -1);
}

static int reg_fn(vr_repl *r, Tcl_Interp *ip, int objc, Tcl_Obj *const objv[])
{
    vm_cpu *c = cpu0(r);
    if (objc == 0) {
        Tcl_DString d;
        Tcl_DStringInit(&d);
        reg_dump(r, &d);
        Tcl_DStringResult(ip, &d);
        return TCL_OK;
    }
    const char *name = Tcl_GetString(objv[0]);
    int reg = vm_reg_lookup(r->m, name);
    if (reg < 0) {
        vr_error(ip, "unknown register \"%s\"", name);
        return TCL_ERROR + 100;
    }
    if (objc == 2) {
        uint64_t v;
        /* pc accepts symbols too: `reg pc main` */
        if ((!strcmp(name, "pc") ? vr_get_addr(r, objv[1], &v) : vr_get_u64(ip, objv[1], &v)) != TCL_OK)
            return TCL_ERROR + 100;
        int err = vm_cpu_reg_write(c, reg, v);
        if (err)
            return vr_core_error(r, ip, name, err);
    }
    uint64_t v;
    int err = vm_cpu_reg_read(c, reg, &v);
    if (err)
        return vr_core_error(r, ip, name, err);
    vr_set_hex(ip, (unsigned long long)v);
    return TCL_OK;
}

const vr_cmd vr_cmd_reg = { "reg", "?NAME? ?VALUE?", "read or write a register; no NAME: dump the registers",
    "      NAME: ABI names (a0, sp), x0..x31, f0..f31/fa0.., pc, CSR names (mstatus).\n"
    "      Values are returned as 0x... hex; FP registers as raw bits.", 0, 2, reg_fn, NULL };

/* ---- mem -------------------------------------------------------------------- */

static int read_range(vr_repl *r, Tcl_Interp *ip, uint64_t addr, uint64_t len, unsigned char **out)
{
    if (len > MAX_READ)
        return vr_error(ip, "length %llu is too large (at most %llu)", (unsigned long long)len,
                        (unsigned long long)MAX_READ);
    *out = (unsigned char *)ckalloc(len ? (unsigned)len : 1);
    int err = vm_mem_read(r->m, addr, *out, (size_t)len);
    if (err) {
        ckfree((char *)*out);
        *out = NULL;
        return vr_error(ip, "cannot read %llu bytes at 0x%llx: %s", (unsigned long long)len,
                        (unsigned long long)addr, vm_machine_error(r->m));
    }
    return TCL_OK;
}

static int mem_read_fn(vr_repl *r, Tcl_Interp *ip, int objc, Tcl_Obj *const objv[])
{
    uint64_t addr, len;
    if (vr_get_addr(r, objv[0], &addr) != TCL_OK || vr_get_u64(ip, objv[1], &len) != TCL_OK)
        return TCL_ERROR + 100;
    unsigned char *buf;
    if (read_range(r, ip, addr, len, &buf) != TCL_OK)
        return TCL_ERROR;
    Tcl_SetObjResult(ip, Tcl_NewByteArrayObj(buf, (int)len));
    ckfree((char *)buf);
    return TCL_OK;
}

static int mem_write_fn(vr_repl *r, Tcl_Interp *ip, int objc, Tcl_Obj *const objv[])
{
    uint64_t addr;
    if (vr_get_addr(r, objv[0], &addr) != TCL_OK)
        return TCL_ERROR + 100;
    int len;
    const unsigned char *bytes = Tcl_GetByteArrayFromObj(objv[1], &len);
    int err = vm_mem_write(r->m, addr, bytes, (size_t)len);
    if (err)
        return vr_error(ip, "cannot write %d bytes at 0x%llx: %s", len, (unsigned long long)addr,
                        vm_machine_error(r->m));
    Tcl_SetObjResult(ip, Tcl_NewIntObj(len));
    return TCL_OK;
}

static const vr_cmd mem_subs[] = {
    { "read", "ADDR LEN", "read LEN bytes as a Tcl byte array",
      "      Use `binary scan` to decode, e.g. binary scan [mem read buf 4] iu v", 2, 2, mem_read_fn, NULL },
    { "write", "ADDR BYTES", "write a byte array (e.g. from `binary format`); returns the count",
      "      Example: mem write counter [binary format i 42]", 2, 2, mem_write_fn, NULL },
    { NULL },
};
const vr_cmd vr_cmd_mem = { "mem", "read|write ...", "read and write guest memory as byte arrays", NULL,
                            0, -1, NULL, mem_subs };

/* ---- x ---------------------------------------------------------------------- */

static void hexdump(Tcl_DString *d, uint64_t addr, const unsigned char *p, uint64_t n)
{
    for (uint64_t off = 0; off < n; off += 16) {
        char line[128];
        int k = snprintf(line, sizeof line, "0x%012llx:", (unsigned long long)(addr + off));
        for (uint64_t i = 0; i < 16; i++)
            k += snprintf(line + k, sizeof line - (size_t)k, off + i < n ? " %02x" : "   ", p[off + i]);
        k += snprintf(line + k, sizeof line - (size_t)k, "  |");
        for (uint64_t i = 0; i < 16 && off + i < n; i++)
            line[k++] = isprint(p[off + i]) ? (char)p[off + i] : '.';
        line[k++] = '|';
        line[k] = 0;
        if (off)
            Tcl_DStringAppend(d, "\n", 1);
        Tcl_DStringAppend(d, line, -1);
    }
}

static void words(vr_repl *r, Tcl_DString *d, uint64_t addr, const unsigned char *p, uint64_t count, unsigned size)
{
    unsigned per_line = 16 / size;
    for (uint64_t i = 0; i < count; i++) {
        char cell[320];
        if (i % per_line == 0) {
            char where[256];
            vr_format_addr(r, addr + i * size, where, sizeof where);
            snprintf(cell, sizeof cell, "%s%s:", i ? "\n" : "", where);
            Tcl_DStringAppend(d, cell, -1);
        }
        uint64_t v = 0;
        memcpy(&v, p + i * size, size);   /* the guest is little-endian, like the host */
        snprintf(cell, sizeof cell, " 0x%0*llx", (int)size * 2, (unsigned long long)v);
        Tcl_DStringAppend(d, cell, -1);
    }
}

/* COUNT C strings from addr, each at most 4 KiB, shown quoted with escapes. */
static int strings(vr_repl *r, Tcl_Interp *ip, Tcl_DString *d, uint64_t addr, uint64_t count)
{
    for (uint64_t i = 0; i < count; i++) {
        char head[300];
        char where[256];
        vr_format_addr(r, addr, where, sizeof where);
        snprintf(head, sizeof head, "%s%s: \"", i ? "\n" : "", where);
        Tcl_DStringAppend(d, head, -1);
        unsigned char ch;
        int n = 0;
        for (; n < 4096; n++) {
            if (vm_mem_read(r->m, addr + (uint64_t)n, &ch, 1)) {
                if (n == 0 && i == 0)
                    return vr_error(ip, "cannot read memory at 0x%llx", (unsigned long long)addr);
                break;
            }
            if (!ch)
                break;
            char esc[8];
            if (ch == '"' || ch == '\\')
                snprintf(esc, sizeof esc, "\\%c", ch);
            else if (isprint(ch))
                snprintf(esc, sizeof esc, "%c", ch);
            else if (ch == '\n')
                snprintf(esc, sizeof esc, "\\n");
            else
                snprintf(esc, sizeof esc, "\\x%02x", ch);
            Tcl_DStringAppend(d, esc, -1);
        }
        Tcl_DStringAppend(d, "\"", 1);
        addr += (uint64_t)n + 1;
    }
    return TCL_OK;
}

static int x_fn(vr_repl *r, Tcl_Interp *ip, int objc, Tcl_Obj *const objv[])
{
    uint64_t addr, count = 0;
    const char *fmt = "b";
    if (vr_get_addr(r, objv[0], &addr) != TCL_OK)
        return TCL_ERROR + 100;
    for (int i = 1; i < objc; i++) {    /* COUNT and FMT, in either order */
        const char *s = Tcl_GetString(objv[i]);
        if (strlen(s) == 1 && strchr("bhwgsi", s[0]))
            fmt = s;
        else if (vr_get_u64(ip, objv[i], &count) != TCL_OK) {
            vr_error(ip, "bad count or format \"%s\": formats are b h w g s i", s);
            return TCL_ERROR + 100;
        }
    }
    Tcl_DString d;
    Tcl_DStringInit(&d);
    int rc = TCL_OK;
    unsigned size = fmt[0] == 'h' ? 2 : fmt[0] == 'w' ? 4 : fmt[0] == 'g' ? 8 : 1;
    if (fmt[0] == 's') {
        rc = strings(r, ip, &d, addr, count ? count : 1);
    } else if (fmt[0] == 'i') {
        for (uint64_t i = 0; i < (count ? count : 8) && rc == TCL_OK; i++) {
            if (i)
                Tcl_DStringAppend(&d, "\n", 1);
            int n = vr_disasm_line(r, addr, &d, 1);
            if (n <= 0)
                break;
            addr += (uint64_t)n;
        }
    } else {
        if (!count)
            count = fmt[0] == 'b' ? 64 : 8;
        unsigned char *buf;
        if (count > MAX_READ / size || read_range(r, ip, addr, count * size, &buf) != TCL_OK) {
            Tcl_DStringFree(&d);
            return count > MAX_READ / size ? vr_error(ip, "count too large") : TCL_ERROR;
        }
        if (size == 1)
            hexdump(&d, addr, buf, count);
        else
            words(r, &d, addr, buf, count, size);
        ckfree((char *)buf);
    }
    if (rc != TCL_OK) {
        Tcl_DStringFree(&d);
        return rc;
    }
    Tcl_DStringResult(ip, &d);
    return TCL_OK;
}

const vr_cmd vr_cmd_x = { "x", "ADDR ?COUNT? ?FMT?", "examine memory: hexdump, words, strings or instructions",
    "      FMT: b bytes as a hexdump (default, COUNT 64), h/w/g 16/32/64-bit words\n"
    "      (COUNT 8), s C strings (COUNT 1), i instructions (COUNT 8).", 1, 3, x_fn, NULL };
#endif /* VMPY_HAVE_TCL */
