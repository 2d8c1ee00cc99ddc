/* machine_obj.c — vmpy._core.Machine: memory, running, hooks, MMIO. */
#include "binding.h"
#include "pythread.h"
#include "structmember.h"
#include <stdlib.h>

#define STATE(self) vmpy_state_from_type(Py_TYPE(self))

/* ---- the GIL around callbacks ---------------------------------------------
 * run() drops the GIL.  The first callback takes it back and keeps it, so a
 * per-instruction hook costs one Python call, not a lock round trip; the run
 * loop gives it up again between slices (machine_slice) and at the end.  Other
 * Python threads still get their turns: the callbacks' own bytecode honours
 * the interpreter's switch interval. */
enum { GIL_HELD_ALREADY, GIL_TAKEN_BACK, GIL_ENSURED };

void vmpy_gil_enter(PyMachine *pm, vmpy_gil *g)
{
    if (pm->released && pm->run_thread == PyThread_get_thread_ident()) {
        PyEval_RestoreThread(pm->released);
        pm->released = NULL;
        g->how = GIL_TAKEN_BACK;
    } else if (pm->run_thread == PyThread_get_thread_ident() && !pm->released) {
        g->how = GIL_HELD_ALREADY;
    } else {
        g->gs = PyGILState_Ensure();
        g->how = GIL_ENSURED;
    }
}

void vmpy_gil_leave(PyMachine *pm, vmpy_gil *g)
{
    if (g->how == GIL_ENSURED)
        PyGILState_Release(g->gs);
    /* GIL_TAKEN_BACK: keep it until the slice ends. */
}

void vmpy_callback_failed(PyMachine *pm)
{
    if (pm->pending) {
        PyErr_Clear();
    } else {
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        PyErr_NormalizeException(&type, &value, &tb);
        if (tb && value)
            PyException_SetTraceback(value, tb);
        Py_XDECREF(type);
        Py_XDECREF(tb);
        pm->pending = value;
    }
    vm_machine_stop(pm->vm);
}

void vmpy_run_enter(PyMachine *pm)
{
    Py_CLEAR(pm->pending);
    pm->run_thread = PyThread_get_thread_ident();
    vmpy_sigint_arm(pm->vm);
    pm->released = PyEval_SaveThread();
}

void vmpy_run_leave(PyMachine *pm)
{
    if (pm->released)
        PyEval_RestoreThread(pm->released);
    pm->released = NULL;
    pm->run_thread = 0;
    vmpy_sigint_disarm(pm->vm);
}

/* Between slices of a run: give the GIL back if a callback took it. */
static void machine_slice(void *arg)
{
    PyMachine *pm = arg;
    if (!pm->released && pm->run_thread == PyThread_get_thread_ident())
        pm->released = PyEval_SaveThread();
    vmpy_sigint_slice();
}

/* ---- the JIT's code cache --------------------------------------------------- */

static int check_idle(PyMachine *self);

static int set_code_cache(PyMachine *self, PyObject *v)
{
    if (!v || v == Py_None)
        return vm_machine_set_code_cache(self->vm, NULL);
    PyObject *path = NULL;
    if (!PyUnicode_FSConverter(v, &path))
        return -1;
    int err = vm_machine_set_code_cache(self->vm, PyBytes_AS_STRING(path));
    Py_DECREF(path);
    if (err) {
        vmpy_raise(STATE(self), self->vm, err);
        return -1;
    }
    return 0;
}

static PyObject *machine_get_code_cache(PyMachine *self, void *c)
{
    const char *dir = vm_machine_code_cache(self->vm);
    return dir ? PyUnicode_DecodeFSDefault(dir) : Py_NewRef(Py_None);
}

static int machine_set_code_cache(PyMachine *self, PyObject *v, void *c)
{
    if (check_idle(self))
        return -1;
    return set_code_cache(self, v);
}

static PyObject *machine_code_cache_save(PyMachine *self, PyObject *unused)
{
    if (check_idle(self))
        return NULL;
    int err = vm_machine_code_cache_save(self->vm);
    return err ? vmpy_raise(STATE(self), self->vm, err) : Py_NewRef(Py_None);
}

