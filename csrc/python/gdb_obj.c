/* gdb_obj.c — vmpy._core.GdbServer: a gdb stub serving one Machine, and a
 * flat interface (vmpy_gdb_board_*) that vmpy/gdbserver.py calls through
 * ctypes to serve a `virt` board for `vmpy boot --gdb`.
 *
 * Ownership of a Machine: creating a GdbServer lends the machine to the
 * stub (PyMachine.served = 1, set and cleared with the GIL held); from then
 * on only the stub's threads run it and every Python call that would run or
 * reshape it (run, map, unmap, snapshots, a TclRepl run) raises "served to
 * gdb".  close() joins the stub's threads before clearing the flag, so the
 * machine is Python's again only once nothing else can touch it.  Reading
 * memory and registers stays allowed (meant for while gdb has it stopped).
 * The stub's threads never hold the GIL; Python hooks that fire while gdb
 * runs the machine take it with PyGILState_Ensure (vmpy_gil_enter).
 *
 * `monitor CMD` goes to the Tcl REPL (tools/repl, vmpy_repl_eval) when the
 * build has it: one interpreter per machine, on the stub's protocol thread,
 * freed when the gdb session ends. */
#include "binding.h"
#include "core/gdb_target.h"
#include "devices/board.h"
#include <errno.h>
#include <string.h>

/* tools/repl/repl.h; weak so that a build without Tcl still links. */
int vmpy_repl_eval(vm_machine *m, const char *cmd, char **out) __attribute__((weak));
void vmpy_repl_forget(vm_machine *m) __attribute__((weak));

typedef struct {
    PyObject_HEAD
    PyMachine *machine;    /* strong */
    vm_gdb *gdb;
} PyGdbServer;

static int monitor_eval(void *ctx, const char *cmd, char **out)
{
    return vmpy_repl_eval(ctx, cmd, out);
}

static void monitor_forget(void *ctx)
{
    vmpy_repl_forget(ctx);
}

/* monitor commands on machine m (a Machine has no power-off to report) */
static void set_machine_hooks(vm_gdb *g, vm_machine *m)
{
    vm_gdb_hooks h = { .ctx = m };
    if (vmpy_repl_eval && vmpy_repl_forget) {
        h.monitor = monitor_eval;
        h.session_end = monitor_forget;
    }
    vm_gdb_set_hooks(g, &h);
}

static void server_close(PyGdbServer *self)
{
    if (!self->gdb)
        return;
    vm_gdb *g = self->gdb;
    Py_BEGIN_ALLOW_THREADS
    vm_gdb_close(g);     /* joins both threads: nothing of the stub runs after this */
    Py_END_ALLOW_THREADS
    if (self->machine)
        self->machine->served = 0;
}

