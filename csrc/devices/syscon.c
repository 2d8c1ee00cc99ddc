/* syscon.c — the SiFive test finisher that QEMU's virt board exposes as a
 * syscon: a 32-bit write of 0x5555 powers off, 0x7777 reboots,
 * (code << 16) | 0x3333 powers off with a failure code. */
#include "devices.h"
#include "devstate.h"
#include <stdlib.h>

struct syscon {
    void (*power)(void *ctx, int what, int code);
    void *ctx;
};

syscon *syscon_new(void (*power)(void *ctx, int what, int code), void *ctx)
{
    syscon *s = calloc(1, sizeof *s);
    if (s) {
        s->power = power;
        s->ctx = ctx;
    }
    return s;
}

void syscon_free(void *s) { free(s); }

uint64_t syscon_read(void *s, uint64_t off, unsigned size) { return 0; }

void syscon_write(void *p, uint64_t off, unsigned size, uint64_t val)
{
    syscon *s = p;
    if (off != 0)
        return;
    switch (val & 0xffff) {
    case 0x5555: s->power(s->ctx, SYSCON_POWEROFF, 0); break;
    case 0x7777: s->power(s->ctx, SYSCON_REBOOT, 0); break;
    case 0x3333: s->power(s->ctx, SYSCON_FAIL, (int)((val >> 16) & 0xffff)); break;
    default: break;
    }
}

/* ---- snapshot section (version 1): no state, but a section all the same so
 * that a snapshot and a machine that disagree about the device are told. */

int syscon_save(void *s, uint8_t **data, size_t *len)
{
    ds_writer w = { 0 };
    ds_put(&w, 1, 4);
    return ds_finish(&w, data, len);
}

int syscon_check(void *s, const uint8_t *data, size_t len)
{
    ds_reader r = ds_open(data, len);
    return ds_get(&r, 4) == 1 && ds_done(&r) ? 0 : -1;
}

void syscon_load(void *s, const uint8_t *data, size_t len) {}
