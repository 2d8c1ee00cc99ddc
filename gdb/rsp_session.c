/* rsp_session.c — the session object: packet framing on input (a byte-wise
 * state machine, so any fragmentation works), acks, and framing/escaping
 * of replies on output. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE   /* PTHREAD_MUTEX_RECURSIVE */
#endif
#include <stdlib.h>
#include <string.h>
#include "rsp_internal.h"

static const char hexdig[] = "0123456789abcdef";

gdb_session *gdb_session_new(const gdb_target_ops *ops, void *target,
                             gdb_write_fn write, void *write_ctx)
{
    pthread_mutexattr_t attr;
    gdb_session *s;

    if (!ops || !write)
        return NULL;
    s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->ops = ops;
    s->t = target;
    s->write = write;
    s->write_ctx = write_ctx;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    if (pthread_mutex_init(&s->lock, &attr) != 0) {
        pthread_mutexattr_destroy(&attr);
        free(s);
        return NULL;
    }
    pthread_mutexattr_destroy(&attr);
    s->state = GDB_SESSION_STOPPED;
    s->last_stop.kind = GDB_STOP_SIGNAL;
    s->last_stop.signal = GDB_SIGNAL_TRAP;
    s->first_tid = 1;
    return s;
}

void gdb_session_free(gdb_session *s)
{
    if (!s)
        return;
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* ---- output ------------------------------------------------------------ */

static void link_write(gdb_session *s, const void *data, size_t len)
{
    if (s->state == GDB_SESSION_CLOSED)
        return;
    if (s->write(s->write_ctx, data, len) < 0)
        s->state = GDB_SESSION_CLOSED;
}

void rsp_out_reset(gdb_session *s)
{
    s->out_len = 0;
    s->out_overflow = false;
}

void rsp_out_raw(gdb_session *s, const void *data, size_t len)
{
    if (len > sizeof s->out - s->out_len) {
        s->out_overflow = true;      /* callers size replies; never expected */
        len = sizeof s->out - s->out_len;
    }
    memcpy(s->out + s->out_len, data, len);
    s->out_len += len;
}

void rsp_out_str(gdb_session *s, const char *str)
{
    rsp_out_raw(s, str, strlen(str));
}

void rsp_out_byte(gdb_session *s, unsigned v)
{
    char h[2] = { hexdig[(v >> 4) & 15], hexdig[v & 15] };
    rsp_out_raw(s, h, 2);
}

void rsp_out_hex(gdb_session *s, const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++)
        rsp_out_byte(s, data[i]);
}

void rsp_out_hexnum(gdb_session *s, uint64_t v)
{
    char buf[16];
    int n = 0;

    do {
        buf[n++] = hexdig[v & 15];
        v >>= 4;
    } while (v);
    while (n)
        rsp_out_raw(s, &buf[--n], 1);
}

/* Frames out[] as $payload#cs, escaping the four characters gdb treats
 * specially ($ # } and * which would read as run-length encoding). */
void rsp_out_send(gdb_session *s)
{
    size_t n = 0;
    uint8_t sum = 0;

    s->tx[n++] = '$';
    for (size_t i = 0; i < s->out_len; i++) {
        uint8_t c = (uint8_t)s->out[i];
        if (c == '$' || c == '#' || c == '}' || c == '*') {
            s->tx[n++] = '}';
            sum += '}';
            c ^= 0x20;
        }
        s->tx[n++] = (char)c;
        sum += c;
    }
    s->tx[n++] = '#';
    s->tx[n++] = hexdig[sum >> 4];
    s->tx[n++] = hexdig[sum & 15];
    s->tx_len = n;
    s->retransmits = 0;
    link_write(s, s->tx, n);
}

void rsp_reply(gdb_session *s, const char *str)
{
    rsp_out_reset(s);
    rsp_out_str(s, str);
    rsp_out_send(s);
}

void rsp_reply_error(gdb_session *s, int code)
{
    rsp_out_reset(s);
    rsp_out_raw(s, "E", 1);
    rsp_out_byte(s, (unsigned)code & 0xff);
    rsp_out_send(s);
}

/* ---- input ------------------------------------------------------------- */

static void ack(gdb_session *s, char c)
{
    if (!s->noack)
        link_write(s, &c, 1);
}

static void packet_done(gdb_session *s)
{
    s->packets++;
    if (s->state != GDB_SESSION_STOPPED)
        return;                 /* all-stop: gdb only sends ^C while running */
    if (s->rx_overflow) {
        rsp_reply_error(s, 0x01);
        return;
    }
    s->rx[s->rx_len] = '\0';
    rsp_dispatch(s, s->rx, s->rx_len);
}

/* A byte outside a packet: acks, Ctrl-C, or noise between packets. */
static void idle_byte(gdb_session *s, uint8_t c)
{
    switch (c) {
    case '$':
        s->rx_state = RX_DATA;
        s->rx_len = 0;
        s->rx_sum = 0;
        s->rx_overflow = false;
        break;
    case '-':
        if (!s->noack && s->tx_len && s->retransmits < RSP_MAX_RETRANSMIT) {
            s->retransmits++;
            link_write(s, s->tx, s->tx_len);
        }
        break;
    case 0x03:
        if (s->state == GDB_SESSION_RUNNING && s->ops->interrupt)
            s->ops->interrupt(s->t);
        break;
    default:
        break;                  /* '+' and garbage */
    }
}

