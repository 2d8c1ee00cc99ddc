/* codemem.c — W^X memory for generated code.
 *
 * One memfd mapped twice: a writable view the JIT writes and patches through,
 * and an executable view the host runs.  No page is ever writable and
 * executable at the same address, and patching a chained jump needs no
 * mprotect system call. */
#include "codemem.h"

#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int vm_codemem_init(vm_codemem *cm, size_t size)
{
    cm->size = size;
    cm->rw = cm->rx = NULL;
    int fd = memfd_create("vmpy-jit", MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    if (ftruncate(fd, (off_t)size) != 0) {
        close(fd);
        return -1;
    }
    void *rw = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    void *rx = rw == MAP_FAILED ? MAP_FAILED : mmap(NULL, size, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
    close(fd);      /* the mappings keep the memory */
    if (rx == MAP_FAILED) {
        if (rw != MAP_FAILED)
            munmap(rw, size);
        return -1;
    }
    cm->rw = rw;
    cm->rx = rx;
    return 0;
}

void vm_codemem_free(vm_codemem *cm)
{
    if (cm->rw) {
        munmap(cm->rw, cm->size);
        munmap(cm->rx, cm->size);
    }
    cm->rw = cm->rx = NULL;
}