/* The JIT's counters as a dict (None under an engine without a JIT). */
static PyObject *machine_jit_stats(PyMachine *self, PyObject *unused)
{
    vm_jit_stats s;
    if (vm_machine_jit_stats(self->vm, &s))
        Py_RETURN_NONE;
    static const struct { const char *name; size_t off; } fields[] = {
#define F(n, doc) { #n, offsetof(vm_jit_stats, n) },
        VM_JIT_STATS(F)
#undef F
    };
    PyObject *d = PyDict_New();
    for (size_t i = 0; d && i < sizeof fields / sizeof fields[0]; i++) {
        uint64_t v;
        memcpy(&v, (const char *)&s + fields[i].off, sizeof v);
        PyObject *o = PyLong_FromUnsignedLongLong(v);
        if (!o || PyDict_SetItemString(d, fields[i].name, o))
            Py_CLEAR(d);
        Py_XDECREF(o);
    }
    return d;
}

/* ---- lifetime ------------------------------------------------------------- */

static PyObject *machine_new(PyTypeObject *tp, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = { "isa", "cpus", "engine", "code_cache", NULL };
    const char *isa = "riscv64", *engine = NULL;
    int ncpus = 1;
    PyObject *cache = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|sizO:Machine", kwlist, &isa, &ncpus, &engine, &cache))
        return NULL;
    vmpy_state *st = vmpy_state_from_type(tp);
    if (!st)
        return NULL;
    if (ncpus < 1 || ncpus > 64)
        return PyErr_Format(PyExc_ValueError, "cpus must be 1..64, not %d", ncpus);
    PyMachine *self = (PyMachine *)tp->tp_alloc(tp, 0);
    if (!self)
        return NULL;
    self->vm = vm_machine_new(isa, ncpus);
    if (!self->vm) {
        Py_DECREF(self);
        return PyErr_Format(PyExc_ValueError, "unknown ISA '%s' (vmpy has: riscv64)", isa);
    }
    if (engine && vm_machine_set_engine(self->vm, engine)) {
        vmpy_raise(st, self->vm, VM_EINVAL);
        Py_DECREF(self);
        return NULL;
    }
    if (cache != Py_None && set_code_cache(self, cache)) {
        Py_DECREF(self);
        return NULL;
    }
    self->hooks = PyList_New(0);
    self->mmio = PyList_New(0);
    self->cpus = PyTuple_New(ncpus);
    if (!self->hooks || !self->mmio || !self->cpus) {
        Py_DECREF(self);
        return NULL;
    }
    vm_machine_set_slice_callback(self->vm, machine_slice, self);
    for (int i = 0; i < ncpus; i++) {
        PyObject *c = vmpy_cpu_new(st, self, vm_machine_cpu(self->vm, i));
        if (!c) {
            Py_DECREF(self);
            return NULL;
        }
        PyTuple_SET_ITEM(self->cpus, i, c);
    }
    return (PyObject *)self;
}

static int machine_traverse(PyMachine *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->cpus);
    Py_VISIT(self->hooks);
    Py_VISIT(self->mmio);
    Py_VISIT(self->pending);
    return 0;
}

/* Detaches every Python hook from the core so no callback can run after. */
static void drop_hooks(PyMachine *self)
{
    if (!self->hooks)
        return;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(self->hooks); i++) {
        PyHook *h = (PyHook *)PyList_GET_ITEM(self->hooks, i);
        if (h->hook && self->vm)
            vm_hook_remove(self->vm, h->hook);
        h->hook = NULL;
        Py_CLEAR(h->machine);
    }
}

static int machine_clear(PyMachine *self)
{
    drop_hooks(self);
    Py_CLEAR(self->cpus);
    Py_CLEAR(self->hooks);
    Py_CLEAR(self->pending);
    return 0;
}

