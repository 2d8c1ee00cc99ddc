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
    uint64_t hwcap;                             /* AT_HWCAP */
    const char *platform;                       /* AT_PLATFORM string, or NULL */
};

/* Called by the ISA for a user-mode ecall when the machine is a Linux
 * process.  Executes the syscall; returns VM_HOOK_HANDLED (resume after the
 * ecall) or VM_HOOK_STOP after the guest exited (stop reason VM_STOP_EXIT). */
int vm_linux_syscall(vm_cpu *c);
/* Frees m->linux (called by vm_machine_free). */
void vm_linux_free(vm_machine *m);

#endif
