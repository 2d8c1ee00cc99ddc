/* gdb_unit.c — byte-exact tests of the gdb protocol engine (gdb/rsp*.c)
 * against the fake target.  Expected replies come from the protocol
 * specification and the fake target's hand-set state; the framing and
 * checksums of expected packets are computed here, independently of the
 * library, and a few are spelled out literally.
 *
 * Build: gcc -std=c11 -D_GNU_SOURCE -Igdb -Itests/native gdb/rsp*.c ... \
 *            tests/native/gdb_fake_target.c tests/native/gdb_unit.c -lpthread
 * Prints "gdb_unit: N checks, 0 failures" and exits 0 when all pass. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gdb_fake_target.h"

static char out[1 << 20];
static size_t outlen;
static int checks, failures;
static fake_target T;
static gdb_session *S;
static int noack;

static int cap_write(void *ctx, const void *d, size_t n)
{
    if (n > sizeof out - outlen)
        n = sizeof out - outlen;
    memcpy(out + outlen, d, n);
    outlen += n;
    return 0;
}

static void feed(const void *d, size_t n) { gdb_session_feed(S, d, n); }

/* "$payload#cs" — the test's own framing (payload already escaped). */
static size_t frame(const char *payload, size_t n, char *dst)
{
    unsigned sum = 0;
    dst[0] = '$';
    memcpy(dst + 1, payload, n);
    for (size_t i = 0; i < n; i++)
        sum += (unsigned char)payload[i];
    sprintf(dst + 1 + n, "#%02x", sum & 0xff);
    return n + 4;
}

static char fbuf[1 << 16];

static void send_n(const char *payload, size_t n)
{
    feed(fbuf, frame(payload, n, fbuf));
}

static void send_pkt(const char *payload) { send_n(payload, strlen(payload)); }

static void expect_out(const char *what, const char *want, size_t n)
{
    checks++;
    if (outlen != n || memcmp(out, want, n) != 0) {
        failures++;
        printf("FAIL %s\n  want [%.*s]\n  got  [%.*s]\n", what, (int)(n > 300 ? 300 : n), want,
               (int)(outlen > 300 ? 300 : outlen), out);
    }
    outlen = 0;
}

static void expect_lit(const char *what, const char *want) { expect_out(what, want, strlen(want)); }

/* Sends a packet and expects the ack (unless no-ack mode) and one reply. */
static void check_n(const char *in, const char *reply, size_t rn)
{
    static char want[1 << 17];
    size_t n = 0;
    if (!noack)
        want[n++] = '+';
    n += frame(reply, rn, want + n);
    send_pkt(in);
    expect_out(in, want, n);
}

static void check(const char *in, const char *reply) { check_n(in, reply, strlen(reply)); }

static void ok(const char *what, int cond)
{
    checks++;
    if (!cond) {
        failures++;
        printf("FAIL %s\n", what);
    }
}

static void hex_le(char *dst, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        sprintf(dst + 2 * i, "%02x", (unsigned)(v >> (8 * i)) & 0xff);
}

static void new_session(void)
{
    if (S)
        gdb_session_free(S);
    fake_init(&T, false);
    S = gdb_session_new(&fake_ops, &T, cap_write, NULL);
    T.session = S;
    outlen = 0;
    noack = 0;
}

/* ---- tests ------------------------------------------------------------- */

static void test_framing(void)
{
    new_session();
    feed("$qC#b4", 6);                       /* 'q'+'C' = 0x71+0x43 = 0xb4 */
    expect_lit("qC literal", "+$QC1#c5");    /* 0x51+0x43+0x31 = 0xc5 */
    feed("$?#3f", 5);
    expect_lit("? literal", "+$T05thread:1;#d7");
    feed("$qC#00", 6);
    expect_lit("bad checksum", "-");
    feed("$qC#zz", 6);
    expect_lit("non-hex checksum", "-");
    feed("xyz+\x7f\x03 $qC#b4", 14);
    expect_lit("garbage before", "+$QC1#c5");
    for (const char *p = "$qC#b4"; *p; p++)
        feed(p, 1);
    expect_lit("byte at a time", "+$QC1#c5");
    feed("$qC#b4$qC#B4", 12);
    expect_lit("two packets, upper-case checksum", "+$QC1#c5+$QC1#c5");
    feed("$qC$qC#b4", 9);
    expect_lit("truncated packet restarts", "+$QC1#c5");
    feed("-", 1);
    expect_lit("NAK retransmits", "$QC1#c5");
    feed("+", 1);
    expect_lit("ack is silent", "");
    feed("$#00", 4);
    expect_lit("empty packet", "+$#00");
    check("!", "");
    check("qTStatus", "");
    check("vMustReplyEmpty", "");
    check("qOffsets", "");
    check("qSymbol::", "OK");
    check("qAttached", "1");
    feed("$E01#a6", 7);
    expect_lit("unknown E packet", "+$#00");
}

