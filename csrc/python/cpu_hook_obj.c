/* cpu_hook_obj.c — vmpy._core.Cpu (registers by name) and vmpy._core.Hook
 * (a Python callback attached to the core, and its trampolines). */
#include "binding.h"

/* ---- Cpu ------------------------------------------------------------------ */

PyObject *vmpy_cpu_new(vmpy_state *st, PyMachine *pm, vm_cpu *c)
{
    PyCpu *self = PyObject_GC_New(PyCpu, st->cpu_type);
    if (!self)
        return NULL;
    self->machine = (PyMachine *)Py_NewRef(pm);
    self->cpu = c;
    PyObject_GC_Track(self);
    return (PyObject *)self;
}

static int cpu_traverse(PyCpu *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->machine);
    return 0;
}

static int cpu_clear(PyCpu *self)
{
    Py_CLEAR(self->machine);
    return 0;
}

static void cpu_dealloc(PyCpu *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    cpu_clear(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static int cpu_alive(PyCpu *self)
{
    if (!self->machine || !self->machine->vm) {
        PyErr_SetString(PyExc_RuntimeError, "the machine of this cpu is gone");
        return 0;
    }
    return 1;
}

static int reg_of(PyCpu *self, PyObject *key)
{
    if (!cpu_alive(self))
        return -1;
    if (!PyUnicode_Check(key)) {
        PyErr_Format(PyExc_TypeError, "register names are strings, not %.100s", Py_TYPE(key)->tp_name);
        return -1;
    }
    int r = vm_reg_lookup(self->machine->vm, PyUnicode_AsUTF8(key));
    if (r < 0)
        PyErr_Format(PyExc_KeyError, "no register named %R", key);
    return r;
}

static PyObject *cpu_getitem(PyCpu *self, PyObject *key)
{
    int r = reg_of(self, key);
    if (r < 0)
        return NULL;
    uint64_t v;
    if (vm_cpu_reg_read(self->cpu, r, &v))
        return PyErr_Format(PyExc_KeyError, "register %R cannot be read", key);
    return PyLong_FromUnsignedLongLong(v);
}

static int cpu_setitem(PyCpu *self, PyObject *key, PyObject *value)
{
    int r = reg_of(self, key);
    if (r < 0)
        return -1;
    if (!value) {
        PyErr_SetString(PyExc_TypeError, "registers cannot be deleted");
        return -1;
    }
    uint64_t v;
    if (!vmpy_reg64(value, &v))
        return -1;
    if (vm_cpu_reg_write(self->cpu, r, v)) {
        PyErr_Format(PyExc_KeyError, "register %R cannot be written", key);
        return -1;
    }
    return 0;
}

static PyObject *cpu_get_pc(PyCpu *self, void *c)
{
    return cpu_alive(self) ? PyLong_FromUnsignedLongLong(vm_cpu_pc(self->cpu)) : NULL;
}

static int cpu_set_pc(PyCpu *self, PyObject *v, void *c)
{
    if (!cpu_alive(self))
        return -1;
    if (!v) {
        PyErr_SetString(PyExc_TypeError, "pc cannot be deleted");
        return -1;
    }
    uint64_t pc;
    if (!vmpy_reg64(v, &pc))        /* as cpu["pc"] = ... */
        return -1;
    vm_cpu_set_pc(self->cpu, pc);
    return 0;
}

static PyObject *cpu_get_index(PyCpu *self, void *c)
{
    return cpu_alive(self) ? PyLong_FromLong(vm_cpu_index(self->cpu)) : NULL;
}
static PyObject *cpu_get_icount(PyCpu *self, void *c)
{
    return cpu_alive(self) ? PyLong_FromUnsignedLongLong(vm_cpu_icount(self->cpu)) : NULL;
}

static PyObject *cpu_fault(PyCpu *self, PyObject *unused)
{
    if (!cpu_alive(self))
        return NULL;
    vm_fault_info f;
    vm_cpu_fault(self->cpu, &f);
    const char *access = f.access == VM_PROT_W ? "w" : f.access == VM_PROT_X ? "x" : "r";
    const char *why = f.error == VM_EPROT ? "protection" : f.error == VM_EUNMAPPED ? "unmapped" : "page fault";
    return Py_BuildValue("{sKsKsssiss}", "addr", f.addr, "pc", f.pc, "access", access, "size", f.size,
                         "error", why);
}

static PyObject *cpu_trap(PyCpu *self, PyObject *unused)
{
    if (!cpu_alive(self))
        return NULL;
    uint64_t cause, tval;
    vm_cpu_trap(self->cpu, &cause, &tval);
    return Py_BuildValue("(KK)", cause, tval);
}

static PyObject *cpu_watch(PyCpu *self, PyObject *unused)
{
    uint64_t addr;
    int access;
    if (!cpu_alive(self))
        return NULL;
    vm_cpu_watch_hit(self->cpu, &addr, &access);
    return Py_BuildValue("(Ki)", addr, access);
}

static PyObject *cpu_regs(PyCpu *self, PyObject *unused)
{
    if (!cpu_alive(self))
        return NULL;
    vm_machine *vm = self->machine->vm;
    PyObject *d = PyDict_New();
    for (int r = 0; d && r < vm_reg_count(vm); r++) {
        const char *n = vm_reg_name(vm, r);
        uint64_t v;
        if (!n || vm_cpu_reg_read(self->cpu, r, &v))
            continue;
        PyObject *o = PyLong_FromUnsignedLongLong(v);
        if (!o || PyDict_SetItemString(d, n, o))
            Py_CLEAR(d);
        Py_XDECREF(o);
    }
    return d;
}

static PyObject *cpu_get_machine(PyCpu *self, void *c)
{
    return self->machine ? Py_NewRef((PyObject *)self->machine) : Py_NewRef(Py_None);
}

static PyMethodDef cpu_methods[] = {
    { "regs", (PyCFunction)cpu_regs, METH_NOARGS, "regs() -> {name: value} for every register" },
    { "fault", (PyCFunction)cpu_fault, METH_NOARGS, "fault() -> details of the last memory fault" },
    { "trap", (PyCFunction)cpu_trap, METH_NOARGS, "trap() -> (cause, tval) of the last unhandled trap" },
    { "watch", (PyCFunction)cpu_watch, METH_NOARGS, "watch() -> (addr, access) of the last watchpoint hit" },
    { NULL },
};

static PyGetSetDef cpu_getset[] = {
    { "pc", (getter)cpu_get_pc, (setter)cpu_set_pc, "program counter", NULL },
    { "index", (getter)cpu_get_index, NULL, "hart number", NULL },
    { "icount", (getter)cpu_get_icount, NULL, "instructions retired", NULL },
    { "machine", (getter)cpu_get_machine, NULL, "the machine", NULL },
    { NULL },
};

static PyType_Slot cpu_slots[] = {
    { Py_tp_dealloc, cpu_dealloc },
    { Py_tp_traverse, cpu_traverse },
    { Py_tp_clear, cpu_clear },
    { Py_tp_methods, cpu_methods },
    { Py_tp_getset, cpu_getset },
    { Py_mp_subscript, cpu_getitem },
    { Py_mp_ass_subscript, cpu_setitem },
    { Py_tp_doc, "A vCPU: cpu.pc, cpu['a0'], cpu['fa0'] (raw bits), cpu['mstatus']." },
    { 0, NULL },
};

PyType_Spec vmpy_cpu_spec = {
    .name = "vmpy._core.Cpu",
    .basicsize = sizeof(PyCpu),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = cpu_slots,
};

/* ---- Hook trampolines --------------------------------------------------------
 * One C function per hook kind turns the core's (cpu, addr, size, value) into
 * the Python signature documented in docs/python-api.md. */

static const char *const access_names[8] = { "?", "r", "w", "?", "x", "?", "?", "?" };

static int trampoline(vm_cpu *c, uint64_t addr, unsigned size, uint64_t value, void *opaque)
{
    PyHook *h = opaque;
    PyMachine *pm = h->machine;
    if (!pm)
        return VM_HOOK_CONTINUE;
    vmpy_gil g;
    vmpy_gil_enter(pm, &g);
    PyObject *cpu = PyTuple_GET_ITEM(pm->cpus, vm_cpu_index(c));
    PyObject *args[4] = { cpu, NULL, NULL, NULL };
    size_t nargs;
    switch (h->kind) {
    case VM_HOOK_CODE:
    case VM_HOOK_BLOCK:
        args[1] = PyLong_FromUnsignedLongLong(addr);
        args[2] = PyLong_FromUnsignedLong(size);
        nargs = 3;
        break;
    case VM_HOOK_MEM_FAULT:
        args[1] = PyUnicode_FromString(access_names[value & 7]);
        args[2] = PyLong_FromUnsignedLongLong(addr);
        args[3] = PyLong_FromUnsignedLong(size);
        nargs = 4;
        break;
    case VM_HOOK_TRAP:            /* addr = cause, value = tval */
        args[1] = PyLong_FromUnsignedLongLong(addr);
        args[2] = PyLong_FromUnsignedLongLong(value);
        nargs = 3;
        break;
    case VM_HOOK_INVALID:         /* value = raw instruction bits */
        args[1] = PyLong_FromUnsignedLongLong(addr);
        args[2] = PyLong_FromUnsignedLongLong(value);
        nargs = 3;
        break;
    default:                      /* memory read/write/fetch */
        args[1] = PyLong_FromUnsignedLongLong(addr);
        args[2] = PyLong_FromUnsignedLong(size);
        args[3] = PyLong_FromUnsignedLongLong(value);
        nargs = 4;
        break;
    }
    int ret = VM_HOOK_CONTINUE;
    PyObject *r = NULL;
    if (args[1] && args[2] && (nargs < 4 || args[3]))
        r = PyObject_Vectorcall(h->callback, args, nargs, NULL);
    for (size_t i = 1; i < nargs; i++)
        Py_XDECREF(args[i]);
    if (!r) {
        vmpy_callback_failed(pm);
        ret = VM_HOOK_ERROR;
    } else {
        if (h->kind >= VM_HOOK_MEM_FAULT) {
            int t = PyObject_IsTrue(r);
            if (t < 0) {
                vmpy_callback_failed(pm);
                ret = VM_HOOK_ERROR;
            } else if (t) {
                ret = VM_HOOK_HANDLED;
            }
        }
        Py_DECREF(r);
    }
    vmpy_gil_leave(pm, &g);
    return ret;
}

/* ---- Hook ----------------------------------------------------------------- */

PyObject *vmpy_hook_new(vmpy_state *st, PyMachine *pm, int kind, PyObject *cb, uint64_t begin, uint64_t end)
{
    PyHook *self = PyObject_GC_New(PyHook, st->hook_type);
    if (!self)
        return NULL;
    self->machine = (PyMachine *)Py_NewRef(pm);
    self->callback = Py_NewRef(cb);
    self->kind = kind;
    self->hook = NULL;
    PyObject_GC_Track(self);
    /* The core holds a borrowed pointer; pm->hooks keeps the Hook alive
     * until remove() detaches it from the core. */
    if (PyList_Append(pm->hooks, (PyObject *)self)) {
        Py_DECREF(self);
        return NULL;
    }
    self->hook = vm_hook_add(pm->vm, kind, begin, end, trampoline, self, NULL);
    if (!self->hook) {
        vmpy_raise(st, pm->vm, VM_EINVAL);
        Py_ssize_t n = PyList_GET_SIZE(pm->hooks);
        PySequence_DelItem(pm->hooks, n - 1);
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static PyObject *hook_remove(PyHook *self, PyObject *unused)
{
    PyMachine *pm = self->machine;
    if (!pm || !self->hook)
        return Py_NewRef(Py_None);          /* removing twice is harmless */
    vm_hook_remove(pm->vm, self->hook);
    self->hook = NULL;
    Py_INCREF(self);
    Py_ssize_t i = PySequence_Index(pm->hooks, (PyObject *)self);
    if (i >= 0)
        PySequence_DelItem(pm->hooks, i);
    PyErr_Clear();
    self->machine = NULL;
    Py_DECREF(pm);
    Py_DECREF(self);
    return Py_NewRef(Py_None);
}

static int hook_traverse(PyHook *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->machine);
    Py_VISIT(self->callback);
    return 0;
}

static int hook_clear(PyHook *self)
{
    if (self->hook && self->machine && self->machine->vm)
        vm_hook_remove(self->machine->vm, self->hook);
    self->hook = NULL;
    Py_CLEAR(self->machine);
    Py_CLEAR(self->callback);
    return 0;
}

static void hook_dealloc(PyHook *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    hook_clear(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyObject *hook_get_active(PyHook *self, void *c) { return PyBool_FromLong(self->hook != NULL); }
static PyObject *hook_get_kind(PyHook *self, void *c) { return PyLong_FromLong(self->kind); }

static PyMethodDef hook_methods[] = {
    { "remove", (PyCFunction)hook_remove, METH_NOARGS, "remove(): detach the hook (takes effect at once)" },
    { NULL },
};

static PyGetSetDef hook_getset[] = {
    { "active", (getter)hook_get_active, NULL, "False once removed", NULL },
    { "kind", (getter)hook_get_kind, NULL, "hook kind (HOOK_*)", NULL },
    { NULL },
};

static PyType_Slot hook_slots[] = {
    { Py_tp_dealloc, hook_dealloc },
    { Py_tp_traverse, hook_traverse },
    { Py_tp_clear, hook_clear },
    { Py_tp_methods, hook_methods },
    { Py_tp_getset, hook_getset },
    { Py_tp_doc, "A hook returned by Machine.on_*(); h.remove() detaches it." },
    { 0, NULL },
};

PyType_Spec vmpy_hook_spec = {
    .name = "vmpy._core.Hook",
    .basicsize = sizeof(PyHook),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = hook_slots,
};
