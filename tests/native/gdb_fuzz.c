/* gdb_fuzz.c — feeds random and mutated packets to the gdb protocol engine
 * (with the fake target) and checks that every byte it sends back is a
 * well-formed ack or packet: valid checksum, no raw '$' '#' '*' inside.
 * Build with -fsanitize=address,undefined so memory errors abort.
 *
 * Usage: gdb_fuzz SECONDS [SEED]
 * Prints "gdb_fuzz: N packets fed, M handled, E bad output, seed S". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "gdb_fake_target.h"

static unsigned long long rng_state;
static const gdb_target_ops no_ops = { 0 };
static unsigned long bad_output, writes;

static uint64_t rnd(void)
{
    /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

static unsigned below(unsigned n) { return (unsigned)(rnd() % n); }

/* Output oracle: each write is one ack byte or one whole packet. */
static int check_write(void *ctx, const void *data, size_t len)
{
    const unsigned char *p = data;
    unsigned sum = 0;

    writes++;
    if (len == 1 && (p[0] == '+' || p[0] == '-'))
        return 0;
    if (len < 4 || p[0] != '$' || p[len - 3] != '#') {
        bad_output++;
        return 0;
    }
    for (size_t i = 1; i < len - 3; i++) {
        if (p[i] == '$' || p[i] == '#' || p[i] == '*')
            bad_output++;
        if (p[i] == '}' && i + 1 < len - 3)
            sum += p[i++];          /* escaped byte follows */
        sum += p[i];
    }
    if (strtoul((const char[]){ (char)p[len - 2], (char)p[len - 1], 0 }, NULL, 16) != (sum & 0xff))
        bad_output++;
    return below(1000) == 0 ? -1 : 0;   /* sometimes the link "breaks" */
}

static const char *templates[] = {
    "?", "g", "G", "p", "P", "m", "M", "X", "c", "s", "C", "S", "D", "k", "H", "T", "Z", "z",
    "qSupported:swbreak+;hwbreak+", "qSupported", "qC", "qfThreadInfo", "qsThreadInfo",
    "qThreadExtraInfo,", "qAttached", "qOffsets", "qSymbol::", "qRcmd,", "qXfer:features:read:",
    "qXfer:features:read:target.xml:", "qXfer:auxv:read::", "qXfer:exec-file:read::",
    "QStartNoAckMode", "vCont?", "vCont;", "vKill;1", "vMustReplyEmpty", "qTStatus",
};

static size_t put_hex(char *dst, size_t room, uint64_t v)
{
    int n = snprintf(dst, room, "%llx", (unsigned long long)v);
    return n < 0 ? 0 : (size_t)n < room ? (size_t)n : room - 1;
}

/* Interesting numbers: addresses in and around fake memory, tiny, huge. */
static uint64_t num(void)
{
    switch (below(8)) {
    case 0: return below(16);
    case 1: return FAKE_MEM_BASE + below(FAKE_MEM_SIZE + 64);
    case 2: return ~(uint64_t)0 - below(16);
    case 3: return rnd();
    case 4: return below(70);
    case 5: return 4161;
    case 6: return below(0x100000);
    default: return 65 + below(4096);
    }
}

/* A plausible packet: template + random arguments and separators. */
static size_t gen_payload(char *buf, size_t room)
{
    size_t n = (size_t)snprintf(buf, room, "%s", templates[below(sizeof templates / sizeof *templates)]);
    int args = (int)below(5);

    if (buf[0] == 'H' || buf[0] == 'v')
        n += (size_t)snprintf(buf + n, room - n, "%c", "gcsSCx"[below(6)]);
    for (int i = 0; i < args && n + 40 < room; i++) {
        if (below(3) == 0)
            n += put_hex(buf + n, room - n, num());
        else if (below(4) == 0)
            n += (size_t)snprintf(buf + n, room - n, "-1");
        else
            n += put_hex(buf + n, room - n, below(4) ? num() & 0xffff : num());
        if (i + 1 < args)
            buf[n++] = ",:;="[below(4)];
    }
    if ((buf[0] == 'M' || buf[0] == 'G' || buf[0] == 'X' || buf[0] == 'P' || !memcmp(buf, "qRcmd", 5)) &&
        below(2)) {
        size_t len = below(4) ? below(64) : below(GDB_PACKET_MAX + 64);
        if (buf[0] != 'G' && buf[0] != 'q')
            buf[n++] = buf[0] == 'P' ? '=' : ':';
        for (size_t i = 0; i < len && n + 1 < room; i++)
            buf[n++] = buf[0] == 'X' ? (char)below(256) : "0123456789abcdefz}"[below(below(8) ? 16 : 18)];
    }
    return n;
}

static size_t put_hexbytes(char *dst, const char *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sprintf(dst + 2 * i, "%02x", (unsigned char)src[i]);
    return 2 * n;
}

/* A well-formed packet with consistent lengths, so the success paths of
 * the data packets are exercised as well as the error paths. */
