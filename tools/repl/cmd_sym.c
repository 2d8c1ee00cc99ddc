/* cmd_sym.c — numbers, addresses (numbers or symbol+offset), address
 * labels, error helpers, and the `sym` / `addr` commands. */
#ifdef VMPY_HAVE_TCL
#include "repl_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int vr_error(Tcl_Interp *ip, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    Tcl_SetObjResult(ip, Tcl_NewStringObj(buf, -1));
    Tcl_SetErrorCode(ip, "VMPY", "ERROR", NULL);
    return TCL_ERROR;
}

void vr_set_hex(Tcl_Interp *ip, uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "0x%llx", (unsigned long long)v);
    Tcl_SetObjResult(ip, Tcl_NewStringObj(buf, -1));
}

int vr_core_error(vr_repl *r, Tcl_Interp *ip, const char *what, int err)
{
    return vr_error(ip, "%s: %s", what, vm_machine_error(r->m));
}

/* 0x.. hex, 0b.. binary, 0o.. octal, otherwise decimal; a leading '-'
 * gives the two's complement (so -1 is all ones). */
static int parse_u64(const char *s, uint64_t *v)
{
    int neg = 0, base = 10;
    while (isspace((unsigned char)*s))
        s++;
    if (*s == '-' || *s == '+')
        neg = *s++ == '-';
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        base = 16, s += 2;
    else if (s[0] == '0' && (s[1] == 'b' || s[1] == 'B'))
        base = 2, s += 2;
    else if (s[0] == '0' && (s[1] == 'o' || s[1] == 'O'))
        base = 8, s += 2;
    if (!isalnum((unsigned char)*s))
        return -1;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, base);
    while (isspace((unsigned char)*end))
        end++;
    if (errno || *end)
        return -1;
    *v = neg ? (uint64_t)0 - x : x;
    return 0;
}

int vr_get_u64(Tcl_Interp *ip, Tcl_Obj *o, uint64_t *v)
{
    const char *s = Tcl_GetString(o);
    if (parse_u64(s, v) == 0)
        return TCL_OK;
    vr_error(ip, "expected a number but got \"%s\"", s);
    return TCL_ERROR;
}

/* NUMBER | SYMBOL | SYMBOL+OFFSET | SYMBOL-OFFSET */
int vr_get_addr(vr_repl *r, Tcl_Obj *o, uint64_t *addr)
{
    const char *s = Tcl_GetString(o);
    if (parse_u64(s, addr) == 0)
        return TCL_OK;
    char name[256];
    snprintf(name, sizeof name, "%s", s);
    uint64_t off = 0;
    int neg = 0;
    char *op = strpbrk(name + 1, "+-");
    if (op) {
        neg = *op == '-';
        if (parse_u64(op + 1, &off) != 0)
            goto bad;
        *op = 0;
    }
    const vr_sym *sym = vr_sym_by_name(&r->syms, name);
    if (!sym)
        goto bad;
    *addr = neg ? sym->addr - off : sym->addr + off;
    return TCL_OK;
bad:
    vr_error(r->ip, "bad address \"%s\": not a number or a known symbol%s", s,
             r->syms.n ? "" : " (no symbols loaded)");
    return TCL_ERROR;
}

void vr_sym_label(vr_repl *r, uint64_t addr, char *buf, size_t len)
{
    const vr_sym *s = vr_sym_at(&r->syms, addr);
    if (!s)
        snprintf(buf, len, "%s", "");
    else if (addr == s->addr)
        snprintf(buf, len, "%s", s->name);
    else
        snprintf(buf, len, "%s+%llu", s->name, (unsigned long long)(addr - s->addr));
}

void vr_format_addr(vr_repl *r, uint64_t addr, char *buf, size_t len)
{
    char label[200];
    vr_sym_label(r, addr, label, sizeof label);
    if (label[0])
        snprintf(buf, len, "0x%llx <%s>", (unsigned long long)addr, label);
    else
        snprintf(buf, len, "0x%llx", (unsigned long long)addr);
}

static int sym_fn(vr_repl *r, Tcl_Interp *ip, int objc, Tcl_Obj *const objv[])
{
    uint64_t a;
    if (vr_get_addr(r, objv[0], &a) != TCL_OK)
        return TCL_ERROR;
    vr_set_hex(ip, (unsigned long long)a);
    return TCL_OK;
}

static int addr_fn(vr_repl *r, Tcl_Interp *ip, int objc, Tcl_Obj *const objv[])
{
    uint64_t a;
    if (vr_get_addr(r, objv[0], &a) != TCL_OK)
        return TCL_ERROR + 100;
    char label[200];
    vr_sym_label(r, a, label, sizeof label);
    if (!label[0])
        return vr_error(ip, "no symbol covers 0x%llx", (unsigned long long)a);
    Tcl_SetObjResult(ip, Tcl_NewStringObj(label, -1));
    return TCL_OK;
}

const vr_cmd vr_cmd_sym = { "sym", "NAME", "the address of a symbol (NAME may be SYMBOL+OFFSET)",
    "      Returns the address as 0x... hex.  Errors if the name is unknown.", 1, 1, sym_fn, NULL };
const vr_cmd vr_cmd_addr = { "addr", "ADDR", "the symbol+offset that covers an address",
    "      Returns e.g. main+12; errors when no symbol covers ADDR.", 1, 1, addr_fn, NULL };
#endif /* VMPY_HAVE_TCL */