static void test_oversized(void)
{
    static char big[GDB_PACKET_MAX + 5000];
    new_session();
    memset(big, 'm', sizeof big);
    send_n(big, sizeof big);
    expect_lit("oversized packet", "+$E01#a6");
    check("qC", "QC1");                      /* still in sync */
}

static void test_supported(void)
{
    new_session();
    check("qSupported:multiprocess+;swbreak+;hwbreak+;qRelocInsn+",
          "PacketSize=4000;QStartNoAckMode+;vContSupported+;swbreak+;hwbreak+;"
          "qXfer:features:read+;qXfer:exec-file:read+;qXfer:auxv:read+");
    check("vCont?", "vCont;c;C;s;S");
}

static void test_registers(void)
{
    char want[2048], tmp[64];
    new_session();
    want[0] = 0;
    hex_le(want, 0, 8);
    for (int i = 1; i < 32; i++) {
        hex_le(tmp, 0x1000 + (uint64_t)i, 8);
        strcat(want, tmp);
    }
    hex_le(tmp, 0x1000, 8);
    strcat(want, tmp);
    check("g", want);
    check("p1", "0110000000000000");
    check("p20", "0010000000000000");
    check("p0", "0000000000000000");
    check("p42", "00000000");                /* fflags: 32-bit */
    check("p1041", "03");                    /* priv */
    check("pf55", "0000000000000000");       /* mhartid (csr 0xf14) of hart 0 */
    check("p9999", "E00");
    check("pzz", "E01");
    check("p", "E01");
    check("P1=efbeadde00000000", "OK");
    check("p1", "efbeadde00000000");
    check("P1=efbe", "E01");                 /* wrong size */
    check("P1=zzbeadde00000000", "E01");
    check("P0=0100000000000000", "OK");      /* x0 ignores writes */
    check("p0", "0000000000000000");
    check("Hg2", "OK");
    check("p1", "0120000000000000");
    check("qC", "QC2");
    check("Hg3", "E01");
    check("Hg-1", "OK");
    check("Hgzz", "E01");
    check("Hx1", "E01");
    check("Hg1", "OK");
    /* G writes the g registers in order */
    want[0] = 0;
    for (int i = 0; i < 33; i++) {
        hex_le(tmp, 0x5500 + (uint64_t)i, 8);
        strcat(want, tmp);
    }
    memmove(want + 1, want, strlen(want) + 1);
    want[0] = 'G';
    check(want, "OK");
    check("p5", "0555000000000000");
    check("p20", "2055000000000000");
    check("Gzz", "E01");
    check("G123", "E01");
}

static void test_memory(void)
{
    char big[64];
    new_session();
    check("m1000,4", "13000000");            /* code: addi x0,x0,0 */
    check("m2000,4", "01080f16");            /* data: mem[i] = i*7+1 */
    check("m0,4", "E0e");
    check("m10ffe,4", "f3fa");                /* short read at the end */
    check("mffffffffffffffff,10", "E0e");
    check("m10000000000000000,1", "E01");     /* 17 digits overflow */
    check("m1000", "E01");
    check("m1000,0", "E01");
    check("m,4", "E01");
    send_pkt("m1000,fffffffffffffff");
    ok("huge m is capped", outlen == 1 + 4 + 2 * ((GDB_PACKET_MAX - 16) / 2));
    outlen = 0;
    check("M1000,2:abcd", "OK");
    check("m1000,2", "abcd");
    check("M1000,3:abcd", "E01");
    check("M1000,2:zzzz", "E01");
    check("M1000,2:abc", "E01");
    check("M0,1:00", "E0e");
    check("Mffffffffffffffff,2:0000", "E0e");
    /* X: '#' '$' '}' '*' arrive escaped as } followed by c^0x20 */
    send_n("X1000,4:}\x03}\x04}]}\x0a", 16);
    expect_lit("X escaped", "+$OK#9a");
    check("m1000,4", "23247d2a");
    send_n("X1000,2:\x00\xff", 10);
    expect_lit("X raw binary", "+$OK#9a");
    check("m1000,2", "00ff");
    check("X1000,0:", "OK");
    check("X1000,3:ab", "E01");
    send_n("X1000,1:}", 9);
    expect_lit("X dangling escape", "+$E01#a6");
    snprintf(big, sizeof big, "X%x,1:a", FAKE_MEM_BASE + FAKE_MEM_SIZE);
    check(big, "E0e");
}

