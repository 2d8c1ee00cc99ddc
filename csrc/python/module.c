/* module.c — the vmpy._core module: state, exceptions, module functions. */
#include "binding.h"
#include "core/machine.h"
#include "core/riscv64/rv.h"

static struct PyModuleDef vmpy_module;

vmpy_state *vmpy_get_state(PyObject *module)
{
    return (vmpy_state *)PyModule_GetState(module);
}

vmpy_state *vmpy_state_from_type(PyTypeObject *tp)
{
    PyObject *mod = PyType_GetModuleByDef(tp, &vmpy_module);
    return mod ? vmpy_get_state(mod) : NULL;
}

PyObject *vmpy_module_of(PyTypeObject *tp)
{
    return PyType_GetModuleByDef(tp, &vmpy_module);
}

static int convert_64(PyObject *o, void *out, bool signed_ok)
{
    PyObject *n = PyNumber_Index(o);
    if (!n)
        return 0;
    unsigned long long u = PyLong_AsUnsignedLongLong(n);    /* 0 .. 2**64-1 */
    if (u == (unsigned long long)-1 && PyErr_Occurred()) {
        PyErr_Clear();
        long long v = signed_ok ? PyLong_AsLongLong(n) : -1;  /* -2**63 .. */
        if (!signed_ok || (v == -1 && PyErr_Occurred())) {
            PyErr_Clear();
            PyErr_Format(PyExc_OverflowError, "%R is out of range for %s 64-bit value (%s .. 2**64-1)", n,
                         signed_ok ? "a" : "an unsigned", signed_ok ? "-2**63" : "0");
            Py_DECREF(n);
            return 0;
        }
        u = (unsigned long long)v;
    }
    Py_DECREF(n);
    *(uint64_t *)out = u;
    return 1;
}

int vmpy_u64(PyObject *o, void *out) { return convert_64(o, out, false); }
int vmpy_reg64(PyObject *o, void *out) { return convert_64(o, out, true); }

PyObject *vmpy_raise(vmpy_state *st, vm_machine *vm, int err)
{
    const char *msg = vm ? vm_machine_error(vm) : "error";
    PyObject *type;
    switch (err) {
    case VM_ENOMEM: type = PyExc_MemoryError; break;
    case VM_EINVAL: type = PyExc_ValueError; break;
    case VM_EFORMAT: type = st->format_error; break;
    case VM_EOVERLAP: case VM_EUNMAPPED: case VM_EPROT: type = st->memory_error; break;
    case VM_EIO:
        if (vm && vm_machine_errno(vm)) {
            /* OSError(errno, msg) is created as its errno's subclass */
            PyObject *args = Py_BuildValue("(is)", vm_machine_errno(vm), msg);
            if (args) {
                PyErr_SetObject(PyExc_OSError, args);
                Py_DECREF(args);
            }
            return NULL;
        }
        type = PyExc_OSError;
        break;
    default: type = st->error; break;
    }
    PyErr_SetString(type, msg);
    return NULL;
}

/* vmpy._core.disasm(code, addr=0, isa="riscv64") -> [(addr, size, text)] */
static PyObject *mod_disasm(PyObject *mod, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = { "code", "addr", "isa", NULL };
    Py_buffer code;
    uint64_t addr = 0;
    const char *isa = "riscv64";
    if (!PyArg_ParseTupleAndKeywords(args, kw, "y*|O&s:disasm", kwlist, &code, vmpy_u64, &addr, &isa))
        return NULL;
    if (strcmp(isa, "riscv64")) {
        PyBuffer_Release(&code);
        return PyErr_Format(PyExc_ValueError, "unknown isa '%s'", isa);
    }
    PyObject *out = PyList_New(0);
    const uint8_t *p = code.buf;
    Py_ssize_t off = 0;
    while (out && off < code.len) {
        char text[128];
        int n = vm_isa_riscv64.disasm(addr + (uint64_t)off, p + off, (size_t)(code.len - off), text, sizeof text);
        if (n <= 0)
            break;
        PyObject *t = Py_BuildValue("(KIs)", addr + (uint64_t)off, (unsigned)n, text);
        if (!t || PyList_Append(out, t)) {
            Py_XDECREF(t);
            Py_CLEAR(out);
            break;
        }
        Py_DECREF(t);
        off += n;
    }
    PyBuffer_Release(&code);
    return out;
}

/* _rv_decode(bits) -> (op, rd, rs1, rs2, rs3, imm, len, rm): for tests. */
static PyObject *mod_rv_decode(PyObject *mod, PyObject *arg)
{
    unsigned long bits = PyLong_AsUnsignedLongMask(arg);
    if (PyErr_Occurred())
        return NULL;
    rv_insn in;
    rv_decode((uint32_t)bits, &in);
    return Py_BuildValue("(siiiiiii)", rv_op_mnemonic[in.op], in.rd, in.rs1, in.rs2, in.rs3,
                         (int)in.imm, in.len, in.rm);
}