static void machine_dealloc(PyMachine *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    if (self->weakrefs)
        PyObject_ClearWeakRefs((PyObject *)self);
    machine_clear(self);
    /* MMIO callbacks may still be referenced by regions: free the machine
     * first, then the Python objects the regions pointed at. */
    vm_machine_free(self->vm);
    self->vm = NULL;
    Py_CLEAR(self->mmio);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static int check_idle(PyMachine *self)
{
    const char *busy = vmpy_machine_busy(self);
    if (busy) {
        PyErr_SetString(PyExc_RuntimeError, busy);
        return -1;
    }
    return 0;
}

/* ---- memory -------------------------------------------------------------- */

static PyObject *machine_map(PyMachine *self, PyObject *args)
{
    uint64_t addr, size;
    int prot = VM_PROT_RWX;
    if (!PyArg_ParseTuple(args, "O&O&|i:map", vmpy_u64, &addr, vmpy_u64, &size, &prot))
        return NULL;
    int err = vm_mem_map(self->vm, addr, size, prot);
    return err ? vmpy_raise(STATE(self), self->vm, err) : Py_NewRef(Py_None);
}

static PyObject *machine_unmap(PyMachine *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = { "addr", "size", NULL };
    uint64_t addr, size;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&O&:unmap", kwlist, vmpy_u64, &addr, vmpy_u64, &size) ||
        check_idle(self))
        return NULL;
    int err = vm_mem_unmap(self->vm, addr, size);
    return err ? vmpy_raise(STATE(self), self->vm, err) : Py_NewRef(Py_None);
}

static PyObject *machine_protect(PyMachine *self, PyObject *args)
{
    uint64_t addr, size;
    int prot;
    if (!PyArg_ParseTuple(args, "O&O&i:protect", vmpy_u64, &addr, vmpy_u64, &size, &prot))
        return NULL;
    int err = vm_mem_protect(self->vm, addr, size, prot);
    return err ? vmpy_raise(STATE(self), self->vm, err) : Py_NewRef(Py_None);
}

PyObject *vmpy_regions_list(const vm_region_info *info, size_t n)
{
    PyObject *out = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; out && i < n; i++) {
        char perms[4] = { info[i].prot & VM_PROT_R ? 'r' : '-', info[i].prot & VM_PROT_W ? 'w' : '-',
                          info[i].prot & VM_PROT_X ? 'x' : '-', 0 };
        PyObject *t = Py_BuildValue("(KKss)", info[i].base, info[i].size, perms,
                                    info[i].is_mmio ? "mmio" : "ram");
        if (!t) {
            Py_CLEAR(out);
            break;
        }
        PyList_SET_ITEM(out, (Py_ssize_t)i, t);
    }
    return out;
}

static PyObject *machine_regions(PyMachine *self, PyObject *unused)
{
    size_t n = vm_mem_regions(self->vm, NULL, 0);
    vm_region_info *info = PyMem_Calloc(n ? n : 1, sizeof *info);
    if (!info)
        return PyErr_NoMemory();
    vm_mem_regions(self->vm, info, n);
    PyObject *out = vmpy_regions_list(info, n);
    PyMem_Free(info);
    return out;
}

static PyObject *machine_read(PyMachine *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = { "addr", "size", NULL };
    uint64_t addr;
    Py_ssize_t n;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&n:read", kwlist, vmpy_u64, &addr, &n))
        return NULL;
    if (n < 0)
        return PyErr_Format(PyExc_ValueError, "negative length");
    PyObject *out = PyBytes_FromStringAndSize(NULL, n);
    if (!out)
        return NULL;
    int err = vm_mem_read(self->vm, addr, PyBytes_AS_STRING(out), (size_t)n);
    if (err) {
        Py_DECREF(out);
        return vmpy_raise(STATE(self), self->vm, err);
    }
    return out;
}

static PyObject *machine_write(PyMachine *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = { "addr", "data", NULL };
    uint64_t addr;
    Py_buffer data;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&y*:write", kwlist, vmpy_u64, &addr, &data))
        return NULL;
    int err = vm_mem_write(self->vm, addr, data.buf, (size_t)data.len);
    PyBuffer_Release(&data);
    return err ? vmpy_raise(STATE(self), self->vm, err) : Py_NewRef(Py_None);
}

/* Python MMIO: the opaque is a borrowed (read, write) tuple kept alive by
 * self->mmio for as long as the machine lives. */
typedef struct { PyMachine *pm; PyObject *pair; } py_mmio;

