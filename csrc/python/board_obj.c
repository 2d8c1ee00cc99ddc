/* board_obj.c — Python access to the `virt` board.
 *
 * A flat C interface that vmpy/boards.py calls through ctypes: ctypes drops
 * the GIL around every call, so the blocking ones (wait, console read) let
 * other Python threads run, and the board's own run thread never needs the
 * GIL at all.  Handles are opaque pointers; every function tolerates NULL. */
#include "core/vm.h"
#include "devices/board.h"
#include "devices/virtio.h"
#include <pthread.h>
#include <string.h>

#define API __attribute__((visibility("default")))

/* The live boards, so that the snapshot functions of the binding, which get
 * a handle as a Python int, never follow a stale or made-up pointer. */
#define MAX_LIVE 256
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static vm_board *live[MAX_LIVE];

static void live_set(vm_board *old, vm_board *new)
{
    pthread_mutex_lock(&live_lock);
    for (int i = 0; i < MAX_LIVE; i++)
        if (live[i] == old) {
            live[i] = new;
            break;
        }
    pthread_mutex_unlock(&live_lock);
}

/* The board's machine if handle is a live board with no run thread. */
vm_machine *vmpy_board_idle_machine(uintptr_t handle, int *live_out)
{
    vm_machine *m = NULL;
    *live_out = 0;
    pthread_mutex_lock(&live_lock);
    for (int i = 0; handle && i < MAX_LIVE; i++)
        if ((uintptr_t)live[i] == handle) {
            *live_out = 1;
            m = vm_board_idle_machine(live[i]);
            break;
        }
    pthread_mutex_unlock(&live_lock);
    return m;
}

API vm_board *vmpy_board_new(uint64_t ram, int smp, const char *firmware, const char *kernel,
                             const char *initrd, const char *append, const char *disk,
                             int disk_readonly, int rng, int hvc, int net, const char *hostfwd,
                             char *err, size_t errlen)
{
    vm_board_config cfg = {
        .ram_size = ram, .smp = smp, .firmware = firmware, .kernel = kernel, .initrd = initrd,
        .append = append, .disk = disk, .disk_readonly = disk_readonly != 0, .rng = rng != 0,
        .hvc = hvc != 0, .net = net != 0, .hostfwd = hostfwd,
    };
    if (err && errlen)
        err[0] = 0;
    vm_board *b = vm_board_new(&cfg, err, errlen);
    if (b)
        live_set(NULL, b);      /* a full table only costs snapshot support */
    return b;
}

/* Was vmpy built with libslirp (virtio-net)? */
API int vmpy_board_net_available(void) { return virtio_net_available(); }

API void vmpy_board_free(vm_board *b)
{
    if (b)
        live_set(b, NULL);
    vm_board_free(b);
}

API int vmpy_board_run(vm_board *b, uint64_t count, double timeout)
{
    return b ? vm_board_run_count(b, count, timeout) : -1;
}
API int vmpy_board_start(vm_board *b) { return b ? vm_board_start(b) : -1; }
API void vmpy_board_stop(vm_board *b) { if (b) vm_board_stop(b); }
API int vmpy_board_wait(vm_board *b, double timeout) { return b ? vm_board_wait(b, timeout) : -1; }
API int vmpy_board_state(vm_board *b) { return b ? vm_board_state(b) : -1; }
API int vmpy_board_exit_code(vm_board *b) { return b ? vm_board_exit_code(b) : -1; }
API const char *vmpy_board_error(vm_board *b) { return b ? vm_board_error(b) : ""; }

API size_t vmpy_board_console_read(vm_board *b, uint8_t *buf, size_t max, double timeout)
{
    return b && buf ? vm_board_console_read(b, buf, max, timeout) : 0;
}

API void vmpy_board_console_write(vm_board *b, const uint8_t *buf, size_t n)
{
    if (b && buf)
        vm_board_console_write(b, buf, n);
}

API size_t vmpy_board_hvc_read(vm_board *b, uint8_t *buf, size_t max, double timeout)
{
    return b && buf ? vm_board_hvc_read(b, buf, max, timeout) : 0;
}

API size_t vmpy_board_hvc_write(vm_board *b, const uint8_t *buf, size_t n)
{
    return b && buf ? vm_board_hvc_write(b, buf, n) : 0;
}

API void vmpy_board_set_echo_fd(vm_board *b, int fd) { if (b) vm_board_set_echo_fd(b, fd); }

/* Instructions retired by all harts (for benchmarks). */
API uint64_t vmpy_board_icount(vm_board *b)
{
    if (!b)
        return 0;
    vm_machine *m = vm_board_machine(b);
    uint64_t n = 0;
    for (int i = 0; i < vm_machine_ncpus(m); i++)
        n += vm_cpu_icount(vm_machine_cpu(m, i));
    return n;
}

/* The JIT's code cache (set before start) and counters: the names, comma
 * separated, and the values in that order (returns how many). */
API int vmpy_board_set_code_cache(vm_board *b, const char *dir)
{
    return b ? vm_machine_set_code_cache(vm_board_machine(b), dir) : -1;
}

API const char *vmpy_jit_stats_names(void)
{
#define NAME(n, doc) #n ","
    return VM_JIT_STATS(NAME);
#undef NAME
}

API int vmpy_board_jit_stats(vm_board *b, uint64_t *out, int n)
{
    vm_jit_stats s;
    if (!b || vm_machine_jit_stats(vm_board_machine(b), &s))
        return 0;
    int have = (int)(sizeof s / sizeof(uint64_t));
    if (n > have)
        n = have;
    memcpy(out, &s, (size_t)n * sizeof(uint64_t));
    return n;
}

/* Console input record/replay (vmpy/console.py). */
API int vmpy_board_input_record(vm_board *b, int on) { return b ? vm_board_input_record(b, on != 0) : -1; }
API long vmpy_board_input_pop(vm_board *b, uint64_t *at, uint8_t *buf, size_t max)
{
    return b && at && buf ? vm_board_input_pop(b, at, buf, max) : -1;
}
API int vmpy_board_input_replay(vm_board *b, int on) { return b ? vm_board_input_replay(b, on != 0) : -1; }
API int vmpy_board_input_replay_add(vm_board *b, uint64_t at, const uint8_t *data, size_t n)
{
    return b && data ? vm_board_input_replay_add(b, at, data, n) : -1;
}
API size_t vmpy_board_input_replay_left(vm_board *b) { return b ? vm_board_input_replay_left(b) : 0; }