static PyMethodDef mod_methods[] = {
    { "disasm", (PyCFunction)(void (*)(void))mod_disasm, METH_VARARGS | METH_KEYWORDS,
      "disasm(code, addr=0, isa='riscv64') -> list of (addr, size, text)" },
    { "_rv_decode", mod_rv_decode, METH_O, "decode one RISC-V instruction (tests)" },
    { NULL },
};

static int add_type(PyObject *m, PyType_Spec *spec, PyObject *bases, PyTypeObject **slot)
{
    PyObject *t = PyType_FromModuleAndSpec(m, spec, bases);
    if (!t)
        return -1;
    *slot = (PyTypeObject *)t;
    return PyModule_AddType(m, (PyTypeObject *)t);
}

static int mod_exec(PyObject *m)
{
    vmpy_state *st = vmpy_get_state(m);
    st->error = PyErr_NewExceptionWithDoc("vmpy.VmpyError", "Base class of vmpy's errors.", NULL, NULL);
    if (!st->error || PyModule_AddObjectRef(m, "VmpyError", st->error))
        return -1;
    PyObject *bases = PyTuple_Pack(2, st->error, PyExc_ValueError);
    if (!bases)
        return -1;
    st->format_error = PyErr_NewExceptionWithDoc("vmpy.FormatError",
        "Malformed input: an ELF file, image, snapshot or packet.", bases, NULL);
    Py_DECREF(bases);
    if (!st->format_error || PyModule_AddObjectRef(m, "FormatError", st->format_error))
        return -1;
    st->memory_error = PyErr_NewExceptionWithDoc("vmpy.GuestMemoryError",
        "A guest memory operation failed: unmapped, overlapping or protected.", st->error, NULL);
    if (!st->memory_error || PyModule_AddObjectRef(m, "GuestMemoryError", st->memory_error))
        return -1;
    if (add_type(m, &vmpy_machine_spec, NULL, &st->machine_type) ||
        add_type(m, &vmpy_cpu_spec, NULL, &st->cpu_type) ||
        add_type(m, &vmpy_hook_spec, NULL, &st->hook_type))
        return -1;
    if (PyModule_AddIntConstant(m, "PROT_R", VM_PROT_R) || PyModule_AddIntConstant(m, "PROT_W", VM_PROT_W) ||
        PyModule_AddIntConstant(m, "PROT_X", VM_PROT_X))
        return -1;
    static const struct { const char *name; int kind; } kinds[] = {
        { "HOOK_CODE", VM_HOOK_CODE }, { "HOOK_BLOCK", VM_HOOK_BLOCK },
        { "HOOK_MEM_READ", VM_HOOK_MEM_READ }, { "HOOK_MEM_WRITE", VM_HOOK_MEM_WRITE },
        { "HOOK_MEM_FETCH", VM_HOOK_MEM_FETCH }, { "HOOK_MEM_FAULT", VM_HOOK_MEM_FAULT },
        { "HOOK_TRAP", VM_HOOK_TRAP }, { "HOOK_INVALID", VM_HOOK_INVALID },
    };
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
        if (PyModule_AddIntConstant(m, kinds[i].name, kinds[i].kind))
            return -1;
    if (vmpy_gdb_register(m))
        return -1;
    if (vmpy_snapshot_register(m))
        return -1;
    if (vmpy_trace_register(m))
        return -1;
    if (vmpy_repl_register && vmpy_repl_register(m))
        return -1;
    return 0;
}

static int mod_traverse(PyObject *m, visitproc visit, void *arg)
{
    vmpy_state *st = vmpy_get_state(m);
    Py_VISIT(st->machine_type);
    Py_VISIT(st->cpu_type);
    Py_VISIT(st->hook_type);
    Py_VISIT(st->error);
    Py_VISIT(st->format_error);
    Py_VISIT(st->memory_error);
    return 0;
}

static int mod_clear(PyObject *m)
{
    vmpy_state *st = vmpy_get_state(m);
    Py_CLEAR(st->machine_type);
    Py_CLEAR(st->cpu_type);
    Py_CLEAR(st->hook_type);
    Py_CLEAR(st->error);
    Py_CLEAR(st->format_error);
    Py_CLEAR(st->memory_error);
    return 0;
}

static void mod_free(void *m) { mod_clear(m); }

static PyModuleDef_Slot mod_slots[] = {
    { Py_mod_exec, mod_exec },
    { 0, NULL },
};

static struct PyModuleDef vmpy_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "vmpy._core",
    .m_doc = "The vmpy emulator core.",
    .m_size = sizeof(vmpy_state),
    .m_methods = mod_methods,
    .m_slots = mod_slots,
    .m_traverse = mod_traverse,
    .m_clear = mod_clear,
    .m_free = mod_free,
};

PyMODINIT_FUNC PyInit__core(void)
{
    return PyModuleDef_Init(&vmpy_module);
}
