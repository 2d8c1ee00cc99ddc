/* virtio_net.c — virtio network card (device id 1) with user-mode
 * networking through libslirp: the guest gets QEMU's usual 10.0.2.0/24 net
 * (gateway and host loopback at 10.0.2.2, DNS 10.0.2.3, DHCP from
 * 10.0.2.15) and reaches the host's network as an ordinary process.
 *
 * Everything runs on the board's run thread: transmit chains go straight
 * into slirp_input; slirp's frames for the guest wait in a small queue
 * until the guest has posted receive buffers; virtio_net_poll (called by
 * the board between slices) polls slirp's sockets without blocking and
 * runs its timers.  Built only when libslirp's header was found; without
 * it virtio_net_new explains how to get it. */
#include "virtio.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef VMPY_HAVE_SLIRP
#include <poll.h>
#include <slirp/libslirp.h>
#include <time.h>

#define Q_RX 0
#define Q_TX 1
#define NET_HDR 12                    /* virtio_net_hdr_v1 (VERSION_1: num_buffers always there) */
#define F_MAC (1ull << 5)
#define RXQ_MAX 128                   /* frames held for the guest; more are dropped, as a wire would */
#define MAX_FRAME 65536
#define MAX_TIMERS 8
#define POLL_EVERY_NS 1000000ull

typedef struct net_timer { bool used, armed; int64_t expire_ms; SlirpTimerCb cb; void *cb_opaque;
                           SlirpTimerId id; bool by_id; } net_timer;

struct virtio_net {
    virtio_mmio *v;
    Slirp *slirp;
    uint8_t config[8];                /* mac[6], status */
    struct { uint8_t *p; size_t len; } rxq[RXQ_MAX];
    int rx_head, rx_len;
    struct pollfd *fds;
    int nfds, capfds;
    net_timer timers[MAX_TIMERS];
    uint64_t last_poll;
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- guest side ------------------------------------------------------------ */

static uint32_t rx_request(virtio_net *n, const virtio_chain *ch)
{
    if (!n->rx_len)
        return VIRTIO_DEFER;
    uint8_t *p = n->rxq[n->rx_head].p;
    size_t len = n->rxq[n->rx_head].len;
    n->rx_head = (n->rx_head + 1) % RXQ_MAX;
    n->rx_len--;
    uint8_t hdr[NET_HDR] = { 0 };
    hdr[10] = 1;                      /* num_buffers */
    uint32_t done = 0;
    if (virtio_chain_writable(ch) >= NET_HDR + len) {
        done = (uint32_t)virtio_chain_write(ch, 0, hdr, NET_HDR);
        done += (uint32_t)virtio_chain_write(ch, NET_HDR, p, len);
    }                                 /* else: a buffer too small for the frame drops it */
    free(p);
    return done;
}

static uint32_t tx_request(virtio_net *n, const virtio_chain *ch)
{
    size_t total = virtio_chain_readable(ch);
    if (total <= NET_HDR || total - NET_HDR > MAX_FRAME)
        return 0;
    uint8_t *frame = malloc(total - NET_HDR);
    if (!frame)
        return 0;
    size_t len = virtio_chain_read(ch, NET_HDR, frame, total - NET_HDR);
    slirp_input(n->slirp, frame, (int)len);
    free(frame);
    return 0;
}

static uint32_t net_request(void *dev, int q, const virtio_chain *ch)
{
    return q == Q_RX ? rx_request(dev, ch) : tx_request(dev, ch);
}

/* ---- slirp callbacks --------------------------------------------------------- */

static ssize_t send_packet(const void *buf, size_t len, void *opaque)
{
    virtio_net *n = opaque;
    if (n->rx_len == RXQ_MAX || len > MAX_FRAME)
        return (ssize_t)len;          /* dropped */
    uint8_t *p = malloc(len);
    if (!p)
        return (ssize_t)len;
    memcpy(p, buf, len);
    int tail = (n->rx_head + n->rx_len) % RXQ_MAX;
    n->rxq[tail].p = p;
    n->rxq[tail].len = len;
    n->rx_len++;
    virtio_mmio_notify(n->v, Q_RX);
    return (ssize_t)len;
}

static void guest_error(const char *msg, void *opaque) { (void)msg; (void)opaque; }
static int64_t clock_get_ns(void *opaque) { (void)opaque; return now_ns(); }

static net_timer *timer_alloc(virtio_net *n)
{
    for (int i = 0; i < MAX_TIMERS; i++)
        if (!n->timers[i].used) {
            n->timers[i] = (net_timer){ .used = true };
            return &n->timers[i];
        }
    return NULL;
}

static void *timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
    net_timer *t = timer_alloc(opaque);
    if (t) {
        t->cb = cb;
        t->cb_opaque = cb_opaque;
    }
    return t;
}

