/* repl_int.h — shared declarations of the REPL's command files. */
#ifndef VMPY_REPL_INT_H
#define VMPY_REPL_INT_H

#include <stdio.h>
#include <tcl.h>
#include "repl.h"
#include "elfsym.h"

/* A command or subcommand: `usage` is the argument part of the usage line,
 * min/max count the arguments after the command words (max -1: any). */
typedef struct vmpy_repl vr_repl;
typedef int (*vr_fn)(vr_repl *r, Tcl_Interp *ip, int objc, Tcl_Obj *const objv[]);
typedef struct vr_cmd {
    const char *name;
    const char *usage;
    const char *summary;     /* one line for `help` */
    const char *help;        /* details for `help NAME`, may be NULL */
    int min, max;
    vr_fn fn;
    const struct vr_cmd *subs;   /* an ensemble: table ending with a NULL name */
} vr_cmd;

enum { VR_BREAK, VR_WATCH };
typedef struct vr_point {
    int id, kind;
    uint64_t addr, len;
    int access;              /* watchpoints: VM_PROT_R|VM_PROT_W */
    Tcl_Obj *script;         /* breakpoints: run when hit, or NULL */
    unsigned long hits;
    struct vr_point *next;
} vr_point;

struct vmpy_repl {
    vm_machine *m;
    Tcl_Interp *ip;
    Tcl_ThreadId thread;
    vmpy_repl_run_fn run;
    void *run_ctx;
    vmpy_repl_out_fn out;
    void *out_ctx;
    int verbose;
    vr_symtab syms;
    char *program;           /* path given to `load elf` */
    int exited, exit_code;   /* the guest exited (Linux user mode) */
    int exit_requested, exit_status;   /* the script called `exit` */
    int run_depth;           /* nested runs from breakpoint scripts */
    Tcl_AsyncHandler async;  /* Ctrl-C during a Tcl evaluation cancels it */
    vr_point *points;
    int next_point_id;
    vm_hook *trace_hook;
    FILE *trace_file;
    char *trace_path;
    unsigned long trace_lines;
    struct vm_board *board;  /* vmpy repl --boot: console and device names */
    struct vr_snap *snaps;   /* `snapshot save NAME`, newest first */
    char *con_buf;           /* console output not yet consumed by read/expect */
    size_t con_len, con_cap;
};

/* repl.c */
int vr_usage_error(Tcl_Interp *ip, const char *words, const vr_cmd *c);
void vr_print(vr_repl *r, int stream, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int vr_define(vr_repl *r, const char *tclname, const vr_cmd *c);
extern const vr_cmd *const vr_all_commands[];

/* addresses and numbers (cmd_sym.c) */
int vr_get_u64(Tcl_Interp *ip, Tcl_Obj *o, uint64_t *v);
int vr_get_addr(vr_repl *r, Tcl_Obj *o, uint64_t *addr);
/* "main+0x4" or "" when no symbol covers addr. */
void vr_sym_label(vr_repl *r, uint64_t addr, char *buf, size_t len);
/* "0x10554 <main+4>" */
void vr_format_addr(vr_repl *r, uint64_t addr, char *buf, size_t len);
/* Sets the result to 0x... (Tcl_ObjPrintf's %llx is signed). */
void vr_set_hex(Tcl_Interp *ip, uint64_t v);
int vr_error(Tcl_Interp *ip, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int vr_core_error(vr_repl *r, Tcl_Interp *ip, const char *what, int err);

/* cmd_code.c */
int vr_disasm_line(vr_repl *r, uint64_t addr, Tcl_DString *out, int mark_pc);
void vr_trace_stop(vr_repl *r);

/* cmd_bp.c */
vr_point *vr_point_at_pc(vr_repl *r, uint64_t pc);
void vr_points_free(vr_repl *r);

/* rv_call.c: is the instruction at addr a call (returns its length) */
int vr_is_call(vr_repl *r, uint64_t addr);

/* cmd_run.c */
int vr_running_check(vr_repl *r, Tcl_Interp *ip);
/* One run through the front door's run function (GIL, Ctrl-C); notes an
 * exit (Linux exit or board power-off: *why becomes VM_STOP_EXIT). */
int vr_run_once(vr_repl *r, Tcl_Interp *ip, const vm_run_opts *o, vm_stop_reason *why);

/* cmd_board.c (console, dev) and cmd_snap.c (snapshot) */
int vr_board_powered_off(vr_repl *r, int *code);
void vr_board_free(vr_repl *r);
void vr_snaps_free(vr_repl *r);

extern const vr_cmd vr_cmd_reg, vr_cmd_mem, vr_cmd_x;                       /* cmd_data.c */
extern const vr_cmd vr_cmd_dis, vr_cmd_trace;                               /* cmd_code.c */
extern const vr_cmd vr_cmd_break, vr_cmd_watch, vr_cmd_delete;              /* cmd_bp.c */
extern const vr_cmd vr_cmd_step, vr_cmd_next, vr_cmd_finish, vr_cmd_cont,
                    vr_cmd_until, vr_cmd_run, vr_cmd_exitcode;              /* cmd_run.c */
extern const vr_cmd vr_cmd_info, vr_cmd_load, vr_cmd_sym, vr_cmd_addr;      /* cmd_info.c */
extern const vr_cmd vr_cmd_help;                                            /* repl.c */
extern const vr_cmd vr_cmd_console, vr_cmd_dev;                             /* cmd_board.c */
extern const vr_cmd vr_cmd_snapshot;                                        /* cmd_snap.c */

#endif
