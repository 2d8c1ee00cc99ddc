/* snapshot_obj.c — vmpy._core.Snapshot (an immutable handle on a C snapshot)
 * and the module functions behind vmpy/snapshot.py: take, restore,
 * (de)serialize, and the deterministic clock.  Registered by module init
 * through vmpy_snapshot_register(). */
#include "binding.h"
#include "core/snapshot.h"

typedef struct {
    PyObject_HEAD
    vm_snapshot *snap;
} PySnapshot;

int vmpy_snapshot_register(PyObject *module);

static vmpy_state *mod_state(PyObject *mod) { return vmpy_get_state(mod); }

static PyObject *snapshot_wrap(PyObject *mod, vm_snapshot *s)
{
    PyObject *tp = PyObject_GetAttrString(mod, "Snapshot");
    if (!tp) {
        vm_snapshot_unref(s);
        return NULL;
    }
    PySnapshot *o = (PySnapshot *)((PyTypeObject *)tp)->tp_alloc((PyTypeObject *)tp, 0);
    Py_DECREF(tp);
    if (!o) {
        vm_snapshot_unref(s);
        return NULL;
    }
    o->snap = s;
    return (PyObject *)o;
}

static PyObject *type_module(PyObject *self)
{
    return PyType_GetModule(Py_TYPE(self));
}

/* ---- the Snapshot type ------------------------------------------------------- */

static void snapshot_dealloc(PySnapshot *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    if (self->snap)
        vm_snapshot_unref(self->snap);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyObject *snapshot_new(PyTypeObject *tp, PyObject *args, PyObject *kw)
{
    PyErr_SetString(PyExc_TypeError, "snapshots come from Machine.snapshot() or Snapshot.load()");
    return NULL;
}

static PyObject *snap_get_isa(PySnapshot *self, void *c) { return PyUnicode_FromString(vm_snapshot_isa(self->snap)); }
static PyObject *snap_get_ncpus(PySnapshot *self, void *c) { return PyLong_FromLong(vm_snapshot_ncpus(self->snap)); }

static PyObject *snap_get_stored(PySnapshot *self, void *c)
{
    return PyLong_FromUnsignedLongLong(vm_snapshot_stored_pages(self->snap));
}

static PyObject *snap_get_base(PySnapshot *self, void *c)
{
    vm_snapshot *b = vm_snapshot_base(self->snap);
    if (!b)
        return Py_NewRef(Py_None);
    vm_snapshot_ref(b);
    return snapshot_wrap(type_module((PyObject *)self), b);
}

static PyObject *snap_icount(PySnapshot *self, PyObject *arg)
{
    long i = PyLong_AsLong(arg);
    if (i == -1 && PyErr_Occurred())
        return NULL;
    if (i < 0 || i >= vm_snapshot_ncpus(self->snap))
        return PyErr_Format(PyExc_IndexError, "no cpu %ld", i);
    return PyLong_FromUnsignedLongLong(vm_snapshot_icount(self->snap, (int)i));
}

static PyObject *snap_regions(PySnapshot *self, PyObject *unused)
{
    size_t n = vm_snapshot_regions(self->snap, NULL, 0);
    vm_region_info *info = PyMem_Calloc(n ? n : 1, sizeof *info);
    if (!info)
        return PyErr_NoMemory();
    vm_snapshot_regions(self->snap, info, n);
    PyObject *out = vmpy_regions_list(info, n);
    PyMem_Free(info);
    return out;
}

static PyObject *snap_read(PySnapshot *self, PyObject *args)
{
    uint64_t addr;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "O&n:read", vmpy_u64, &addr, &n))
        return NULL;
    if (n < 0)
        return PyErr_Format(PyExc_ValueError, "negative length");
    PyObject *out = PyBytes_FromStringAndSize(NULL, n);
    if (out && vm_snapshot_read(self->snap, addr, PyBytes_AS_STRING(out), (size_t)n)) {
        Py_DECREF(out);
        vmpy_state *st = mod_state(type_module((PyObject *)self));
        char msg[96];
        snprintf(msg, sizeof msg, "%#" PRIx64 "..+%zd is not RAM in the snapshot", addr, n);
        PyErr_SetString(st->memory_error, msg);
        return NULL;
    }
    return out;
}

static PyObject *snap_serialize(PySnapshot *self, PyObject *unused)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    char err[256];
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = vm_snapshot_serialize(self->snap, &buf, &len, err, sizeof err);
    Py_END_ALLOW_THREADS
    if (rc)
        return PyErr_Format(PyExc_MemoryError, "%s", err);
    PyObject *out = PyBytes_FromStringAndSize((const char *)buf, (Py_ssize_t)len);
    free(buf);
    return out;
}