static uint64_t py_mmio_read(void *opaque, uint64_t off, unsigned size)
{
    py_mmio *io = opaque;
    PyObject *fn = PyTuple_GET_ITEM(io->pair, 0);
    if (fn == Py_None)
        return 0;
    vmpy_gil g;
    vmpy_gil_enter(io->pm, &g);
    uint64_t v = 0;
    PyObject *r = PyObject_CallFunction(fn, "KI", (unsigned long long)off, size);
    if (r) {
        /* -1 reads as all ones; a value past 64 bits is the model's bug */
        if (!vmpy_reg64(r, &v))
            v = 0;
        Py_DECREF(r);
    }
    if (PyErr_Occurred())
        vmpy_callback_failed(io->pm);
    vmpy_gil_leave(io->pm, &g);
    return v;
}

static void py_mmio_write(void *opaque, uint64_t off, unsigned size, uint64_t value)
{
    py_mmio *io = opaque;
    PyObject *fn = PyTuple_GET_ITEM(io->pair, 1);
    if (fn == Py_None)
        return;
    vmpy_gil g;
    vmpy_gil_enter(io->pm, &g);
    PyObject *r = PyObject_CallFunction(fn, "KIK", (unsigned long long)off, size, (unsigned long long)value);
    Py_XDECREF(r);
    if (!r)
        vmpy_callback_failed(io->pm);
    vmpy_gil_leave(io->pm, &g);
}

static PyObject *machine_mmio_map(PyMachine *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = { "addr", "size", "read", "write", NULL };
    uint64_t addr, size;
    PyObject *rd = Py_None, *wr = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&O&|OO:mmio_map", kwlist, vmpy_u64, &addr, vmpy_u64, &size, &rd, &wr))
        return NULL;
    if ((rd != Py_None && !PyCallable_Check(rd)) || (wr != Py_None && !PyCallable_Check(wr)))
        return PyErr_Format(PyExc_TypeError, "read and write must be callables or None");
    PyObject *pair = PyTuple_Pack(2, rd, wr);
    py_mmio *io = PyMem_RawMalloc(sizeof *io);
    if (!pair || !io || PyList_Append(self->mmio, pair)) {
        Py_XDECREF(pair);
        PyMem_RawFree(io);
        return PyErr_Occurred() ? NULL : PyErr_NoMemory();
    }
    Py_DECREF(pair);   /* self->mmio holds it */
    io->pm = self;
    io->pair = pair;
    int err = vm_mmio_map(self->vm, addr, size, py_mmio_read, py_mmio_write, io, PyMem_RawFree);
    if (err) {
        PyMem_RawFree(io);
        return vmpy_raise(STATE(self), self->vm, err);
    }
    return Py_NewRef(Py_None);
}

/* ---- loading -------------------------------------------------------------- */

static PyObject *machine_load_elf(PyMachine *self, PyObject *args)
{
    Py_buffer img;
    uint64_t bias = 0;
    if (!PyArg_ParseTuple(args, "y*|O&:load_elf", &img, vmpy_u64, &bias))
        return NULL;
    vm_elf_info info;
    int err = vm_elf_load(self->vm, img.buf, (size_t)img.len, bias, &info);
    PyBuffer_Release(&img);
    if (err)
        return vmpy_raise(STATE(self), self->vm, err);
    return PyLong_FromUnsignedLongLong(info.entry);
}

static char **string_array(PyObject *seq, const char *what)
{
    PyObject *fast = PySequence_Fast(seq, what);
    if (!fast)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    char **out = PyMem_Calloc((size_t)n + 1, sizeof *out);
    for (Py_ssize_t i = 0; out && i < n; i++) {
        PyObject *o = PySequence_Fast_GET_ITEM(fast, i);
        PyObject *b = PyUnicode_Check(o) ? PyUnicode_EncodeFSDefault(o) : Py_NewRef(o);
        const char *s = b ? PyBytes_AsString(b) : NULL;
        if (s)
            out[i] = PyMem_Malloc(strlen(s) + 1);
        if (!s || !out[i]) {
            Py_XDECREF(b);
            for (Py_ssize_t j = 0; j < i; j++)
                PyMem_Free(out[j]);
            PyMem_Free(out);
            Py_DECREF(fast);
            if (!PyErr_Occurred())
                PyErr_NoMemory();
            return NULL;
        }
        strcpy(out[i], s);
        Py_DECREF(b);
    }
    Py_DECREF(fast);
    if (!out)
        PyErr_NoMemory();
    return out;
}

