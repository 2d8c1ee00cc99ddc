/* linux.h — Linux user mode inside the core: the process state of a machine
 * that runs a static Linux binary, and the helpers the syscall files share.
 *
 * Files: process.c (exec, stack, auxv, lifetime), guest.c (guest memory and
 * fd table helpers), syscalls.c (dispatch), sys_mem.c (brk/mmap family),
 * sys_io.c (fds: read/write/dup/fcntl/ioctl), sys_path.c (names: open,
 * stat, directories), sys_misc.c (time, ids, signals, limits), sys_proc.c
 * (fork, execve, wait4), signal.c (signal actions, masks and delivery). */
#ifndef VM_LINUX_H
#define VM_LINUX_H

#include "../machine.h"
#include "../linux_abi.h"

/* Guest address-space layout, modelled on riscv64 Linux with Sv39: user
 * space ends at 256 GiB, the stack sits at the top, mmap grows down below
 * it, static-pie programs load at 2/3 of the user space. */
#define LX_TASK_SIZE      0x4000000000ull
#define LX_STACK_TOP      (LX_TASK_SIZE - VM_PAGE_SIZE)
#define LX_STACK_SIZE     (8ull << 20)
#define LX_MMAP_TOP       (LX_STACK_TOP - LX_STACK_SIZE - (16ull << 20))
#define LX_MMAP_MIN       0x10000ull
#define LX_DYN_BASE       0x2aaaaaa000ull

#define LX_MAX_FDS 1024
#define LX_NSIG 64
#define LX_MAX_CHILDREN 64

typedef struct lx_fd {
    int host;           /* host fd, -1 if the slot is free */
    bool borrowed;      /* the host's stdin/out/err: closing does not close the host fd */
    bool cloexec;
} lx_fd;

struct vm_linux_process {
    char *exe_path;         /* absolute host path of the program (/proc/self/exe) */
    bool loaded;            /* vm_linux_exec succeeded */
    bool verbose;
    bool exited;
    bool forked;            /* this host process is a guest fork() child */
    int exit_code;

    uint64_t brk_start, brk_cur, brk_end;   /* brk_end: end of the pages mapped for brk */
    uint64_t stack_lo;                      /* lowest stack address */

    lx_fd fds[LX_MAX_FDS];
    int cwd_fd;             /* host O_PATH fd of the guest's working directory */
    unsigned umask;

    uint8_t sigact[LX_NSIG + 1][24];        /* raw riscv64 kernel sigaction per signal */
    uint64_t sigmask;
    uint64_t sigpending;                    /* sent to itself, not yet delivered (signal.c) */
    struct { int code, pid, status; } sigfrom[LX_NSIG + 1];   /* their si_code, si_pid, si_status */
    /* Forked children not yet reaped by wait4, for SIGCHLD (signal.c). */
    struct { int pid; bool signalled; } children[LX_MAX_CHILDREN];
    int nchildren;
    uint64_t itimer_due, itimer_interval;   /* ITIMER_REAL, monotonic ns (0: disarmed) */
    bool in_sigsuspend;                     /* the next handler's frame saves suspend_mask */
    uint64_t suspend_mask;                  /* the mask before rt_sigsuspend */
    uint64_t altstack[3];                   /* ss_sp, ss_flags (+pad), ss_size */
    uint64_t tid_address;
};

/* One syscall being executed. */
typedef struct lx_ctx {
    vm_cpu *c;
    vm_machine *m;
    struct vm_linux_process *p;
    uint64_t nr;
    uint64_t a[6];
} lx_ctx;

/* ---- guest memory (guest.c) -----------------------------------------------
 * Guest pointers are never dereferenced on the host unchecked: these
 * helpers translate or copy them, and report -EFAULT for bad ones. */
