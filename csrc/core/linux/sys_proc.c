/* sys_proc.c — processes: fork/vfork (clone), execve, wait4, and signals
 * to child processes.
 *
 * fork is a host fork().  The child must never return into the caller of
 * vm_machine_run (that would be a second copy of the Python program
 * running on), so the child runs the guest to its end right here, in a
 * loop of engine slices, and leaves with _exit().  Forking is refused when
 * the machine has hooks, breakpoints or watchpoints: their callbacks (often
 * Python) cannot run in a forked child.
 *
 * execve of a program for this machine replaces the image in place.  In a
 * forked child, any other executable (a host binary or script) is handed
 * to the host's execve, as qemu-user does. */
#include "linux.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

enum {
    LX_CLONE_VM = 0x100, LX_CLONE_VFORK = 0x4000, LX_CLONE_PARENT_SETTID = 0x100000,
    LX_CLONE_CHILD_CLEARTID = 0x200000, LX_CLONE_CHILD_SETTID = 0x1000000,
};
#define LX_ARG_MAX (LX_STACK_SIZE / 4)
#define LX_ARGS_MAX 65536
#define CHILD_SLICE 100000

void lx_exit_signal(lx_ctx *x, int sig)
{
    if (x->p->forked) {
        /* Die of the signal for real, so the parent's wait4 sees it. */
        struct rlimit no_core = { 0, 0 };
        setrlimit(RLIMIT_CORE, &no_core);
        signal(sig, SIG_DFL);
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, sig);
        sigprocmask(SIG_UNBLOCK, &set, NULL);
        raise(sig);
        _exit(128 + sig);
    }
    lx_exit(x, 128 + sig);
}

/* Length of the instruction at pc (the syscall instruction being run). */
static int insn_len(vm_machine *m, uint64_t pc)
{
    uint8_t bytes[16];
    char text[96];
    size_t avail = sizeof bytes;
    while (avail && vm_mem_read(m, pc, bytes, avail) != 0)
        avail /= 2;
    return avail && m->isa->disasm ? m->isa->disasm(pc, bytes, avail, text, sizeof text) : 0;
}

/* The forked child: run the guest until it exits (lx_exit leaves the
 * process from inside the exit syscall); any other stop ends it too. */
static void __attribute__((noreturn)) child_run(lx_ctx *x)
{
    vm_machine *m = x->m;
    vm_cpu *c = x->c;
    atomic_store(&m->stop_requested, 0);
    for (;;) {
        c->stop_reason = VM_STOP_NONE;
        atomic_store(&c->exit_request, 0);
        uint64_t cap = vm_linux_budget_cap(c);
        c->budget = c->budget_start = cap < CHILD_SLICE ? cap : CHILD_SLICE;
        m->engine->exec(c);
        c->icount += c->budget_start - c->budget;
        c->budget_start = c->budget;
        vm_linux_slice_end(c);                      /* timer signals, as vm_machine_run */
        if (c->stop_reason == VM_STOP_NONE && !atomic_load(&m->stop_requested))
            continue;
        if (c->stop_reason == VM_STOP_FAULT) {
            fprintf(stderr, "vmpy: child %d: guest fault at pc 0x%llx\n", (int)getpid(),
                    (unsigned long long)vm_cpu_pc(c));
            lx_exit_signal(x, SIGSEGV);
        }
        fprintf(stderr, "vmpy: child %d stopped (%s) at pc 0x%llx\n", (int)getpid(),
                vm_stop_reason_name(c->stop_reason), (unsigned long long)vm_cpu_pc(c));
        lx_exit_signal(x, c->stop_reason == VM_STOP_INVALID ? SIGILL : SIGTRAP);
    }
}

static int64_t sys_clone(lx_ctx *x)
{
    uint64_t flags = x->a[0], newsp = x->a[1], ptid = x->a[2], ctid = x->a[4];
    uint64_t known = 0xff | LX_CLONE_VM | LX_CLONE_VFORK | LX_CLONE_PARENT_SETTID |
                     LX_CLONE_CHILD_CLEARTID | LX_CLONE_CHILD_SETTID;
    /* Processes only: threads (CLONE_VM without CLONE_VFORK) are not supported. */
    if ((flags & ~known) || ((flags & LX_CLONE_VM) && !(flags & LX_CLONE_VFORK)))
        return -ENOSYS;
    vm_machine *m = x->m;
    if (m->hook_mask || m->nbps || m->nwps)
        return -EAGAIN;
    int len = insn_len(m, vm_cpu_pc(x->c));
    if (len <= 0)
        return -EFAULT;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid > 0) {
        uint32_t child = (uint32_t)pid;
        lx_child_add(x->p, pid);
        if (flags & LX_CLONE_PARENT_SETTID)
            lx_copy_out(x, ptid, &child, 4);
        return pid;
    }
    /* Child: the clone returns 0 here, after the syscall instruction. */
    x->p->forked = true;
    x->p->sigpending = 0;               /* a child starts with none pending */
    x->p->nchildren = 0;                /* and no children */
    uint32_t self = (uint32_t)getpid();
    if (flags & LX_CLONE_CHILD_SETTID)
        lx_copy_out(x, ctid, &self, 4);
    if (flags & LX_CLONE_PARENT_SETTID)
        lx_copy_out(x, ptid, &self, 4);
    const struct vm_linux_abi *abi = m->isa->linux_abi;
    abi->set_ret(x->c, 0);
    if (newsp)
        abi->set_sp(x->c, newsp);
    vm_cpu_set_pc(x->c, vm_cpu_pc(x->c) + (uint64_t)len);
    child_run(x);
}