static void string_array_free(char **a)
{
    for (char **p = a; p && *p; p++)
        PyMem_Free(*p);
    PyMem_Free(a);
}

static PyObject *machine_linux_exec(PyMachine *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = { "path", "argv", "env", NULL };
    PyObject *path, *argv, *env;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&OO:linux_exec", kwlist, PyUnicode_FSConverter, &path, &argv, &env))
        return NULL;
    char **av = string_array(argv, "argv must be a sequence of strings");
    char **ev = av ? string_array(env, "env must be a sequence of strings") : NULL;
    PyObject *result = NULL;
    if (av && ev) {
        int argc = 0;
        while (av[argc])
            argc++;
        int err = vm_linux_exec(self->vm, PyBytes_AS_STRING(path), argc, av, ev);
        result = err ? vmpy_raise(STATE(self), self->vm, err) : Py_NewRef(Py_None);
    }
    string_array_free(av);
    string_array_free(ev);
    Py_DECREF(path);
    return result;
}

/* ---- running ------------------------------------------------------------ */

static PyObject *machine_run(PyMachine *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = { "until", "count", "timeout", NULL };
    PyObject *until = Py_None;
    uint64_t count = 0;
    double timeout = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|OO&d:run", kwlist, &until, vmpy_u64, &count, &timeout) || check_idle(self))
        return NULL;
    vm_run_opts o = { .count = count, .timeout = timeout };
    if (until != Py_None) {
        if (!vmpy_u64(until, &o.until))
            return NULL;
        o.has_until = true;
    }
    if (timeout < 0)
        return PyErr_Format(PyExc_ValueError, "timeout must not be negative");
    vmpy_run_enter(self);
    vm_stop_reason why = vm_machine_run(self->vm, &o);
    vmpy_run_leave(self);
    if (self->pending) {
        PyObject *v = self->pending;
        self->pending = NULL;
        PyErr_Restore(Py_NewRef((PyObject *)Py_TYPE(v)), v, PyException_GetTraceback(v));
        return NULL;
    }
    if (PyErr_CheckSignals() < 0)       /* Ctrl-C stopped it: KeyboardInterrupt from run() itself */
        return NULL;
    return PyUnicode_FromString(vm_stop_reason_name(why));
}

static PyObject *machine_stop(PyMachine *self, PyObject *unused)
{
    vm_machine_stop(self->vm);
    return Py_NewRef(Py_None);
}

static PyObject *machine_hook_add(PyMachine *self, PyObject *args)
{
    int kind;
    PyObject *cb;
    uint64_t begin = 0, end = 0;
    if (!PyArg_ParseTuple(args, "iO|O&O&:hook_add", &kind, &cb, vmpy_u64, &begin, vmpy_u64, &end))
        return NULL;
    if (!PyCallable_Check(cb))
        return PyErr_Format(PyExc_TypeError, "callback must be callable, not %.100s", Py_TYPE(cb)->tp_name);
    if (kind < 0 || kind >= VM_HOOK_KINDS)
        return PyErr_Format(PyExc_ValueError, "bad hook kind %d", kind);
    if (end && end <= begin)
    {
        char msg[96];
        snprintf(msg, sizeof msg, "empty hook range: begin %#" PRIx64 " >= end %#" PRIx64, begin, end);
        PyErr_SetString(PyExc_ValueError, msg);
        return NULL;
    }
    return vmpy_hook_new(STATE(self), self, kind, cb, begin, end);
}

