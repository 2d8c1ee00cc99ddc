/* codemem.h — W^X code memory: one buffer seen through a writable and an
 * executable mapping (same offsets). */
#ifndef VM_CODEMEM_H
#define VM_CODEMEM_H

#include <stddef.h>
#include <stdint.h>

typedef struct vm_codemem {
    uint8_t *rw, *rx;
    size_t size;
} vm_codemem;

int vm_codemem_init(vm_codemem *cm, size_t size);
void vm_codemem_free(vm_codemem *cm);

/* Executable address of a writable one, and back. */
static inline uint8_t *vm_codemem_exec(const vm_codemem *cm, uint8_t *w) { return cm->rx + (w - cm->rw); }
static inline uint8_t *vm_codemem_write(const vm_codemem *cm, uint8_t *x) { return cm->rw + (x - cm->rx); }

#endif