static void test_execution(void)
{
    new_session();
    check("qSupported:swbreak+", "PacketSize=4000;QStartNoAckMode+;vContSupported+;swbreak+;"
          "hwbreak+;qXfer:features:read+;qXfer:exec-file:read+;qXfer:auxv:read+");
    check("Z0,1010,4", "OK");
    check("c", "T05thread:1;swbreak:;");
    check("p20", "1010000000000000");
    check("z0,1010,4", "OK");
    check("z0,1010,4", "E01");
    check("Z5,1010,4", "E01");
    check("Z0,1010", "E01");
    check("Z0,zz,4", "E01");
    check("s", "T05thread:1;");
    check("p20", "1410000000000000");
    check("Z1,1020,2", "OK");
    check("vCont;c", "T05thread:1;");        /* hwbreak not announced by gdb */
    check("z1,1020,2", "OK");
    check("vCont;s:2;c", "T05thread:2;");
    ok("vCont step thread 2", T.last_thread == 2 && T.last_step == 1);
    check("p20", "0410000000000000");        /* Hg follows the stop */
    check("Hg1", "OK");
    check("Hc1", "OK");
    check("C0b", "W0a");                     /* runs off, exits with a0 */
    ok("C delivers signal", T.last_signal == 11 && T.last_thread == -1);
    check("S04", "T05thread:1;");
    ok("S signal/step", T.last_signal == 4 && T.last_step == 1);
    check("vCont;C0b:1", "W0a");
    ok("vCont C", T.last_signal == 11 && T.last_step == 0);
    ok("vCont C:1 resumes only thread 1", T.last_thread == 1);
    check("vCont;x", "E01");
    check("vCont;", "E01");
    check("vCont;c:zz", "E01");
    check("CZZ", "E01");
    check("c1200", "W0a");
    check("p20", "a021000000000000");        /* 0x1200 + 1000 * 4 */
    check("s1100", "T05thread:1;");
    check("p20", "0411000000000000");
    check("Z2,1100,4", "OK");
    check("c", "T05thread:1;watch:1100;");
    check("z2,1100,4", "OK");
    check("?", "T05thread:1;watch:1100;");
}

/* 'c ADDR' needs pc_regno; without it the address form is refused. */
static void test_no_pc_regno(void)
{
    static gdb_target_ops ops;
    ops = fake_ops;
    ops.pc_regno = 0;
    new_session();
    gdb_session_free(S);
    S = gdb_session_new(&ops, &T, cap_write, NULL);
    T.session = S;
    check("c1200", "E01");
    ok("no resume on refused c ADDR", T.resumes == 0);
    check("s", "T05thread:1;");
    check("p20", "0410000000000000");
}

static void test_threads(void)
{
    new_session();
    check("qfThreadInfo", "m1,2");
    check("qsThreadInfo", "l");
    check("qsThreadInfo", "l");
    check("qThreadExtraInfo,2", "686172742031");   /* "hart 1" */
    check("qThreadExtraInfo,9", "E01");
    check("qThreadExtraInfo,", "E01");
    check("T1", "OK");
    check("T2", "OK");
    check("T5", "E01");
    check("T-1", "E01");
}

/* Test-side unescape of an 'm'/'l' qXfer reply. */
static size_t unescape(const char *p, size_t n, char *dst)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        dst[w++] = p[i] == '}' && i + 1 < n ? (char)(p[++i] ^ 0x20) : p[i];
    return w;
}

