/* py_repl.c — vmpy._core.TclRepl(machine): the REPL's interpreter as a
 * Python object, used by vmpy/repl.py for Machine.tcl(), Machine.repl()
 * and `vmpy repl`.
 *
 * Runs started from Tcl follow the binding's rules for Machine.run(): the
 * GIL is dropped while the guest runs (Python hooks take it back), a
 * Python hook's exception stops the run, and Ctrl-C stops the guest. */
#ifdef VMPY_HAVE_TCL
#include "python/binding.h"
#include "pythread.h"
#include "repl_int.h"
#include "devices/board.h"

typedef struct {
    PyObject_HEAD
    PyMachine *machine;     /* strong; NULL for a board's REPL */
    PyObject *owner;        /* strong: the vmpy.boards.Board of a board's REPL */
    vmpy_repl *r;
    PyObject *output;       /* output(text, stream) or NULL: C stdio */
} PyTclRepl;

/* A board's machine has no Python object and no Python hooks: a run only
 * drops the GIL (the board's devices tick from the run loop). */
static int board_run(void *ctx, vm_machine *m, const vm_run_opts *o, vm_stop_reason *why, char *msg,
                     size_t msglen)
{
    Py_BEGIN_ALLOW_THREADS
    *why = vmpy_repl_run_default_sigint(m, o);
    Py_END_ALLOW_THREADS
    return 0;
}

static int py_run(void *ctx, vm_machine *m, const vm_run_opts *o, vm_stop_reason *why, char *msg, size_t msglen)
{
    PyTclRepl *self = ctx;
    PyMachine *pm = self->machine;
    if (vmpy_machine_busy(pm)) {
        snprintf(msg, msglen, "%s", pm->served ? vmpy_machine_busy(pm)
                 : "the machine is already running (a run cannot start from inside a hook)");
        return VM_EINVAL;
    }
    vmpy_run_enter(pm);
    *why = vmpy_repl_run_default_sigint(m, o);
    vmpy_run_leave(pm);
    if (pm->pending) {
        PyObject *s = PyObject_Str(pm->pending);
        snprintf(msg, msglen, "a Python hook raised %s: %s", Py_TYPE(pm->pending)->tp_name,
                 s ? PyUnicode_AsUTF8(s) : "?");
        Py_XDECREF(s);
        PyErr_Clear();
        Py_CLEAR(pm->pending);
        return VM_EINVAL;
    }
    return 0;
}

static void py_out(void *ctx, int stream, const char *text, size_t len)
{
    PyTclRepl *self = ctx;
    if (!self->output) {
        fwrite(text, 1, len, stream == 2 ? stderr : stdout);
        fflush(stream == 2 ? stderr : stdout);
        return;
    }
    PyObject *str = PyUnicode_DecodeUTF8(text, (Py_ssize_t)len, "replace");
    PyObject *res = str ? PyObject_CallFunction(self->output, "Oi", str, stream) : NULL;
    if (!res)
        PyErr_WriteUnraisable(self->output);
    Py_XDECREF(res);
    Py_XDECREF(str);
}

static PyObject *repl_new(PyTypeObject *tp, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = { "machine", "owner", NULL };
    PyObject *machine, *owner = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O:TclRepl", kwlist, &machine, &owner))
        return NULL;
    vmpy_state *st = vmpy_state_from_type(tp);
    if (!st)
        return NULL;
    /* A board comes as a capsule named "vmpy.board" (vmpy/boards.py) plus
     * the Board object that owns it, kept alive as long as the REPL. */
    vm_board *board = NULL;
    if (PyCapsule_CheckExact(machine)) {
        board = PyCapsule_GetPointer(machine, "vmpy.board");
        if (!board)
            return NULL;
        if (!owner)
            return PyErr_Format(PyExc_TypeError, "TclRepl(board capsule, owner): the owner is missing");
    } else if (!PyObject_TypeCheck(machine, st->machine_type)) {
        return PyErr_Format(PyExc_TypeError, "TclRepl needs a vmpy Machine, not %.100s", Py_TYPE(machine)->tp_name);
    }
    PyTclRepl *self = (PyTclRepl *)tp->tp_alloc(tp, 0);
    if (!self)
        return NULL;
    if (board) {
        self->owner = Py_NewRef(owner);
        self->r = vmpy_repl_new(vm_board_machine(board));
    } else {
        self->machine = (PyMachine *)Py_NewRef(machine);
        self->r = vmpy_repl_new(self->machine->vm);
    }
    if (!self->r) {
        Py_DECREF(self);
        return PyErr_Format(st->error, "could not create the Tcl interpreter");
    }
    if (board) {
        vmpy_repl_set_board(self->r, board);
        vmpy_repl_set_run(self->r, board_run, self);
    } else {
        vmpy_repl_set_run(self->r, py_run, self);
    }
    vmpy_repl_set_output(self->r, py_out, self);
    return (PyObject *)self;
}