static void *timer_new_opaque(SlirpTimerId id, void *cb_opaque, void *opaque)
{
    net_timer *t = timer_alloc(opaque);
    if (t) {
        t->id = id;
        t->by_id = true;
        t->cb_opaque = cb_opaque;
    }
    return t;
}

static void timer_free(void *timer, void *opaque) { if (timer) ((net_timer *)timer)->used = false; }

static void timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
    if (timer) {
        ((net_timer *)timer)->expire_ms = expire_ms;
        ((net_timer *)timer)->armed = true;
    }
}

static void no_fd(int fd, void *opaque) { (void)fd; (void)opaque; }
static void no_notify(void *opaque) { (void)opaque; }

static int add_poll(int fd, int events, void *opaque)
{
    virtio_net *n = opaque;
    if (n->nfds == n->capfds) {
        int cap = n->capfds ? n->capfds * 2 : 32;
        struct pollfd *f = realloc(n->fds, (size_t)cap * sizeof *f);
        if (!f)
            return -1;
        n->fds = f;
        n->capfds = cap;
    }
    short ev = 0;
    if (events & SLIRP_POLL_IN) ev |= POLLIN;
    if (events & SLIRP_POLL_OUT) ev |= POLLOUT;
    if (events & SLIRP_POLL_PRI) ev |= POLLPRI;
    n->fds[n->nfds] = (struct pollfd){ .fd = fd, .events = ev };
    return n->nfds++;
}

static int get_revents(int idx, void *opaque)
{
    virtio_net *n = opaque;
    if (idx < 0 || idx >= n->nfds)
        return 0;
    short r = n->fds[idx].revents;
    return ((r & POLLIN) ? SLIRP_POLL_IN : 0) | ((r & POLLOUT) ? SLIRP_POLL_OUT : 0) |
           ((r & POLLPRI) ? SLIRP_POLL_PRI : 0) | ((r & POLLERR) ? SLIRP_POLL_ERR : 0) |
           ((r & POLLHUP) ? SLIRP_POLL_HUP : 0);
}

static const SlirpCb callbacks = {
    .send_packet = send_packet, .guest_error = guest_error, .clock_get_ns = clock_get_ns,
    .timer_new = timer_new, .timer_free = timer_free, .timer_mod = timer_mod,
    .register_poll_fd = no_fd, .unregister_poll_fd = no_fd, .notify = no_notify,
    .timer_new_opaque = timer_new_opaque,
};

/* ---- host side ----------------------------------------------------------------- */

void virtio_net_poll(virtio_net *n)
{
    if (!n)
        return;
    uint64_t now = (uint64_t)now_ns();
    if (now - n->last_poll < POLL_EVERY_NS)
        return;
    n->last_poll = now;
    uint32_t timeout = 0;
    n->nfds = 0;
    slirp_pollfds_fill(n->slirp, &timeout, add_poll, n);
    int r = n->nfds ? poll(n->fds, (nfds_t)n->nfds, 0) : 0;
    slirp_pollfds_poll(n->slirp, r < 0, get_revents, n);
    int64_t ms = (int64_t)(now / 1000000);
    for (int i = 0; i < MAX_TIMERS; i++) {
        net_timer *t = &n->timers[i];
        if (t->used && t->armed && t->expire_ms <= ms) {
            t->armed = false;
            if (t->by_id)
                slirp_handle_timer(n->slirp, t->id, t->cb_opaque);
            else if (t->cb)
                t->cb(t->cb_opaque);
        }
    }
    if (n->rx_len)
        virtio_mmio_notify(n->v, Q_RX);
}