static PyMethodDef snapshot_methods[] = {
    { "icount", (PyCFunction)snap_icount, METH_O, "icount(cpu) -> instructions retired by that cpu" },
    { "regions", (PyCFunction)snap_regions, METH_NOARGS, "regions() -> [(base, size, perms, kind)]" },
    { "read", (PyCFunction)snap_read, METH_VARARGS, "read(addr, n) -> bytes of RAM as snapshotted" },
    { "serialize", (PyCFunction)snap_serialize, METH_NOARGS, "serialize() -> self-contained payload bytes" },
    { NULL },
};

static PyGetSetDef snapshot_getset[] = {
    { "isa", (getter)snap_get_isa, NULL, "guest ISA", NULL },
    { "ncpus", (getter)snap_get_ncpus, NULL, "number of cpus", NULL },
    { "stored_pages", (getter)snap_get_stored, NULL, "non-zero RAM pages held by this snapshot itself", NULL },
    { "base", (getter)snap_get_base, NULL, "base of an incremental snapshot, else None", NULL },
    { NULL },
};

static PyType_Slot snapshot_slots[] = {
    { Py_tp_dealloc, snapshot_dealloc },
    { Py_tp_new, snapshot_new },
    { Py_tp_methods, snapshot_methods },
    { Py_tp_getset, snapshot_getset },
    { Py_tp_doc, "An immutable machine snapshot (C side); see vmpy.Snapshot." },
    { 0, NULL },
};

static PyType_Spec snapshot_spec = {
    .name = "vmpy._core.Snapshot",
    .basicsize = sizeof(PySnapshot),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = snapshot_slots,
};

/* ---- module functions ---------------------------------------------------------- */

static PyMachine *as_machine(PyObject *mod, PyObject *o, bool idle)
{
    vmpy_state *st = mod_state(mod);
    if (!PyObject_TypeCheck(o, st->machine_type)) {
        PyErr_Format(PyExc_TypeError, "expected a vmpy.Machine, not %.100s", Py_TYPE(o)->tp_name);
        return NULL;
    }
    PyMachine *pm = (PyMachine *)o;
    if (!pm->vm) {
        PyErr_SetString(PyExc_ValueError, "the machine is closed");
        return NULL;
    }
    if (idle && vmpy_machine_busy(pm)) {
        PyErr_Format(PyExc_RuntimeError, "cannot snapshot or restore now: %s", vmpy_machine_busy(pm));
        return NULL;
    }
    return pm;
}

/* A Machine, or a board's handle (an int from vmpy/boards.py). */
static vm_machine *as_vm(PyObject *mod, PyObject *o, bool idle)
{
    if (!PyLong_Check(o)) {
        PyMachine *pm = as_machine(mod, o, idle);
        return pm ? pm->vm : NULL;
    }
    unsigned long long h = PyLong_AsUnsignedLongLong(o);
    if (h == (unsigned long long)-1 && PyErr_Occurred())
        return NULL;
    int live;
    vm_machine *vm = vmpy_board_idle_machine((uintptr_t)h, &live);
    if (!vm)
        PyErr_SetString(live ? PyExc_RuntimeError : PyExc_ValueError,
                        live ? "cannot snapshot or restore a running board (stop it first)"
                             : "not a live board handle");
    return vm;
}

static vm_snapshot *as_snapshot(PyObject *mod, PyObject *o)
{
    PyObject *tp = PyObject_GetAttrString(mod, "Snapshot");
    int ok = tp && PyObject_TypeCheck(o, (PyTypeObject *)tp);
    Py_XDECREF(tp);
    if (!ok) {
        if (!PyErr_Occurred())
            PyErr_Format(PyExc_TypeError, "expected a snapshot, not %.100s", Py_TYPE(o)->tp_name);
        return NULL;
    }
    return ((PySnapshot *)o)->snap;
}

static PyObject *mod_snapshot_take(PyObject *mod, PyObject *args)
{
    PyObject *mo, *bo = Py_None;
    if (!PyArg_ParseTuple(args, "O|O:snapshot_take", &mo, &bo))
        return NULL;
    vm_machine *vm = as_vm(mod, mo, true);
    vm_snapshot *base = NULL;
    if (!vm || (bo != Py_None && !(base = as_snapshot(mod, bo))))
        return NULL;
    vm_snapshot *s;
    int err = vm_snapshot_take(vm, base, &s);
    return err ? vmpy_raise(mod_state(mod), vm, err) : snapshot_wrap(mod, s);
}

static PyObject *mod_snapshot_restore(PyObject *mod, PyObject *args)
{
    PyObject *mo, *so;
    if (!PyArg_ParseTuple(args, "OO:snapshot_restore", &mo, &so))
        return NULL;
    vm_machine *vm = as_vm(mod, mo, true);
    vm_snapshot *s = vm ? as_snapshot(mod, so) : NULL;
    if (!s)
        return NULL;
    int err = vm_snapshot_restore(vm, s);
    return err ? vmpy_raise(mod_state(mod), vm, err) : Py_NewRef(Py_None);
}

