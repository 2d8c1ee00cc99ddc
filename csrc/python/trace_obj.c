/* trace_obj.c — vmpy._core.Trace, TraceView and Coverage: the C trace
 * recorders (core/trace.h) and their data through the buffer protocol.
 *
 * Zero copy and lifetime.  A TraceView is a read-only buffer over the first
 * n entries of one stream, n fixed when the view is made.  Streams are
 * reserved once at their full size and never move (trace.h), so recording
 * more never invalidates a view; the view holds a strong reference to its
 * Trace, whose memory is unmapped only when the Trace and every view (and
 * every memoryview/numpy array over one) are gone.  Trace and Coverage hold
 * their Machine, so the machine outlives them. */
#include "binding.h"
#include "core/trace.h"
#include <structmember.h>

typedef struct {
    PyObject_HEAD
    PyMachine *machine;     /* strong */
    vm_trace *trace;
} PyTrace;

typedef struct {
    PyObject_HEAD
    PyTrace *owner;         /* strong */
    void *data;
    Py_ssize_t n, itemsize;
    const char *format;
    Py_ssize_t exports;
} PyTraceView;

typedef struct {
    PyObject_HEAD
    PyMachine *machine;     /* strong */
    vm_coverage *cov;
} PyCoverage;

static int machine_arg(PyObject *self, PyObject *obj, PyMachine **out)
{
    vmpy_state *st = vmpy_state_from_type(Py_TYPE(self));
    if (!st)
        return -1;
    if (!PyObject_TypeCheck(obj, st->machine_type)) {
        PyErr_Format(PyExc_TypeError, "expected a vmpy Machine, not %.100s", Py_TYPE(obj)->tp_name);
        return -1;
    }
    PyMachine *pm = (PyMachine *)obj;
    if (!pm->vm) {
        PyErr_SetString(PyExc_RuntimeError, "the machine is gone");
        return -1;
    }
    if (pm->run_thread && pm->run_thread != PyThread_get_thread_ident()) {
        PyErr_SetString(PyExc_RuntimeError, "the machine is running on another thread");
        return -1;
    }
    *out = pm;
    return 0;
}

/* Closing or reading while another thread runs the machine would race with
 * the recorder. */
static int idle(PyMachine *pm)
{
    if (pm && pm->run_thread && pm->run_thread != PyThread_get_thread_ident()) {
        PyErr_SetString(PyExc_RuntimeError, "the machine is running on another thread");
        return -1;
    }
    return 0;
}

/* ---- Trace ----------------------------------------------------------------------- */
static PyObject *trace_new(PyTypeObject *tp, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = { "machine", "what", "begin", "end", "mem_begin", "mem_end", "limit", "policy", NULL };
    PyObject *mobj;
    unsigned int what;
    uint64_t begin = 0, end = 0, mbegin = 0, mend = 0, limit = 1 << 20;
    int policy = VM_TRACE_STOP;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OI|O&O&O&O&O&i:Trace", kwlist, &mobj, &what,
                                     vmpy_u64, &begin, vmpy_u64, &end, vmpy_u64, &mbegin,
                                     vmpy_u64, &mend, vmpy_u64, &limit, &policy))
        return NULL;
    PyTrace *self = (PyTrace *)tp->tp_alloc(tp, 0);
    if (!self)
        return NULL;
    PyMachine *pm;
    if (machine_arg((PyObject *)self, mobj, &pm)) {
        Py_DECREF(self);
        return NULL;
    }
    self->trace = vm_trace_new(pm->vm, what, begin, end, mbegin, mend, limit, (vm_trace_policy)policy);
    if (!self->trace) {
        vmpy_state *st = vmpy_state_from_type(tp);
        Py_DECREF(self);
        return vmpy_raise(st, pm->vm, VM_EINVAL);
    }
    self->machine = (PyMachine *)Py_NewRef(mobj);
    return (PyObject *)self;
}

