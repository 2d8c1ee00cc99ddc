/* machine.c — machine lifetime, the run loop, errors, register access.
 *
 * The run loop is ISA- and engine-neutral: it hands each vCPU an instruction
 * budget, lets the engine run it until it asks to exit, and decides from the
 * stop reasons, the budget and the clock whether the run goes on. */
#include "machine.h"
#include "linux_abi.h"
#include "snapshot.h"
#include "trace.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const vm_isa *const isas[] = { &vm_isa_riscv64 };

int vm_set_error(vm_machine *m, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->error, sizeof m->error, fmt, ap);
    va_end(ap);
    m->error_errno = 0;
    return code;
}

int vm_set_os_error(vm_machine *m, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->error, sizeof m->error, fmt, ap);
    va_end(ap);
    m->error_errno = err;
    return VM_EIO;
}

int vm_machine_errno(const vm_machine *m)
{
    return m->error_errno;
}

const char *vm_machine_error(const vm_machine *m)
{
    return m->error[0] ? m->error : "unknown error";
}

static const vm_engine *find_engine(const vm_isa *isa, const char *name)
{
    for (const vm_engine *const *e = isa->engines; *e; e++)
        if (!strcmp((*e)->name, name))
            return *e;
    return NULL;
}

vm_machine *vm_machine_new(const char *isa_name, int ncpus)
{
    const vm_isa *isa = NULL;
    for (size_t i = 0; i < sizeof isas / sizeof *isas; i++)
        if (!strcmp(isas[i]->name, isa_name))
            isa = isas[i];
    if (!isa || ncpus < 1 || ncpus > VM_MAX_CPUS)
        return NULL;
    vm_machine *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->isa = isa;
    m->ncpus = ncpus;
    for (int i = 0; i < ncpus; i++) {
        vm_cpu *c = aligned_alloc(64, (isa->cpu_size + 63) & ~(size_t)63);
        if (!c) {
            vm_machine_free(m);
            return NULL;
        }
        memset(c, 0, isa->cpu_size);
        c->machine = m;
        c->index = i;
        c->tlb_mask = VM_TLB_SIZE - 1;
        vm_tlb_flush_cpu(c);
        m->cpus[i] = c;
        isa->cpu_reset(c);
    }
    if (vm_machine_set_engine(m, isa->engines[0]->name)) {
        vm_machine_free(m);
        return NULL;
    }
    return m;
}

void vm_machine_free(vm_machine *m)
{
    if (!m)
        return;
    vm_tracer_free(m);
    vm_snapshot_machine_free(m);
    if (m->linux)
        vm_linux_free(m);
    if (m->engine && m->engine->destroy)
        m->engine->destroy(m, m->engine_state);
    m->engine = NULL;
    vm_hooks_free_all(m);
    while (m->nregions) {
        vm_region_info r = { m->regions[0].base, m->regions[0].size, 0, 0 };
        if (vm_mem_unmap(m, r.base, r.size))
            break;
    }
    free(m->code_cache_dir);
    free(m->regions);
    free(m->bps);
    free(m->wps);
    for (int i = 0; i < m->ncpus; i++) {
        vm_tlb_free_banks(m->cpus[i]);
        free(m->cpus[i]);
    }
    free(m);
}

const char *vm_machine_isa(const vm_machine *m) { return m->isa->name; }
int vm_machine_ncpus(const vm_machine *m) { return m->ncpus; }

vm_cpu *vm_machine_cpu(vm_machine *m, int index)
{
    return index >= 0 && index < m->ncpus ? m->cpus[index] : NULL;
}

int vm_machine_set_engine(vm_machine *m, const char *name)
{
    const vm_engine *e = find_engine(m->isa, name);
    if (!e) {
        char names[128] = "";
        for (const vm_engine *const *p = m->isa->engines; *p; p++) {
            strncat(names, " ", sizeof names - strlen(names) - 1);
            strncat(names, (*p)->name, sizeof names - strlen(names) - 1);
        }
        return vm_set_error(m, VM_EINVAL, "unknown engine '%s' for %s (have:%s)", name, m->isa->name, names);
    }
    if (e == m->engine)
        return 0;
    void *state = e->create ? e->create(m) : NULL;
    if (e->create && !state)
        return vm_set_error(m, VM_ENOMEM, "cannot start engine %s", name);
    if (m->engine && m->engine->destroy)
        m->engine->destroy(m, m->engine_state);
    m->engine = e;
    m->engine_state = state;
    return 0;
}

