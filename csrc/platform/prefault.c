/* prefault.c — fault in a growing buffer ahead of its writer, on another
 * thread.
 *
 * Why: the first touch of fresh anonymous memory costs a page fault and the
 * kernel's zeroing of the page.  A PC trace writes 8 bytes per guest
 * instruction, about 3 GB/s from the interpreter, and on these machines
 * first touch runs at 1.3 GB/s (4 KiB pages) to 5 GB/s (huge pages): paid
 * inline, it makes the first trace of a process several times slower than
 * the ones after it.  MADV_POPULATE_WRITE (Linux 5.14) faults pages in
 * without writing them, so a helper thread can do it while the writer runs
 * and the writer finds its pages ready.  The writer never waits for the
 * helper: if it overtakes, it faults its own pages as before.
 *
 * Ranges are advised, not written, so a helper racing with the writer (or
 * arriving late) can never change data.  On kernels without the advice the
 * helper notices once and stops. */
#include "prefault.h"
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define CHUNK ((size_t)2 << 20)   /* one huge page per call: stop requests are seen often */

struct vm_prefault {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
    pid_t owner;                  /* a forked child has no helper thread to join */
    int nranges;
    struct range { char *base; size_t item, cap, done; } range[VM_PREFAULT_MAX_RANGES];
    uint64_t target;              /* entries the writer asked for */
    bool stop;
};

static bool populate(char *p, size_t len)
{
    return madvise(p, len, MADV_POPULATE_WRITE) == 0 || errno != EINVAL;
}

/* The next chunk below target, or false if every range is there. */
static bool next_chunk(vm_prefault *pf, int *r, char **p, size_t *len)
{
    for (int i = 0; i < pf->nranges; i++) {
        size_t want = pf->target * pf->range[i].item;
        if (want > pf->range[i].cap)
            want = pf->range[i].cap;
        if (pf->range[i].done < want) {
            size_t n = want - pf->range[i].done;
            *r = i;
            *p = pf->range[i].base + pf->range[i].done;
            *len = n < CHUNK ? n : CHUNK;
            return true;
        }
    }
    return false;
}

static void *helper(void *arg)
{
    vm_prefault *pf = arg;
    pthread_mutex_lock(&pf->lock);
    while (!pf->stop) {
        int r;
        char *p;
        size_t len;
        if (!next_chunk(pf, &r, &p, &len)) {
            pthread_cond_wait(&pf->wake, &pf->lock);
            continue;
        }
        pthread_mutex_unlock(&pf->lock);
        bool ok = populate(p, len);
        pthread_mutex_lock(&pf->lock);
        if (!ok)
            break;               /* no MADV_POPULATE_WRITE here: the writer faults alone */
        pf->range[r].done += len;
    }
    pthread_mutex_unlock(&pf->lock);
    return NULL;
}

vm_prefault *vm_prefault_start(void)
{
    vm_prefault *pf = calloc(1, sizeof *pf);
    if (!pf)
        return NULL;
    pthread_mutex_init(&pf->lock, NULL);
    pthread_cond_init(&pf->wake, NULL);
    pf->owner = getpid();
    if (pthread_create(&pf->thread, NULL, helper, pf)) {
        pthread_cond_destroy(&pf->wake);
        pthread_mutex_destroy(&pf->lock);
        free(pf);
        return NULL;             /* no helper: writers fault their own pages */
    }
    return pf;
}

void vm_prefault_add(vm_prefault *pf, void *base, size_t itemsize, size_t cap)
{
    if (!pf || pf->nranges == VM_PREFAULT_MAX_RANGES)
        return;
    pthread_mutex_lock(&pf->lock);
    pf->range[pf->nranges++] = (struct range){ base, itemsize, cap, 0 };
    pthread_mutex_unlock(&pf->lock);
}

void vm_prefault_upto(vm_prefault *pf, uint64_t entries)
{
    if (!pf)
        return;
    pthread_mutex_lock(&pf->lock);
    if (entries > pf->target) {
        pf->target = entries;
        pthread_cond_signal(&pf->wake);
    }
    pthread_mutex_unlock(&pf->lock);
}

void vm_prefault_stop(vm_prefault *pf)
{
    if (!pf)
        return;
    if (pf->owner != getpid()) {
        free(pf);                /* fork: the helper lives in the parent only */
        return;
    }
    pthread_mutex_lock(&pf->lock);
    pf->stop = true;
    pthread_cond_signal(&pf->wake);
    pthread_mutex_unlock(&pf->lock);
    pthread_join(pf->thread, NULL);   /* at most one chunk in flight */
    pthread_cond_destroy(&pf->wake);
    pthread_mutex_destroy(&pf->lock);
    free(pf);
}
