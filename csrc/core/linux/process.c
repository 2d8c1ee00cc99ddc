/* process.c — turns a machine into a Linux process running a static ELF:
 * loads the program, builds the initial stack exactly as Linux's
 * binfmt_elf does (strings, argv, envp, auxv), and owns the process state. */
#include "linux.h"
#include "../snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define LX_MAX_IMAGE (1ull << 30)

/* Auxiliary vector keys (include/uapi/linux/auxvec.h). */
enum {
    AT_NULL = 0, AT_PHDR = 3, AT_PHENT = 4, AT_PHNUM = 5, AT_PAGESZ = 6, AT_BASE = 7,
    AT_FLAGS = 8, AT_ENTRY = 9, AT_UID = 11, AT_EUID = 12, AT_GID = 13, AT_EGID = 14,
    AT_PLATFORM = 15, AT_HWCAP = 16, AT_CLKTCK = 17, AT_SECURE = 23, AT_RANDOM = 25,
    AT_EXECFN = 31,
};

/* Reads the whole file path (relative to dirfd); *real gets its absolute
 * path (for /proc/self/exe). */
static int read_file(vm_machine *m, int dirfd, const char *path, uint8_t **out, size_t *len,
                     char **real)
{
    int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        return vm_set_os_error(m, err, "cannot open %s: %s", path, strerror(err));
    }
    char link[64], buf[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t ln = readlink(link, buf, sizeof buf - 1);
    buf[ln > 0 ? ln : 0] = 0;
    *real = strdup(ln > 0 ? buf : path);
    struct stat st;
    int err = fstat(fd, &st) != 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : 0;
    if (err || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > LX_MAX_IMAGE) {
        free(*real);
        close(fd);
        if (err)
            return vm_set_os_error(m, err, "cannot load %s: %s", path, strerror(err));
        return vm_set_error(m, VM_EIO, "%s is not a regular file of at most 1 GiB", path);
    }
    size_t n = (size_t)st.st_size, got = 0;
    uint8_t *data = malloc(n ? n : 1);
    if (!data || !*real) {
        free(data);
        free(*real);
        close(fd);
        return vm_set_error(m, VM_ENOMEM, "out of memory reading %s", path);
    }
    while (got < n) {
        ssize_t r = read(fd, data + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    *out = data;
    *len = got;
    return 0;
}

/* Scans the program headers (bounds-checked; vm_elf_load reports malformed
 * files) for PT_INTERP and the largest PT_LOAD alignment. */
static void scan_phdrs(const uint8_t *p, size_t len, bool *interp, uint64_t *align)
{
    *interp = false;
    *align = VM_PAGE_SIZE;
    if (len < 64)
        return;
    uint64_t phoff;
    uint16_t phentsize, phnum;
    memcpy(&phoff, p + 32, 8);
    memcpy(&phentsize, p + 54, 2);
    memcpy(&phnum, p + 56, 2);
    if (phentsize != 56 || phoff > len || (uint64_t)phnum * 56 > len - phoff)
        return;
    for (unsigned i = 0; i < phnum; i++) {
        uint32_t type;
        uint64_t a;
        memcpy(&type, p + phoff + i * 56ull, 4);
        memcpy(&a, p + phoff + i * 56ull + 48, 8);
        if (type == 3)
            *interp = true;
        /* Alignments beyond 1 GiB are nonsense; ignore them. */
        if (type == 1 && a > *align && (a & (a - 1)) == 0 && a <= (1ull << 30))
            *align = a;
    }
}

/* The process state, created on first use (vm_linux_set_verbose may come
 * before vm_linux_exec). */
static struct vm_linux_process *process_get(vm_machine *m)
{
    if (m->linux)
        return m->linux;
    struct vm_linux_process *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    for (int i = 0; i < LX_MAX_FDS; i++)
        p->fds[i].host = -1;
    for (int i = 0; i < 3; i++)
        p->fds[i] = (lx_fd){ i, true, false };
    p->umask = 022;
    p->cwd_fd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (p->cwd_fd < 0) {
        free(p);
        return NULL;
    }
    m->linux = p;
    return p;
}

void vm_linux_free(vm_machine *m)
{
    struct vm_linux_process *p = m ? m->linux : NULL;
    if (!p)
        return;
    lx_fd_close_all(p);
    if (p->cwd_fd >= 0)
        close(p->cwd_fd);
    free(p->exe_path);
    free(p);
    m->linux = NULL;
}

/* The initial stack, built in a host buffer that mirrors the top of the
 * guest stack [top - size, top). */
typedef struct stack_img {
    uint8_t *buf;
    uint64_t top, size, sp;
} stack_img;

static uint64_t push_bytes(stack_img *s, const void *data, size_t n)
{
    s->sp -= n;
    memcpy(s->buf + (s->sp - (s->top - s->size)), data, n);
    return s->sp;
}

static void put_word(stack_img *s, uint64_t addr, uint64_t v)
{
    memcpy(s->buf + (addr - (s->top - s->size)), &v, 8);
}

/* Bytes the strings and tables need, to refuse oversized argv/envp. */
static uint64_t stack_need(const char *path, int argc, char *const argv[], int envc,
                           char *const envp[], const char *platform)
{
    uint64_t n = 8 + strlen(path) + 1 + 16 + 64 + (platform ? strlen(platform) + 1 : 0);
    for (int i = 0; i < argc; i++)
        n += strlen(argv[i]) + 1 + 8;
    for (int i = 0; i < envc; i++)
        n += strlen(envp[i]) + 1 + 8;
    return n + 2 * 8 * 24 + 32;
}

static int build_stack(vm_machine *m, stack_img *s, const vm_elf_info *info, const char *path,
                       int argc, char *const argv[], int envc, char *const envp[])
{
    const struct vm_linux_abi *abi = m->isa->linux_abi;
    uint64_t *strs = calloc((size_t)argc + envc + 1, 8);
    if (!strs)
        return vm_set_error(m, VM_ENOMEM, "out of memory");
    /* Linux: an 8-byte end marker, the exec file name, the environment
     * strings, then the argument strings, each group last string first. */
    s->sp -= 8;
    uint64_t execfn = push_bytes(s, path, strlen(path) + 1);
    for (int i = envc; i-- > 0;)
        strs[argc + i] = push_bytes(s, envp[i], strlen(envp[i]) + 1);
    for (int i = argc; i-- > 0;)
        strs[i] = push_bytes(s, argv[i], strlen(argv[i]) + 1);
    uint64_t platform = abi->platform ? push_bytes(s, abi->platform, strlen(abi->platform) + 1) : 0;
    s->sp &= ~15ull;
    uint8_t rnd[16];
    memset(rnd, 0x5a, sizeof rnd);
    vm_clock_random(m, rnd, sizeof rnd);      /* the seeded stream in deterministic mode */
    uint64_t random = push_bytes(s, rnd, sizeof rnd);

    uint64_t aux[][2] = {
        { AT_HWCAP, abi->hwcap }, { AT_PAGESZ, VM_PAGE_SIZE }, { AT_CLKTCK, 100 },
        { AT_PHDR, info->phdr_addr }, { AT_PHENT, info->phent }, { AT_PHNUM, info->phnum },
        { AT_BASE, 0 }, { AT_FLAGS, 0 }, { AT_ENTRY, info->entry },
        { AT_UID, getuid() }, { AT_EUID, geteuid() }, { AT_GID, getgid() }, { AT_EGID, getegid() },
        { AT_SECURE, 0 }, { AT_RANDOM, random }, { AT_EXECFN, execfn },
        { AT_PLATFORM, platform }, { AT_NULL, 0 },
    };
    size_t naux = sizeof aux / sizeof aux[0];
    if (!platform) {                      /* drop AT_PLATFORM, keep AT_NULL last */
        aux[naux - 2][0] = AT_NULL;
        naux--;
    }
    uint64_t words = 1 + (uint64_t)argc + 1 + (uint64_t)envc + 1 + 2 * naux;
    s->sp = (s->sp - words * 8) & ~15ull;
    uint64_t w = s->sp;
    put_word(s, w, (uint64_t)argc); w += 8;
    for (int i = 0; i < argc; i++, w += 8)
        put_word(s, w, strs[i]);
    put_word(s, w, 0); w += 8;
    for (int i = 0; i < envc; i++, w += 8)
        put_word(s, w, strs[argc + i]);
    put_word(s, w, 0); w += 8;
    for (size_t i = 0; i < naux; i++, w += 16) {
        put_word(s, w, aux[i][0]);
        put_word(s, w + 8, aux[i][1]);
    }
    free(strs);
    return 0;
}

static int setup_stack(vm_machine *m, const vm_elf_info *info, const char *path,
                       int argc, char *const argv[], char *const envp[], uint64_t *sp)
{
    int envc = 0;
    while (envp && envp[envc])
        envc++;
    const char *plat = m->isa->linux_abi->platform;
    uint64_t need = stack_need(path, argc, argv, envc, envp, plat);
    if (need > LX_STACK_SIZE / 4)
        return vm_set_error(m, VM_EINVAL, "argument list and environment too large (%llu bytes)",
                            (unsigned long long)need);
    int rc = vm_mem_map(m, LX_STACK_TOP - LX_STACK_SIZE, LX_STACK_SIZE, VM_PROT_R | VM_PROT_W);
    if (rc)
        return vm_set_error(m, rc, "cannot map the stack: %s", vm_machine_error(m));
    stack_img s = { NULL, LX_STACK_TOP, (need + 4 * VM_PAGE_SIZE) & VM_PAGE_MASK, LX_STACK_TOP };
    if (!(s.buf = calloc(1, s.size))) {
        vm_mem_unmap(m, LX_STACK_TOP - LX_STACK_SIZE, LX_STACK_SIZE);
        return vm_set_error(m, VM_ENOMEM, "out of memory");
    }
    rc = build_stack(m, &s, info, path, argc, argv, envc, envp);
    if (rc == 0 && (rc = vm_mem_write(m, s.top - s.size, s.buf, s.size)) != 0)
        vm_set_error(m, rc, "cannot write the initial stack");
    free(s.buf);
    if (rc)
        vm_mem_unmap(m, LX_STACK_TOP - LX_STACK_SIZE, LX_STACK_SIZE);
    *sp = s.sp;
    return rc;
}

static int load_program(vm_machine *m, int dirfd, const char *path, vm_elf_info *info, char **real)
{
    uint8_t *img;
    size_t len;
    int rc = read_file(m, dirfd, path, &img, &len, real);
    if (rc)
        return rc;
    bool interp;
    uint64_t align;
    scan_phdrs(img, len, &interp, &align);
    uint16_t type = len >= 18 ? (uint16_t)(img[16] | img[17] << 8) : 0;
    if (interp && memcmp(img, "\177ELF", 4) == 0) {
        free(img);
        free(*real);
        *real = NULL;
        return vm_set_error(m, VM_ENOTSUP, "%s is dynamically linked (has PT_INTERP); only static programs run in Linux user mode", path);
    }
    uint64_t bias = type == 3 ? (LX_DYN_BASE + align - 1) & ~(align - 1) : 0;
    rc = vm_elf_load(m, img, len, bias, info);
    free(img);
    if (rc) {
        free(*real);
        *real = NULL;
    }
    return rc;
}

int lx_load(vm_machine *m, int dirfd, const char *path, int argc, char *const argv[],
            char *const envp[])
{
    const struct vm_linux_abi *abi = m->isa->linux_abi;
    struct vm_linux_process *p = m->linux;
    vm_elf_info info;
    char *real;
    int rc = load_program(m, dirfd, path, &info, &real);
    if (rc)
        return rc;
    uint64_t sp = 0;
    if ((rc = setup_stack(m, &info, path, argc, argv, envp, &sp)) != 0) {
        lx_unmap_range(m, info.lo & VM_PAGE_MASK, info.brk - (info.lo & VM_PAGE_MASK));
        free(real);
        return rc;
    }
    /* The page signal handlers return to (LX_SIGRETURN_ADDR). */
    rc = vm_mem_map(m, LX_SIGRETURN_ADDR, VM_PAGE_SIZE, VM_PROT_R | VM_PROT_X);
    if (!rc)
        rc = vm_mem_write(m, LX_SIGRETURN_ADDR, abi->sigreturn_code, abi->sigreturn_code_size);
    if (rc) {
        vm_set_error(m, rc, "cannot map the signal return page");
        lx_unmap_range(m, LX_STACK_TOP - LX_STACK_SIZE, LX_TASK_SIZE - (LX_STACK_TOP - LX_STACK_SIZE));
        lx_unmap_range(m, info.lo & VM_PAGE_MASK, info.brk - (info.lo & VM_PAGE_MASK));
        free(real);
        return rc;
    }
    free(p->exe_path);
    p->exe_path = real;
    p->loaded = true;
    p->brk_start = p->brk_cur = p->brk_end = info.brk;
    p->stack_lo = LX_STACK_TOP - LX_STACK_SIZE;
    vm_cpu *c = vm_machine_cpu(m, 0);
    vm_cpu_set_pc(c, info.entry);
    if (abi->enter_user)
        abi->enter_user(c);
    abi->set_sp(c, sp);
    /* Linux starts a static program with a0 = 0 (no rtld_fini); on every
     * ISA we support that register is also the syscall return register. */
    abi->set_ret(c, 0);
    return 0;
}

int vm_linux_exec(vm_machine *m, const char *path, int argc, char *const argv[],
                  char *const envp[])
{
    if (!m || !path || argc < 0 || (argc && !argv))
        return VM_EINVAL;
    for (int i = 0; i < argc; i++)
        if (!argv[i])
            return vm_set_error(m, VM_EINVAL, "argv[%d] is NULL", i);
    if (!m->isa->linux_abi)
        return vm_set_error(m, VM_ENOTSUP, "ISA %s has no Linux user mode", m->isa->name);
    if (m->linux && m->linux->loaded)
        return vm_set_error(m, VM_EINVAL, "the machine already runs a Linux process");
    if (!process_get(m))
        return vm_set_error(m, VM_ENOMEM, "cannot set up the process: %s", strerror(errno));
    return lx_load(m, AT_FDCWD, path, argc, argv, envp);
}

int vm_linux_exit_code(const vm_machine *m)
{
    return m && m->linux ? m->linux->exit_code : -1;
}

void vm_linux_set_verbose(vm_machine *m, bool verbose)
{
    struct vm_linux_process *p = m ? process_get(m) : NULL;
    if (p)
        p->verbose = verbose;
}

void lx_exit(lx_ctx *x, int code)
{
    if (x->p->forked) {
        /* a forked child never frees its machine: blocks it compiled
         * reach the code cache here or not at all */
        vm_machine_code_cache_save(x->m);
        _exit(code);
    }
    x->p->exited = true;
    x->p->exit_code = code;
    vm_cpu_request_exit(x->c, VM_STOP_EXIT);
}