static void test_xfer(void)
{
    static char xml[1 << 16], req[128];
    const char *annexes[] = { "target.xml", "riscv64-cpu.xml", "riscv64-fpu.xml",
                              "riscv64-csr.xml", "riscv64-virtual.xml" };
    new_session();
    for (size_t a = 0; a < 5; a++) {
        size_t off = 0;
        int done = 0, rounds = 0;
        while (!done && rounds++ < 1000) {
            snprintf(req, sizeof req, "qXfer:features:read:%s:%zx,%x", annexes[a], off, 0x100);
            send_pkt(req);
            /* "+$" kind data "#xx" */
            if (outlen < 6 || out[0] != '+' || out[1] != '$' || out[outlen - 3] != '#')
                break;
            done = out[2] == 'l';
            off += unescape(out + 3, outlen - 6, xml + off);
            outlen = 0;
        }
        xml[off] = 0;
        ok(annexes[a], done && strcmp(xml, gdb_riscv64_xml(annexes[a])) == 0);
    }
    ok("target.xml names the architecture", strstr(gdb_riscv64_xml("target.xml"),
                                                   "<architecture>riscv:rv64</architecture>") != NULL);
    check("qXfer:features:read:nope.xml:0,100", "E00");
    check("qXfer:features:read:target.xml:100000,100", "l");
    check("qXfer:features:read:target.xml:0", "E00");
    check("qXfer:features:read:target.xml", "E00");
    check("qXfer:features:write:target.xml:0,1", "");
    check("qXfer:btrace:read::0,10", "");
    check("qXfer:exec-file:read::0,100", "l/bin/fake");
    check("qXfer:exec-file:read::4,2", "m/f");
    /* auxv bytes 06 00.. / 00 10 00.. / # $ } * 00.. / 01..08 / zeros, escaped */
    check_n("qXfer:auxv:read::0,100",
            "l\x06\0\0\0\0\0\0\0" "\0\x10\0\0\0\0\0\0" "}\x03}\x04}]}\x0a\0\0\0\0"
            "\x01\x02\x03\x04\x05\x06\x07\x08" "\0\0\0\0\0\0\0\0", 1 + 40 + 4);
}

static void test_auxv_window(void)
{
    new_session();
    /* offset 16, 2 bytes: '#' '$' escaped, more follows: 'm' */
    check("qXfer:auxv:read::10,2", "m}\x03}\x04");
    check("qXfer:auxv:read::28,10", "l");
}

static void test_monitor(void)
{
    new_session();
    /* "help" = 68 65 6c 70; output "echo TEXT, exit N, big, fail\n" */
    send_pkt("qRcmd,68656c70");
    {
        char want[512];
        const char *text = "echo TEXT, exit N, big, fail\n";
        size_t n = 0;
        char payload[256] = "O";
        for (size_t i = 0; text[i]; i++)
            sprintf(payload + 1 + 2 * i, "%02x", (unsigned char)text[i]);
        want[n++] = '+';
        n += frame(payload, strlen(payload), want + n);
        n += frame("OK", 2, want + n);
        expect_out("monitor help", want, n);
    }
    check("qRcmd,626f677573", "E01");            /* "bogus" */
    check("qRcmd,zz", "E01");
    check("qRcmd,686", "E01");
    check("qRcmd,0068", "E01");                  /* NUL inside */
    check("qRcmd,", "E01");                      /* empty command: handler fails */
    /* big: 40000 bytes spread over several O packets, then OK */
    send_pkt("qRcmd,626967");
    {
        size_t total = 0, packets = 0, i = 1;
        int good = 1;
        while (i < outlen && out[i] == '$') {
            char *hash = memchr(out + i, '#', outlen - i);
            if (!hash)
                break;
            if (out[i + 1] == 'O' && out[i + 2] != 'K') {
                size_t hn = (size_t)(hash - (out + i + 2));
                for (size_t k = 0; k + 1 < hn; k += 2) {
                    unsigned v;
                    sscanf(out + i + 2 + k, "%2x", &v);
                    good &= v == (unsigned)('a' + (total % 26));
                    total++;
                }
                packets++;
            }
            i = (size_t)(hash - out) + 3;
        }
        ok("monitor big output", good && total == 40000 && packets >= 3 &&
               memcmp(out + outlen - 6, "$OK#9a", 6) == 0);
        outlen = 0;
    }
    /* exit 7 then continue: the program exits */
    check("qRcmd,657869742037", "OK");
    check("c", "W07");
    check("?", "W07");
}