static void feed_byte(gdb_session *s, uint8_t c)
{
    int d;

    /* While the target runs gdb sends nothing but Ctrl-C, so a 0x03 is
     * an interrupt even if noise left the receiver inside a packet. */
    if (c == 0x03 && s->state == GDB_SESSION_RUNNING) {
        s->rx_state = RX_IDLE;
        idle_byte(s, c);
        return;
    }
    switch (s->rx_state) {
    case RX_IDLE:
        idle_byte(s, c);
        break;
    case RX_DATA:
        if (c == '#') {
            s->rx_state = RX_CSUM1;
        } else if (c == '$') {      /* the previous packet was truncated */
            s->rx_len = 0;
            s->rx_sum = 0;
            s->rx_overflow = false;
        } else {
            s->rx_sum += c;
            if (s->rx_len < GDB_PACKET_MAX)
                s->rx[s->rx_len++] = (char)c;
            else
                s->rx_overflow = true;
        }
        break;
    case RX_CSUM1:
        d = rsp_hexval(c);
        s->rx_state = d < 0 ? RX_IDLE : RX_CSUM2;
        s->rx_csum_hi = d;
        if (d < 0) {
            ack(s, '-');
            if (c == '$')
                idle_byte(s, c);
        }
        break;
    case RX_CSUM2:
        d = rsp_hexval(c);
        s->rx_state = RX_IDLE;
        if (d < 0 || (uint8_t)(s->rx_csum_hi << 4 | d) != s->rx_sum) {
            ack(s, '-');
            if (c == '$')
                idle_byte(s, c);
            break;
        }
        ack(s, '+');
        packet_done(s);
        break;
    }
}

void gdb_session_feed(gdb_session *s, const void *data, size_t len)
{
    const uint8_t *p = data;

    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < len; i++) {
        if (s->state >= GDB_SESSION_DETACHED)
            break;
        feed_byte(s, p[i]);
    }
    pthread_mutex_unlock(&s->lock);
}

/* ---- stops --------------------------------------------------------------- */

void rsp_format_stop(gdb_session *s, const gdb_stop *st)
{
    int sig = st->signal ? st->signal : GDB_SIGNAL_TRAP;
    int tid = st->thread > 0 ? st->thread : s->first_tid;

    rsp_out_reset(s);
    if (st->kind == GDB_STOP_EXITED || st->kind == GDB_STOP_TERMINATED) {
        rsp_out_raw(s, st->kind == GDB_STOP_EXITED ? "W" : "X", 1);
        rsp_out_byte(s, (unsigned)(st->kind == GDB_STOP_EXITED ? st->code : st->signal));
        return;
    }
    if (st->kind == GDB_STOP_SIGNAL)
        sig = st->signal;
    rsp_out_raw(s, "T", 1);
    rsp_out_byte(s, (unsigned)sig);
    rsp_out_str(s, "thread:");
    rsp_out_hexnum(s, (uint64_t)tid);
    rsp_out_raw(s, ";", 1);
    switch (st->kind) {
    case GDB_STOP_SWBREAK:
        if (s->gdb_swbreak)      /* only if gdb announced it understands it */
            rsp_out_str(s, "swbreak:;");
        break;
    case GDB_STOP_HWBREAK:
        if (s->gdb_hwbreak)
            rsp_out_str(s, "hwbreak:;");
        break;
    case GDB_STOP_WATCH:
    case GDB_STOP_RWATCH:
    case GDB_STOP_AWATCH:
        rsp_out_str(s, st->kind == GDB_STOP_WATCH ? "watch:" :
                       st->kind == GDB_STOP_RWATCH ? "rwatch:" : "awatch:");
        rsp_out_hexnum(s, st->addr);
        rsp_out_raw(s, ";", 1);
        break;
    default:
        break;
    }
}

void gdb_session_report_stop(gdb_session *s, const gdb_stop *stop)
{
    bool final;

    if (!s || !stop)
        return;
    final = stop->kind == GDB_STOP_EXITED || stop->kind == GDB_STOP_TERMINATED;
    pthread_mutex_lock(&s->lock);
    if (s->state == GDB_SESSION_RUNNING) {
        s->last_stop = *stop;
        s->state = GDB_SESSION_STOPPED;
        if (stop->thread > 0) {      /* gdb now looks at the stopping thread */
            s->g_thread = stop->thread;
            s->c_thread = stop->thread;
        }
        rsp_format_stop(s, stop);
        rsp_out_send(s);
    } else if (s->state == GDB_SESSION_STOPPED && final) {
        s->last_stop = *stop;
    }
    pthread_mutex_unlock(&s->lock);
}

gdb_session_state gdb_session_state_get(gdb_session *s)
{
    gdb_session_state st;

    pthread_mutex_lock(&s->lock);
    st = s->state;
    pthread_mutex_unlock(&s->lock);
    return st;
}

void gdb_session_disconnect(gdb_session *s)
{
    pthread_mutex_lock(&s->lock);
    if (s->state == GDB_SESSION_RUNNING && s->ops->interrupt)
        s->ops->interrupt(s->t);
    if (s->state < GDB_SESSION_DETACHED)
        s->state = GDB_SESSION_CLOSED;
    pthread_mutex_unlock(&s->lock);
}

unsigned long gdb_session_packets(gdb_session *s)
{
    unsigned long n;

    pthread_mutex_lock(&s->lock);
    n = s->packets;
    pthread_mutex_unlock(&s->lock);
    return n;
}