static void net_free(void *dev)
{
    virtio_net *n = dev;
    if (n->slirp)
        slirp_cleanup(n->slirp);
    while (n->rx_len) {
        free(n->rxq[n->rx_head].p);
        n->rx_head = (n->rx_head + 1) % RXQ_MAX;
        n->rx_len--;
    }
    free(n->fds);
    free(n);
}

static Slirp *slirp_for(virtio_net *n)
{
    SlirpConfig cfg = { .version = 4, .in_enabled = true };
    inet_pton(AF_INET, "10.0.2.0", &cfg.vnetwork);
    inet_pton(AF_INET, "255.255.255.0", &cfg.vnetmask);
    inet_pton(AF_INET, "10.0.2.2", &cfg.vhost);
    inet_pton(AF_INET, "10.0.2.15", &cfg.vdhcp_start);
    inet_pton(AF_INET, "10.0.2.3", &cfg.vnameserver);
    cfg.vhostname = "vmpy";
    return slirp_new(&cfg, &callbacks, n);
}

/* hostfwd: "tcp:HOSTPORT:GUESTPORT[,tcp:...]" (host side on 127.0.0.1,
 * guest side 10.0.2.15). */
static int add_hostfwds(virtio_net *n, const char *spec, char *err, size_t errlen)
{
    while (spec && *spec) {
        int hp, gp, used = 0;
        char proto[4] = "";
        if (sscanf(spec, "%3[a-z]:%d:%d%n", proto, &hp, &gp, &used) != 3 ||
            (strcmp(proto, "tcp") && strcmp(proto, "udp")) || hp <= 0 || hp > 65535 || gp <= 0 || gp > 65535) {
            snprintf(err, errlen, "bad hostfwd %s (want tcp:HOSTPORT:GUESTPORT)", spec);
            return -1;
        }
        struct in_addr host, guest;
        inet_pton(AF_INET, "127.0.0.1", &host);
        inet_pton(AF_INET, "10.0.2.15", &guest);
        if (slirp_add_hostfwd(n->slirp, !strcmp(proto, "udp"), host, hp, guest, gp) < 0) {
            snprintf(err, errlen, "cannot forward host port %d (in use?)", hp);
            return -1;
        }
        spec += used;
        if (*spec == ',')
            spec++;
        else if (*spec) {
            snprintf(err, errlen, "bad hostfwd list near %s", spec);
            return -1;
        }
    }
    return 0;
}

virtio_mmio *virtio_net_new(vm_machine *m, vm_irq_line irq, const char *hostfwd, virtio_net **out,
                            char *err, size_t errlen)
{
    virtio_net *n = calloc(1, sizeof *n);
    if (!n) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
    memcpy(n->config, mac, 6);
    n->slirp = slirp_for(n);
    if (!n->slirp) {
        snprintf(err, errlen, "libslirp failed to start");
        net_free(n);
        return NULL;
    }
    if (add_hostfwds(n, hostfwd, err, errlen)) {
        net_free(n);
        return NULL;
    }
    virtio_device d = { .device_id = 1, .features = F_MAC, .nqueues = 2, .config = n->config,
                        .config_size = sizeof n->config, .request = net_request,
                        .free = net_free, .dev = n };
    virtio_mmio *v = virtio_mmio_new(m, irq, d);    /* frees n on failure */
    if (!v) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    n->v = v;
    *out = n;
    return v;
}

bool virtio_net_available(void) { return true; }

#else /* !VMPY_HAVE_SLIRP */

virtio_mmio *virtio_net_new(vm_machine *m, vm_irq_line irq, const char *hostfwd, virtio_net **out,
                            char *err, size_t errlen)
{
    snprintf(err, errlen, "virtio-net needs libslirp: this vmpy was built without it "
             "(install Debian's libslirp-dev and rebuild)");
    return NULL;
}

void virtio_net_poll(virtio_net *n) { (void)n; }
bool virtio_net_available(void) { return false; }

#endif