static void trace_dealloc(PyTrace *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    vm_trace_free(self->trace);
    Py_CLEAR(self->machine);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyObject *trace_close(PyTrace *self, PyObject *unused)
{
    if (idle(self->machine))
        return NULL;
    vm_trace_close(self->trace);
    Py_RETURN_NONE;
}

static PyObject *trace_clear(PyTrace *self, PyObject *unused)
{
    if (idle(self->machine))
        return NULL;
    vm_trace_clear(self->trace);
    Py_RETURN_NONE;
}

/* The stream number in arg, or -1 with an exception set. */
static int stream_arg(PyObject *arg)
{
    long s = PyLong_AsLong(arg);
    if (s == -1 && PyErr_Occurred())
        return -1;
    if (s < 0 || s >= VM_TS_COUNT) {
        PyErr_Format(PyExc_ValueError, "no trace stream %ld", s);
        return -1;
    }
    return (int)s;
}

static PyObject *trace_view(PyTrace *self, PyObject *arg)
{
    int s = stream_arg(arg);
    if (s < 0 || idle(self->machine))
        return NULL;
    size_t itemsize;
    void *data = vm_trace_data(self->trace, (vm_trace_stream)s, &itemsize);
    if (!data) {
        PyErr_SetString(PyExc_ValueError, "this trace does not record that stream");
        return NULL;
    }
    PyObject *mod = vmpy_module_of(Py_TYPE(self));
    PyObject *tp = mod ? PyObject_GetAttrString(mod, "TraceView") : NULL;
    if (!tp)
        return NULL;
    PyTraceView *v = (PyTraceView *)((PyTypeObject *)tp)->tp_alloc((PyTypeObject *)tp, 0);
    Py_DECREF(tp);
    if (!v)
        return NULL;
    static const char *formats[VM_TS_COUNT] = { "Q", "I", "B", "Q", "B" };
    v->owner = (PyTrace *)Py_NewRef(self);
    v->data = data;
    v->itemsize = s == VM_TS_MEM ? 1 : (Py_ssize_t)itemsize;
    v->n = (Py_ssize_t)vm_trace_count(self->trace, (vm_trace_stream)s) * (Py_ssize_t)itemsize / v->itemsize;
    v->format = formats[s];
    return (PyObject *)v;
}

static PyObject *trace_counts(PyTrace *self, PyObject *arg)
{
    int s = stream_arg(arg);
    if (s < 0)
        return NULL;
    return Py_BuildValue("KK", (unsigned long long)vm_trace_count(self->trace, (vm_trace_stream)s),
                         (unsigned long long)vm_trace_total(self->trace, (vm_trace_stream)s));
}

static PyObject *trace_get_limit(PyTrace *self, void *c) { return PyLong_FromUnsignedLongLong(vm_trace_limit(self->trace)); }
static PyObject *trace_get_what(PyTrace *self, void *c) { return PyLong_FromUnsignedLong(vm_trace_what(self->trace)); }
static PyObject *trace_get_full(PyTrace *self, void *c) { return PyBool_FromLong(vm_trace_full(self->trace)); }
static PyObject *trace_get_attached(PyTrace *self, void *c) { return PyBool_FromLong(vm_trace_attached(self->trace)); }
static PyObject *trace_get_machine(PyTrace *self, void *c) { return Py_NewRef(self->machine); }

static PyMethodDef trace_methods[] = {
    { "close", (PyCFunction)trace_close, METH_NOARGS, "close(): stop recording (data stays readable)" },
    { "clear", (PyCFunction)trace_clear, METH_NOARGS, "clear(): forget what was recorded" },
    { "view", (PyCFunction)trace_view, METH_O, "view(stream) -> TraceView of the entries recorded so far" },
    { "counts", (PyCFunction)trace_counts, METH_O, "counts(stream) -> (available, ever recorded)" },
    { NULL },
};

static PyGetSetDef trace_getset[] = {
    { "limit", (getter)trace_get_limit, NULL, "entries per stream", NULL },
    { "what", (getter)trace_get_what, NULL, "TRACE_* bits", NULL },
    { "full", (getter)trace_get_full, NULL, "a run stopped because a buffer was full", NULL },
    { "attached", (getter)trace_get_attached, NULL, "still recording (not closed)", NULL },
    { "machine", (getter)trace_get_machine, NULL, "the traced machine", NULL },
    { NULL },
};

static PyType_Slot trace_slots[] = {
    { Py_tp_new, trace_new },
    { Py_tp_dealloc, trace_dealloc },
    { Py_tp_methods, trace_methods },
    { Py_tp_getset, trace_getset },
    { Py_tp_doc, "Trace(machine, what, begin=0, end=0, mem_begin=0, mem_end=0, limit=2**20, policy=0)" },
    { 0, NULL },
};

static PyType_Spec trace_spec = {
    .name = "vmpy._core.Trace",
    .basicsize = sizeof(PyTrace),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .slots = trace_slots,
};

/* ---- TraceView -------------------------------------------------------------------- */
static int view_getbuffer(PyTraceView *self, Py_buffer *view, int flags)
{
    if (flags & PyBUF_WRITABLE) {
        PyErr_SetString(PyExc_BufferError, "trace data is read-only");
        view->obj = NULL;
        return -1;
    }
    view->buf = self->data;
    view->obj = Py_NewRef(self);
    view->len = self->n * self->itemsize;
    view->readonly = 1;
    view->itemsize = self->itemsize;
    view->format = (flags & PyBUF_FORMAT) ? (char *)self->format : NULL;
    view->ndim = 1;
    view->shape = (flags & PyBUF_ND) ? &self->n : NULL;
    view->strides = (flags & PyBUF_STRIDES) ? &self->itemsize : NULL;
    view->suboffsets = NULL;
    view->internal = NULL;
    self->exports++;
    return 0;
}

static void view_releasebuffer(PyTraceView *self, Py_buffer *view)
{
    self->exports--;
}

static void view_dealloc(PyTraceView *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    Py_CLEAR(self->owner);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static Py_ssize_t view_len(PyTraceView *self) { return self->n; }

static PyType_Slot view_slots[] = {
    { Py_bf_getbuffer, view_getbuffer },
    { Py_bf_releasebuffer, view_releasebuffer },
    { Py_tp_dealloc, view_dealloc },
    { Py_sq_length, view_len },
    { Py_tp_doc, "A read-only buffer over trace entries (use memoryview or numpy.frombuffer)." },
    { 0, NULL },
};

static PyType_Spec view_spec = {
    .name = "vmpy._core.TraceView",
    .basicsize = sizeof(PyTraceView),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = view_slots,
};

/* ---- Coverage ----------------------------------------------------------------------- */
static PyObject *cov_new(PyTypeObject *tp, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = { "machine", "begin", "end", NULL };
    PyObject *mobj;
    uint64_t begin = 0, end = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O&O&:Coverage", kwlist, &mobj, vmpy_u64, &begin, vmpy_u64, &end))
        return NULL;
    PyCoverage *self = (PyCoverage *)tp->tp_alloc(tp, 0);
    if (!self)
        return NULL;
    PyMachine *pm;
    if (machine_arg((PyObject *)self, mobj, &pm)) {
        Py_DECREF(self);
        return NULL;
    }
    self->cov = vm_cov_new(pm->vm, begin, end);
    if (!self->cov) {
        vmpy_state *st = vmpy_state_from_type(tp);
        Py_DECREF(self);
        return vmpy_raise(st, pm->vm, VM_EINVAL);
    }
    self->machine = (PyMachine *)Py_NewRef(mobj);
    return (PyObject *)self;
}

static void cov_dealloc(PyCoverage *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    vm_cov_free(self->cov);
    Py_CLEAR(self->machine);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyObject *cov_close(PyCoverage *self, PyObject *unused)
{
    if (idle(self->machine))
        return NULL;
    vm_cov_close(self->cov);
    Py_RETURN_NONE;
}

static PyObject *cov_clear(PyCoverage *self, PyObject *unused)
{
    if (idle(self->machine))
        return NULL;
    vm_cov_clear(self->cov);
    Py_RETURN_NONE;
}

/* (a, b) pairs as bytes of native uint64 pairs, sorted. */
static PyObject *cov_pairs(PyCoverage *self, bool edges)
{
    if (idle(self->machine))
        return NULL;
    size_t n = edges ? vm_cov_edges(self->cov, NULL, NULL, 0) : vm_cov_blocks(self->cov, NULL, NULL, 0);
    uint64_t *a = PyMem_Malloc((n + 1) * sizeof *a), *b = PyMem_Malloc((n + 1) * sizeof *b);
    uint32_t *sz = PyMem_Malloc((n + 1) * sizeof *sz);
    PyObject *out = NULL;
    if (!a || !b || !sz) {
        PyErr_NoMemory();
        goto done;
    }
    if (edges) {
        n = vm_cov_edges(self->cov, a, b, n);
    } else {
        n = vm_cov_blocks(self->cov, a, sz, n);
        for (size_t i = 0; i < n; i++)
            b[i] = sz[i];
    }
    out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(n * 16));
    if (!out)
        goto done;
    uint64_t *p = (uint64_t *)PyBytes_AS_STRING(out);
    for (size_t i = 0; i < n; i++) {
        p[2 * i] = a[i];
        p[2 * i + 1] = b[i];
    }
done:
    PyMem_Free(a);
    PyMem_Free(b);
    PyMem_Free(sz);
    return out;
}

static PyObject *cov_blocks(PyCoverage *self, PyObject *unused) { return cov_pairs(self, false); }
static PyObject *cov_edges(PyCoverage *self, PyObject *unused) { return cov_pairs(self, true); }
static PyObject *cov_get_machine(PyCoverage *self, void *c) { return Py_NewRef(self->machine); }

static PyMethodDef cov_methods[] = {
    { "close", (PyCFunction)cov_close, METH_NOARGS, "close(): stop recording" },
    { "clear", (PyCFunction)cov_clear, METH_NOARGS, "clear(): forget what was recorded" },
    { "block_pairs", (PyCFunction)cov_blocks, METH_NOARGS, "block_pairs() -> bytes of (start, size) uint64 pairs" },
    { "edge_pairs", (PyCFunction)cov_edges, METH_NOARGS, "edge_pairs() -> bytes of (from, to) uint64 pairs" },
    { NULL },
};

static PyGetSetDef cov_getset[] = {
    { "machine", (getter)cov_get_machine, NULL, "the machine", NULL },
    { NULL },
};

static PyType_Slot cov_slots[] = {
    { Py_tp_new, cov_new },
    { Py_tp_dealloc, cov_dealloc },
    { Py_tp_methods, cov_methods },
    { Py_tp_getset, cov_getset },
    { Py_tp_doc, "Coverage(machine, begin=0, end=0): basic blocks and edges executed" },
    { 0, NULL },
};

static PyType_Spec cov_spec = {
    .name = "vmpy._core.Coverage",
    .basicsize = sizeof(PyCoverage),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .slots = cov_slots,
};

int vmpy_trace_register(PyObject *module)
{
    PyType_Spec *specs[] = { &trace_spec, &view_spec, &cov_spec };
    for (size_t i = 0; i < 3; i++) {
        PyObject *t = PyType_FromModuleAndSpec(module, specs[i], NULL);
        if (!t)
            return -1;
        int r = PyModule_AddType(module, (PyTypeObject *)t);
        Py_DECREF(t);
        if (r)
            return -1;
    }
    static const struct { const char *name; int v; } consts[] = {
        { "TRACE_PC", VM_TRACE_PC }, { "TRACE_INSN", VM_TRACE_INSN }, { "TRACE_MEM", VM_TRACE_MEM },
        { "TRACE_REGS", VM_TRACE_REGS }, { "TRACE_STOP", VM_TRACE_STOP }, { "TRACE_RING", VM_TRACE_RING },
        { "TRACE_ERROR", VM_TRACE_ERROR }, { "TS_PC", VM_TS_PC }, { "TS_INSN", VM_TS_INSN },
        { "TS_RD", VM_TS_RD }, { "TS_RDVAL", VM_TS_RDVAL }, { "TS_MEM", VM_TS_MEM },
    };
    for (size_t i = 0; i < sizeof consts / sizeof *consts; i++)
        if (PyModule_AddIntConstant(module, consts[i].name, consts[i].v))
            return -1;
    return 0;
}