static void test_noack(void)
{
    new_session();
    feed("$QStartNoAckMode#b0", 19);
    expect_lit("QStartNoAckMode", "+$OK#9a");
    noack = 1;
    check("qC", "QC1");
    feed("-", 1);
    expect_lit("no retransmit in no-ack mode", "");
    feed("$qC#00", 6);
    expect_lit("bad checksum dropped silently", "");
    feed("+$qC#b4", 7);
    expect_lit("stray ack ignored", "$QC1#c5");
}

static void test_running(void)
{
    gdb_stop st = { .kind = GDB_STOP_SIGNAL, .thread = 2, .signal = GDB_SIGNAL_INT };
    new_session();
    T.hold = true;                 /* resume starts the target and returns */
    send_pkt("c");
    expect_lit("c while holding: only the ack", "+");
    ok("running", gdb_session_state_get(S) == GDB_SESSION_RUNNING);
    send_pkt("g");
    expect_lit("packet while running is dropped", "+");
    feed("$g\x03", 3);              /* noise left the receiver in a packet */
    ok("ctrl-c interrupts", T.interrupts == 1);
    expect_lit("ctrl-c silent", "");
    gdb_session_report_stop(S, &st);
    expect_lit("async stop reply", "$T02thread:2;#d5");
    ok("stopped", gdb_session_state_get(S) == GDB_SESSION_STOPPED);
    gdb_session_report_stop(S, &st);
    expect_lit("stop while stopped ignored", "");
    feed("\x03", 1);
    ok("ctrl-c while stopped ignored", T.interrupts == 1);
    check("p1", "0120000000000000");          /* Hg followed thread 2 */
    T.hold = false;
    send_pkt("c");                           /* running again, then gdb vanishes */
    outlen = 0;
    T.hold = true;
    send_pkt("c");
    outlen = 0;
    gdb_session_disconnect(S);
    ok("disconnect interrupts", T.interrupts == 2 &&
           gdb_session_state_get(S) == GDB_SESSION_CLOSED);
    gdb_session_report_stop(S, &st);
    expect_lit("no output after close", "");
}

static void test_detach_kill(void)
{
    new_session();
    check("D", "OK");
    ok("detached", T.detached && gdb_session_state_get(S) == GDB_SESSION_DETACHED);
    send_pkt("qC");
    expect_lit("nothing after detach", "");
    new_session();
    send_pkt("k");
    expect_lit("k has no reply", "+");
    ok("killed", T.killed && gdb_session_state_get(S) == GDB_SESSION_KILLED);
    new_session();
    check("vKill;1", "OK");
    ok("vKill", T.killed);
    new_session();
    check("D;1", "OK");
}

/* A target with no callbacks at all: everything is "unsupported". */
static void test_empty_target(void)
{
    static const gdb_target_ops none = { 0 };   /* all NULL, pc_regno 0 */
    gdb_session *s0 = S;
    S = gdb_session_new(&none, NULL, cap_write, NULL);
    outlen = 0;
    noack = 0;
    check("qSupported", "PacketSize=4000;QStartNoAckMode+;vContSupported+;swbreak+;hwbreak+");
    check("g", "");
    check("p1", "");
    check("m1000,4", "");
    check("M1000,1:00", "");
    check("X1000,0:", "");
    check("Z0,1000,4", "");
    check("c", "E01");
    check("qfThreadInfo", "m1");
    check("qThreadExtraInfo,1", "5468726561642031");    /* "Thread 1" */
    check("qRcmd,6869", "");
    check("qXfer:features:read:target.xml:0,10", "");
    check("?", "T05thread:1;");
    gdb_session_free(S);
    S = s0;
}

int main(void)
{
    test_framing();
    test_oversized();
    test_supported();
    test_registers();
    test_memory();
    test_execution();
    test_no_pc_regno();
    test_threads();
    test_xfer();
    test_auxv_window();
    test_monitor();
    test_noack();
    test_running();
    test_detach_kill();
    test_empty_target();
    gdb_session_free(S);
    printf("gdb_unit: %d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
