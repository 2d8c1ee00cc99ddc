/* board.h — the RISC-V `virt` board (board_virt.c): a machine with QEMU's
 * virt memory map, its devices, firmware/kernel loading, and a run thread.
 * The console functions are thread-safe; everything else is called by the
 * owner (the Python binding or the CLI). */
#ifndef VM_BOARD_H
#define VM_BOARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct vm_board_config {
    uint64_t ram_size;           /* bytes, multiple of 2 MiB */
    int smp;                     /* harts, 1..8 */
    const char *firmware;        /* OpenSBI fw_dynamic.bin / fw_jump.bin (required) */
    const char *kernel;          /* RISC-V Linux Image, or NULL */
    const char *initrd;          /* or NULL */
    const char *append;          /* kernel command line, or NULL */
    const char *disk;            /* raw image for virtio-blk, or NULL */
    bool disk_readonly;
    bool rng;                    /* a virtio-rng device */
    bool hvc;                    /* a virtio-console device (/dev/hvc0) */
    bool net;                    /* a virtio-net card on libslirp user networking */
    const char *hostfwd;         /* "tcp:HOSTPORT:GUESTPORT[,...]" for it, or NULL */
} vm_board_config;

typedef struct vm_board vm_board;

enum { VM_BOARD_CREATED, VM_BOARD_RUNNING, VM_BOARD_POWEROFF, VM_BOARD_REBOOT,
       VM_BOARD_STOPPED, VM_BOARD_ERROR };

/* Builds the board; NULL with a message in err on failure. */
vm_board *vm_board_new(const vm_board_config *cfg, char *err, size_t errlen);
void vm_board_free(vm_board *b);
struct vm_machine *vm_board_machine(vm_board *b);
/* The machine when no run thread uses it (for snapshots), else NULL. */
struct vm_machine *vm_board_idle_machine(vm_board *b);
/* Runs count instructions (all harts) on the calling thread, for at most
 * timeout seconds if timeout > 0; the board must not be started.  Returns
 * the state afterwards (VM_BOARD_STOPPED when the count or the time ran
 * out), -1 if it could not run. */
int vm_board_run_count(vm_board *b, uint64_t count, double timeout);

int vm_board_start(vm_board *b);             /* starts the run thread */
void vm_board_stop(vm_board *b);             /* stops it and waits (idempotent) */
/* Waits up to timeout seconds (<0: forever) for the guest to stop; returns
 * the state (VM_BOARD_*). */
int vm_board_wait(vm_board *b, double timeout);
int vm_board_state(vm_board *b);
int vm_board_exit_code(vm_board *b);         /* poweroff: 0; test finisher fail: its code */
const char *vm_board_error(vm_board *b);

/* Console (the UART): bytes the guest wrote, and bytes for the guest. */
size_t vm_board_console_read(vm_board *b, uint8_t *buf, size_t max, double timeout);
void vm_board_console_write(vm_board *b, const uint8_t *buf, size_t n);
/* Console input record/replay: recording stamps every byte that enters
 * the UART with the instruction count (all harts) at that moment; pop
 * drains the record (entry length, or -1 when empty).  Replay ignores live
 * input and feeds the added entries at their counts (in deterministic mode
 * the run slices end exactly there). */
int vm_board_input_record(vm_board *b, bool on);
long vm_board_input_pop(vm_board *b, uint64_t *at, uint8_t *buf, size_t max);
int vm_board_input_replay(vm_board *b, bool on);
int vm_board_input_replay_add(vm_board *b, uint64_t at, const uint8_t *data, size_t n);
size_t vm_board_input_replay_left(vm_board *b);
/* Also copy console output to a file descriptor as it comes (-1: off). */
void vm_board_set_echo_fd(vm_board *b, int fd);

/* The virtio console (cfg.hvc), a second byte stream: 0 bytes without it.
 * write returns how many bytes were queued for the guest. */
size_t vm_board_hvc_read(vm_board *b, uint8_t *buf, size_t max, double timeout);
size_t vm_board_hvc_write(vm_board *b, const uint8_t *buf, size_t n);

#endif
