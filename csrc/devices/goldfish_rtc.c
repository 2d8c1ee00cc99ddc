/* goldfish_rtc.c — the Goldfish real-time clock: nanoseconds since the
 * epoch from the host's wall clock, and a one-shot alarm. */
#include "devices.h"
#include <stdlib.h>
#include <time.h>

enum {
    TIME_LOW = 0x00, TIME_HIGH = 0x04, ALARM_LOW = 0x08, ALARM_HIGH = 0x0c,
    IRQ_ENABLED = 0x10, CLEAR_ALARM = 0x14, ALARM_STATUS = 0x18, CLEAR_INTERRUPT = 0x1c,
};

struct goldfish_rtc {
    vm_irq_line irq;
    uint32_t time_high;          /* latched by reading TIME_LOW */
    uint64_t alarm;
    uint32_t alarm_high;
    bool irq_enabled, alarm_armed, irq_pending;
};

static uint64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

goldfish_rtc *goldfish_rtc_new(vm_irq_line irq)
{
    goldfish_rtc *r = calloc(1, sizeof *r);
    if (r)
        r->irq = irq;
    return r;
}

void goldfish_rtc_free(void *r) { free(r); }

static void update(goldfish_rtc *r)
{
    vm_irq_set(&r->irq, r->irq_enabled && r->irq_pending);
}

void goldfish_rtc_poll(goldfish_rtc *r)
{
    if (r->alarm_armed && wall_ns() >= r->alarm) {
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
        uint64_t t = wall_ns();
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