int lx_copy_in(lx_ctx *x, void *dst, uint64_t addr, size_t len);
int lx_copy_out(lx_ctx *x, uint64_t addr, const void *src, size_t len);
/* The same where the syscall takes a NULL pointer as "not wanted". */
int lx_copy_out_opt(lx_ctx *x, uint64_t addr, const void *src, size_t len);
/* A host view of len guest bytes for the host to read: either a direct
 * pointer or a malloc'd copy in *bounce (free it).  NULL: bad address. */
const void *lx_in_buf(lx_ctx *x, uint64_t addr, size_t len, void **bounce);
/* A host buffer for len guest bytes the host will fill; lx_out_done
 * commits the first n bytes to the guest and frees the bounce buffer. */
void *lx_out_buf(lx_ctx *x, uint64_t addr, size_t len, void **bounce);
int lx_out_done(lx_ctx *x, uint64_t addr, void *buf, size_t n, void *bounce);
/* Copies a NUL-terminated guest string (at most max bytes with the NUL)
 * into a malloc'd host string.  Returns 0, -EFAULT or -ENAMETOOLONG. */
int lx_str_in(lx_ctx *x, uint64_t addr, size_t max, char **out);

/* ---- fd table (guest.c) ---------------------------------------------------- */
int lx_fd_host(struct vm_linux_process *p, int64_t gfd);          /* host fd or -EBADF */
int lx_fd_dir(struct vm_linux_process *p, int64_t gfd);           /* *at dirfd: AT_FDCWD -> cwd */
int lx_fd_install(struct vm_linux_process *p, int host, bool cloexec, int min);  /* guest fd or -EMFILE */
int lx_fd_close(struct vm_linux_process *p, int64_t gfd);
void lx_fd_close_all(struct vm_linux_process *p);

/* ---- syscall groups; each returns the guest result (-errno on failure) ---- */
int64_t lx_sys_mem(lx_ctx *x, bool *known);
int64_t lx_sys_io(lx_ctx *x, bool *known);
int64_t lx_sys_path(lx_ctx *x, bool *known);
int64_t lx_sys_misc(lx_ctx *x, bool *known);
/* Deterministic mode's /dev/urandom: a host fd of seeded-stream bytes (sys_misc.c). */
int lx_det_random_fd(lx_ctx *x);
int64_t lx_sys_proc(lx_ctx *x, bool *known);
int64_t lx_sys_signal(lx_ctx *x, bool *known);

/* ---- signals (signal.c) ------------------------------------------------------
 * A syscall result that says the syscall set every register, the pc
 * included (rt_sigreturn): nothing is written back. */
#define LX_REGS_RESTORED INT64_MIN
/* The rt_sigreturn trampoline that signal handlers return to: a page
 * above the stack, mapped at exec. */
#define LX_SIGRETURN_ADDR LX_STACK_TOP
/* Would sig, sent now, run a handler or end the process (not blocked,
 * not ignored)?  What makes a sleep end early with EINTR. */
bool lx_signal_interrupts(const struct vm_linux_process *p, int sig);
/* A pending signal is not blocked: lx_signal_deliver has work. */
bool lx_signal_ready(const struct vm_linux_process *p);
/* Delivers the lowest such signal, the guest to resume at resume_pc after
 * its handler: 1 its handler now runs (the pc is set), 0 nothing to
 * deliver (or it was ignored), -1 the process was ended by it. */
int lx_signal_deliver(lx_ctx *x, uint64_t resume_pc);
/* ITIMER_REAL: ns until it fires (0: due, UINT64_MAX: disarmed); and
 * making SIGALRM pending if it is due (the sleeps use both). */
uint64_t lx_itimer_left(lx_ctx *x);
void lx_itimer_check(lx_ctx *x);
/* Lets ns pass (guest time jumps ahead in deterministic mode), then
 * checks the timer.  0, or -errno if a host signal cut the wait short. */
int lx_wait_ns(lx_ctx *x, uint64_t ns);
/* Forked children: note one (fork), forget one (reaped by wait4); and
 * whether any exited child may still need a SIGCHLD the guest handles,
 * which lx_children_check then raises. */