static PyObject *machine_disasm(PyMachine *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = { "addr", "count", NULL };
    uint64_t addr;
    int count = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|i:disasm", kwlist, vmpy_u64, &addr, &count))
        return NULL;
    PyObject *out = PyList_New(0);
    for (int i = 0; out && i < count; i++) {
        char text[128];
        int n = vm_disasm(self->vm, addr, text, sizeof text);
        if (n <= 0)
            break;
        PyObject *t = Py_BuildValue("(KIs)", addr, (unsigned)n, text);
        if (!t || PyList_Append(out, t))
            Py_CLEAR(out);
        Py_XDECREF(t);
        addr += (unsigned)n;
    }
    return out;
}

static PyObject *machine_bp(PyMachine *self, PyObject *args, int add)
{
    uint64_t addr;
    if (!PyArg_ParseTuple(args, "O&", vmpy_u64, &addr))
        return NULL;
    int err = add ? vm_bp_add(self->vm, addr) : vm_bp_remove(self->vm, addr);
    return err ? vmpy_raise(STATE(self), self->vm, err) : Py_NewRef(Py_None);
}
static PyObject *machine_bp_add(PyMachine *self, PyObject *args) { return machine_bp(self, args, 1); }
static PyObject *machine_bp_remove(PyMachine *self, PyObject *args) { return machine_bp(self, args, 0); }

static PyObject *machine_wp(PyMachine *self, PyObject *args, int add)
{
    uint64_t addr, len;
    int access;
    if (!PyArg_ParseTuple(args, "O&O&i", vmpy_u64, &addr, vmpy_u64, &len, &access))
        return NULL;
    int err = add ? vm_wp_add(self->vm, addr, len, access) : vm_wp_remove(self->vm, addr, len, access);
    return err ? vmpy_raise(STATE(self), self->vm, err) : Py_NewRef(Py_None);
}
static PyObject *machine_wp_add(PyMachine *self, PyObject *args) { return machine_wp(self, args, 1); }
static PyObject *machine_wp_remove(PyMachine *self, PyObject *args) { return machine_wp(self, args, 0); }

static PyObject *machine_get_cpus(PyMachine *self, void *c) { return Py_NewRef(self->cpus); }
static PyObject *machine_get_isa(PyMachine *self, void *c) { return PyUnicode_FromString(vm_machine_isa(self->vm)); }
static PyObject *machine_get_engine(PyMachine *self, void *c) { return PyUnicode_FromString(vm_machine_engine(self->vm)); }
static PyObject *machine_get_exit_code(PyMachine *self, void *c)
{
    return PyLong_FromLong(vm_linux_exit_code(self->vm));
}

static int machine_set_engine(PyMachine *self, PyObject *v, void *c)
{
    if (!v || !PyUnicode_Check(v)) {
        PyErr_SetString(PyExc_TypeError, "engine must be a string");
        return -1;
    }
    if (check_idle(self))
        return -1;
    int err = vm_machine_set_engine(self->vm, PyUnicode_AsUTF8(v));
    if (err) {
        vmpy_raise(STATE(self), self->vm, err);
        return -1;
    }
    return 0;
}

static PyObject *machine_set_verbose(PyMachine *self, PyObject *arg)
{
    vm_linux_set_verbose(self->vm, PyObject_IsTrue(arg) > 0);
    return Py_NewRef(Py_None);
}

static PyObject *machine_reg_names(PyMachine *self, PyObject *unused)
{
    PyObject *out = PyList_New(0);
    for (int r = 0; out && r < vm_reg_count(self->vm); r++) {
        const char *n = vm_reg_name(self->vm, r);
        if (!n)
            continue;
        PyObject *s = PyUnicode_FromString(n);
        if (!s || PyList_Append(out, s))
            Py_CLEAR(out);
        Py_XDECREF(s);
    }
    return out;
}