static PyObject *mod_snapshot_deserialize(PyObject *mod, PyObject *arg)
{
    Py_buffer b;
    if (PyObject_GetBuffer(arg, &b, PyBUF_SIMPLE))
        return NULL;
    char err[256] = "malformed snapshot";
    vm_snapshot *s;
    Py_BEGIN_ALLOW_THREADS
    s = vm_snapshot_deserialize(b.buf, (size_t)b.len, err, sizeof err);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&b);
    if (!s)
        return PyErr_Format(mod_state(mod)->format_error, "%s", err);
    return snapshot_wrap(mod, s);
}

static PyObject *mod_clock_set(PyObject *mod, PyObject *args)
{
    PyObject *mo;
    int on;
    if (!PyArg_ParseTuple(args, "Op:clock_set_deterministic", &mo, &on))
        return NULL;
    vm_machine *vm = as_vm(mod, mo, PyLong_Check(mo));
    if (!vm)
        return NULL;
    int err = vm_clock_set_deterministic(vm, on);
    return err ? vmpy_raise(mod_state(mod), vm, err) : Py_NewRef(Py_None);
}

static PyObject *mod_clock_configure(PyObject *mod, PyObject *args)
{
    PyObject *mo;
    uint64_t ns, base;
    if (!PyArg_ParseTuple(args, "OO&O&:clock_configure", &mo, vmpy_u64, &ns, vmpy_u64, &base))
        return NULL;
    vm_machine *vm = as_vm(mod, mo, PyLong_Check(mo));
    if (!vm)
        return NULL;
    int err = vm_clock_configure(vm, ns, base);
    return err ? vmpy_raise(mod_state(mod), vm, err) : Py_NewRef(Py_None);
}

static PyObject *mod_clock_seed(PyObject *mod, PyObject *args)
{
    PyObject *mo;
    uint64_t seed;
    if (!PyArg_ParseTuple(args, "OO&:clock_seed", &mo, vmpy_u64, &seed))
        return NULL;
    vm_machine *vm = as_vm(mod, mo, PyLong_Check(mo));
    if (!vm)
        return NULL;
    int err = vm_clock_seed(vm, seed);
    return err ? vmpy_raise(mod_state(mod), vm, err) : Py_NewRef(Py_None);
}

/* clock_query(machine) -> (deterministic, monotonic_ns, realtime_ns) */
static PyObject *mod_clock_query(PyObject *mod, PyObject *mo)
{
    vm_machine *vm = as_vm(mod, mo, PyLong_Check(mo));
    if (!vm)
        return NULL;
    return Py_BuildValue("(OKK)", vm_clock_deterministic(vm) ? Py_True : Py_False,
                         (unsigned long long)vm_clock_monotonic_ns(vm),
                         (unsigned long long)vm_clock_realtime_ns(vm));
}

/* snapshot_forget(machine): drops the machine's snapshot state (its mark and
 * clock).  Called by vmpy/snapshot.py when the machine goes away. */
static PyObject *mod_snapshot_forget(PyObject *mod, PyObject *mo)
{
    PyMachine *pm = as_machine(mod, mo, false);
    if (!pm)
        return NULL;
    vm_snapshot_machine_free(pm->vm);
    return Py_NewRef(Py_None);
}

static PyMethodDef snapshot_functions[] = {
    { "snapshot_take", mod_snapshot_take, METH_VARARGS, "snapshot_take(machine, base=None) -> Snapshot" },
    { "snapshot_restore", mod_snapshot_restore, METH_VARARGS, "snapshot_restore(machine, snapshot)" },
    { "snapshot_deserialize", mod_snapshot_deserialize, METH_O, "snapshot_deserialize(payload) -> Snapshot" },
    { "snapshot_forget", mod_snapshot_forget, METH_O, "snapshot_forget(machine): drop its snapshot state" },
    { "clock_set_deterministic", mod_clock_set, METH_VARARGS, "clock_set_deterministic(machine, on)" },
    { "clock_configure", mod_clock_configure, METH_VARARGS, "clock_configure(machine, ns_per_insn, realtime_base_ns)" },
    { "clock_seed", mod_clock_seed, METH_VARARGS, "clock_seed(machine, seed): deterministic random stream" },
    { "clock_query", mod_clock_query, METH_O, "clock_query(machine) -> (deterministic, monotonic_ns, realtime_ns)" },
    { NULL },
};

int vmpy_snapshot_register(PyObject *module)
{
    PyObject *t = PyType_FromModuleAndSpec(module, &snapshot_spec, NULL);
    if (!t)
        return -1;
    int rc = PyModule_AddType(module, (PyTypeObject *)t);
    Py_DECREF(t);
    if (rc)
        return -1;
    return PyModule_AddFunctions(module, snapshot_functions);
}