const char *vm_machine_engine(const vm_machine *m) { return m->engine->name; }

int vm_machine_set_code_cache(vm_machine *m, const char *dir)
{
    char *copy = NULL;
    if (dir && *dir && !(copy = strdup(dir)))
        return vm_set_error(m, VM_ENOMEM, "out of memory");
    free(m->code_cache_dir);
    m->code_cache_dir = copy;
    if (m->engine && m->engine->code_cache_changed)
        m->engine->code_cache_changed(m, m->engine_state);
    return 0;
}

const char *vm_machine_code_cache(const vm_machine *m) { return m->code_cache_dir; }

int vm_machine_code_cache_save(vm_machine *m)
{
    if (!m->engine || !m->engine->code_cache_save)
        return 0;
    if (m->engine->code_cache_save(m, m->engine_state))
        return vm_set_error(m, VM_EIO, "cannot write the code cache in %s",
                            m->code_cache_dir ? m->code_cache_dir : "(none)");
    return 0;
}

int vm_machine_jit_stats(vm_machine *m, vm_jit_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!m->engine || !m->engine->stats)
        return vm_set_error(m, VM_ENOTSUP, "engine %s keeps no JIT statistics", m->engine ? m->engine->name : "none");
    m->engine->stats(m, m->engine_state, out);
    return 0;
}

void vm_code_invalidate(vm_machine *m, uint64_t begin, uint64_t end)
{
    if (m->engine && m->engine->invalidate)
        m->engine->invalidate(m, begin, end);
    for (int i = 0; i < m->ncpus; i++)
        atomic_store(&m->cpus[i]->exit_request, 1);
}

/* ---- registers -------------------------------------------------------- */

int vm_reg_lookup(const vm_machine *m, const char *name) { return m->isa->reg_lookup(name); }
const char *vm_reg_name(const vm_machine *m, int reg) { return m->isa->reg_name(reg); }
int vm_reg_count(const vm_machine *m) { return m->isa->nregs; }
int vm_cpu_reg_read(vm_cpu *c, int reg, uint64_t *v) { return c->machine->isa->reg_read(c, reg, v); }
int vm_cpu_reg_write(vm_cpu *c, int reg, uint64_t v) { return c->machine->isa->reg_write(c, reg, v); }
uint64_t vm_cpu_pc(const vm_cpu *c) { return c->machine->isa->get_pc(c); }
void vm_cpu_set_pc(vm_cpu *c, uint64_t pc) { c->machine->isa->set_pc(c, pc); }
int vm_cpu_index(const vm_cpu *c) { return c->index; }
vm_machine *vm_cpu_machine(vm_cpu *c) { return c->machine; }
uint64_t vm_cpu_icount(const vm_cpu *c) { return vm_cpu_retired(c); }
void vm_cpu_fault(const vm_cpu *c, vm_fault_info *out) { *out = c->fault; }

void vm_cpu_trap(const vm_cpu *c, uint64_t *cause, uint64_t *tval)
{
    *cause = c->trap_cause;
    *tval = c->trap_tval;
}

int vm_disasm(vm_machine *m, uint64_t addr, char *buf, size_t buflen)
{
    uint8_t bytes[16];
    size_t avail = 0;
    while (avail < sizeof bytes && vm_mem_read(m, addr + avail, bytes + avail, 2) == 0)
        avail += 2;
    if (!avail) {
        snprintf(buf, buflen, "<unmapped>");
        return 0;
    }
    return m->isa->disasm(addr, bytes, avail, buf, buflen);
}

/* ---- running ------------------------------------------------------------ */

static const char *const stop_names[] = {
    [VM_STOP_NONE] = "none", [VM_STOP_UNTIL] = "until", [VM_STOP_COUNT] = "count",
    [VM_STOP_TIMEOUT] = "timeout", [VM_STOP_REQUEST] = "stop", [VM_STOP_FAULT] = "fault",
    [VM_STOP_TRAP] = "trap", [VM_STOP_INVALID] = "invalid", [VM_STOP_EXIT] = "exit",
    [VM_STOP_BREAKPOINT] = "breakpoint", [VM_STOP_WATCHPOINT] = "watchpoint",
    [VM_STOP_ERROR] = "error", [VM_STOP_WFI] = "wfi",
};

