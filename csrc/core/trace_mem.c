/* trace_mem.c — memory for trace streams: address space reserved at full
 * size (so a stream never moves), huge pages for big streams, and a small
 * cache of released streams.
 *
 * Why the cache: fresh anonymous memory is zeroed by the kernel on first
 * touch, and for a pc trace that zeroing costs about as much as running the
 * guest (8 bytes per instruction).  A stream only ever exposes entries it
 * has written, so memory from a closed trace can back the next one as is.
 * The cache keeps at most CACHE_BYTES of released streams; the rest are
 * unmapped. */
#include "trace.h"
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

#define HUGE ((size_t)2 << 20)
#define CACHE_SLOTS 8
#define CACHE_BYTES ((size_t)256 << 20)

typedef struct { void *map, *data; size_t bytes, usable; } mapping;

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static mapping cache[CACHE_SLOTS];
static size_t cached_bytes;

/* A cached mapping with room for need bytes, not wastefully big. */
static bool from_cache(size_t need, mapping *out)
{
    bool found = false;
    pthread_mutex_lock(&cache_lock);
    for (int i = 0; i < CACHE_SLOTS; i++) {
        mapping *c = &cache[i];
        if (c->map && c->usable >= need && c->usable / 4 <= need) {
            *out = *c;
            cached_bytes -= c->bytes;
            memset(c, 0, sizeof *c);
            found = true;
            break;
        }
    }
    pthread_mutex_unlock(&cache_lock);
    return found;
}

void *vm_trace_mem_get(size_t need, void **map, size_t *bytes)
{
    mapping mp;
    if (from_cache(need, &mp)) {
        *map = mp.map;
        *bytes = mp.bytes;
        return mp.data;
    }
    bool huge = need >= HUGE;
    size_t len = huge ? ((need + HUGE - 1) & ~(HUGE - 1)) + HUGE
                      : (need + VM_PAGE_SIZE - 1) & ~(size_t)(VM_PAGE_SIZE - 1);
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    void *data = p;
    if (huge) {
        data = (void *)(((uintptr_t)p + HUGE - 1) & ~(uintptr_t)(HUGE - 1));
        madvise(data, len - HUGE, MADV_HUGEPAGE);   /* advice only: failure is fine */
    }
    *map = p;
    *bytes = len;
    return data;
}

void vm_trace_mem_put(void *map, void *data, size_t bytes)
{
    if (!map)
        return;
    size_t usable = bytes - (size_t)((char *)data - (char *)map);
    pthread_mutex_lock(&cache_lock);
    if (cached_bytes + bytes <= CACHE_BYTES) {
        for (int i = 0; i < CACHE_SLOTS; i++)
            if (!cache[i].map) {
                cache[i] = (mapping){ map, data, bytes, usable };
                cached_bytes += bytes;
                map = NULL;
                break;
            }
    }
    pthread_mutex_unlock(&cache_lock);
    if (map)
        munmap(map, bytes);
}