void lx_child_add(struct vm_linux_process *p, int pid);
void lx_child_reaped(struct vm_linux_process *p, int pid);
bool lx_children_pending(const struct vm_linux_process *p);
void lx_children_check(lx_ctx *x);

/* Loads the static ELF at path (relative to dirfd) into m with a fresh
 * stack holding argv/envp/auxv, and points the cpu at its entry. */
int lx_load(vm_machine *m, int dirfd, const char *path, int argc, char *const argv[],
            char *const envp[]);

/* munmap semantics: unmaps every mapped page in [addr, addr+len). */
int lx_unmap_range(vm_machine *m, uint64_t addr, uint64_t len);

/* Ends the process with an exit code (a forked child leaves the host
 * process at once), or as killed by a signal. */
void lx_exit(lx_ctx *x, int code);
void lx_exit_signal(lx_ctx *x, int sig);

/* riscv64 (asm-generic) syscall numbers used here. */
enum {
    LX_getcwd = 17, LX_dup = 23, LX_dup3 = 24, LX_fcntl = 25, LX_ioctl = 29,
    LX_mkdirat = 34, LX_unlinkat = 35, LX_symlinkat = 36, LX_linkat = 37, LX_renameat = 38,
    LX_statfs = 43, LX_fstatfs = 44, LX_truncate = 45, LX_ftruncate = 46, LX_faccessat = 48, LX_chdir = 49, LX_fchdir = 50,
    LX_fchmod = 52, LX_fchmodat = 53, LX_openat = 56, LX_close = 57, LX_pipe2 = 59,
    LX_getdents64 = 61, LX_lseek = 62, LX_read = 63, LX_write = 64, LX_readv = 65,
    LX_writev = 66, LX_pread64 = 67, LX_pwrite64 = 68, LX_ppoll = 73,
    LX_readlinkat = 78, LX_newfstatat = 79,
    LX_fstat = 80, LX_fsync = 82, LX_fdatasync = 83, LX_utimensat = 88, LX_exit = 93,
    LX_exit_group = 94, LX_set_tid_address = 96, LX_futex = 98, LX_set_robust_list = 99,
    LX_nanosleep = 101, LX_getitimer = 102, LX_setitimer = 103, LX_clock_gettime = 113, LX_clock_getres = 114,
    LX_clock_nanosleep = 115, LX_sched_getaffinity = 123, LX_sched_yield = 124,
    LX_kill = 129, LX_tkill = 130, LX_tgkill = 131, LX_sigaltstack = 132,
    LX_rt_sigaction = 134, LX_rt_sigprocmask = 135, LX_rt_sigpending = 136, LX_rt_sigsuspend = 133, LX_rt_sigreturn = 139, LX_times = 153, LX_getresuid = 148, LX_getresgid = 150, LX_getpgid = 155, LX_getsid = 156, LX_getgroups = 158,
    LX_uname = 160, LX_getrlimit = 163, LX_setrlimit = 164, LX_getrusage = 165,
    LX_umask = 166, LX_prctl = 167, LX_gettimeofday = 169, LX_getpid = 172,
    LX_getppid = 173, LX_getuid = 174, LX_geteuid = 175, LX_getgid = 176,
    LX_getegid = 177, LX_gettid = 178, LX_sysinfo = 179, LX_brk = 214, LX_munmap = 215,
    LX_mremap = 216, LX_mmap = 222, LX_fadvise64 = 223, LX_mprotect = 226, LX_msync = 227,
    LX_madvise = 233, LX_riscv_hwprobe = 258, LX_riscv_flush_icache = 259,
    LX_clone = 220, LX_execve = 221, LX_wait4 = 260, LX_prlimit64 = 261, LX_renameat2 = 276, LX_getrandom = 278, LX_statx = 291,
    LX_rseq = 293, LX_clone3 = 435, LX_faccessat2 = 439,
};

#endif