const char *vm_stop_reason_name(vm_stop_reason r)
{
    return (unsigned)r < sizeof stop_names / sizeof *stop_names ? stop_names[r] : "?";
}

void vm_cpu_request_exit(vm_cpu *c, vm_stop_reason why)
{
    if (why != VM_STOP_NONE && c->stop_reason == VM_STOP_NONE)
        c->stop_reason = why;
    atomic_store(&c->exit_request, 1);
}

void vm_machine_set_slice_callback(vm_machine *m, void (*fn)(void *), void *arg)
{
    m->slice_cb = fn;
    m->slice_arg = arg;
}

void vm_machine_set_budget_cap(vm_machine *m, uint64_t (*fn)(void *, vm_cpu *), void *arg)
{
    m->budget_cap = fn;
    m->budget_cap_arg = arg;
}

void vm_machine_stop(vm_machine *m)
{
    atomic_store(&m->stop_requested, 1);
    for (int i = 0; i < m->ncpus; i++)
        atomic_store(&m->cpus[i]->exit_request, 1);
}

/* How many instructions a vCPU runs before the loop looks at the clock and
 * the other vCPUs.  Small enough that timeouts are honoured within
 * milliseconds, large enough that the check costs nothing. */
#define SLICE (1u << 18)

static void set_until(vm_machine *m, const vm_run_opts *o)
{
    bool changed = o->has_until != m->has_until || (o->has_until && o->until != m->until);
    if (!changed)
        return;
    uint64_t old = m->until;
    bool had = m->has_until;
    m->has_until = o->has_until;
    m->until = o->until;
    /* Blocks end at breakpoints, so translations around both addresses change. */
    if (had)
        vm_code_invalidate(m, old, old + 1);
    if (o->has_until)
        vm_code_invalidate(m, o->until, o->until + 1);
}

vm_stop_reason vm_machine_run(vm_machine *m, const vm_run_opts *o)
{
    static const vm_run_opts none;
    if (!o)
        o = &none;
    set_until(m, o);
    uint64_t remaining = o->count ? o->count : UINT64_MAX;
    uint64_t deadline = o->timeout > 0 ? vm_host_now_ns() + (uint64_t)(o->timeout * 1e9) : 0;
    atomic_store(&m->stop_requested, 0);
    for (int i = 0; i < m->ncpus; i++) {
        vm_cpu *c = m->cpus[i];
        c->stop_reason = VM_STOP_NONE;
        atomic_store(&c->exit_request, 0);
        /* Resuming at a breakpoint must execute it, not stop again. */
        c->skip_bp_pc = m->isa->get_pc(c);
        c->skip_bp = vm_bp_at(m, c->skip_bp_pc);
    }
    bool one = o->cpu > 0 && o->cpu <= m->ncpus;
    for (int turn = one ? o->cpu - 1 : 0;; turn = one ? turn : (turn + 1) % m->ncpus) {
        vm_cpu *c = m->cpus[turn];
        c->budget = c->budget_start = remaining < SLICE ? remaining : SLICE;
        if (m->budget_cap || m->linux) {
            uint64_t cap = m->linux ? vm_linux_budget_cap(c) : m->budget_cap(m->budget_cap_arg, c);
            if (cap < c->budget)
                c->budget = c->budget_start = cap ? cap : 1;
        }
        c->guest_traps = 0;
        m->engine->exec(c);
        if (m->tracer)
            vm_trace_flush(c);    /* register values of the last traced instruction */
        uint64_t retired = c->budget_start - c->budget;
        c->icount += retired;
        c->budget_start = c->budget;
        remaining -= retired;
        atomic_store(&c->exit_request, 0);
        if (m->slice_cb)
            m->slice_cb(m->slice_arg);
        if (m->linux)
            vm_linux_slice_end(c);                /* timer signals */
        if (c->stop_reason != VM_STOP_NONE)
            return c->stop_reason;
        if (atomic_load(&m->stop_requested))
            return VM_STOP_REQUEST;
        if (remaining == 0)
            return VM_STOP_COUNT;
        if (deadline && vm_host_now_ns() >= deadline)
            return VM_STOP_TIMEOUT;
    }
}
