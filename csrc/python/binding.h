/* binding.h — the CPython binding's shared declarations: module state, the
 * Machine/Cpu/Hook object layouts, and the GIL discipline for callbacks. */
#ifndef VMPY_BINDING_H
#define VMPY_BINDING_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <inttypes.h>
#include "core/vm.h"

typedef struct {
    PyTypeObject *machine_type, *cpu_type, *hook_type;
    PyObject *error;          /* vmpy.VmpyError */
    PyObject *format_error;   /* vmpy.FormatError(VmpyError, ValueError) */
    PyObject *memory_error;   /* vmpy.GuestMemoryError(VmpyError) */
} vmpy_state;

typedef struct {
    PyObject_HEAD
    vm_machine *vm;
    PyObject *cpus;           /* tuple of Cpu */
    PyObject *hooks;          /* list of live Hook objects (keeps callbacks alive) */
    PyObject *mmio;           /* list of (read, write) pairs for Python MMIO */
    PyObject *pending;        /* exception raised by a callback, re-raised by run() */
    PyThreadState *released;  /* the run() thread's state while it has dropped the GIL */
    unsigned long run_thread; /* PyThread id of the thread inside run(), or 0 */
    int served;               /* 1 while lent to a GdbServer (gdb_obj.c): its threads
                                 run the machine; Python may inspect but not run it */
    PyObject *weakrefs;
} PyMachine;

typedef struct {
    PyObject_HEAD
    PyMachine *machine;       /* strong */
    vm_cpu *cpu;
} PyCpu;

typedef struct {
    PyObject_HEAD
    PyMachine *machine;       /* strong; NULL once removed */
    vm_hook *hook;
    PyObject *callback;
    int kind;
} PyHook;

vmpy_state *vmpy_get_state(PyObject *module);
vmpy_state *vmpy_state_from_type(PyTypeObject *tp);
/* The vmpy._core module of a type or of a Python subclass of one (borrowed). */
PyObject *vmpy_module_of(PyTypeObject *tp);
/* PyArg "O&" converters for 64-bit arguments.  vmpy_u64 takes an integer
 * (or an object with __index__, such as numpy.uint64) in 0 .. 2**64-1;
 * vmpy_reg64 also takes -2**63 .. -1 as two's complement (cpu["a0"] = -1).
 * Anything else is an OverflowError: a silent wrap would map, read or hook
 * an address the caller never named. */
int vmpy_u64(PyObject *o, void *out);
int vmpy_reg64(PyObject *o, void *out);
/* Raises the exception that matches a VM_E* code, with the machine's message. */
PyObject *vmpy_raise(vmpy_state *st, vm_machine *vm, int err);

/* Callbacks from the core: take the GIL (cheaply when run() dropped it
 * itself) and give it back the way they found it. */
typedef struct { int how; PyGILState_STATE gs; } vmpy_gil;
void vmpy_gil_enter(PyMachine *pm, vmpy_gil *g);
void vmpy_gil_leave(PyMachine *pm, vmpy_gil *g);
/* Records the current Python exception to be raised by run() and asks the
 * machine to stop. */
void vmpy_callback_failed(PyMachine *pm);

/* The GIL around a run started from Python (Machine.run, the REPL): enter
 * drops it and marks this thread as the run's; leave takes it back.  The
 * caller has checked that no run is in progress (pm->run_thread == 0). */
void vmpy_run_enter(PyMachine *pm);
void vmpy_run_leave(PyMachine *pm);
/* Ctrl-C during a run on the main thread stops the machine, then Python's
 * SIGINT handler runs (sigint.c).  arm with the GIL held, before the run;
 * disarm after it. */
void vmpy_sigint_arm(vm_machine *m);
void vmpy_sigint_disarm(vm_machine *m);
/* Between slices of any run (GIL not needed). */
void vmpy_sigint_slice(void);
/* [(base, size, "rwx", "ram"|"mmio")] for a region table. */
PyObject *vmpy_regions_list(const vm_region_info *info, size_t n);

extern PyType_Spec vmpy_machine_spec, vmpy_cpu_spec, vmpy_hook_spec;
PyObject *vmpy_cpu_new(vmpy_state *st, PyMachine *pm, vm_cpu *c);
PyObject *vmpy_hook_new(vmpy_state *st, PyMachine *pm, int kind, PyObject *cb,
                        uint64_t begin, uint64_t end);

/* Who owns the machine.  run_thread and served are read and written only
 * with the GIL held, so Python threads see a consistent answer; the gdb
 * stub's own threads never touch them.  NULL if Python may run it. */
static inline const char *vmpy_machine_busy(const PyMachine *pm)
{
    if (pm->served)
        return "the machine is served to gdb (close the GdbServer first)";
    return pm->run_thread ? "the machine is running (run() is not re-entrant)" : NULL;
}

/* Optional parts registered by module init. */
int vmpy_snapshot_register(PyObject *module);   /* snapshot_obj.c */
/* board_obj.c: the machine of a live, idle board given its handle (NULL:
 * *live says whether the handle is a board at all). */
vm_machine *vmpy_board_idle_machine(uintptr_t handle, int *live);
/* tools/repl, when built with Tcl: weak so the core builds without it. */
int vmpy_repl_register(PyObject *module) __attribute__((weak));
/* csrc/python/trace_obj.c: vmpy._core.Trace, TraceView, Coverage. */
int vmpy_trace_register(PyObject *module);
/* csrc/python/gdb_obj.c: vmpy._core.GdbServer. */
int vmpy_gdb_register(PyObject *module);

#endif