static PyMethodDef machine_methods[] = {
    { "map", (PyCFunction)machine_map, METH_VARARGS, "map(addr, size, prot=7): map zero-filled RAM" },
    { "unmap", (PyCFunction)(void (*)(void))machine_unmap, METH_VARARGS | METH_KEYWORDS, "unmap(addr, size)" },
    { "protect", (PyCFunction)machine_protect, METH_VARARGS, "protect(addr, size, prot)" },
    { "regions", (PyCFunction)machine_regions, METH_NOARGS, "regions() -> [(base, size, perms, kind)]" },
    { "read", (PyCFunction)(void (*)(void))machine_read, METH_VARARGS | METH_KEYWORDS, "read(addr, size) -> bytes" },
    { "write", (PyCFunction)(void (*)(void))machine_write, METH_VARARGS | METH_KEYWORDS, "write(addr, data)" },
    { "mmio_map", (PyCFunction)(void (*)(void))machine_mmio_map, METH_VARARGS | METH_KEYWORDS,
      "mmio_map(addr, size, read=None, write=None)" },
    { "load_elf", (PyCFunction)machine_load_elf, METH_VARARGS, "load_elf(image_bytes, bias=0) -> entry" },
    { "linux_exec", (PyCFunction)(void (*)(void))machine_linux_exec, METH_VARARGS | METH_KEYWORDS,
      "linux_exec(path, argv, env): set up a Linux user-mode process" },
    { "run", (PyCFunction)(void (*)(void))machine_run, METH_VARARGS | METH_KEYWORDS,
      "run(until=None, count=0, timeout=0.0) -> stop reason name" },
    { "stop", (PyCFunction)machine_stop, METH_NOARGS, "stop(): stop a run (from a hook or any thread)" },
    { "hook_add", (PyCFunction)machine_hook_add, METH_VARARGS, "hook_add(kind, callback, begin=0, end=0) -> Hook" },
    { "disasm", (PyCFunction)(void (*)(void))machine_disasm, METH_VARARGS | METH_KEYWORDS,
      "disasm(addr, count=1) -> [(addr, size, text)]" },
    { "bp_add", (PyCFunction)machine_bp_add, METH_VARARGS, "bp_add(addr)" },
    { "bp_remove", (PyCFunction)machine_bp_remove, METH_VARARGS, "bp_remove(addr)" },
    { "wp_add", (PyCFunction)machine_wp_add, METH_VARARGS, "wp_add(addr, len, access)" },
    { "wp_remove", (PyCFunction)machine_wp_remove, METH_VARARGS, "wp_remove(addr, len, access)" },
    { "set_verbose", (PyCFunction)machine_set_verbose, METH_O, "set_verbose(flag): warn about unknown syscalls" },
    { "reg_names", (PyCFunction)machine_reg_names, METH_NOARGS, "reg_names() -> every register name" },
    { "code_cache_save", (PyCFunction)machine_code_cache_save, METH_NOARGS,
      "code_cache_save(): write the JIT's new blocks to the code cache now (also done when the machine goes)" },
    { "jit_stats", (PyCFunction)machine_jit_stats, METH_NOARGS,
      "jit_stats() -> dict of the JIT's counters (compiled, loaded, cache_*), or None without a JIT engine" },
    { NULL },
};

static PyGetSetDef machine_getset[] = {
    { "cpus", (getter)machine_get_cpus, NULL, "the vCPUs", NULL },
    { "isa", (getter)machine_get_isa, NULL, "the guest ISA", NULL },
    { "engine", (getter)machine_get_engine, (setter)machine_set_engine, "execution engine", NULL },
    { "exit_code", (getter)machine_get_exit_code, NULL, "the guest's exit status (Linux user mode)", NULL },
    { "code_cache", (getter)machine_get_code_cache, (setter)machine_set_code_cache,
      "directory of the JIT's persistent code cache, or None", NULL },
    { NULL },
};

static PyMemberDef machine_members[] = {
    { "__weaklistoffset__", T_PYSSIZET, offsetof(PyMachine, weakrefs), READONLY, NULL },
    { NULL },
};

static PyType_Slot machine_slots[] = {
    { Py_tp_new, machine_new },
    { Py_tp_dealloc, machine_dealloc },
    { Py_tp_traverse, machine_traverse },
    { Py_tp_clear, machine_clear },
    { Py_tp_methods, machine_methods },
    { Py_tp_getset, machine_getset },
    { Py_tp_members, machine_members },
    { Py_tp_doc, "Machine(isa='riscv64', cpus=1, engine=None, code_cache=None): an emulated machine." },
    { 0, NULL },
};

PyType_Spec vmpy_machine_spec = {
    .name = "vmpy._core.Machine",
    .basicsize = sizeof(PyMachine),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = machine_slots,
};