static size_t gen_valid(char *buf, size_t room)
{
    static const char *cmds[] = { "help", "echo hi", "big", "exit 3", "nope" };
    uint64_t addr = below(4) ? FAKE_MEM_BASE + below(FAKE_MEM_SIZE) : num();
    unsigned len = below(4) ? below(16) : below(GDB_PACKET_MAX / 2);
    size_t n;

    switch (below(7)) {
    case 0:                                         /* M addr,len:hex */
        n = (size_t)snprintf(buf, room, "M%llx,%x:", (unsigned long long)addr, len);
        for (unsigned i = 0; i < len && n + 3 < room; i++)
            n += (size_t)snprintf(buf + n, room - n, "%02x", below(256));
        return n;
    case 1:                                         /* X addr,len:binary, escaped */
        n = (size_t)snprintf(buf, room, "X%llx,%x:", (unsigned long long)addr, len);
        for (unsigned i = 0; i < len && n + 3 < room; i++) {
            char c = (char)below(256);
            if (c == '$' || c == '#' || c == '}' || c == '*') {
                buf[n++] = '}';
                c ^= 0x20;
            }
            buf[n++] = c;
        }
        return n;
    case 2: {                                       /* P reg=value */
        unsigned reg = below(2) ? below(70) : (unsigned)num() & 0x1fff;
        return (size_t)snprintf(buf, room, "P%x=%0*llx", reg, below(2) ? 16 : 8,
                                (unsigned long long)rnd() & 0xffffffffull);
    }
    case 3: {                                       /* qRcmd,hex(cmd) */
        const char *c = cmds[below(5)];
        n = (size_t)snprintf(buf, room, "qRcmd,");
        return n + put_hexbytes(buf + n, c, strlen(c));
    }
    case 4:
        return (size_t)snprintf(buf, room, "m%llx,%x", (unsigned long long)addr, len + 1);
    case 5:
        return (size_t)snprintf(buf, room, "%c%u,%llx,%u", below(2) ? 'Z' : 'z', below(5),
                                (unsigned long long)addr, 2 + 2 * below(2));
    default:
        return (size_t)snprintf(buf, room, "qXfer:features:read:%s:%x,%x",
                                below(2) ? "target.xml" : "riscv64-csr.xml", below(0x1000),
                                1 + below(0x2000));
    }
}

static void mutate(char *buf, size_t *n, size_t room)
{
    int k = (int)below(4);
    while (k-- > 0 && *n) {
        size_t at = below((unsigned)*n);
        switch (below(4)) {
        case 0: buf[at] = (char)below(256); break;
        case 1: *n = at; break;                                   /* truncate */
        case 2: if (*n + 1 < room) { memmove(buf + at + 1, buf + at, *n - at); buf[at] = (char)below(256); (*n)++; } break;
        default: memmove(buf + at, buf + at + 1, *n - at - 1); (*n)--; break;
        }
    }
}

/* Frames with a correct checksum most of the time, and feeds it in
 * random fragments, with random noise between packets. */
static void feed_packet(gdb_session *s, const char *payload, size_t n)
{
    static char frame[GDB_PACKET_MAX * 2 + 16];
    unsigned sum = 0;
    size_t len = 0, off = 0;

    if (below(10) == 0)
        frame[len++] = "+-\x03x$#}"[below(7)];
    frame[len++] = '$';
    for (size_t i = 0; i < n && len + 8 < sizeof frame; i++) {
        frame[len++] = payload[i];
        sum += (unsigned char)payload[i];
    }
    if (below(20) == 0)
        sum += 1 + below(255);              /* corrupt checksum */
    len += (size_t)snprintf(frame + len, sizeof frame - len, below(8) ? "#%02x" : "#%02X", sum & 0xff);
    if (below(30) == 0)
        len -= 1 + below(3);               /* cut off */
    while (off < len) {
        size_t chunk = below(4) ? len - off : 1 + below((unsigned)(len - off));
        gdb_session_feed(s, frame + off, chunk);
        off += chunk;
    }
}

int main(int argc, char **argv)
{
    static char payload[GDB_PACKET_MAX + 256];
    static fake_target t;
    double seconds = argc > 1 ? atof(argv[1]) : 5;
    unsigned long long seed = argc > 2 ? strtoull(argv[2], NULL, 0) : (unsigned long long)time(NULL);
    unsigned long fed = 0, handled = 0;
    gdb_session *s = NULL;
    time_t start = time(NULL);

    rng_state = seed ? seed : 1;
    while (difftime(time(NULL), start) < seconds) {
        for (int batch = 0; batch < 1000; batch++) {
            if (!s || gdb_session_state_get(s) >= GDB_SESSION_DETACHED) {
                if (s) {
                    handled += gdb_session_packets(s);
                    gdb_session_free(s);
                    fake_fini(&t);
                }
                fake_init(&t, false);
                t.budget = 20;
                /* now and then a target that implements nothing */
                s = gdb_session_new(below(10) ? &fake_ops : &no_ops, &t, check_write, NULL);
                t.session = s;
            }
            t.hold = below(8) == 0;          /* some resumes stay "running" */
            size_t n = below(3) ? gen_payload(payload, sizeof payload - 1)
                                : gen_valid(payload, sizeof payload - 1);
            if (below(3) == 0)
                mutate(payload, &n, sizeof payload - 1);
            feed_packet(s, payload, n);
            fed++;
            if (gdb_session_state_get(s) == GDB_SESSION_RUNNING && below(2)) {
                gdb_stop st = { .kind = (gdb_stop_kind)below(8), .thread = (int)below(4),
                                .signal = (int)below(40), .addr = num(), .code = (int)below(300) };
                if (below(2))
                    gdb_session_feed(s, "\x03", 1);
                gdb_session_report_stop(s, &st);
            }
            if (below(500) == 0)
                gdb_session_disconnect(s);
        }
    }
    handled += gdb_session_packets(s);
    gdb_session_free(s);
    fake_fini(&t);
    printf("gdb_fuzz: %lu packets fed, %lu handled, %lu writes, %lu bad output, seed %llu\n",
           fed, handled, writes, bad_output, seed);
    return bad_output ? 1 : 0;
}
