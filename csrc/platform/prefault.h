/* prefault.h — a helper thread that faults in buffer memory ahead of the
 * thread writing it (see prefault.c for why).
 *
 * A job covers up to VM_PREFAULT_MAX_RANGES buffers filled in step, each of
 * cap bytes and itemsize bytes per entry; vm_prefault_upto(n) asks for the
 * first n entries of every buffer.  All calls accept NULL (no helper: the
 * writer faults its own pages), so callers need no fallback path.
 * vm_prefault_stop() must run before the buffers are unmapped. */
#ifndef VMPY_PLATFORM_PREFAULT_H
#define VMPY_PLATFORM_PREFAULT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VM_PREFAULT_MAX_RANGES 5

typedef struct vm_prefault vm_prefault;

vm_prefault *vm_prefault_start(void);
void vm_prefault_add(vm_prefault *pf, void *base, size_t itemsize, size_t cap);
void vm_prefault_upto(vm_prefault *pf, uint64_t entries);
void vm_prefault_stop(vm_prefault *pf);

#endif
