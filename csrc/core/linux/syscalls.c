/* syscalls.c — entry point for a guest syscall: reads the number and
 * arguments through the ISA's Linux ABI, runs it, writes the result. */
#include "linux.h"

#include <errno.h>
#include <stdio.h>

int vm_linux_syscall(vm_cpu *c, unsigned len)
{
    vm_machine *m = vm_cpu_machine(c);
    const struct vm_linux_abi *abi = m->isa->linux_abi;
    if (!m->linux || !m->linux->loaded || !abi) {
        /* Not (yet) a Linux process: stop as for any unhandled trap. */
        vm_cpu_request_exit(c, VM_STOP_TRAP);
        return VM_HOOK_STOP;
    }
    lx_ctx x = { .c = c, .m = m, .p = m->linux, .nr = abi->sysno(c) };
    for (int i = 0; i < 6; i++)
        x.a[i] = abi->arg(c, i);
    bool known;
    int64_t r = lx_sys_io(&x, &known);
    if (!known)
        r = lx_sys_path(&x, &known);
    if (!known)
        r = lx_sys_mem(&x, &known);
    if (!known)
        r = lx_sys_misc(&x, &known);
    if (!known)
        r = lx_sys_proc(&x, &known);
    if (!known)
        r = lx_sys_signal(&x, &known);
    if (!known && x.p->verbose)
        fprintf(stderr, "vmpy: unsupported syscall %llu (pc 0x%llx)\n",
                (unsigned long long)x.nr, (unsigned long long)vm_cpu_pc(c));
    if (x.p->exited)
        return VM_HOOK_STOP;
    if (r == -EINTR && atomic_load(&c->exit_request)) {
        /* A host signal (Ctrl-C) interrupted a blocking call and stopped
         * the run: the ecall is not retired, so that running on restarts
         * the call, as SA_RESTART would.  Host signals are not delivered
         * to the guest, so no guest code could have seen the EINTR. */
        return VM_HOOK_STOP;
    }
    uint64_t resume = vm_cpu_pc(c) + len;
    if (r == LX_REGS_RESTORED)
        resume = vm_cpu_pc(c);                      /* rt_sigreturn set it */
    else
        abi->set_ret(c, (uint64_t)r);
    if (lx_children_pending(x.p))
        lx_children_check(&x);                      /* SIGCHLD */
    if (lx_signal_ready(x.p)) {
        int d = lx_signal_deliver(&x, resume);
        if (d < 0)
            return VM_HOOK_STOP;                    /* it ended the process */
        if (d > 0)
            return VM_LINUX_JUMPED;
    }
    if (r == LX_REGS_RESTORED)
        return VM_LINUX_JUMPED;
    return VM_HOOK_HANDLED;
}