static PyObject *server_new(PyTypeObject *tp, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = { "machine", "port", "host", "exec_file", NULL };
    PyObject *mobj;
    int port = 0;
    const char *host = "127.0.0.1";
    PyObject *exec_obj = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|izO:GdbServer", kwlist, &mobj, &port, &host, &exec_obj))
        return NULL;
    vmpy_state *st = vmpy_state_from_type(tp);
    if (!st)
        return NULL;
    if (!PyObject_TypeCheck(mobj, st->machine_type))
        return PyErr_Format(PyExc_TypeError, "GdbServer needs a Machine, not %s", Py_TYPE(mobj)->tp_name);
    if (port < 0 || port > 65535)
        return PyErr_Format(PyExc_ValueError, "port must be 0..65535, not %d", port);
    PyMachine *pm = (PyMachine *)mobj;
    if (vmpy_machine_busy(pm))
        return PyErr_Format(PyExc_RuntimeError, "cannot serve to gdb: %s", vmpy_machine_busy(pm));
    if (strcmp(vm_machine_isa(pm->vm), "riscv64") != 0)
        return PyErr_Format(PyExc_ValueError, "the gdb stub supports riscv64 only");
    PyObject *exec_bytes = NULL;
    if (exec_obj != Py_None && !PyUnicode_FSConverter(exec_obj, &exec_bytes))
        return NULL;
    int err = 0;
    vm_gdb *g = vm_gdb_new(pm->vm, host, port, exec_bytes ? PyBytes_AS_STRING(exec_bytes) : NULL, &err);
    Py_XDECREF(exec_bytes);
    if (!g) {
        errno = err;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    PyGdbServer *self = (PyGdbServer *)tp->tp_alloc(tp, 0);
    if (!self) {
        vm_gdb_free(g);
        return NULL;
    }
    self->machine = (PyMachine *)Py_NewRef(mobj);
    set_machine_hooks(g, pm->vm);
    err = vm_gdb_start(g);
    if (err) {
        vm_gdb_free(g);
        Py_DECREF(self);
        errno = err;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    self->gdb = g;
    pm->served = 1;
    return (PyObject *)self;
}

static int server_traverse(PyGdbServer *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->machine);
    return 0;
}

static void server_dealloc(PyGdbServer *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    server_close(self);
    vm_gdb_free(self->gdb);
    self->gdb = NULL;
    Py_CLEAR(self->machine);
    tp->tp_free(self);
    Py_DECREF(tp);
}

/* Waits in short pieces with the GIL released so Ctrl-C still works. */
static PyObject *server_wait_common(PyGdbServer *self, PyObject *args, int what)
{
    PyObject *tobj = Py_None;
    if (!PyArg_ParseTuple(args, "|O", &tobj))
        return NULL;
    double timeout = -1;
    if (tobj != Py_None && (timeout = PyFloat_AsDouble(tobj)) < 0 && !PyErr_Occurred())
        return PyErr_Format(PyExc_ValueError, "timeout must not be negative");
    if (PyErr_Occurred())
        return NULL;
    if (!self->gdb)
        return Py_NewRef(Py_True);
    double left = timeout;
    for (;;) {
        int piece = left < 0 || left > 0.2 ? 200 : (int)(left * 1000);
        int ok;
        vm_gdb *g = self->gdb;
        Py_BEGIN_ALLOW_THREADS
        ok = vm_gdb_wait(g, what, piece);
        Py_END_ALLOW_THREADS
        if (ok)
            return Py_NewRef(Py_True);
        if (PyErr_CheckSignals())
            return NULL;
        if (left >= 0 && (left -= piece / 1000.0) <= 0)
            return Py_NewRef(Py_False);
    }
}

static PyObject *server_wait_connected(PyGdbServer *self, PyObject *args)
{
    return server_wait_common(self, args, 0);
}

static PyObject *server_wait(PyGdbServer *self, PyObject *args)
{
    return server_wait_common(self, args, 1);
}

static PyObject *server_close_m(PyGdbServer *self, PyObject *unused)
{
    server_close(self);
    return Py_NewRef(Py_None);
}

static PyObject *server_port(PyGdbServer *self, void *unused)
{
    return self->gdb ? PyLong_FromLong(vm_gdb_port(self->gdb)) : Py_NewRef(Py_None);
}

static PyObject *server_state(PyGdbServer *self, void *unused)
{
    static const char *names[] = { "listening", "connected", "detached", "killed", "closed", "exited" };
    vm_gdb_state s = self->gdb ? vm_gdb_state_get(self->gdb) : VM_GDB_CLOSED;
    return PyUnicode_FromString(names[s]);
}

static PyObject *server_exit_code(PyGdbServer *self, void *unused)
{
    if (!self->gdb || vm_gdb_state_get(self->gdb) != VM_GDB_EXITED)
        return Py_NewRef(Py_None);
    return PyLong_FromLong(vm_gdb_exit_code(self->gdb));
}

static PyObject *server_machine(PyGdbServer *self, void *unused)
{
    return Py_NewRef(self->machine ? (PyObject *)self->machine : Py_None);
}

static PyMethodDef server_methods[] = {
    { "wait_connected", (PyCFunction)server_wait_connected, METH_VARARGS,
      "wait_connected(timeout=None) -> bool: True once a gdb has connected" },
    { "wait", (PyCFunction)server_wait, METH_VARARGS,
      "wait(timeout=None) -> bool: True once the gdb session has ended" },
    { "close", (PyCFunction)server_close_m, METH_NOARGS,
      "close(): drop gdb, stop the machine and give it back to Python" },
    { NULL },
};

static PyGetSetDef server_getset[] = {
    { "port", (getter)server_port, NULL, "the TCP port listened on", NULL },
    { "state", (getter)server_state, NULL,
      "'listening', 'connected', 'detached', 'killed', 'closed' or 'exited'", NULL },
    { "exit_code", (getter)server_exit_code, NULL, "the guest's exit code once state is 'exited'", NULL },
    { "machine", (getter)server_machine, NULL, "the machine served", NULL },
    { NULL },
};

static PyType_Slot server_slots[] = {
    { Py_tp_doc, "GdbServer(machine, port=0, host='127.0.0.1', exec_file=None): "
                 "serve machine to gdb (remote protocol over TCP) from background threads." },
    { Py_tp_new, server_new },
    { Py_tp_dealloc, server_dealloc },
    { Py_tp_traverse, server_traverse },
    { Py_tp_methods, server_methods },
    { Py_tp_getset, server_getset },
    { 0, NULL },
};

static PyType_Spec server_spec = {
    .name = "vmpy._core.GdbServer",
    .basicsize = sizeof(PyGdbServer),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = server_slots,
};

int vmpy_gdb_register(PyObject *module)
{
    PyObject *t = PyType_FromModuleAndSpec(module, &server_spec, NULL);
    if (!t)
        return -1;
    int rc = PyModule_AddType(module, (PyTypeObject *)t);
    Py_DECREF(t);
    return rc;
}

/* ---- the flat interface for boards (vmpy/gdbserver.py, ctypes) ------------
 * ctypes drops the GIL around each call; the board must not be started
 * (its own run thread would race the stub's) until vmpy_gdb_free. */
#define API __attribute__((visibility("default")))

static int board_exited(void *ctx, int *code)
{
    vm_board *b = ctx;
    int st = vm_board_state(b);
    if (st != VM_BOARD_POWEROFF && st != VM_BOARD_REBOOT)
        return 0;
    *code = vm_board_exit_code(b);
    return 1;
}

static int board_monitor(void *ctx, const char *cmd, char **out)
{
    return vmpy_repl_eval(vm_board_machine(ctx), cmd, out);
}

static void board_forget(void *ctx)
{
    vmpy_repl_forget(vm_board_machine(ctx));
}

/* Returns a started server, or NULL with an errno value in *err. */
API vm_gdb *vmpy_gdb_board_new(vm_board *b, const char *host, int port, int *err)
{
    if (!b || !err || port < 0 || port > 65535) {
        if (err)
            *err = EINVAL;
        return NULL;
    }
    vm_gdb *g = vm_gdb_new(vm_board_machine(b), host ? host : "127.0.0.1", port, NULL, err);
    if (!g)
        return NULL;
    vm_gdb_hooks h = { .exited = board_exited, .ctx = b };
    if (vmpy_repl_eval && vmpy_repl_forget) {
        h.monitor = board_monitor;
        h.session_end = board_forget;
    }
    vm_gdb_set_hooks(g, &h);
    if ((*err = vm_gdb_start(g)) != 0) {
        vm_gdb_free(g);
        return NULL;
    }
    return g;
}

API int vmpy_gdb_port(vm_gdb *g) { return g ? vm_gdb_port(g) : -1; }
API int vmpy_gdb_wait(vm_gdb *g, int what, int timeout_ms) { return g ? vm_gdb_wait(g, what, timeout_ms) : 1; }
API int vmpy_gdb_state(vm_gdb *g) { return g ? (int)vm_gdb_state_get(g) : VM_GDB_CLOSED; }
API int vmpy_gdb_exit_code(vm_gdb *g) { return g ? vm_gdb_exit_code(g) : -1; }
API void vmpy_gdb_free(vm_gdb *g) { vm_gdb_free(g); }