static int64_t sys_wait4(lx_ctx *x)
{
    int status = 0;
    struct rusage ru;
    pid_t r = wait4((pid_t)(int32_t)x->a[0], &status, (int)x->a[2], &ru);
    if (r < 0)
        return -errno;
    if (r > 0 && (WIFEXITED(status) || WIFSIGNALED(status)))
        lx_child_reaped(x->p, r);
    if (r > 0 && x->a[1] && lx_copy_out(x, x->a[1], &status, sizeof status))
        return -EFAULT;
    if (x->a[3] && lx_copy_out(x, x->a[3], &ru, sizeof ru))
        return -EFAULT;
    return r;
}

/* ---- execve ----------------------------------------------------------------- */

typedef struct strvec {
    char **v;
    int n;
} strvec;

static void strvec_free(strvec *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

static int strvec_push(strvec *s, char *str)
{
    char **v = realloc(s->v, (size_t)(s->n + 2) * sizeof *v);
    if (!v) {
        free(str);
        return -ENOMEM;
    }
    s->v = v;
    s->v[s->n++] = str;
    s->v[s->n] = NULL;
    return 0;
}

/* Copies a guest NULL-terminated array of strings. */
static int strvec_in(lx_ctx *x, uint64_t addr, strvec *out, size_t *total)
{
    out->v = calloc(1, sizeof *out->v);
    out->n = 0;
    if (!out->v)
        return -ENOMEM;
    for (int i = 0; addr; i++) {
        uint64_t ptr;
        char *s;
        if (i >= LX_ARGS_MAX)
            return -E2BIG;
        if (lx_copy_in(x, &ptr, addr + 8ull * i, 8))
            return -EFAULT;
        if (!ptr)
            break;
        int rc = lx_str_in(x, ptr, 32 * VM_PAGE_SIZE, &s);
        if (rc)
            return rc == -ENAMETOOLONG ? -E2BIG : rc;
        *total += strlen(s) + 9;
        if (*total > LX_ARG_MAX) {
            free(s);
            return -E2BIG;
        }
        if ((rc = strvec_push(out, s)) != 0)
            return rc;
    }
    return 0;
}

/* What kind of file is being executed: ours (an ELF for this machine),
 * "#!" script, or something else. */
enum { EXEC_OURS, EXEC_SCRIPT, EXEC_OTHER };

static int exec_kind(lx_ctx *x, int dir, const char *path, char *head, size_t *headlen)
{
    int fd = openat(dir, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -EACCES;
    }
    ssize_t n = read(fd, head, *headlen - 1);
    close(fd);
    if (faccessat(dir, path, X_OK, 0) != 0)
        return -errno;
    if (n < 0)
        return -EIO;
    head[n] = 0;
    *headlen = (size_t)n;
    if (n >= 2 && head[0] == '#' && head[1] == '!')
        return EXEC_SCRIPT;
    uint16_t mach = n >= 20 ? (uint16_t)((uint8_t)head[18] | (uint8_t)head[19] << 8) : 0;
    if (n >= 20 && memcmp(head, "\177ELF", 4) == 0 && head[4] == 2 &&
        mach == x->m->isa->linux_abi->elf_machine)
        return EXEC_OURS;
    return EXEC_OTHER;
}

/* "#!interp [arg]": argv becomes interp [arg] path argv[1..]. */
static int script_args(const char *head, const char *path, strvec *argv, char **interp)
{
    const char *p = head + 2, *end = strchr(head, '\n');
    if (!end)
        return -ENOEXEC;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    const char *ie = p;
    while (ie < end && *ie != ' ' && *ie != '\t')
        ie++;
    if (ie == p)
        return -ENOEXEC;
    const char *a = ie;
    while (a < end && (*a == ' ' || *a == '\t'))
        a++;
    const char *ae = end;
    while (ae > a && (ae[-1] == ' ' || ae[-1] == '\t' || ae[-1] == '\r'))
        ae--;
    strvec nv = { NULL, 0 };
    int rc = strvec_push(&nv, strndup(p, (size_t)(ie - p)));
    if (!rc && ae > a)
        rc = strvec_push(&nv, strndup(a, (size_t)(ae - a)));
    if (!rc)
        rc = strvec_push(&nv, strdup(path));
    for (int i = 1; !rc && i < argv->n; i++)
        rc = strvec_push(&nv, strdup(argv->v[i]));
    if (rc || !(*interp = strdup(nv.v[0]))) {
        strvec_free(&nv);
        return -ENOMEM;
    }
    strvec_free(argv);
    *argv = nv;
    return 0;
}

/* Host execve from a forked child: the guest fd table becomes the host's. */
static int host_exec(lx_ctx *x, int dir, const char *path, strvec *argv, strvec *envp)
{
    struct vm_linux_process *p = x->p;
    int high[LX_MAX_FDS];
    for (int g = 0; g < LX_MAX_FDS; g++) {
        high[g] = -1;
        if (p->fds[g].host >= 0 && !p->fds[g].cloexec)
            high[g] = fcntl(p->fds[g].host, F_DUPFD_CLOEXEC, LX_MAX_FDS + 16);
    }
    for (int g = 0; g < LX_MAX_FDS; g++)
        if (high[g] >= 0)
            dup2(high[g], g);               /* dup2 clears close-on-exec */
    execveat(dir, path, argv->v, envp->v, 0);
    int err = errno;
    for (int g = 0; g < LX_MAX_FDS; g++)
        if (high[g] >= 0)
            close(high[g]);
    return -err;
}

/* Replaces the image in place.  Past the point of no return a failure
 * kills the process, as on Linux. */
static int64_t exec_ours(lx_ctx *x, int dir, const char *path, strvec *argv, strvec *envp)
{
    vm_machine *m = x->m;
    struct vm_linux_process *p = x->p;
    int len = insn_len(m, vm_cpu_pc(x->c));
    if (len <= 0)
        return -EFAULT;
    lx_unmap_range(m, 0, LX_TASK_SIZE);
    m->isa->cpu_reset(x->c);
    for (int g = 0; g < LX_MAX_FDS; g++)
        if (p->fds[g].host >= 0 && p->fds[g].cloexec)
            lx_fd_close(p, g);
    for (int s = 1; s <= LX_NSIG; s++) {
        uint64_t h;
        memcpy(&h, p->sigact[s], 8);
        if (h > 1)                          /* handlers reset; ignored stays ignored */
            memset(p->sigact[s], 0, sizeof p->sigact[s]);
    }
    memset(p->altstack, 0, sizeof p->altstack);
    p->loaded = false;
    if (lx_load(m, dir, path, argv->n, argv->v, envp->v) != 0) {
        fprintf(stderr, "vmpy: execve %s: %s\n", path, vm_machine_error(m));
        p->loaded = true;
        lx_exit_signal(x, SIGKILL);
        return 0;
    }
    /* The ISA steps past the syscall instruction when we return. */
    vm_cpu_set_pc(x->c, vm_cpu_pc(x->c) - (uint64_t)len);
    return 0;
}

static int64_t sys_execve(lx_ctx *x)
{
    char *path = NULL, head[256];
    strvec argv = { NULL, 0 }, envp = { NULL, 0 };
    size_t total = 0, headlen = sizeof head;
    int64_t rc = lx_str_in(x, x->a[0], 4096, &path);
    if (!rc)
        rc = strvec_in(x, x->a[1], &argv, &total);
    if (!rc)
        rc = strvec_in(x, x->a[2], &envp, &total);
    int dir = x->p->cwd_fd;
    if (!rc && strcmp(path, "/proc/self/exe") == 0) {
        free(path);
        rc = (path = strdup(x->p->exe_path)) ? 0 : -ENOMEM;
    }
    int kind = rc ? (int)rc : exec_kind(x, dir, path, head, &headlen);
    if (kind == EXEC_SCRIPT && x->p->forked) {
        kind = EXEC_OTHER;                  /* the host runs the interpreter */
    } else if (kind == EXEC_SCRIPT) {
        char *interp = NULL;
        rc = script_args(head, path, &argv, &interp);
        if (!rc) {
            free(path);
            path = interp;
            headlen = sizeof head;
            kind = exec_kind(x, dir, path, head, &headlen);
            if (kind == EXEC_SCRIPT)
                kind = -ENOEXEC;
        } else {
            kind = (int)rc;
        }
    }
    if (kind == EXEC_OURS)
        rc = exec_ours(x, dir, path, &argv, &envp);
    else if (kind == EXEC_OTHER)
        rc = x->p->forked ? host_exec(x, dir, path, &argv, &envp) : -ENOEXEC;
    else
        rc = kind;
    if (rc && x->p->verbose)
        fprintf(stderr, "vmpy: execve %s failed (%lld)\n", path ? path : "?", (long long)rc);
    free(path);
    strvec_free(&argv);
    strvec_free(&envp);
    return rc;
}

int64_t lx_sys_proc(lx_ctx *x, bool *known)
{
    *known = true;
    switch (x->nr) {
    case LX_clone: return sys_clone(x);
    case LX_execve: return sys_execve(x);
    case LX_wait4: return sys_wait4(x);
    default: *known = false; return -ENOSYS;
    }
}
