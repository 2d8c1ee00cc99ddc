/* goldfish_rtc.c — the Goldfish real-time clock: nanoseconds since the
 * epoch from the board's clock (the machine's guest wall clock, so that
 * deterministic mode reaches the RTC too; the host's without one), and a
 * one-shot alarm. */
#include "devices.h"
#include "devstate.h"
#include <stdlib.h>
#include <time.h>

enum {
    TIME_LOW = 0x00, TIME_HIGH = 0x04, ALARM_LOW = 0x08, ALARM_HIGH = 0x0c,
    IRQ_ENABLED = 0x10, CLEAR_ALARM = 0x14, ALARM_STATUS = 0x18, CLEAR_INTERRUPT = 0x1c,
};

struct goldfish_rtc {
    vm_irq_line irq;
    uint64_t (*now)(void *ctx);
    void *now_ctx;
    uint32_t time_high;          /* latched by reading TIME_LOW */
    uint64_t alarm;
    uint32_t alarm_high;
    bool irq_enabled, alarm_armed, irq_pending;
};

static uint64_t wall_ns(goldfish_rtc *r)
{
    if (r->now)
        return r->now(r->now_ctx);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

goldfish_rtc *goldfish_rtc_new(vm_irq_line irq, uint64_t (*now)(void *ctx), void *now_ctx)
{
    goldfish_rtc *r = calloc(1, sizeof *r);
    if (r) {
        r->irq = irq;
        r->now = now;
        r->now_ctx = now_ctx;
    }
    return r;
}

void goldfish_rtc_free(void *r) { free(r); }

static void update(goldfish_rtc *r)
{
    vm_irq_set(&r->irq, r->irq_enabled && r->irq_pending);
}

void goldfish_rtc_poll(goldfish_rtc *r)
{
    if (r->alarm_armed && wall_ns(r) >= r->alarm) {
        r->alarm_armed = false;
        r->irq_pending = true;
        update(r);
    }
}

uint64_t goldfish_rtc_read(void *p, uint64_t off, unsigned size)
{
    goldfish_rtc *r = p;
    switch (off) {
    case TIME_LOW: {
        uint64_t t = wall_ns(r);
        r->time_high = (uint32_t)(t >> 32);
        return (uint32_t)t;
    }
    case TIME_HIGH: return r->time_high;
    case ALARM_LOW: return (uint32_t)r->alarm;
    case ALARM_HIGH: return (uint32_t)(r->alarm >> 32);
    case IRQ_ENABLED: return r->irq_enabled;
    case ALARM_STATUS: return r->alarm_armed;
    default: return 0;
    }
}

void goldfish_rtc_write(void *p, uint64_t off, unsigned size, uint64_t val)
{
    goldfish_rtc *r = p;
    switch (off) {
    case ALARM_HIGH: r->alarm_high = (uint32_t)val; break;
    case ALARM_LOW:              /* writing the low half arms the alarm */
        r->alarm = ((uint64_t)r->alarm_high << 32) | (uint32_t)val;
        r->alarm_armed = true;
        goldfish_rtc_poll(r);
        break;
    case IRQ_ENABLED: r->irq_enabled = val & 1; update(r); break;
    case CLEAR_ALARM: r->alarm_armed = false; break;
    case CLEAR_INTERRUPT: r->irq_pending = false; update(r); break;
    default: break;
    }
}

bool goldfish_rtc_alarm(const goldfish_rtc *r, uint64_t *when_ns)
{
    if (!r->alarm_armed)
        return false;
    *when_ns = r->alarm;
    return true;
}

/* ---- snapshot section (version 1) ---------------------------------------- */

int goldfish_rtc_save(void *p, uint8_t **data, size_t *len)
{
    const goldfish_rtc *r = p;
    ds_writer w = { 0 };
    ds_put(&w, 1, 4);
    ds_put(&w, r->time_high, 4);
    ds_put(&w, r->alarm, 8);
    ds_put(&w, r->alarm_high, 4);
    ds_put(&w, (uint64_t)r->irq_enabled | (uint64_t)r->alarm_armed << 1 | (uint64_t)r->irq_pending << 2, 1);
    return ds_finish(&w, data, len);
}

static bool parse(goldfish_rtc *r, const uint8_t *data, size_t len)
{
    ds_reader rd = ds_open(data, len);
    if (ds_get(&rd, 4) != 1)
        return false;
    r->time_high = (uint32_t)ds_get(&rd, 4);
    r->alarm = ds_get(&rd, 8);
    r->alarm_high = (uint32_t)ds_get(&rd, 4);
    uint64_t flags = ds_get(&rd, 1);
    r->irq_enabled = flags & 1;
    r->alarm_armed = (flags >> 1) & 1;
    r->irq_pending = (flags >> 2) & 1;
    return flags < 8 && ds_done(&rd);
}

int goldfish_rtc_check(void *p, const uint8_t *data, size_t len)
{
    goldfish_rtc tmp = *(goldfish_rtc *)p;
    return parse(&tmp, data, len) ? 0 : -1;
}

void goldfish_rtc_load(void *p, const uint8_t *data, size_t len)
{
    goldfish_rtc *r = p, tmp = *r;
    if (parse(&tmp, data, len))
        *r = tmp;
}
