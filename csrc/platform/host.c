/* host.c — the host OS layer: guest RAM and clocks. */
#include "core/machine.h"
#include <sys/mman.h>
#include <time.h>

/* Guest RAM is anonymous, private, zero-filled host memory.  MAP_NORESERVE:
 * a 4 GiB guest costs nothing until touched.  Untouched pages read as zero,
 * which the snapshot code relies on to skip them. */
void *vm_host_alloc_ram(uint64_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void vm_host_free_ram(void *p, uint64_t size)
{
    if (p && size)
        munmap(p, size);
}

uint64_t vm_host_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
