/* linux_abi.h — what Linux user mode (csrc/core/linux/) needs from an ISA. */
#ifndef VM_LINUX_ABI_H
#define VM_LINUX_ABI_H
#include "machine.h"

struct vm_linux_abi {
    uint16_t elf_machine;                       /* e_machine accepted by the loader */
    uint64_t (*sysno)(vm_cpu *c);               /* syscall number */
    uint64_t (*arg)(vm_cpu *c, int i);          /* syscall argument i (0..5) */
    void (*set_ret)(vm_cpu *c, uint64_t v);     /* syscall return value */
    void (*set_sp)(vm_cpu *c, uint64_t sp);
    void (*set_tp)(vm_cpu *c, uint64_t tp);     /* thread pointer (for clone/TLS) */
    void (*enter_user)(vm_cpu *c);              /* switch the cpu to user mode (vm_linux_exec calls it) */
    /* Signal frames (linux/signal.c): where the ISA's uc_mcontext sits in
     * a ucontext and its size; save_context writes the registers (pc:
     * where to resume) into it as Linux does, restore_context reads them
     * back for rt_sigreturn; enter_signal_handler points the cpu at a
     * handler(a0, a1, a2) with the stack at sp, returning to ret. */
    size_t mcontext_offset, mcontext_size;
    uint64_t (*get_sp)(vm_cpu *c);
    void (*save_context)(vm_cpu *c, uint64_t pc, uint8_t *mcontext);
    void (*restore_context)(vm_cpu *c, const uint8_t *mcontext);
    void (*enter_signal_handler)(vm_cpu *c, uint64_t handler, uint64_t sp, uint64_t ret,
                                 uint64_t a0, uint64_t a1, uint64_t a2);
    const uint8_t *sigreturn_code;              /* the trampoline: the rt_sigreturn syscall */
    size_t sigreturn_code_size;
    uint64_t hwcap;                             /* AT_HWCAP */
    const char *platform;                       /* AT_PLATFORM string, or NULL */
};

/* Called by the ISA for a user-mode ecall (len bytes long) when the
 * machine is a Linux process.  Executes the syscall; returns
 * VM_HOOK_HANDLED (resume after the ecall), VM_LINUX_JUMPED (the ecall
 * retired and the pc is set: rt_sigreturn, or a signal handler to run) or
 * VM_HOOK_STOP after the guest exited (stop reason VM_STOP_EXIT). */
enum { VM_LINUX_JUMPED = 2 };
int vm_linux_syscall(vm_cpu *c, unsigned len);
/* Called by the ISA for a fault the hooks left unhandled in a Linux
 * process: runs the guest's handler for sig (si_code code, si_addr addr)
 * if it has one and does not block sig.  true: the pc is the handler's;
 * false: the run stops at the fault as before. */
bool vm_linux_fault_signal(vm_cpu *c, int sig, int code, uint64_t addr);
/* The run loop, for a Linux process: the most instructions the next slice
 * may run (the interval timer's deadline in deterministic mode), and the
 * end of a slice, where a due timer's SIGALRM is delivered. */
uint64_t vm_linux_budget_cap(vm_cpu *c);
void vm_linux_slice_end(vm_cpu *c);
/* Frees m->linux (called by vm_machine_free). */
void vm_linux_free(vm_machine *m);

#endif