static int repl_traverse(PyTclRepl *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->machine);
    Py_VISIT(self->owner);
    Py_VISIT(self->output);
    return 0;
}

static int repl_clear(PyTclRepl *self)
{
    /* The interpreter removes its hooks and breakpoints from the machine,
     * so it goes before the machine may. */
    vmpy_repl_free(self->r);
    self->r = NULL;
    Py_CLEAR(self->output);
    Py_CLEAR(self->machine);
    Py_CLEAR(self->owner);
    return 0;
}

static void repl_dealloc(PyTclRepl *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    repl_clear(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static int check_alive(PyTclRepl *self)
{
    if (self->r)
        return 0;
    PyErr_SetString(PyExc_RuntimeError, "this TclRepl has been cleared");
    return -1;
}

/* Turns an eval outcome into a Python result: str, VmpyError (with the Tcl
 * stack trace in .errorinfo) or SystemExit(code). */
static PyObject *outcome(PyTclRepl *self, int rc, char *result, int code)
{
    PyObject *out = NULL;
    if (rc == VMPY_REPL_OK) {
        out = PyUnicode_DecodeUTF8(result ? result : "", result ? (Py_ssize_t)strlen(result) : 0, "replace");
    } else if (rc == VMPY_REPL_EXIT) {
        PyObject *c = PyLong_FromLong(code);
        if (c) {
            PyErr_SetObject(PyExc_SystemExit, c);
            Py_DECREF(c);
        }
    } else if (!PyErr_Occurred()) {
        vmpy_state *st = vmpy_state_from_type(Py_TYPE(self));
        /* Tcl strings are "modified UTF-8" (NUL as C0 80): decode leniently. */
        const char *msg = result ? result : "Tcl error";
        PyObject *text = PyUnicode_DecodeUTF8(msg, (Py_ssize_t)strlen(msg), "replace");
        PyObject *exc = st && text ? PyObject_CallOneArg(st->error, text) : NULL;
        Py_XDECREF(text);
        if (exc) {
            char *info = vmpy_repl_error_info(self->r);
            PyObject *i = PyUnicode_DecodeUTF8(info ? info : "", info ? (Py_ssize_t)strlen(info) : 0, "replace");
            free(info);
            if (i)
                PyObject_SetAttrString(exc, "errorinfo", i);
            Py_XDECREF(i);
            PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
            Py_DECREF(exc);
        }
    }
    free(result);
    return out;
}

static PyObject *repl_eval(PyTclRepl *self, PyObject *arg)
{
    const char *script = PyUnicode_Check(arg) ? PyUnicode_AsUTF8(arg) : NULL;
    if (!script)
        return PyErr_Occurred() ? NULL : PyErr_Format(PyExc_TypeError, "eval() takes a str");
    if (check_alive(self))
        return NULL;
    char *result = NULL;
    int code = 0;
    int rc = vmpy_repl_eval_script(self->r, script, &result, &code);
    return outcome(self, rc, result, code);
}

static PyObject *repl_source(PyTclRepl *self, PyObject *arg)
{
    PyObject *path;
    if (!PyUnicode_FSConverter(arg, &path) || check_alive(self))
        return NULL;
    char *result = NULL;
    int code = 0;
    int rc = vmpy_repl_eval_file(self->r, PyBytes_AS_STRING(path), &result, &code);
    Py_DECREF(path);
    return outcome(self, rc, result, code);
}

static PyObject *repl_complete(PyTclRepl *self, PyObject *arg)
{
    const char *s = PyUnicode_AsUTF8(arg);
    return s ? PyBool_FromLong(vmpy_repl_complete(s)) : NULL;
}

static PyObject *repl_where(PyTclRepl *self, PyObject *unused)
{
    if (check_alive(self))
        return NULL;
    char *w = vmpy_repl_where(self->r);
    PyObject *out = PyUnicode_FromString(w ? w : "?");
    free(w);
    return out;
}

static PyObject *repl_set_verbose(PyTclRepl *self, PyObject *arg)
{
    if (check_alive(self))
        return NULL;
    vmpy_repl_set_verbose(self->r, PyObject_IsTrue(arg) > 0);
    Py_RETURN_NONE;
}

static PyObject *repl_set_output(PyTclRepl *self, PyObject *arg)
{
    if (arg != Py_None && !PyCallable_Check(arg))
        return PyErr_Format(PyExc_TypeError, "output must be callable(text, stream) or None");
    Py_XSETREF(self->output, arg == Py_None ? NULL : Py_NewRef(arg));
    Py_RETURN_NONE;
}

/* setvar(name, [str, ...]) sets a Tcl list variable (e.g. ::argv). */
static PyObject *repl_setvar(PyTclRepl *self, PyObject *args)
{
    const char *name;
    PyObject *seq;
    if (!PyArg_ParseTuple(args, "sO:setvar", &name, &seq) || check_alive(self))
        return NULL;
    PyObject *fast = PySequence_Fast(seq, "setvar needs a sequence of str");
    if (!fast)
        return NULL;
    Tcl_Obj *list = Tcl_NewListObj(0, NULL);
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(fast); i++) {
        const char *s = PyUnicode_AsUTF8(PySequence_Fast_GET_ITEM(fast, i));
        if (!s) {
            Tcl_DecrRefCount(list);
            Py_DECREF(fast);
            return NULL;
        }
        Tcl_ListObjAppendElement(NULL, list, Tcl_NewStringObj(s, -1));
    }
    Py_DECREF(fast);
    Tcl_SetVar2Ex(self->r->ip, name, NULL, list, TCL_GLOBAL_ONLY);
    Py_RETURN_NONE;
}

/* names(prefix) -> Tcl commands and symbols starting with prefix (for
 * tab completion; symbols capped at 200). */
static PyObject *repl_names(PyTclRepl *self, PyObject *args)
{
    const char *prefix;
    int want_symbols = 0;
    if (!PyArg_ParseTuple(args, "s|p:names", &prefix, &want_symbols) || check_alive(self))
        return NULL;
    PyObject *out = PyList_New(0);
    size_t plen = strlen(prefix);
    if (!want_symbols) {
        Tcl_Obj *cmd = Tcl_ObjPrintf("info commands {%s*}", prefix);
        Tcl_IncrRefCount(cmd);
        int n = 0;
        Tcl_Obj **items = NULL;
        if (strpbrk(prefix, "{}[]*?\\") == NULL && Tcl_EvalObjEx(self->r->ip, cmd, TCL_EVAL_GLOBAL) == TCL_OK)
            Tcl_ListObjGetElements(NULL, Tcl_GetObjResult(self->r->ip), &n, &items);
        for (int i = 0; out && i < n; i++) {
            PyObject *s = PyUnicode_FromString(Tcl_GetString(items[i]));
            if (!s || PyList_Append(out, s))
                Py_CLEAR(out);
            Py_XDECREF(s);
        }
        Tcl_DecrRefCount(cmd);
        Tcl_ResetResult(self->r->ip);
        return out;
    }
    for (size_t i = 0; out && i < self->r->syms.n && PyList_GET_SIZE(out) < 200; i++) {
        const char *name = self->r->syms.syms[self->r->syms.byname[i]].name;
        if (strncmp(name, prefix, plen))
            continue;
        PyObject *s = PyUnicode_FromString(name);
        if (!s || PyList_Append(out, s))
            Py_CLEAR(out);
        Py_XDECREF(s);
    }
    return out;
}

static PyMethodDef repl_methods[] = {
    { "eval", (PyCFunction)repl_eval, METH_O, "eval(script) -> result str; VmpyError on a Tcl error, SystemExit on exit" },
    { "source", (PyCFunction)repl_source, METH_O, "source(path) -> result str (like eval, for a file)" },
    { "complete", (PyCFunction)repl_complete, METH_O, "complete(text) -> True if text is a complete Tcl command" },
    { "where", (PyCFunction)repl_where, METH_NOARGS, "where() -> '0x10554 <main+4>': the pc for the prompt" },
    { "set_verbose", (PyCFunction)repl_set_verbose, METH_O, "set_verbose(flag): report stops (interactive mode)" },
    { "set_output", (PyCFunction)repl_set_output, METH_O, "set_output(callable(text, stream) or None)" },
    { "setvar", (PyCFunction)repl_setvar, METH_VARARGS, "setvar(name, [str...]): set a Tcl list variable" },
    { "names", (PyCFunction)repl_names, METH_VARARGS, "names(prefix, symbols=False) -> completions" },
    { NULL },
};

static PyType_Slot repl_slots[] = {
    { Py_tp_new, repl_new },
    { Py_tp_dealloc, repl_dealloc },
    { Py_tp_traverse, repl_traverse },
    { Py_tp_clear, repl_clear },
    { Py_tp_methods, repl_methods },
    { Py_tp_doc, "TclRepl(machine): a Tcl interpreter with the vmpy REPL commands bound to machine." },
    { 0, NULL },
};

static PyType_Spec repl_spec = {
    .name = "vmpy._core.TclRepl",
    .basicsize = sizeof(PyTclRepl),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = repl_slots,
};

int vmpy_repl_register(PyObject *module)
{
    PyObject *t = PyType_FromModuleAndSpec(module, &repl_spec, NULL);
    if (!t)
        return -1;
    int rc = PyModule_AddType(module, (PyTypeObject *)t);
    Py_DECREF(t);
    return rc;
}
#endif /* VMPY_HAVE_TCL */
